# shellcheck shell=bash
# wait_until, shared by scripts/ and bench/. Sourced, never run.

# wait_until SECONDS COMMAND...: polls COMMAND every 0.1 s; fails when SECONDS pass first.
wait_until() {
  local deadline=$((SECONDS + $1))
  shift
  until "$@"; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.1
  done
}
