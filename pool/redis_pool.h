// Redis connection pools, one per RedisKey per worker.
//
//   session ──ready_shared() (no suspension) / shared() (opens, waits)──► RedisConnection (pipelined)
//   session ──pin()──► dedicated RedisConnection ──unpin(clean)──► idle list, or closed when its state
//                                                                  is unknown
//
// Connections open on demand with AUTH/HELLO/SELECT from the key. After a failed open the pool waits
// (exponential backoff between reconnect_backoff_min and _max) before dialing again; requests in that
// window fail at once with the last error instead of piling up.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/config.h"
#include "pool/redis_connection.h"
#include "pool/redis_key.h"
#include "runtime/notify.h"
#include "runtime/task.h"
#include "runtime/task_scope.h"
#include "runtime/tcp.h"

namespace corral::pool {

/// A connection or why there is none (a RESP error line naming the backend, never its password).
struct Acquired {
  RedisConnection* connection = nullptr;
  std::string error;
  std::string refusal{};  // the server's own error when it refused the handshake (wrong credentials), else ""
};

/// Not thread-safe: one per worker loop. Lifetime: stop() and join() before destruction.
class RedisPool {
 public:
  RedisPool(RedisKey key, rt::SocketAddress address, const config::PoolLimits& limits,
            RedisServerInfo& server_info);
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;
  ~RedisPool();

  const RedisKey& key() const noexcept { return key_; }
  const rt::SocketAddress& address() const noexcept { return address_; }
  const config::PoolLimits& limits() const noexcept { return limits_; }
  RedisServerInfo& server_info() noexcept { return server_info_; }

  /// A ready shared connection to pipeline on, without suspending; nullptr when one must be opened
  /// or waited for (then call shared()). Opens another connection in the background when every
  /// ready one is busy and the pool is below max_connections.
  RedisConnection* ready_shared();

  /// Suspends until a shared connection is ready, the open fails, `deadline` passes or `cancel` fires.
  rt::Task<Acquired> shared(rt::Deadline deadline, rt::CancelSource* cancel);

  /// Lends a dedicated connection (MULTI, blocking commands, subscribe, MONITOR...). Suspends while
  /// one opens or, at max_pinned, until one is returned (queue_timeout).
  rt::Task<Acquired> pin(rt::Deadline deadline, rt::CancelSource* cancel);
  /// Returns a pinned connection: to the idle list when `clean` and still open, else closed.
  void unpin(RedisConnection* connection, bool clean);

  /// Closes every connection and stops opening new ones.
  void stop();
  rt::TaskScope::JoinAwaitable join() noexcept { return tasks_.join(); }

  std::size_t shared_count() const noexcept { return shared_.size(); }
  std::size_t pinned_count() const noexcept { return pinned_.size(); }

 private:
  friend class RedisConnection;

  RedisConnection* open(bool pinned);
  static rt::Task<void> run_connection(RedisPool* pool, RedisConnection* connection);
  void on_closed(RedisConnection* connection);
  void remove(RedisConnection* connection);  // deletes it; its run() must have returned
  void on_ready(RedisConnection* connection);
  void on_open_failed(const RedisConnection& connection);
  bool in_backoff() const;
  std::string unavailable_error() const;
  Acquired unavailable() const { return Acquired{nullptr, unavailable_error(), last_refusal_}; }
  RedisConnection* least_loaded_ready() const;

  RedisKey key_;
  rt::SocketAddress address_;
  const config::PoolLimits& limits_;
  RedisServerInfo& server_info_;
  std::vector<std::unique_ptr<RedisConnection>> shared_;
  std::vector<std::unique_ptr<RedisConnection>> pinned_;   // idle and lent
  std::vector<RedisConnection*> idle_pinned_;
  std::vector<RedisConnection*> lent_;
  rt::WaitQueue changed_;  // a connection became ready, failed, or was returned
  rt::TaskScope tasks_;    // the connections' run() coroutines
  std::string last_error_;
  std::string last_refusal_;  // RedisConnection::refusal() of the last failed open
  rt::Clock::time_point retry_at_{};
  rt::Clock::duration backoff_{};
  bool stopped_ = false;
};

/// All Redis pools of one worker, by key.
class RedisPools {
 public:
  explicit RedisPools(const config::PoolLimits& limits) : limits_(limits) {}
  ~RedisPools();

  /// The pool for `key` (created on first use) connecting to `address`.
  RedisPool& get(const RedisKey& key, const rt::SocketAddress& address);
  /// What the first connection to `address` learned about that server.
  RedisServerInfo& server_info(const rt::SocketAddress& address);

  void stop();
  rt::Task<void> join();

 private:
  const config::PoolLimits& limits_;
  std::unordered_map<std::string, std::unique_ptr<RedisPool>> pools_;
  std::unordered_map<std::string, RedisServerInfo> servers_;
};

}  // namespace corral::pool
