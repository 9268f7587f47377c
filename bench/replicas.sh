#!/usr/bin/env bash
# shellcheck disable=SC2154  # port_NAME variables are set with printf -v by start_server / start_corral
# sysbench oltp_read_only against one MariaDB server directly, through corral to that server alone,
# and through corral to it with two GTID replicas (?replicas=): what read routing does to throughput,
# and where the reads went (Com_select per server).
#
#   bench/replicas.sh [--time SECONDS] [--threads N] [--workers N] [--corral PATH]
#
# Every server runs on this machine, so replicas add capacity only where the cores are there to run
# them: on a machine with fewer cores than servers + corral + sysbench, the replica row measures the
# cost of spreading, not the gain (docs/BENCHMARKS.md, "Replicas").
set -euo pipefail

bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$bench_root/.." && pwd)"
# shellcheck source=bench/lib/common.sh
source "$bench_root/lib/common.sh"

time_s=10 threads=16 workers=1 corral="$root/build/release/proxy/corral"
while [ $# -gt 0 ]; do
  case "$1" in
    --time) time_s="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --workers) workers="$2"; shift 2 ;;
    --corral) corral="$2"; shift 2 ;;
    *) die "usage: $0 [--time S] [--threads N] [--workers N] [--corral PATH]" ;;
  esac
done
[ -x "$corral" ] || die "no corral at $corral (scripts/build.sh release)"

work_dir="$(mktemp -d /tmp/corral-bench-replicas.XXXXXX)"
pids=()
cleanup() {
  local i
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2> /dev/null || true; done
  wait 2> /dev/null || true
  rm -rf "$work_dir"
}
trap cleanup EXIT

user_args=()
[ "$(id -u)" -ne 0 ] || user_args=(--user=root)

# start_server NAME SERVER_ID EXTRA_ARGS...: a fresh mariadbd; sets port_NAME.
start_server() {
  local name="$1" id="$2" dir="$work_dir/$1" port
  shift 2
  mkdir -p "$dir/tmp"
  mariadb-install-db --no-defaults --datadir="$dir/data" --auth-root-authentication-method=socket \
    --skip-test-db --skip-name-resolve --tmpdir="$dir/tmp" "${user_args[@]}" > "$dir/install.log" 2>&1 ||
    die "$name: mariadb-install-db failed"
  port="$(free_ports 1)"
  setsid mariadbd --no-defaults --datadir="$dir/data" --socket="$dir/sock" --pid-file="$dir/pid" \
    --log-error="$dir/error.log" --tmpdir="$dir/tmp" --port="$port" --bind-address=127.0.0.1 \
    --skip-networking=0 --skip-name-resolve --server-id="$id" --gtid-strict-mode=1 \
    --max-connections=1000 --innodb-buffer-pool-size=128M --innodb-flush-log-at-trx-commit=2 \
    "${user_args[@]}" "$@" < /dev/null > "$dir/out.log" 2>&1 &
  pids+=($!)
  wait_until 60 sql "$name" "SELECT 1" > /dev/null 2>&1 || die "$name did not start: $(tail -n 2 "$dir/error.log")"
  printf -v "port_$name" '%s' "$port"
}

sql() {  # sql NAME STATEMENTS: as root over NAME's socket
  mariadb --no-defaults --socket="$work_dir/$1/sock" -u root --batch --skip-column-names -e "$2"
}

bench_log "starting a primary and two replicas in $work_dir"
start_server primary 1 --log-bin=mariadb-bin --binlog-format=ROW
sql primary "CREATE USER repl@'%' IDENTIFIED BY 'repl'; GRANT REPLICATION SLAVE ON *.* TO repl@'%';
  CREATE DATABASE sbtest; CREATE USER bench@'127.0.0.1' IDENTIFIED BY 'bench';
  GRANT ALL ON sbtest.* TO bench@'127.0.0.1'; GRANT SLAVE MONITOR ON *.* TO bench@'127.0.0.1';"
for replica in replica1 replica2; do
  start_server "$replica" "$([ "$replica" = replica1 ] && echo 2 || echo 3)" --read-only=1
  sql "$replica" "CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$port_primary, MASTER_USER='repl',
    MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos; START SLAVE;"
done

sysbench_args=(--db-driver=mysql --mysql-host=127.0.0.1 --mysql-user=bench --mysql-password=bench
               --mysql-db=sbtest --tables=4 --table-size=10000)
# oltp_read_only wraps its reads in BEGIN ... COMMIT by default, and a transaction runs on the primary
# from its first statement to its end: --skip-trx gives the autocommitted reads replicas may take.
run_args=(--skip-trx=on)
sysbench oltp_read_only "${sysbench_args[@]}" --mysql-port="$port_primary" --threads=4 prepare \
  > "$work_dir/prepare.log" 2>&1 || die "sysbench prepare failed"
position="$(sql primary "SELECT @@gtid_binlog_pos")"
for replica in replica1 replica2; do
  [ "$(sql "$replica" "SELECT MASTER_GTID_WAIT('$position', 60)")" = 0 ] || die "$replica did not catch up"
done

# start_corral NAME BACKEND_URL: a corral with one MySQL listener; sets port_NAME.
start_corral() {
  local name="$1" port
  port="$(free_ports 1)"
  mkdir -p "$work_dir/$name"
  cat > "$work_dir/$name/corral.toml" << EOF
[server]
workers = $workers
log_level = "warn"
[[listeners]]
name = "db"
protocol = "mysql"
address = "127.0.0.1:$port"
backend = "$2"
auth = "users"
[[users]]
name = "bench"
password = "bench"
[pool]
max_connections = $threads
[mysql]
read_your_writes_ms = 0
EOF
  setsid "$corral" --config "$work_dir/$name/corral.toml" < /dev/null > "$work_dir/$name/log" 2>&1 &
  pids+=($!)
  wait_until 30 port_open "$port" || die "$name did not start: $(tail -n 2 "$work_dir/$name/log")"
  printf -v "port_$name" '%s' "$port"
}

primary_url="mysql://bench:bench@127.0.0.1:$port_primary/sbtest"
start_corral single "$primary_url"
start_corral spread "$primary_url?replicas=127.0.0.1:$port_replica1,127.0.0.1:$port_replica2"

selects() {  # selects: Com_select of primary, replica1, replica2
  local name
  for name in primary replica1 replica2; do
    sql "$name" "SHOW GLOBAL STATUS LIKE 'Com_select'" | awk '{ printf "%s ", $2 }'
  done
}

echo "| target | ps | transactions/s | queries/s | p95 ms | selects on primary / replica 2 / replica 3 |"
echo "|---|---|---|---|---|---|"
for ps in disable auto; do
  for target in direct single spread; do
    port_var="port_$target"
    [ "$target" = direct ] && port_var=port_primary
    read -r -a before <<< "$(selects)"
    out="$(sysbench oltp_read_only "${sysbench_args[@]}" --mysql-port="${!port_var}" --threads="$threads" \
      --db-ps-mode="$ps" --time="$time_s" --report-interval=0 "${run_args[@]}" run 2>&1)" || die "sysbench on $target failed"
    read -r -a after <<< "$(selects)"
    tps="$(awk '/transactions:/ { gsub(/\(/, "", $3); print $3 }' <<< "$out")"
    qps="$(awk '/queries:/ && /per sec/ { gsub(/\(/, "", $3); print $3 }' <<< "$out")"
    p95="$(awk '/95th percentile:/ { print $3 }' <<< "$out")"
    echo "| $target | $ps | $tps | $qps | $p95 | $((after[0] - before[0])) / $((after[1] - before[1])) / $((after[2] - before[2])) |"
  done
done
echo
echo "$(nproc) CPUs; sysbench oltp_read_only --skip-trx=on --threads=$threads --time=$time_s, 4 tables × 10000 rows; corral workers = $workers"
