# shellcheck shell=bash
# Helpers shared by bench/run.sh and bench/lib/*.sh: logging, free ports, waiting, and the /proc
# readings every measurement is made of. Sourced, never run.

bench_log() { echo "bench: $*" >&2; }

die() {
  bench_log "error: $*"
  exit 1
}

# free_ports N: prints N distinct loopback ports the kernel reports free right now. All N sockets are
# bound before any is closed, so the ports differ; another process could still take one before its
# server binds it, which then fails loudly at start-up.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
sockets = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    sockets.append(s)
print(" ".join(str(s.getsockname()[1]) for s in sockets))
PY
}

# port_open PORT: something accepts TCP connections on 127.0.0.1:PORT.
port_open() {
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2> /dev/null
}

# shellcheck source=scripts/lib/wait.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/lib/wait.sh"

# cpu_ticks PID: "USER SYSTEM" CPU time of the whole process (all threads) in clock ticks. The
# command name in /proc/PID/stat may hold spaces, so fields are counted after its closing ')':
# utime and stime are fields 14 and 15 of the file, 12 and 13 after "pid (comm) ".
cpu_ticks() {
  local stat
  stat="$(cat "/proc/$1/stat" 2> /dev/null)" || { echo 0 0; return; }
  stat="${stat##*) }"
  # shellcheck disable=SC2086  # word splitting into fields is the point
  set -- $stat
  echo "${12} ${13}"
}

# machine_ticks: "BUSY TOTAL" clock ticks of all CPUs since boot (/proc/stat's "cpu" line; idle and
# iowait are the only ticks not busy). Two readings tell how busy the machine was in between: a run
# that leaves CPU idle is limited by latency (wake-ups, round trips), not by CPU.
machine_ticks() {
  awk '/^cpu / { total = 0; for (i = 2; i <= NF; i++) total += $i; print total - $5 - $6, total; exit }' /proc/stat
}

# rss_kib PID: resident set size in KiB (VmRSS of /proc/PID/status).
rss_kib() {
  awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# alive PID: the process exists and is not a zombie.
alive() {
  local state
  state="$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2> /dev/null)" || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}
