// What the two kinds of Redis session share: RedisSession (one backend server, session.cc) and
// RedisClusterSession (keys spread over a Redis Cluster or a ring of shards, cluster_session.cc).
//
//   RedisSessionBase: client socket + sink (RedisClient), the connection context and its local
//   commands ──► steps both take the same way: the context's start, the close log, waiting for the
//   next batch and counting it, deadlines, watching the client while a dedicated connection blocks,
//   checking a client's credentials
//
// The sessions differ in where a request goes (one pool, or a node per key) and so in how replies
// are kept in order; those parts stay in each class.
#pragma once

#include <cstdint>
#include <string>

#include "pool/redis_key.h"
#include "protocols/redis/command_table.h"
#include "protocols/redis/request.h"
#include "proxy/frontend.h"
#include "proxy/redis/client.h"
#include "proxy/redis/context.h"
#include "proxy/redis/local_commands.h"
#include "runtime/event_loop.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::proxy {

class RedisFrontend;

/// Not thread-safe: lives on its worker's loop. Lifetime: `frontend` outlives the session.
class RedisSessionBase {
 protected:
  RedisSessionBase(rt::TcpStream client, RedisFrontend& frontend);
  /// Logs why the client was closed when corral closed it (overflowed output, a reply cut off).
  ~RedisSessionBase();
  RedisSessionBase(const RedisSessionBase&) = delete;
  RedisSessionBase& operator=(const RedisSessionBase&) = delete;

  /// Waits (client.idle_timeout at most, without a read buffer: an idle client costs none) until the
  /// client sends more, and reads it into client_.in. False when the client left, idled out or the
  /// worker drains. Suspends on the client socket.
  rt::Task<bool> read_next_batch();
  /// Counts a batch of requests in the listener's request statistics, and logs it when it was slow.
  void observe_batch(rt::Clock::time_point started, std::uint64_t requests);
  /// How long a request waits for a backend connection (pool.queue_timeout).
  rt::Deadline queue_deadline() const;
  /// When to give up on the reply of a blocking command (route_ is its route): its own timeout plus
  /// pool.operation_timeout; never when it blocks without a timeout.
  rt::Deadline blocking_deadline(const redis::Request& request) const;
  /// Reads what the client sends while a dedicated connection is busy (bounded by
  /// kMaxBufferedWhilePinned), so a client that leaves is seen at once: then fires `gone` (may be
  /// null). Ends when `cancel` fires. Lifetime: `client` outlives it (the spawner joins it).
  static rt::Task<void> watch_client(RedisClient* client, rt::CancelSource* cancel, rt::CancelSource* gone);
  /// The context's pool key with the credentials AUTH/HELLO asked about (auth "backend").
  pool::RedisKey credentials_key(const BackendQuestion& question) const;
  /// auth "backend": whether the server at `address` opens a connection for `key`. True with
  /// `verdict` set to the server's refusal ("" when it accepted); false when no verdict could be
  /// had (server down, pool exhausted), with `verdict` the error line for the client.
  rt::Task<bool> check_credentials(pool::RedisKey key, rt::SocketAddress address, std::string& verdict);

  RedisClient client_;
  const ListenerEnv& env_;
  const RedisLocalCommands& local_;
  RedisContext context_;
  redis::Route route_;   // of the request being handled
  std::string scratch_;  // local replies and re-encoded inline requests
};

}  // namespace corral::proxy
