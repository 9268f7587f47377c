# shellcheck shell=bash
# shellcheck disable=SC2154,SC2034  # globals are set and read across run.sh and lib/*.sh
# The measured runs: redis-benchmark, sysbench and the idle-connection probe. Sourced by bench/run.sh,
# never run; uses the globals of lib/servers.sh and run.sh ($raw, $out_dir, $repeats, ...).
#
# Every run reads the CPU time of the proxy and of the backend process from /proc before and after,
# so "CPU µs per request" is (utime + stime delta) / requests for that run alone; nothing else loads
# those processes meanwhile. Rounds are interleaved: round 1 runs every case on every target, then
# round 2 does it again..., so a burst of load from elsewhere on the machine hits all targets alike.

clk_tck="$(getconf CLK_TCK)"
readonly clk_tck
redis_targets=(direct twemproxy haproxy corral)
mysql_targets=(direct haproxy corral)

results() { python3 "$bench_root/results.py" "$@"; }

# note_command CASE TARGET COMMAND...: keeps the exact command of round 1 in commands.txt.
note_command() {
  local case="$1" target="$2"
  shift 2
  [ "$round" -eq 1 ] || return 0
  printf '%-28s %-10s %s\n' "$case" "$target" "${*//$root\//}" >> "$out_dir/commands.txt"
}

# measured_results TOOL LOG CASE TARGET [results.py options...]: records the run measured() just made
# (its exit status and CPU ticks) as one JSON-lines record in $raw.
measured_results() {
  local tool="$1" log="$2" case="$3" target="$4"
  shift 4
  results "$tool" "$raw" "$log" --case "$case" --target "$target" --round "$round" --rc "$run_rc" \
    --clk-tck "$clk_tck" --proxy-ticks "$proxy_ticks" --proxy-sys-ticks "$proxy_sys_ticks" \
    --backend-ticks "$backend_ticks" --busy-ticks "$busy_ticks" --total-ticks "$total_ticks" "$@"
}

# backend_cpu_ticks PID...: user + system clock ticks of these processes together.
backend_cpu_ticks() {
  local pid user system total=0
  for pid in "$@"; do
    read -r user system <<< "$(cpu_ticks "$pid")"
    total=$((total + user + system))
  done
  echo "$total"
}

# measured BACKEND_PIDS PROXY_PID LOG TIMEOUT COMMAND...: runs COMMAND with output to LOG and
# sets run_rc, proxy_ticks (of which proxy_sys_ticks in the kernel), backend_ticks and the machine's
# busy_ticks of total_ticks (all CPUs) for the run. BACKEND_PIDS is one pid, or several separated by
# spaces (a cluster's masters: their CPU is summed). PROXY_PID may be empty (direct).
measured() {
  local backend="$1" proxy="$2" log="$3" limit="$4"
  shift 4
  local pu0=0 ps0=0 pu1=0 ps1=0 b0 b1 m0 t0 m1 t1 backends
  read -r -a backends <<< "$backend"
  [ -z "$proxy" ] || read -r pu0 ps0 <<< "$(cpu_ticks "$proxy")"
  b0="$(backend_cpu_ticks "${backends[@]}")"
  read -r m0 t0 <<< "$(machine_ticks)"
  run_rc=0
  timeout --kill-after=10 "$limit" "$@" > "$log" 2>&1 || run_rc=$?
  read -r m1 t1 <<< "$(machine_ticks)"
  [ -z "$proxy" ] || read -r pu1 ps1 <<< "$(cpu_ticks "$proxy")"
  b1="$(backend_cpu_ticks "${backends[@]}")"
  proxy_ticks=$((pu1 + ps1 - pu0 - ps0))
  proxy_sys_ticks=$((ps1 - ps0))
  backend_ticks=$((b1 - b0))
  busy_ticks=$((m1 - m0))
  total_ticks=$((t1 - t0))
}

# unavailable ID TARGET: prints why the target cannot be measured (it did not start, or its process
# has gone since); prints nothing when it can.
unavailable() {
  local id="$1" target="$2"
  if [ -n "${target_failure[$id]}" ]; then
    echo "${target_failure[$id]}"
  elif [ -n "${target_pid[$id]}" ] && ! alive "${target_pid[$id]}"; then
    echo "$target exited during the run (its log is in the work directory)"
  fi
}

# usable SUITE CASE TARGET ID: false (after recording why) when the target cannot be measured.
usable() {
  local reason
  reason="$(unavailable "$4" "$3")"
  [ -n "$reason" ] || return 0
  results failed "$raw" --suite "$1" --case "$2" --target "$3" --round "$round" --reason "$reason"
  return 1
}

# --- Redis ---------------------------------------------------------------------------------------

redis_round() {
  local clients pipeline test target id requests case log
  for clients in 50 500; do
    for pipeline in 1 16; do
      requests=$redis_requests_p1
      [ "$pipeline" -eq 1 ] || requests=$redis_requests_p16
      # SET first, as redis-benchmark -t get,set orders them, so GET finds its key.
      for test in set get; do
        case="${test^^} -c $clients -P $pipeline"
        for target in "${redis_targets[@]}"; do
          id="redis-$target"
          usable redis "$case" "$target" "$id" || continue
          local command=(redis-benchmark -h 127.0.0.1 -p "${target_port[$id]}" -t "$test"
                         -c "$clients" -P "$pipeline" -n "$requests" --csv)
          note_command "$case" "$target" "${command[@]}"
          log="$work_dir/runs/redis-$test-c$clients-P$pipeline-$target-$round.log"
          measured "$redis_pid" "${target_pid[$id]}" "$log" "$run_timeout" "${command[@]}"
          measured_results redis "$log" "$case" "$target" --requests "$requests"
        done
      done
    done
  done
}

# --- Redis Cluster -------------------------------------------------------------------------------

# cluster_round: a 3-master Redis Cluster through corral (plain redis-benchmark against its listener)
# against redis-benchmark --cluster, which reads the slot map and talks to every master itself.
# -r spreads the keys over the whole key space, so both reach all three masters: without it every
# request through corral would use the one key "key:__rand_int__" (one slot, one master), while
# --cluster gives each client a key of its own node. Records have suite "cluster".
cluster_round() {
  local pipeline test target id requests case log
  for pipeline in 1 16; do
    requests=$redis_requests_p1
    [ "$pipeline" -eq 1 ] || requests=$redis_requests_p16
    for test in set get; do
      case="${test^^} -c 50 -P $pipeline"
      for target in direct corral; do
        id="cluster-$target"
        usable cluster "$case" "$target" "$id" || continue
        local command=(redis-benchmark -h 127.0.0.1 -p "${target_port[$id]}" -t "$test" -c 50 -P "$pipeline"
                       -n "$requests" -r 100000 --csv)
        [ "$target" != direct ] || command+=(--cluster)
        note_command "cluster $case" "$target" "${command[@]}"
        log="$work_dir/runs/cluster-$test-P$pipeline-$target-$round.log"
        measured "${cluster_pids[*]}" "${target_pid[$id]}" "$log" "$run_timeout" "${command[@]}"
        measured_results redis "$log" "$case" "$target" --requests "$requests" --suite cluster
      done
    done
  done
}

# --- MySQL ---------------------------------------------------------------------------------------

sysbench_args() {  # sysbench_args PORT: connection and data-set options shared by prepare and run
  echo --db-driver=mysql --mysql-host=127.0.0.1 --mysql-port="$1" --mysql-user="$bench_user" \
    --mysql-password="$bench_password" --mysql-db="$bench_db" --tables="$sysbench_tables" \
    --table-size="$sysbench_table_size"
}

sysbench_prepare() {
  local log="$work_dir/sysbench-prepare.log" args
  read -r -a args <<< "$(sysbench_args "$mariadb_port")"
  bench_log "sysbench prepare: $sysbench_tables tables of $sysbench_table_size rows"
  sysbench oltp_read_only "${args[@]}" --threads=4 prepare > "$log" 2>&1 ||
    die "sysbench prepare failed: $(tail -n 3 "$log")"
}

mysql_round() {
  local threads test ps target id case log args
  for threads in 16 256; do
    for test in point_select read_only; do
      for ps in disable auto; do
        case="$test ps=$ps t$threads"
        for target in "${mysql_targets[@]}"; do
          id="mysql-$target"
          usable mysql "$case" "$target" "$id" || continue
          read -r -a args <<< "$(sysbench_args "${target_port[$id]}")"
          local command=(sysbench "oltp_$test" "${args[@]}" --threads="$threads" --db-ps-mode="$ps"
                         --histogram=on "${sysbench_length[@]}" run)
          note_command "$case" "$target" "${command[@]}"
          log="$work_dir/runs/sysbench-$test-$ps-t$threads-$target-$round.log"
          measured "$mariadb_pid" "${target_pid[$id]}" "$log" "$run_timeout" "${command[@]}"
          measured_results sysbench "$log" "$case" "$target"
        done
      done
    done
  done
}

# --- TLS vs plain ---------------------------------------------------------------------------------

# tls_round: the same load with and without TLS between the client and its first hop, direct and
# through corral (whose backend connections stay plain): Redis GET at -P 1 and -P 16, and MySQL
# point_select at 16 threads. Records have suite "tls"; the report pairs each +tls target with its
# plain twin of the same round.
tls_round() {
  local pipeline requests target id case log args
  for pipeline in 1 16; do
    requests=$redis_requests_p1
    [ "$pipeline" -eq 1 ] || requests=$redis_requests_p16
    case="redis GET -c 50 -P $pipeline"
    for target in direct direct+tls corral corral+tls; do
      id="redis-$target"
      usable tls "$case" "$target" "$id" || continue
      local command=(redis-benchmark -h 127.0.0.1 -p "${target_port[$id]}" -t get -c 50 -P "$pipeline"
                     -n "$requests" --csv)
      # No --insecure: the client verifies the server's certificate, as a production client would.
      [[ "$target" != *+tls ]] || command+=(--tls --cacert "$tls_dir/ca.crt")
      note_command "$case" "$target" "${command[@]}"
      log="$work_dir/runs/tls-redis-P$pipeline-$target-$round.log"
      measured "$redis_pid" "${target_pid[$id]}" "$log" "$run_timeout" "${command[@]}"
      measured_results redis "$log" "$case" "$target" --requests "$requests" --suite tls
    done
  done
  case="mysql point_select ps=disable t16"
  for target in direct direct+tls corral corral+tls; do
    id="mysql-$target"
    usable tls "$case" "$target" "$id" || continue
    read -r -a args <<< "$(sysbench_args "${target_port[$id]}")"
    local command=(sysbench oltp_point_select "${args[@]}" --threads=16 --db-ps-mode=disable --histogram=on
                   "${sysbench_length[@]}")
    # sysbench 1.0 reads cacert.pem, client-cert.pem and client-key.pem from its working directory.
    [[ "$target" != *+tls ]] || command+=(--mysql-ssl=on)
    command+=(run)
    note_command "$case" "$target" "${command[@]}"
    log="$work_dir/runs/tls-mysql-$target-$round.log"
    measured "$mariadb_pid" "${target_pid[$id]}" "$log" "$run_timeout" \
      env --chdir="$tls_dir" "${command[@]}"
    measured_results sysbench "$log" "$case" "$target" --suite tls
  done
}

# --- idle connections ----------------------------------------------------------------------------

# redis_backend_connections TARGET: connections the target holds to redis-server. corral names its
# connections "corral" (HELLO ... SETNAME corral); the others' are all clients but the asking one and
# corral's, which stay open after corral's probe.
redis_backend_connections() {
  local list
  list="$(redis-cli -h 127.0.0.1 -p "$redis_port" client list | tr -d '\r')"
  if [ "$1" = corral ]; then
    grep -c ' name=corral ' <<< "$list" || true
  else
    grep -v -c -e ' name=corral ' -e ' cmd=client' <<< "$list" || true
  fi
}

# backend_connections PROTOCOL TARGET: the backend connections the idle probe reports for TARGET.
backend_connections() {
  if [ "$1" = redis ]; then redis_backend_connections "$2"; else mysql_backend_connections; fi
}

no_backend_connections() { [ "$(backend_connections "$1" "$2")" -eq 0 ]; }

mysql_backend_connections() {
  mariadb_admin "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '$bench_user'"
}

# opener_state LOG PID: prints ready, failed or running for the idle-client opener.
opener_state() {
  if grep -q '^ready' "$1" 2> /dev/null; then
    echo ready
  elif grep -q '^failed' "$1" 2> /dev/null || ! kill -0 "$2" 2> /dev/null; then
    echo failed
  else
    echo running
  fi
}

# idle_probe PROTOCOL TARGET CLIENTS OPENER_ARGS...: opens CLIENTS idle connections through TARGET,
# records the RSS growth of the process that holds them (the proxy, or the backend when direct)
# and how many connections the backend then has.
idle_probe() {
  local protocol="$1" target="$2" clients="$3"
  shift 3
  local id="$protocol-$target" case="$protocol $clients idle clients" holder backend_pid
  backend_pid=$redis_pid
  [ "$protocol" = redis ] || backend_pid=$mariadb_pid
  holder="${target_pid[$id]:-$backend_pid}"
  local record=(idle "$raw" --case "$case" --target "$target" --protocol "$protocol" --clients "$clients"
                --workers "$corral_workers")
  local reason
  reason="$(unavailable "$id" "$target")"
  if [ -n "$reason" ]; then
    results "${record[@]}" --reason "$reason"
    return 0
  fi
  local log="$work_dir/runs/idle-$protocol-$target.log" before after state opener
  # The previous probe's connections may still be closing on the backend; each probe starts from none
  # (twemproxy and corral connect to the backend only when their first client sends a request).
  wait_until 10 no_backend_connections "$protocol" "$target" ||
    bench_log "idle $protocol via $target: the backend still has $(backend_connections "$protocol" "$target") connections before the probe"
  before="$(rss_kib "$holder")"
  local command=("$idle_binary" "$protocol" --port "${target_port[$id]}" --clients "$clients" "$@")
  note_command "$case" "$target" "${command[@]}"
  "${command[@]}" > "$log" 2>&1 &
  opener=$!
  local deadline=$((SECONDS + idle_timeout))
  state="$(opener_state "$log" "$opener")"
  while [ "$state" = running ] && [ "$SECONDS" -lt "$deadline" ]; do
    sleep 0.2
    state="$(opener_state "$log" "$opener")"
  done
  if [ "$state" = ready ]; then
    sleep "$settle_seconds"  # the holder finishes what the last replies started (buffers, pools)
    after="$(rss_kib "$holder")"
    local backends
    backends="$(backend_connections "$protocol" "$target")"
    results "${record[@]}" --rss-before "$before" --rss-after "$after" --backend-connections "$backends"
  else
    reason="$(grep -m1 '^failed' "$log" | cut -c1-200)"
    [ "$state" = failed ] || reason="not all $clients clients ready within ${idle_timeout} s"
    results "${record[@]}" --reason "${reason:-idle-client opener exited without a reason}"
    bench_log "idle $protocol via $target: ${reason:-opener exited}"
  fi
  kill -TERM "$opener" 2> /dev/null || true
  wait "$opener" 2> /dev/null || true
  sleep "$settle_seconds"  # the holder closes the connections before the next probe's baseline
}

idle_suite() {
  round=1
  # twemproxy closes the connection on SELECT, so its clients only send GET.
  idle_probe redis direct "$idle_redis_clients" --select 1
  idle_probe redis twemproxy "$idle_redis_clients"
  idle_probe redis corral "$idle_redis_clients" --select 1
  local login=(--user "$bench_user" --password "$bench_password" --database "$bench_db")
  idle_probe mysql direct "$idle_mysql_clients" "${login[@]}"
  idle_probe mysql haproxy "$idle_mysql_clients" "${login[@]}"
  idle_probe mysql corral "$idle_mysql_clients" "${login[@]}"
}
