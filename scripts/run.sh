#!/usr/bin/env bash
# Builds corral (release) and runs it in the foreground with config/corral.toml, starting local
# backends first for whichever of the default ones (redis 127.0.0.1:6379, mariadb 127.0.0.1:3306) do
# not answer. Ctrl-C or SIGTERM stops corral; the backends this run started are stopped after it.
#
#   scripts/run.sh [extra corral arguments...]
#
# Sandbox data lives in $CORRAL_SANDBOX_DIR, default ${XDG_STATE_HOME:-~/.local/state}/corral/sandbox,
# so demo data survives between runs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state_dir="${CORRAL_SANDBOX_DIR:-${XDG_STATE_HOME:-$HOME/.local/state}/corral/sandbox}"
sandbox="$root/scripts/sandbox-backends.sh"

"$root/scripts/install-deps.sh"
# Only the daemon: the tests and benchmarks are not needed to run it, and a first start is quicker.
CORRAL_BUILD_TARGETS=corral "$root/scripts/build.sh" release

reachable() { timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null; }

# Only backends that are down now are started, and only those are stopped at the end.
started=()
reachable 6379 || started+=(redis)
reachable 3306 || started+=(mariadb)

# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  if [ ${#started[@]} -gt 0 ]; then "$sandbox" stop "$state_dir" "${started[@]}" || true; fi
}
trap cleanup EXIT
if [ ${#started[@]} -gt 0 ]; then "$sandbox" start "$state_dir" "${started[@]}"; fi

echo "corral: try  redis-cli -p 6380  and  mysql -h127.0.0.1 -P3307 -ucorral -pcorral  (Ctrl-C stops corral)"
# In the background so this shell can forward SIGINT/SIGTERM to corral and still clean up after it.
"$root/build/release/proxy/corral" --config "$root/config/corral.toml" "$@" &
corral_pid=$!
# First Ctrl-C/SIGTERM: graceful shutdown (SIGTERM); a second one: SIGKILL.
signals=0
# shellcheck disable=SC2317  # called by the INT/TERM trap
forward() {
  signals=$((signals + 1))
  if [ "$signals" -eq 1 ]; then
    echo "run.sh: stopping corral (again to kill it)" >&2
    kill -TERM "$corral_pid" 2>/dev/null || true
  else
    kill -KILL "$corral_pid" 2>/dev/null || true
  fi
}
trap forward INT TERM
status=0
wait "$corral_pid" || status=$?
while kill -0 "$corral_pid" 2>/dev/null; do   # the first wait returns early when a signal arrives
  status=0
  wait "$corral_pid" || status=$?
done
exit "$status"
