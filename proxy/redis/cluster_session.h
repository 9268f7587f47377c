// A client of a listener whose backend spreads keys over several servers: a Redis Cluster
// (redis-cluster:// URL, keys by hash slot) or independent shards (redis-shards://, keys by ketama
// ring). corral routes each command by its keys' slot (pool::NodeRouter: a hash slot, or a shard)
// and the client sees one standalone server.
//
//   read ──► RequestScanner ──► per request: route() + key positions (command_keys.h)
//     Local (AUTH HELLO CLIENT ECHO...; SELECT 0 only; PING) ────────────────────────┐
//     keys in one slot ──► the slot's master (ClusterMap) ──► shared connection ─────┤
//     MGET/MSET/DEL/UNLINK/EXISTS/TOUCH over several slots ──► one part per slot ───┤──► Pending (in order)
//     keyless ──► any master, or every master merged (DBSIZE KEYS FLUSHDB...) ───────┘        │
//     MULTI...EXEC queued by corral, sent with EXEC on the slot's master (pinned)     settle: wait each part;
//     WATCH, blocking commands: pinned connection on the slot's master                MOVED ─► map, re-send;
//     SUBSCRIBE / SSUBSCRIBE: relay (relay.h) on any master / the slot's master       ASK ─► ASKING + re-send
//                                                                                      ──► merged reply ──► write
// Requests are sent as they are read (pipelined over the nodes) and their replies are written in
// request order. A redirection is followed (up to 5 times, as cluster clients do): the server did not
// run the command. Nothing is re-sent after a connection failed under a request.
#pragma once

#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::proxy {

class RedisFrontend;

/// Serves one client of a redis-cluster or redis-shards listener until it quits, errs, idles out or
/// the worker stops.
/// Lifetime: `frontend` outlives the returned task (the worker joins its sessions first).
rt::Task<void> serve_cluster_client(rt::TcpStream client, RedisFrontend& frontend);

}  // namespace corral::proxy
