#!/usr/bin/env bash
# corral's benchmark suite (issue 5): starts redis-server, mariadbd, twemproxy, haproxy (TCP mode) and
# corral on free loopback ports in a temporary directory, runs interleaved rounds of redis-benchmark,
# sysbench and an idle-connection probe against direct access, the reference proxies and corral,
# TLS against plain (issue 13), and a 3-master Redis Cluster through corral against redis-benchmark
# --cluster (issue 14), and prints one markdown report (also written to OUT/latest.md).
# docs/BENCHMARKS.md explains it all.
#
#   bench/run.sh [--quick] [--repeats N] [--only redis,mysql,idle,tls,cluster] [--out DIR] [--workers N]
#                [--io epoll|io_uring|both] [--corral PATH] [--idle-clients PATH] [--keep]
#
#   --quick         tiny counts (seconds): checks that everything runs; its numbers mean nothing
#   --repeats N     rounds of every run (default 3; --quick: 1); medians and spread are over these
#   --only LIST     run only these suites (default all five)
#   --out DIR       where latest.md, latest.jsonl (raw records), commands.txt, machine.md go
#                   (default bench/results)
#   --workers N     corral's server.workers (default 1: one thread, like twemproxy and haproxy here)
#   --io BACKEND    corral's [runtime] io (default epoll); both: the "corral" target on epoll and a
#                   "corral-io_uring" target beside it in the Redis and MySQL suites, in the same rounds
#   --corral PATH   the daemon (default build/release/proxy/corral, from scripts/build.sh release)
#   --idle-clients PATH   the idle-connection opener (default build/release/bench/corral_bench_idle_clients)
#   --keep          keep the temporary directory (server logs, every run's output) and print its path
#
# A full run takes about 13 minutes (the cluster suite about a minute per round). Exit status 0 when the report was printed (whatever it says);
# a target (e.g. corral's MySQL listener) that fails shows as "failed (reason)" in its rows.
set -euo pipefail

bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$bench_root/.." && pwd)"
# shellcheck source=bench/lib/common.sh
source "$bench_root/lib/common.sh"
# shellcheck source=bench/lib/servers.sh
source "$bench_root/lib/servers.sh"
# shellcheck source=bench/lib/suites.sh
source "$bench_root/lib/suites.sh"

usage() {
  sed -n '/^#   bench/,/^#   --keep/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2
  exit 64
}

quick=0 repeats="" only="redis,mysql,idle,tls,cluster" keep=0 corral_workers=1 corral_io=epoll
out_dir="$bench_root/results"
corral_binary="$root/build/release/proxy/corral"
idle_binary="$root/build/release/bench/corral_bench_idle_clients"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) quick=1 ;;
    --repeats) repeats="${2:?}"; shift ;;
    --only) only="${2:?}"; shift ;;
    --out) out_dir="${2:?}"; shift ;;
    --workers) corral_workers="${2:?}"; shift ;;
    --io) corral_io="${2:?}"; shift ;;
    --corral) corral_binary="${2:?}"; shift ;;
    --idle-clients) idle_binary="${2:?}"; shift ;;
    --keep) keep=1 ;;
    -h|--help) usage ;;
    *) bench_log "unknown option '$1'"; usage ;;
  esac
  shift
done
[[ "$corral_workers" =~ ^[1-9][0-9]*$ ]] || die "--workers must be a positive integer (got '$corral_workers')"
suites="redis|mysql|idle|tls|cluster"
[[ "$only" =~ ^($suites)(,($suites))*$ ]] || die "--only takes redis,mysql,idle,tls,cluster (got '$only')"
[[ "$corral_io" =~ ^(epoll|io_uring|both)$ ]] || die "--io takes epoll, io_uring or both (got '$corral_io')"
wants() { [[ ",$only," == *",$1,"* ]]; }

# Sizes: a full run is about 13 minutes on 2 cores; --quick only proves the scripts work.
if [ "$quick" -eq 1 ]; then
  repeats="${repeats:-1}"
  redis_requests_p1=2000 redis_requests_p16=20000
  sysbench_tables=1 sysbench_table_size=1000 sysbench_length=(--time=0 --events=400)
  idle_redis_clients=200 idle_mysql_clients=50
  run_timeout=120 idle_timeout=60 settle_seconds=0.2
else
  repeats="${repeats:-3}"
  redis_requests_p1=100000 redis_requests_p16=500000
  sysbench_tables=4 sysbench_table_size=25000 sysbench_length=(--time=4 --events=0)
  idle_redis_clients=10000 idle_mysql_clients=2000
  run_timeout=300 idle_timeout=180 settle_seconds=1
fi
[[ "$repeats" =~ ^[1-9][0-9]*$ ]] || die "--repeats must be a positive integer (got '$repeats')"

export PATH="$PATH:/usr/sbin:/sbin"  # mariadbd and haproxy live in sbin, which a non-root PATH lacks
for tool in redis-server redis-cli redis-benchmark sysbench nutcracker haproxy mariadbd mariadb-install-db \
            mariadb python3 openssl; do
  command -v "$tool" > /dev/null || die "$tool not found; run scripts/install-deps.sh"
done
[ -x "$corral_binary" ] || die "no corral binary at $corral_binary; build it with scripts/build.sh release"
if wants idle && [ ! -x "$idle_binary" ]; then
  die "no idle-client opener at $idle_binary; build it with scripts/build.sh release"
fi

# The idle probe holds 10,000 client sockets in one process and as many in the proxy (twice that in
# haproxy); children inherit the raised limit.
ulimit -n "$(ulimit -Hn)" 2> /dev/null || true
if wants idle && [ "$(ulimit -n)" -lt $((idle_redis_clients + 1000)) ]; then
  bench_log "warning: open files limit $(ulimit -n) is below what $idle_redis_clients idle clients need"
fi

work_dir="$(mktemp -d /tmp/corral-bench.XXXXXX)"
mkdir -p "$work_dir/runs" "$out_dir"
cleanup() {
  stop_servers
  if [ "$keep" -eq 1 ]; then
    bench_log "work directory kept: $work_dir"
  else
    rm -rf "$work_dir"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

raw="$out_dir/latest.jsonl"
: > "$raw"
: > "$out_dir/commands.txt"

describe_machine() {
  local commit
  commit="$(git -C "$root" describe --always --dirty 2> /dev/null || echo unknown)"
  echo "- When: $(date -u '+%Y-%m-%d %H:%M UTC'); corral $commit ($corral_binary)"
  echo "- CPU: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(free -g | awk '/^Mem:/ { print $2 }') GiB RAM"
  echo "- Kernel: $(uname -sr); $(sed -n 's/^PRETTY_NAME="\(.*\)"$/\1/p' /etc/os-release)"
  echo "- Versions: $(redis-server --version | grep -o 'v=[^ ]*' | sed 's/v=/redis /'), $(mariadbd --version 2> /dev/null |
    grep -o 'Ver [^ ]*' | sed 's/Ver /mariadb /'), $(sysbench --version), $(nutcracker --version 2>&1 |
    head -n 1 | sed 's/This is nutcracker-/twemproxy /'), $(haproxy -v | head -n 1 | awk '{ print "haproxy " $3 }')"
  echo "- Settings: corral server.workers = $corral_workers, runtime.io = $corral_io; haproxy nbthread 1; twemproxy 1 process," \
    "server_connections 1; $repeats rounds; redis-benchmark -n $redis_requests_p1 (-P 1) / -n $redis_requests_p16 (-P 16);" \
    "sysbench $sysbench_tables tables × $sysbench_table_size rows, ${sysbench_length[*]};" \
    "idle probe $idle_redis_clients Redis / $idle_mysql_clients MySQL clients; Redis Cluster of 3 masters, no replicas"
  echo "- Load before the run: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min load average)"
}
describe_machine > "$out_dir/machine.md"

# Everything starts whatever --only says (the proxies' configurations name both backends), except
# the cluster and its corral, which only the cluster suite uses.
make_certificates
start_redis
start_mariadb
start_twemproxy
start_haproxy
if [ "$corral_io" = both ]; then
  start_corral epoll
  start_corral io_uring -io_uring
  redis_targets+=(corral-io_uring)
  mysql_targets+=(corral-io_uring)
else
  start_corral "$corral_io"
fi
if wants cluster; then start_cluster; fi
if wants mysql || wants tls; then sysbench_prepare; fi

if wants idle; then idle_suite; fi
# Other work on the machine (e.g. compilers) skews results: count compilers at each round's start.
compilers=()
for ((round = 1; round <= repeats; round++)); do
  bench_log "round $round of $repeats"
  compilers+=("$(pgrep -c cc1plus || true)")
  if wants redis; then redis_round; fi
  if wants mysql; then mysql_round; fi
  if wants tls; then tls_round; fi
  if wants cluster; then cluster_round; fi
done

echo "- Compiler processes (cc1plus) running at the start of each round: ${compilers[*]:-none}" >> "$out_dir/machine.md"
title="corral benchmarks: full run"
[ "$quick" -eq 0 ] || title="corral benchmarks: QUICK run (tiny counts; the numbers mean nothing)"
results report "$raw" --workers "$corral_workers" --title "$title" --machine "$out_dir/machine.md" \
  > "$out_dir/latest.md"
cat "$out_dir/latest.md"
bench_log "report written to $out_dir/latest.md (raw records: latest.jsonl, commands: commands.txt)"
