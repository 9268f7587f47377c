# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034  # globals are set and read across run.sh and lib/*.sh
# Starts the servers of one benchmark run, each a child of run.sh on free loopback ports with its data
# and log in $work_dir, and stops them again. Sourced by bench/run.sh, never run.
#
#   backends:  redis-server (plain port, and a TLS port), mariadbd (a fresh mariadb-install-db, user
#              bench/bench, database sbtest, TLS offered)
#   cluster:   three redis-servers with cluster-enabled yes made one Redis Cluster of 3 masters
#              (redis-cli --cluster create), and a third corral -> redis-cluster:// (start_cluster;
#              only for the cluster suite)
#   proxies:   twemproxy (nutcracker) -> redis; haproxy (TCP mode) -> redis and mariadb;
#              corral -> redis, and a second corral -> mariadb, each with a plain and a TLS listener
#   TLS:       certificates made with the openssl CLI in $work_dir/tls (make_certificates)
#
# Fairness: every proxy is one process with one thread (twemproxy is single-threaded; haproxy gets
# nbthread 1; corral gets server.workers = $corral_workers, 1 by default), because the load generator,
# the backend and the proxy share the machine's cores. A backend that does not start ends the run; a
# proxy that does not start is recorded in target_failure[] and its rows say why.
#
# Globals set here: redis_port redis_pid mariadb_port mariadb_pid mariadb_socket tls_dir, and per
# target id (redis-direct, redis-twemproxy, redis-haproxy, redis-corral, mysql-direct, mysql-haproxy,
# mysql-corral; for the TLS rows redis-direct+tls, redis-corral+tls, mysql-direct+tls,
# mysql-corral+tls; for the cluster rows cluster-direct, cluster-corral): target_port[id],
# target_pid[id] (the proxy's pid; empty for direct) and target_failure[id] (why the target cannot be
# measured; empty when it can). start_cluster also sets cluster_pids (the three masters' pids).

declare -A target_port=() target_pid=() target_failure=()
started_pids=()

readonly bench_db=sbtest bench_user=bench bench_password=bench

# start_child NAME LOG COMMAND...: runs COMMAND in the background with stdout/stderr to LOG; sets
# child_pid. It gets its own process group, so a terminal's Ctrl-C reaches only run.sh, whose trap
# stops every child in order.
start_child() {
  local name="$1" log="$2"
  shift 2
  setsid "$@" < /dev/null > "$log" 2>&1 &
  child_pid=$!
  started_pids+=("$child_pid")
  bench_log "$name started (pid $child_pid)"
}

# ready_or_reason NAME PID PORT LOG: waits until PID listens on PORT. On failure prints the reason
# (its log's last line) and fails.
ready_or_reason() {
  local name="$1" pid="$2" port="$3" log="$4" deadline=$((SECONDS + 60))
  # alive, not kill -0: a child that exited stays a zombie until waited for.
  while alive "$pid" && [ "$SECONDS" -lt "$deadline" ]; do
    port_open "$port" && return 0
    sleep 0.1
  done
  local last
  last="$(grep -v '^\s*$' "$log" 2> /dev/null | tail -n 1 | cut -c1-200)"
  echo "$name did not start: ${last:-no output}"
  return 1
}

not_alive() { ! alive "$1"; }

stop_servers() {
  local pid i
  # Reverse start order: proxies stop before the backends they talk to.
  for ((i = ${#started_pids[@]} - 1; i >= 0; i--)); do
    pid="${started_pids[i]}"
    kill -TERM "$pid" 2> /dev/null || continue
    if ! wait_until 30 not_alive "$pid"; then
      bench_log "pid $pid ignored SIGTERM for 30 s; sending SIGKILL"
      kill -KILL "$pid" 2> /dev/null || true
    fi
    wait "$pid" 2> /dev/null || true
  done
  started_pids=()
}

# make_certificates: a CA and a server certificate for 127.0.0.1/localhost in $tls_dir, plus the
# file names sysbench's --mysql-ssl=on reads from its working directory (cacert.pem,
# client-cert.pem, client-key.pem).
make_certificates() {
  tls_dir="$work_dir/tls"
  mkdir -p "$tls_dir"
  local key=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  (
    cd "$tls_dir"
    echo "subjectAltName=DNS:localhost,IP:127.0.0.1" > san.ext
    openssl req -x509 "${key[@]}" -keyout ca.key -out ca.crt -days 2 -subj /CN=corral-bench-ca
    openssl req "${key[@]}" -keyout server.key -out server.csr -subj /CN=localhost
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt
    openssl req "${key[@]}" -keyout client-key.pem -out client.csr -subj /CN=bench-client
    openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out client-cert.pem
    cp ca.crt cacert.pem
  ) > "$work_dir/openssl.log" 2>&1 || die "openssl failed: $(tail -n 3 "$work_dir/openssl.log")"
}

# --- backends ------------------------------------------------------------------------------------

start_redis() {
  local dir="$work_dir/redis"
  mkdir -p "$dir"
  local ports redis_tls_port
  ports="$(free_ports 2)"
  read -r redis_port redis_tls_port <<< "$ports"
  # maxclients above the idle probe's 10,000 clients; redis-server lowers it to what RLIMIT_NOFILE allows.
  # The TLS port serves the "direct+tls" rows (clients need no certificate of their own).
  start_child redis-server "$dir/out.log" redis-server --port "$redis_port" --bind 127.0.0.1 \
    --save '' --appendonly no --dir "$dir" --logfile "$dir/redis.log" --maxclients 15000 \
    --tls-port "$redis_tls_port" --tls-cert-file "$tls_dir/server.crt" --tls-key-file "$tls_dir/server.key" \
    --tls-ca-cert-file "$tls_dir/ca.crt" --tls-auth-clients no
  redis_pid=$child_pid
  ready_or_reason redis-server "$redis_pid" "$redis_port" "$dir/redis.log" > "$dir/reason" ||
    die "$(cat "$dir/reason")"
  target_port[redis-direct]=$redis_port
  target_pid[redis-direct]=""
  target_failure[redis-direct]=""
  target_port[redis-direct+tls]=$redis_tls_port
  target_pid[redis-direct+tls]=""
  target_failure[redis-direct+tls]=""
  port_open "$redis_tls_port" || target_failure[redis-direct+tls]="redis-server has no TLS port (built without TLS?)"
}

mariadb_admin() {  # mariadb_admin SQL: runs SQL as MariaDB root over the Unix socket
  mariadb --no-defaults --socket="$mariadb_socket" -u root --batch --skip-column-names -e "$1"
}

start_mariadb() {
  local dir="$work_dir/mariadb" user_args=()
  mkdir -p "$dir/tmp"
  [ "$(id -u)" -ne 0 ] || user_args=(--user=root)  # mariadbd refuses to run as root unless told
  mariadb_socket="$dir/mysqld.sock"
  bench_log "mariadb-install-db into $dir/data"
  mariadb-install-db --no-defaults --datadir="$dir/data" \
    --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
    --tmpdir="$dir/tmp" "${user_args[@]}" > "$dir/install.log" 2>&1 ||
    die "mariadb-install-db failed: $(tail -n 5 "$dir/install.log")"
  mariadb_port="$(free_ports 1)"
  # max_connections covers the idle probe's 2,000 clients plus 256 sysbench threads; a 256 MiB
  # buffer pool holds the whole sysbench data set, so reads never wait for the disk.
  start_child mariadbd "$dir/out.log" mariadbd --no-defaults \
    --datadir="$dir/data" --socket="$mariadb_socket" --pid-file="$dir/mariadbd.pid" \
    --log-error="$dir/error.log" --tmpdir="$dir/tmp" --port="$mariadb_port" \
    --bind-address=127.0.0.1 --skip-networking=0 --skip-name-resolve \
    --max-connections=3000 --max-prepared-stmt-count=100000 \
    --innodb-buffer-pool-size=256M --innodb-log-file-size=64M \
    --innodb-flush-log-at-trx-commit=2 \
    --ssl-cert="$tls_dir/server.crt" --ssl-key="$tls_dir/server.key" --ssl-ca="$tls_dir/ca.crt" "${user_args[@]}"
  mariadb_pid=$child_pid
  ready_or_reason mariadbd "$mariadb_pid" "$mariadb_port" "$dir/error.log" > "$dir/reason" ||
    die "$(cat "$dir/reason")"
  wait_until 30 mariadb_admin "SELECT 1" > /dev/null 2>&1 || die "mariadbd: root login over the socket failed"
  # corral authenticates clients and logs in to the backend itself, so the server keeps its grant
  # tables; the account uses mysql_native_password, which every client and proxy here speaks.
  mariadb_admin "
    CREATE DATABASE $bench_db;
    CREATE USER '$bench_user'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('$bench_password');
    GRANT ALL PRIVILEGES ON $bench_db.* TO '$bench_user'@'127.0.0.1';" || die "mariadbd: cannot create the bench user"
  target_port[mysql-direct]=$mariadb_port
  target_pid[mysql-direct]=""
  target_failure[mysql-direct]=""
  # The same server: its clients choose TLS (SSLRequest).
  target_port[mysql-direct+tls]=$mariadb_port
  target_pid[mysql-direct+tls]=""
  target_failure[mysql-direct+tls]=""
}

# --- proxies -------------------------------------------------------------------------------------

# register_proxy ID PORT PID NAME LOG: records a started proxy, or why it did not start.
register_proxy() {
  local id="$1" port="$2" pid="$3" name="$4" log="$5" reason
  target_port[$id]=$port
  target_pid[$id]=$pid
  if reason="$(ready_or_reason "$name" "$pid" "$port" "$log")"; then
    target_failure[$id]=""
  else
    target_failure[$id]="$reason"
    bench_log "$reason"
  fi
}

start_twemproxy() {
  local dir="$work_dir/twemproxy" ports listen stats
  mkdir -p "$dir"
  ports="$(free_ports 2)"
  read -r listen stats <<< "$ports"
  # One server connection like twemproxy's default; no eviction, so a slow run never drops the server.
  cat > "$dir/nutcracker.yml" <<YML
bench:
  listen: 127.0.0.1:$listen
  redis: true
  hash: fnv1a_64
  distribution: ketama
  auto_eject_hosts: false
  server_connections: 1
  servers:
   - 127.0.0.1:$redis_port:1
YML
  start_child twemproxy "$dir/out.log" nutcracker -c "$dir/nutcracker.yml" -a 127.0.0.1 -s "$stats" \
    -o "$dir/nutcracker.log"
  register_proxy redis-twemproxy "$listen" "$child_pid" twemproxy "$dir/nutcracker.log"
}

start_haproxy() {
  local dir="$work_dir/haproxy" ports redis_listen mysql_listen
  mkdir -p "$dir"
  ports="$(free_ports 2)"
  read -r redis_listen mysql_listen <<< "$ports"
  # Plain TCP relaying: each client connection gets its own backend connection. maxconn 9000 keeps
  # haproxy's file descriptor need (two per connection) under this machine's hard limit of 20,000.
  cat > "$dir/haproxy.cfg" <<CFG
global
  nbthread 1
  maxconn 9000

defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h

listen redis
  bind 127.0.0.1:$redis_listen
  server redis 127.0.0.1:$redis_port

listen mysql
  bind 127.0.0.1:$mysql_listen
  server mariadb 127.0.0.1:$mariadb_port
CFG
  # -db: stay in the foreground as one process, so $! is the process doing the work.
  start_child haproxy "$dir/haproxy.log" haproxy -db -f "$dir/haproxy.cfg"
  register_proxy redis-haproxy "$redis_listen" "$child_pid" haproxy "$dir/haproxy.log"
  target_port[mysql-haproxy]=$mysql_listen
  target_pid[mysql-haproxy]=$child_pid
  target_failure[mysql-haproxy]="${target_failure[redis-haproxy]}"
}

# write_corral_config FILE IO PROTOCOL PORT TLS_PORT BACKEND_URL MAX_CONNECTIONS [EXTRA_TOML]: a plain
# listener on PORT and a TLS one (the bench certificate) on TLS_PORT, same backend and settings, on
# the I/O backend IO ([runtime] io).
write_corral_config() {
  local file="$1" io="$2" protocol="$3" port="$4" tls_port="$5" backend="$6" pool_size="$7" extra="${8:-}"
  cat > "$file" <<TOML
[server]
workers = $corral_workers
log_level = "warn"

[runtime]
io = "$io"

[[listeners]]
name = "bench-$protocol"
protocol = "$protocol"
address = "127.0.0.1:$port"
backend = "$backend"
$extra

[[listeners]]
name = "bench-$protocol-tls"
protocol = "$protocol"
address = "127.0.0.1:$tls_port"
backend = "$backend"
tls_cert = "$tls_dir/server.crt"
tls_key = "$tls_dir/server.key"
$extra
[pool]
max_connections = $pool_size
# 256 sysbench threads on 16 connections wait their turn; on a loaded machine (the bench_smoke
# test in a full CI run) the default 2 s wait failed some with ERR 1040. A wait is what this case
# measures, never an error.
queue_timeout_ms = 60000

[client]
max_connections = 20000
TOML
}

# start_corral [IO [SUFFIX]]: two corral processes, one per protocol, so each one's RSS and CPU belong
# to one protocol, on the I/O backend IO (default epoll); their targets are corral, corral+tls with
# SUFFIX appended to "corral" (run.sh --io both starts a second pair as corral-io_uring). Redis
# keeps corral's default pool size (4 shared connections per worker, opened only when 512 requests
# are in flight on one); MySQL gets the 16-connection pool issue 5 asks for, for 16 and 256 threads.
start_corral() {
  local io="${1:-epoll}" suffix="${2:-}"
  local dir="$work_dir/corral$suffix" ports redis_listen mysql_listen redis_tls_listen mysql_tls_listen
  mkdir -p "$dir"
  ports="$(free_ports 4)"
  read -r redis_listen mysql_listen redis_tls_listen mysql_tls_listen <<< "$ports"
  write_corral_config "$dir/redis.toml" "$io" redis "$redis_listen" "$redis_tls_listen" \
    "redis://127.0.0.1:$redis_port" 4 'auth = "none"'
  write_corral_config "$dir/mysql.toml" "$io" mysql "$mysql_listen" "$mysql_tls_listen" \
    "mysql://$bench_user:$bench_password@127.0.0.1:$mariadb_port/$bench_db" 16 'auth = "users"'
  cat >> "$dir/mysql.toml" <<TOML

[[users]]
name = "$bench_user"
password = "$bench_password"
TOML
  start_child "corral-redis$suffix" "$dir/redis.log" "$corral_binary" --config "$dir/redis.toml"
  register_proxy "redis-corral$suffix" "$redis_listen" "$child_pid" corral "$dir/redis.log"
  register_proxy "redis-corral$suffix+tls" "$redis_tls_listen" "$child_pid" corral "$dir/redis.log"
  start_child "corral-mysql$suffix" "$dir/mysql.log" "$corral_binary" --config "$dir/mysql.toml"
  register_proxy "mysql-corral$suffix" "$mysql_listen" "$child_pid" corral "$dir/mysql.log"
  register_proxy "mysql-corral$suffix+tls" "$mysql_tls_listen" "$child_pid" corral "$dir/mysql.log"
}

# --- Redis Cluster (the cluster suite) -------------------------------------------------------------

# cluster_formed PORT...: every node says cluster_state:ok, knows all the nodes and has every slot
# assigned, so redis-benchmark --cluster and corral read the same complete slot map.
cluster_formed() {
  local port info
  for port in "$@"; do
    info="$(redis-cli -h 127.0.0.1 -p "$port" cluster info 2> /dev/null | tr -d '\r')" || return 1
    grep -q '^cluster_state:ok$' <<< "$info" || return 1
    grep -q '^cluster_slots_assigned:16384$' <<< "$info" || return 1
    grep -q "^cluster_known_nodes:$#\$" <<< "$info" || return 1
  done
}

# start_cluster: three redis-servers with cluster-enabled yes (each with its own bus port, as the
# default bus port, port + 10000, may not be free), joined by redis-cli --cluster create into one
# cluster of 3 masters and no replicas, and a corral whose listener's backend is redis-cluster://
# those three nodes. A cluster that does not form ends the run; a corral that does not start is
# recorded like any other proxy.
start_cluster() {
  local dir="$work_dir/cluster" ports i port bus seeds="" nodes=()
  mkdir -p "$dir"
  ports="$(free_ports 7)"
  local -a all
  read -r -a all <<< "$ports"
  cluster_pids=()
  for i in 0 1 2; do
    port="${all[i]}" bus="${all[i + 3]}"
    mkdir -p "$dir/node$i"
    start_child "cluster node $i" "$dir/node$i/out.log" redis-server --port "$port" --bind 127.0.0.1 \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-port "$bus" \
      --save '' --appendonly no --dir "$dir/node$i" --logfile "$dir/node$i/redis.log"
    cluster_pids+=("$child_pid")
    ready_or_reason "cluster node $i" "$child_pid" "$port" "$dir/node$i/redis.log" > "$dir/reason" ||
      die "$(cat "$dir/reason")"
    nodes+=("127.0.0.1:$port")
    seeds+="${seeds:+,}127.0.0.1:$port"
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes > "$dir/create.log" 2>&1 ||
    die "redis-cli --cluster create failed: $(tail -n 3 "$dir/create.log")"
  wait_until 60 cluster_formed "${all[@]:0:3}" ||
    die "the Redis Cluster did not reach cluster_state:ok with all 16384 slots on every node"
  bench_log "Redis Cluster formed: $seeds"
  target_port[cluster-direct]=${all[0]}
  target_pid[cluster-direct]=""
  target_failure[cluster-direct]=""

  local listen=${all[6]}
  cat > "$dir/corral.toml" <<TOML
[server]
workers = $corral_workers
log_level = "warn"

[[listeners]]
name = "bench-cluster"
protocol = "redis"
address = "127.0.0.1:$listen"
backend = "redis-cluster://$seeds"
auth = "none"

[client]
max_connections = 20000
TOML
  start_child corral-cluster "$dir/corral.log" "$corral_binary" --config "$dir/corral.toml"
  register_proxy cluster-corral "$listen" "$child_pid" corral "$dir/corral.log"
}
