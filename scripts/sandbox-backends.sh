#!/usr/bin/env bash
# Local backends for trying corral by hand: redis-server on 127.0.0.1:6379 and mariadbd on
# 127.0.0.1:3306 (loopback only), with their data under STATE_DIR.
#
#   scripts/sandbox-backends.sh start  STATE_DIR [redis] [mariadb]
#   scripts/sandbox-backends.sh stop   STATE_DIR [redis] [mariadb]
#   scripts/sandbox-backends.sh status STATE_DIR
#
# start: starts each backend (both when none is named) unless something already answers on its port
#        (then it leaves that server alone). MariaDB gets a database `demo` and a user corral/corral
#        (mysql_native_password) with all privileges on it; root logs in over the Unix socket only.
# stop:  stops the named backends (default both), but only those this script started: it keeps their
#        pid files in STATE_DIR and checks the process before signalling it.
# Idempotent: starting twice leaves the running servers alone; data survives stop/start.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|status STATE_DIR [redis] [mariadb]" >&2
  exit 64
}
[ $# -ge 2 ] || usage
action="$1"
mkdir -p "$2"
state_dir="$(cd "$2" && pwd)"
shift 2
services=("$@")
[ ${#services[@]} -gt 0 ] || services=(redis mariadb)
for s in "${services[@]}"; do
  case "$s" in redis|mariadb) ;; *) usage ;; esac
done

readonly redis_port=6379 mariadb_port=3306
readonly redis_dir="$state_dir/redis" mariadb_dir="$state_dir/mariadb"
readonly redis_pidfile="$redis_dir/redis.pid" mariadb_pidfile="$mariadb_dir/mariadbd.pid"
readonly mariadb_socket="$mariadb_dir/mysqld.sock"

log() { echo "sandbox: $*" >&2; }

reachable() {  # reachable PORT: something accepts TCP connections on 127.0.0.1:PORT
  timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

find_bin() {  # find_bin NAME: PATH, then the sbin directories a non-root PATH lacks
  PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$1" ||
    { log "$1 not found in PATH; run scripts/install-deps.sh"; exit 1; }
}

# our_pid PIDFILE COMM: prints the pid when PIDFILE names a live process called COMM.
our_pid() {
  local pid
  [ -s "$1" ] || return 1
  pid="$(tr -dc '0-9' < "$1")"
  [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ] || return 1
  echo "$pid"
}

# shellcheck source=scripts/lib/wait.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/wait.sh"

stop_pid() {  # stop_pid NAME PIDFILE COMM
  local pid
  if ! pid="$(our_pid "$2" "$3")"; then
    rm -f "$2"
    log "$1: not started by this sandbox (no live pid file in ${2%/*}); nothing to stop"
    return 0
  fi
  kill -TERM "$pid"
  if ! wait_until 60 bash -c "! kill -0 $pid 2>/dev/null"; then
    log "$1: pid $pid did not exit within 60 s of SIGTERM; sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$2"
  log "$1: stopped (pid $pid)"
}

# --- redis ------------------------------------------------------------------------------------

start_redis() {
  if our_pid "$redis_pidfile" redis-server > /dev/null; then
    log "redis: already running from this sandbox on 127.0.0.1:$redis_port"
    return 0
  fi
  if reachable "$redis_port"; then
    log "redis: 127.0.0.1:$redis_port already answers; using it, not starting one"
    return 0
  fi
  local bin
  bin="$(find_bin redis-server)" || return 1
  mkdir -p "$redis_dir" || return 1
  "$bin" --port "$redis_port" --bind 127.0.0.1 --daemonize yes \
    --pidfile "$redis_pidfile" --dir "$redis_dir" --logfile "$redis_dir/redis.log" --appendonly no ||
    { log "redis: redis-server failed to start; log tail:"; tail -n 20 "$redis_dir/redis.log" >&2; return 1; }
  if ! wait_until 20 bash -c "[ \"\$(redis-cli -h 127.0.0.1 -p $redis_port ping 2>/dev/null)\" = PONG ]"; then
    log "redis: did not answer PING within 20 s; log tail:"
    tail -n 20 "$redis_dir/redis.log" >&2 || true
    return 1
  fi
  wait_until 5 test -s "$redis_pidfile" || true
  log "redis: started on 127.0.0.1:$redis_port (data in $redis_dir)"
}

# --- mariadb ----------------------------------------------------------------------------------

admin_sql() {  # runs SQL as the administrative account over the Unix socket
  mariadb --no-defaults --socket="$mariadb_socket" -u "$(id -un)" --batch --skip-column-names -e "$1"
}

start_mariadb() {
  if our_pid "$mariadb_pidfile" mariadbd > /dev/null; then
    log "mariadb: already running from this sandbox on 127.0.0.1:$mariadb_port"
    return 0
  fi
  if reachable "$mariadb_port"; then
    log "mariadb: 127.0.0.1:$mariadb_port already answers; using it, not starting one" \
        "(corral's default config expects a user corral/corral there)"
    return 0
  fi
  if [ ${#mariadb_socket} -gt 100 ]; then
    log "mariadb: socket path $mariadb_socket is too long for a Unix socket; choose a shorter STATE_DIR"
    return 1
  fi
  local user_args=() install_db server
  [ "$(id -u)" -ne 0 ] || user_args=(--user=root)   # mariadbd refuses root unless told
  install_db="$(find_bin mariadb-install-db)" || return 1
  server="$(find_bin mariadbd)" || return 1
  find_bin mariadb > /dev/null || return 1
  # Own tmpdir: mariadbd deletes "#sql*" files in its tmpdir at start-up, even other servers' ones.
  mkdir -p "$mariadb_dir/tmp" || return 1
  if [ ! -d "$mariadb_dir/data/mysql" ]; then
    log "mariadb: initialising $mariadb_dir/data"
    # socket authentication: the OS user running this script (and OS root) is the MariaDB admin.
    if ! "$install_db" --no-defaults --datadir="$mariadb_dir/data" \
         --auth-root-authentication-method=socket --skip-test-db --skip-name-resolve \
         --tmpdir="$mariadb_dir/tmp" \
         "${user_args[@]}" > "$mariadb_dir/install.log" 2>&1; then
      log "mariadb: mariadb-install-db failed:"
      tail -n 30 "$mariadb_dir/install.log" >&2
      rm -rf "$mariadb_dir/data"
      return 1
    fi
  fi
  # setsid: the server outlives this script and does not get the terminal's Ctrl-C.
  setsid "$server" --no-defaults --datadir="$mariadb_dir/data" \
    --socket="$mariadb_socket" --pid-file="$mariadb_pidfile" --log-error="$mariadb_dir/error.log" \
    --tmpdir="$mariadb_dir/tmp" \
    --port="$mariadb_port" --bind-address=127.0.0.1 --skip-networking=0 --skip-name-resolve \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    --innodb-buffer-pool-size=128M "${user_args[@]}" < /dev/null >> "$mariadb_dir/mariadbd.out" 2>&1 &
  local pid=$!
  disown "$pid" 2>/dev/null || true
  if ! wait_until 60 admin_sql "SELECT 1" > /dev/null 2>&1; then
    log "mariadb: did not accept a login within 60 s; error log tail:"
    tail -n 30 "$mariadb_dir/error.log" >&2 || true
    kill -TERM "$pid" 2>/dev/null || true
    return 1
  fi
  admin_sql "
    CREATE DATABASE IF NOT EXISTS demo;
    CREATE USER IF NOT EXISTS 'corral'@'127.0.0.1' IDENTIFIED VIA mysql_native_password USING PASSWORD('corral');
    CREATE USER IF NOT EXISTS 'corral'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('corral');
    GRANT ALL PRIVILEGES ON demo.* TO 'corral'@'127.0.0.1';
    GRANT ALL PRIVILEGES ON demo.* TO 'corral'@'localhost';"
  log "mariadb: started on 127.0.0.1:$mariadb_port (data in $mariadb_dir; user corral/corral, database demo)"
}

# --- status -----------------------------------------------------------------------------------

status_of() {  # status_of NAME PORT PIDFILE COMM
  local pid
  if pid="$(our_pid "$3" "$4")"; then
    echo "$1: running from this sandbox (pid $pid) on 127.0.0.1:$2"
  elif reachable "$2"; then
    echo "$1: 127.0.0.1:$2 answers, but not a server of this sandbox"
  else
    echo "$1: not running (nothing on 127.0.0.1:$2)"
  fi
}

rc=0
for s in "${services[@]}"; do
  case "$action:$s" in
    start:redis) start_redis || rc=1 ;;
    start:mariadb) start_mariadb || rc=1 ;;
    stop:redis) stop_pid redis "$redis_pidfile" redis-server ;;
    stop:mariadb) stop_pid mariadb "$mariadb_pidfile" mariadbd ;;
    status:redis) status_of redis "$redis_port" "$redis_pidfile" redis-server ;;
    status:mariadb) status_of mariadb "$mariadb_port" "$mariadb_pidfile" mariadbd ;;
    *) usage ;;
  esac
done
exit "$rc"
