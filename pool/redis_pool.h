// Redis connection pools, one per RedisKey per worker.
//
//   session ──ready_shared() (no suspension) / shared() (opens, waits)──► RedisConnection (pipelined)
//   session ──pin()──► dedicated RedisConnection ──unpin(clean)──► idle list, or closed when its state
//                                                                  is unknown
//
// Connections open on demand with AUTH/HELLO/SELECT from the key. After a failed open the pool waits
// (pool/backoff.h: exponential backoff between reconnect_backoff_min and _max) before dialing again;
// requests in that window fail at once with the last error instead of piling up. At max_pinned, pin()
// waits in a FIFO (pool/waiter_queue.h): an unpinned connection is handed to the oldest waiter, a
// closed one lets the oldest waiter open another; one watcher per pool ends the waits whose queue
// timeout passed. The pools of one address share what its HELLO told (pool/server_info_cache.h).
//
// Pools are collected: a session holds its pools through RedisPoolRef (a use count), and a pool with
// no users, no connections and no running connection task is freed (at once when its last user lets
// go, otherwise by an amortized sweep), so clients trying many distinct credentials cannot grow the
// pool map without bound.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.h"
#include "pool/backend_metrics.h"
#include "pool/backoff.h"
#include "runtime/log.h"
#include "pool/redis_connection.h"
#include "pool/redis_key.h"
#include "pool/server_info_cache.h"
#include "pool/waiter_queue.h"
#include "runtime/counted_ref.h"
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

class RedisPools;

/// Not thread-safe: one per worker loop. Lifetime: stop() and join() before destruction.
class RedisPool final : public PoolGaugeSource {
 public:
  /// `counters`: the worker's for this backend (pool/backend_metrics.h); null: the pool keeps its own.
  RedisPool(RedisKey key, rt::SocketAddress address, const config::PoolLimits& limits,
            RedisServerInfo& server_info, BackendCounters* counters = nullptr);
  RedisPool(const RedisPool&) = delete;
  RedisPool& operator=(const RedisPool&) = delete;
  ~RedisPool();

  const RedisKey& key() const noexcept { return key_; }
  const rt::SocketAddress& address() const noexcept { return address_; }
  const config::PoolLimits& limits() const noexcept { return limits_; }
  RedisServerInfo& server_info() noexcept { return server_info_; }
  /// What this pool and its connections count (shared with the other pools of the same backend).
  BackendCounters& counters() noexcept { return counters_; }
  /// Its connections by state and its waiters, added to `gauges` (a scrape, on the pool's loop).
  void add_gauges(BackendGauges& gauges) const override;

  /// A ready shared connection to pipeline on, without suspending; nullptr when one must be opened
  /// or waited for (then call shared()). Opens another connection in the background when every
  /// ready one is busy and the pool is below max_connections. A stalled connection (waiting behind
  /// a long script, say) is used only when no other is opening or can be opened: behind it a request would wait
  /// where redis-server, on a connection of its own, answers at once (BUSY while a script runs).
  RedisConnection* ready_shared();

  /// Suspends until a shared connection is ready, the open fails, `deadline` passes or `cancel` fires.
  rt::Task<Acquired> shared(rt::Deadline deadline, rt::CancelSource* cancel);

  /// Lends a dedicated connection (MULTI, blocking commands, subscribe, MONITOR...). Suspends while
  /// one opens or, at max_pinned, until an unpinned one is handed over or a slot frees up, in FIFO
  /// order, or `deadline` (the queue timeout) passes. Cancellation: `cancel` ends the wait.
  /// `select_db` false: a connection opened for this skips the key's SELECT (see RedisConnection);
  /// unpin() then closes it.
  rt::Task<Acquired> pin(rt::Deadline deadline, rt::CancelSource* cancel, bool select_db = true);
  /// Returns a pinned connection: to the oldest pin() waiter or the idle list when `clean` and still
  /// open, else closed (which lets the oldest waiter open one).
  void unpin(RedisConnection* connection, bool clean);

  /// Closes every connection and stops opening new ones.
  void stop();
  rt::TaskScope::JoinAwaitable join() noexcept { return tasks_.join(); }

  std::size_t shared_count() const noexcept { return shared_.size(); }
  std::size_t pinned_count() const noexcept { return pinned_.size(); }
  std::size_t users() const noexcept { return users_; }

  /// Nothing refers to the pool any more: no user, no connection, no task of its scope (a connection's
  /// run(), the pin waiters' deadline watcher) still running.
  bool unused() const noexcept {
    return users_ == 0 && shared_.empty() && pinned_.empty() && tasks_.running() == 0;
  }

 private:
  friend class RedisConnection;
  friend class rt::CountedRef<RedisPool>;
  friend class RedisPools;

  void counted_ref_acquire() noexcept { ++users_; }
  /// The last user let go: the owner may free the pool right away when it is unused.
  void counted_ref_release() noexcept;

  using Waiters = WaiterQueue<RedisConnection>;
  /// The handshake's error of the last failed open, kept while in backoff.
  struct OpenFailure {
    std::string error;    // RedisConnection::close_reason()
    std::string refusal;  // RedisConnection::refusal()
  };

  RedisConnection* open(bool pinned, bool select_db = true);
  /// Another shared connection may be opened now.
  bool can_open_shared() const noexcept { return shared_.size() < limits_.max_connections && !backoff_.active(); }
  bool opening_shared() const;
  static rt::Task<void> run_connection(RedisPool* pool, RedisConnection* connection);
  void on_closed(RedisConnection* connection);
  void remove(RedisConnection* connection);  // deletes it; its run() must have returned
  void on_ready(RedisConnection* connection);
  void on_open_failed(const RedisConnection& connection);
  bool stopped() const noexcept { return tasks_.stopping(); }
  std::string unavailable_error() const;
  Acquired unavailable() const { return Acquired{nullptr, unavailable_error(), backoff_.error().refusal}; }
  /// A wait for a connection ended at its deadline: `error` for the caller, and a (throttled) log line.
  Acquired timed_out(std::string error, const rt::CancelSource* cancel);
  RedisConnection* least_loaded_ready() const;
  /// A Ready idle dedicated connection, now lent (closed ones on the way leave the idle list;
  /// on_closed() removes them), or nullptr.
  RedisConnection* lend_idle_pinned();
  /// Waiters::GiveBack: a connection handed to a pin() waiter that went away goes back clean.
  static void take_back(void* pool, RedisConnection* connection);

  RedisKey key_;
  rt::SocketAddress address_;
  const config::PoolLimits& limits_;
  RedisServerInfo& server_info_;
  std::unique_ptr<BackendCounters> own_counters_;  // only when no worker's counters were given
  BackendCounters& counters_;
  PoolRegistration registration_;  // in counters_.pools while the pool lives
  std::vector<std::unique_ptr<RedisConnection>> shared_;
  std::vector<std::unique_ptr<RedisConnection>> pinned_;   // idle and lent
  std::vector<RedisConnection*> idle_pinned_;
  std::vector<RedisConnection*> lent_;
  rt::WaitQueue changed_;  // a connection became ready, failed or closed: shared() and pin()'s open wait
  rt::TaskScope tasks_;    // the connections' run() and the pin waiters' watcher; stopping() once stopped
  Waiters pin_waiters_;    // pin() at max_pinned, oldest first
  Backoff<OpenFailure> backoff_;
  rt::log::Throttle timeout_log_;  // pool timeouts: a line a second at most
  // Opens refused with BUSY (no backoff: the server is up): how many, and the server's BUSY line,
  // so that shared() fails the requests that waited for such an open with it.
  uint64_t busy_refusals_ = 0;
  std::string busy_error_;
  std::size_t shared_waiting_ = 0;  // shared() calls waiting for an open (a gauge: waiters)
  RedisPools* owner_ = nullptr;  // set by RedisPools: told when the last user lets go
  std::string id_;               // key_.id(), the owner's map key
  std::size_t users_ = 0;        // live RedisPoolRefs
};

/// A counted reference to a pool: the pool is never collected while one exists, so a session may
/// keep it across suspensions. Move-only; empty when default-constructed or moved from.
/// Lifetime: must not outlive the RedisPools that made it.
using RedisPoolRef = rt::CountedRef<RedisPool>;

/// All Redis pools of one worker, by key. Not thread-safe: one per worker loop.
class RedisPools {
 public:
  /// `pool_gauge` (may be null) counts live pools; several workers may share it (metrics).
  /// `metrics` (may be null): the worker's backend counters, which the pools count into.
  explicit RedisPools(const config::PoolLimits& limits, std::atomic<uint64_t>* pool_gauge = nullptr,
                      BackendMetrics* metrics = nullptr)
      : limits_(limits), pool_gauge_(pool_gauge), metrics_(metrics) {}
  RedisPools(const RedisPools&) = delete;
  RedisPools& operator=(const RedisPools&) = delete;
  ~RedisPools();

  /// A reference to the pool for `key` (created on first use) connecting to `address`.
  RedisPoolRef get(const RedisKey& key, const rt::SocketAddress& address);
  /// What the first connection to `address` learned about that server.
  RedisServerInfo& server_info(const rt::SocketAddress& address);

  std::size_t size() const noexcept { return pools_.size(); }

  void stop();
  rt::Task<void> join();

 private:
  friend class RedisPool;

  /// The last reference to `pool` went away: free it if nothing else holds it.
  void on_unreferenced(RedisPool& pool);
  /// Frees every unused pool. Pools that lost their last connection while unreferenced (idle
  /// timeout, failed open) are found here; get() runs it when the map has doubled since the last one.
  void sweep();
  void erase(std::unordered_map<std::string, std::unique_ptr<RedisPool>>::iterator it);

  const config::PoolLimits& limits_;
  std::atomic<uint64_t>* pool_gauge_;
  BackendMetrics* metrics_;
  std::unordered_map<std::string, std::unique_ptr<RedisPool>> pools_;
  ServerInfoCache<RedisServerInfo> servers_;
  std::size_t sweep_at_ = 0;  // pools_.size() that triggers the next sweep, see sweep()
  bool stopped_ = false;      // stop() called: pools stay until join() and destruction
};

}  // namespace corral::pool
