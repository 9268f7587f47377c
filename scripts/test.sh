#!/usr/bin/env bash
# THE test command (CI runs it through .ci/run). From any directory:
#
#   scripts/test.sh
#
# 1. scripts/install-deps.sh; shell and docker/ checks
# 2. release build, then ctest with every label (unit, integration, fuzz corpus replay)
# 3. subsets of the peers' own test suites (Redis runtest, MariaDB mysql-test-run and client test) against
#    the release binary, direct and through corral (tests/compat/); real client libraries (ioredis,
#    node-redis, redis-py) against corral (tests/clients/)
#    and the docker/ checks (scripts/check-docker.sh)
# 4. asan build (ASan + UBSan), then the whole ctest suite again under the sanitizers
# 5. fuzz build (clang, libFuzzer, ASan + UBSan): corpus replay, then each fuzzer for
#    $CORRAL_FUZZ_SECONDS (default 20) seconds; a crash fails the run and leaves its input in
#    build/fuzz/artifacts/<fuzzer>/ (commit it as a repro next to the corpus)
#
# Every step runs even when an earlier one failed (a build failure skips only its own tests); the
# summary at the end lists each step, and repeats ctest's closing lines. Exit status: 0 only when
# every step passed. Logs: build/test-logs/.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
logs="$root/build/test-logs"
jobs="$(nproc)"
fuzz_seconds="${CORRAL_FUZZ_SECONDS:-20}"

export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

# --- steps: each runs in its own bash process (see run_step) so `set -e` applies inside it ---------

step_deps() {
  scripts/install-deps.sh
}

step_lint() {
  local f
  for f in scripts/*.sh scripts/lib/*.sh bench/*.sh bench/lib/*.sh tests/packaging/*.sh .ci/run; do bash -n "$f"; done
  if command -v shellcheck > /dev/null; then
    shellcheck -x scripts/*.sh scripts/lib/*.sh bench/*.sh bench/lib/*.sh tests/packaging/*.sh .ci/run
  else
    echo "shellcheck not installed: syntax checked with bash -n only"
  fi
}

ctest_suite() {  # ctest_suite BUILD_DIR LOG [ctest args...]
  local dir="$1" log="$2"
  shift 2
  # pipefail: ctest's exit status survives the tee that keeps its output for the summary.
  ctest --test-dir "$dir" --output-on-failure --no-tests=error -j "$jobs" --timeout 900 "$@" 2>&1 | tee "$log"
}

step_release_build() { scripts/build.sh release; }
step_release_ctest() { ctest_suite build/release "$logs/ctest-release.log"; }
# The peers' own test suites, a subset each, direct and through corral (tests/compat/README.md): Redis's
# runtest units, then MariaDB's mysql-test-run (text and --ps-protocol) and mariadb-client-test.
step_compat() {
  local rc=0
  tests/compat/redis_compat.py --subset --corral build/release/proxy/corral || rc=1
  tests/compat/mysql_compat.py --subset --corral build/release/proxy/corral || rc=1
  return "$rc"
}
# Real client libraries (ioredis, node-redis, redis-py) against the release binary (tests/clients/run.py).
step_clients() { tests/clients/run.py --corral build/release/proxy/corral; }
step_docker_check() { scripts/check-docker.sh build/release/proxy/corral; }
step_asan_build() { scripts/build.sh asan; }
step_asan_ctest() { ctest_suite build/asan "$logs/ctest-asan.log"; }
# Only the fuzz targets (and the libraries they link): the other tests already ran twice.
step_fuzz_build() { CORRAL_BUILD_TARGETS="tests/fuzz/all" scripts/build.sh fuzz; }
step_fuzz_corpus() { ctest_suite build/fuzz "$logs/ctest-fuzz.log" -L fuzz; }

step_fuzz_run() {
  local line cmd bin name arg found=0 crashed=()
  # ctest knows each fuzzer and its committed corpus: 'N: Test command: /path/fuzzer "-runs=0" "/corpus"'.
  while IFS= read -r line; do
    cmd="${line#*Test command: }"
    bin="${cmd%% *}"
    name="$(basename "$bin")"
    local corpora=()
    while IFS= read -r arg; do
      [[ "$arg" == -* ]] || corpora+=("$arg")
    done < <(grep -o '"[^"]*"' <<< "$cmd" | sed 's/^"//; s/"$//')
    # New inputs go to a scratch directory, so the committed corpus is only read.
    local scratch="$root/build/fuzz/scratch-corpus/$name" artifacts="$root/build/fuzz/artifacts/$name"
    rm -rf "$scratch"
    mkdir -p "$scratch" "$artifacts"
    echo "--- fuzzing $name for ${fuzz_seconds}s (corpus: ${corpora[*]})"
    if ! "$bin" -max_total_time="$fuzz_seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
         -artifact_prefix="$artifacts/" "$scratch" "${corpora[@]}" < /dev/null; then
      echo "FUZZER FAILED: $name; inputs in ${artifacts#"$root"/}:" >&2
      ls -l "$artifacts" >&2
      crashed+=("$name")
    fi
    found=$((found + 1))
  done < <(ctest --test-dir build/fuzz -N -V -L fuzz | grep 'Test command:')
  if [ "$found" -eq 0 ]; then
    echo "no fuzz targets registered (label fuzz) in build/fuzz" >&2
    return 1
  fi
  if [ ${#crashed[@]} -gt 0 ]; then
    echo "fuzzers that failed: ${crashed[*]}" >&2
    return 1
  fi
  echo "fuzzed $found target(s) without a crash"
}

if [ "${1:-}" = "--step" ]; then
  "step_$2"
  exit
fi

# --- driver -------------------------------------------------------------------------------------

mkdir -p "$logs"
rm -f "$logs"/ctest-*.log
declare -a summary=()
declare -A status=()
failed=()

run_step() {  # run_step NAME [REQUIRED_STEP]: skipped when REQUIRED_STEP did not pass
  local name="$1" needs="${2:-}" t0=$SECONDS rc=0
  if [ -n "$needs" ] && [ "${status[$needs]:-}" != ok ]; then
    status[$name]=skipped
    summary+=("$(printf '%-14s %-8s %6s  (%s failed)' "$name" SKIPPED - "$needs")")
    failed+=("$name")
    return 0
  fi
  echo
  echo "===== test.sh: $name ====="
  bash "${BASH_SOURCE[0]}" --step "${name//-/_}" || rc=$?
  if [ "$rc" -eq 0 ]; then status[$name]=ok; else status[$name]=failed; failed+=("$name"); fi
  summary+=("$(printf '%-14s %-8s %5ss' "$name" "$([ "$rc" -eq 0 ] && echo ok || echo "FAILED")" $((SECONDS - t0)))")
}

total0=$SECONDS
run_step deps
run_step lint
run_step release-build deps
run_step release-ctest release-build
run_step compat release-build
run_step clients release-build
run_step docker-check release-build
run_step asan-build deps
run_step asan-ctest asan-build
run_step fuzz-build deps
run_step fuzz-corpus fuzz-build
run_step fuzz-run fuzz-build

echo
echo "===== test.sh summary ($((SECONDS - total0))s, logs in ${logs#"$root"/}) ====="
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -eq 0 ]; then
  echo "test.sh: PASSED"
else
  echo "test.sh: FAILED: ${failed[*]}"
fi
# ctest's own closing lines last, as ctest prints them.
for run in release asan fuzz; do
  log="$logs/ctest-$run.log"
  [ -s "$log" ] || continue
  echo
  echo "----- ctest ($run) -----"
  sed -n '/tests passed/,$p' "$log"
done
[ ${#failed[@]} -eq 0 ]
