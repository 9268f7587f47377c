// One Redis client connection: a coroutine that reads requests, answers or forwards each one, and
// writes the replies back in request order.
//
//   read ──► RequestScanner ──► per request: route()
//     Local    ──► RedisLocalCommands (context) ──────────────────┐
//     Shared   ──► pool(context key).ready_shared()->submit ──────┼──► ReplySink (in order) ──► write
//     Pinned   ──► dedicated connection: MULTI/WATCH, blocking ───┘
//     Relay    ──► subscribe / MONITOR / tracking: RedisRelay (relay.h) on a dedicated connection
//
// The fast path (a Shared request with a ready connection) runs without suspending: a batch of
// pipelined requests is queued in one go and the backend writer sends it with one write. Everything
// that must wait (opening a connection, a local reply behind forwarded ones, a pin) takes the slow path,
// which first waits until every earlier reply arrived, so replies can never overtake each other.
#pragma once

#include <string>

#include "pool/redis_pool.h"
#include "protocols/redis/command_table.h"
#include "proxy/redis/client.h"
#include "proxy/redis/context.h"
#include "proxy/redis/frontend.h"
#include "proxy/redis/local_commands.h"
#include "runtime/task.h"

namespace corral::proxy {

/// Serves one client of a Redis listener. Not thread-safe: lives on its worker's loop.
/// Lifetime: `frontend` outlives the session (the worker joins its sessions first).
class RedisSession {
 public:
  RedisSession(rt::TcpStream client, RedisFrontend& frontend);
  RedisSession(const RedisSession&) = delete;
  RedisSession& operator=(const RedisSession&) = delete;
  ~RedisSession();

  /// Serves the client until it quits, errs, idles out or the worker stops.
  rt::Task<void> run();

 private:
  /// What the session does after handling one request.
  enum class Step {
    Next,        // go on with the next request
    Slow,        // run handle_slow(): the request must wait for earlier replies or for the backend
    Close,       // write what is pending, then close (QUIT, fatal error)
    Relay,       // switch to relay mode (subscribe, MONITOR, tracking)
    ReleasePin,  // the pinned state ended: wait for its replies, then return the connection
  };

  Step handle(const redis::Request& request);
  rt::Task<Step> handle_slow(const redis::Request& request);
  rt::Task<Step> handle_local(const redis::Request& request);
  rt::Task<Step> handle_shared(const redis::Request& request);
  rt::Task<Step> handle_pinned(const redis::Request& request);
  rt::Task<Step> handle_transaction(const redis::Request& request);
  rt::Task<Step> handle_blocking(const redis::Request& request);
  rt::Task<bool> pin();
  rt::Task<bool> wait_blocking_reply(rt::Deadline deadline);
  static rt::Task<void> watch_client(RedisSession* self, rt::CancelSource* cancel);
  /// Relay mode until the client leaves (false) or the relayed state ended cleanly (true: serve on).
  rt::Task<bool> relay();

  void forward(pool::RedisConnection& connection, const redis::Request& request);
  bool answer_without_backend(Step& step);
  Step answer_local_now(const redis::Request& request);
  Step finish_local(LocalOutcome outcome, const pool::RedisKey& key_before);
  pool::RedisPool& shared_pool();
  /// The context's pool key changed (or may have): the cached pool and connection no longer apply.
  void forget_shared_pool();
  /// The shared connection for the next request without suspending, or nullptr (take the slow
  /// path). With replies outstanding it can only be the connection they come from: a pipeline
  /// stays on one connection instead of waiting for its replies each time the pool's least
  /// loaded connection changes.
  pool::RedisConnection* shared_connection(bool nothing_pending);
  /// Another counted reference to shared_pool() (a pin keeps its pool even if the context moves on).
  pool::RedisPoolRef pool_ref();
  void release_pinned(bool clean);
  void reply_error(std::string_view error_line) { client_.sink->append_local(error_line); }

  RedisClient client_;
  const ListenerEnv& env_;
  pool::RedisPools& pools_;
  const RedisLocalCommands& local_;
  RedisContext context_;
  redis::Route route_;        // of the request being handled
  std::string scratch_;       // local replies and re-encoded inline requests
  pool::RedisPoolRef pool_;   // shared pool for the context, cached
  // Where the outstanding replies come from. While any is outstanding (and nothing is pinned) the
  // connection is alive: a closing connection fails its FIFO entries before it goes away.
  pool::RedisConnection* last_shared_ = nullptr;
  pool::RedisPoolRef pinned_pool_;                   // the pool pinned_ came from
  pool::RedisConnection* pinned_ = nullptr;          // dedicated connection while state needs one
};

}  // namespace corral::proxy
