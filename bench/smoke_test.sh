#!/usr/bin/env bash
# ctest bench_smoke: runs bench/run.sh --quick and checks that the report has every section and a row
# for every benchmark and target, and that the direct, twemproxy, haproxy and corral Redis rows have
# numbers, and that corral's Redis and MySQL rows, the TLS rows and the Redis Cluster rows (direct
# --cluster and through corral) have numbers too, which shows the load tools, servers, certificates,
# the cluster, configurations and parsing work. Never looks at speed.
#
#   bench/smoke_test.sh CORRAL_BINARY IDLE_CLIENTS_BINARY
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 CORRAL_BINARY IDLE_CLIENTS_BINARY" >&2; exit 64; }
bench_root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="$(mktemp -d /tmp/corral-bench-smoke.XXXXXX)"
trap 'rm -rf "$out"' EXIT

"$bench_root/run.sh" --quick --out "$out" --corral "$1" --idle-clients "$2" > "$out/stdout"
report="$out/latest.md"
cmp -s "$out/stdout" "$report" || { echo "smoke: stdout differs from $report" >&2; exit 1; }

problems=0
problem() {
  echo "smoke: $*" >&2
  problems=$((problems + 1))
}

for heading in "### Redis (redis-benchmark)" "### MySQL (sysbench)" "### Idle connections" "### TLS against plain" \
               "### Redis Cluster, 3 masters" "### Issue 5 targets"; do
  grep -qF "$heading" "$report" || problem "no section '$heading'"
done

# expect_row CASE TARGET: the table has a row for CASE on TARGET.
expect_row() {
  grep -qF "| $1 | $2 |" "$report" || problem "no row for '$1' on $2"
}

for clients in 50 500; do
  for pipeline in 1 16; do
    for test in SET GET; do
      for target in direct twemproxy haproxy corral; do
        expect_row "$test -c $clients -P $pipeline" "$target"
      done
    done
  done
done
for threads in 16 256; do
  for test in point_select read_only; do
    for ps in disable auto; do
      for target in direct haproxy corral; do
        expect_row "$test ps=$ps t$threads" "$target"
      done
    done
  done
done
for case in "redis GET -c 50 -P 1" "redis GET -c 50 -P 16" "mysql point_select ps=disable t16"; do
  for target in direct direct+tls corral corral+tls; do
    expect_row "$case" "$target"
  done
done
# Redis Cluster rows (issue 14): redis-benchmark --cluster direct, and plain redis-benchmark through
# corral; their case names repeat the Redis section's, so they are looked for in their own section.
cluster_rows="$(awk '/^### Redis Cluster/ { on = 1; next } /^### / { on = 0 } on' "$report")"
for pipeline in 1 16; do
  for test in SET GET; do
    for target in direct corral; do
      grep -q "^| $test -c 50 -P $pipeline | $target | [0-9]" <<< "$cluster_rows" ||
        problem "no Redis Cluster row with numbers for '$test -c 50 -P $pipeline' on $target"
    done
  done
done
for target in direct twemproxy corral; do expect_row "redis 200 idle clients" "$target"; done
for target in direct haproxy corral; do expect_row "mysql 50 idle clients" "$target"; done

if grep -F "| direct: failed" "$report" >&2; then
  problem "direct rows failed (above): the load tools or the servers do not work"
fi
for target in twemproxy haproxy; do
  if grep -F "| $target: failed" "$report" >&2; then
    problem "$target rows failed (above): the reference proxy setup does not work"
  fi
done
# corral must start on the configurations bench/lib/servers.sh writes, and both of its paths work
# (issues 3 and 4), so every corral row needs numbers.
if grep -F "corral did not start" "$report" >&2; then
  problem "corral did not start (above): the bench configuration no longer fits corral"
fi
if grep -E '^\| [^|]+ \| corral \| corral: failed' "$report" >&2; then
  problem "corral's rows failed (above)"
fi
# TLS rows (issue 13): redis-benchmark --tls and sysbench --mysql-ssl=on, direct and through corral.
if grep -E '^\| [^|]+ \| (direct|corral)\+tls \| (direct|corral)\+tls: failed' "$report" >&2; then
  problem "TLS rows failed (above)"
fi
grep -q '^| Redis -P 1, GET and SET: corral ≥ 1.15x twemproxy | ' "$report" || problem "no Redis target line"

if [ "$problems" -ne 0 ]; then
  echo "smoke: $problems problem(s); the report was:" >&2
  cat "$report" >&2
  exit 1
fi
echo "smoke: report complete ($(grep -c '^| ' "$report") table lines)"
