// MySQL backend connection pools, one per MysqlKey per worker. A connection is lent to one session for a
// statement (or for as long as the session pins it) and comes back afterwards.
//
//   acquire ─► idle list (newest first; dead or unconformable ones are closed) ─► conform: COM_INIT_DB /
//          │   SET NAMES when a relayed USE / SET NAMES moved it ─► lease
//          ├► below max_connections: an idle connection of a sibling pool (same credentials, other schema
//          │   or charset) converted with COM_INIT_DB / SET NAMES and moved over ─► lease
//          ├► below max_connections (per pool and per credentials over all schemas/charsets): open a
//          │   new one (in backoff after a failed open: fail at once)
//          └► at max_connections: wait in FIFO order until release() hands one over (queue timeout)
//   release(clean) ─► oldest waiter, or idle list (idle_timeout closes it later); not clean, not Idle,
//                     in a transaction, autocommit off or state unknown ─► closed
//
// Waiting costs no coroutine and no timer of its own (pool/waiter_queue.h): the waiter is a node in
// the caller's frame (a Turn, or acquire()'s), release() hands it the connection and resumes it, and
// one deadline watcher per pool fails the waiters whose queue timeout passed. A failed open puts the
// pool in backoff (pool/backoff.h); the pools of one address share what its greeting told
// (pool/server_info_cache.h).
//
// The pool never re-sends anything: a connection that failed mid-statement is closed, the session
// reports the error, and the next acquire opens a new one.
#pragma once

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

#include "config/config.h"
#include "pool/backend_metrics.h"
#include "pool/backoff.h"
#include "runtime/log.h"
#include "pool/mysql_connection.h"
#include "pool/mysql_key.h"
#include "pool/mysql_replicas.h"
#include "pool/server_info_cache.h"
#include "pool/waiter_queue.h"
#include "runtime/event_loop.h"
#include "runtime/notify.h"
#include "runtime/task.h"
#include "runtime/task_scope.h"
#include "runtime/tcp.h"

namespace corral::pool {

class MysqlPool;
class MysqlPools;

/// Codec limits for backend connections: rows are relayed a wire packet at a time, so a logical packet
/// may be as large as the server's max_allowed_packet can ever be (1 GiB).
mysql::Limits backend_codec_limits() noexcept;

/// Where a released connection went idle: MysqlPool::reclaim() lends it again to the same session
/// only if nobody borrowed it since. Empty (stamp 0) when the connection was closed or handed on.
/// Every release ends the stay's stamp, so a connection lent from the stay and handed on by another
/// session (to a queued waiter) is never taken for the ticket holder's own.
struct MysqlIdleTicket {
  const MysqlPool* pool = nullptr;
  const MysqlConnection* connection = nullptr;  // compared, never dereferenced: it may be gone
  std::uint64_t stamp = 0;

  /// True when `connection` is the one this ticket names, still in the same idle stay (or lent
  /// straight from it).
  bool names(const MysqlConnection& other) const noexcept {
    return stamp != 0 && connection == &other && other.idle_stamp() == stamp;
  }
};

/// A lent connection. Move-only. Lifetime: must not outlive its pool. Destroying a lease that was not
/// released closes the connection: a session that ends abruptly leaves no half-known state in the pool.
class MysqlLease {
 public:
  MysqlLease() = default;
  MysqlLease(MysqlPool* pool, MysqlConnection* connection) noexcept : pool_(pool), connection_(connection) {}
  MysqlLease(MysqlLease&& other) noexcept;
  MysqlLease& operator=(MysqlLease&& other) noexcept;
  MysqlLease(const MysqlLease&) = delete;
  MysqlLease& operator=(const MysqlLease&) = delete;
  ~MysqlLease() { release(false); }

  MysqlConnection* get() const noexcept { return connection_; }
  MysqlConnection* operator->() const noexcept { return connection_; }
  MysqlConnection& operator*() const noexcept { return *connection_; }
  explicit operator bool() const noexcept { return connection_ != nullptr; }
  MysqlPool* pool() const noexcept { return pool_; }

  /// Gives the connection back (see MysqlPool::release); the lease is empty afterwards. Returns where
  /// it went idle (empty when closed or handed to a waiter).
  MysqlIdleTicket release(bool clean);

 private:
  MysqlPool* pool_ = nullptr;
  MysqlConnection* connection_ = nullptr;
};

/// A slot of a pool held for a connection corral opens for itself outside the pool (a short read of
/// its own that must not run on a connection some session's next statement reclaims): the pool counts
/// it against max_connections until the slot is destroyed. Move-only; must not outlive its pool.
class MysqlPoolSlot {
 public:
  MysqlPoolSlot() = default;
  explicit MysqlPoolSlot(MysqlPool* pool) noexcept : pool_(pool) {}
  MysqlPoolSlot(MysqlPoolSlot&& other) noexcept : pool_(std::exchange(other.pool_, nullptr)) {}
  MysqlPoolSlot& operator=(MysqlPoolSlot&&) = delete;
  MysqlPoolSlot(const MysqlPoolSlot&) = delete;
  MysqlPoolSlot& operator=(const MysqlPoolSlot&) = delete;
  ~MysqlPoolSlot();

  explicit operator bool() const noexcept { return pool_ != nullptr; }

 private:
  MysqlPool* pool_ = nullptr;
};

/// A lease, or why there is none: `error` is the ERR_Packet text for the client, `code` its category
/// (MysqlBackendErrc, or std::errc::operation_canceled when the caller's cancel fired).
struct MysqlAcquired {
  MysqlLease lease;
  MysqlError error;
  std::error_code code;

  bool ok() const noexcept { return static_cast<bool>(lease); }
};

/// Not thread-safe: one per worker loop, used from coroutines on that loop while it runs (a clean
/// release may start the idle reaper there). Lifetime: stop() and co_await join() before destruction.
class MysqlPool final : public PoolGaugeSource {
 public:
  /// `group` (optional) is the MysqlPools this pool belongs to: the source of sibling connections to
  /// convert. `server_info` is shared by the pools of one backend address and updated on each open.
  /// `counters`: the worker's for this backend (pool/backend_metrics.h); null: the pool keeps its own.
  MysqlPool(MysqlKey key, rt::SocketAddress address, const config::PoolLimits& limits, MysqlServerInfo& server_info,
            MysqlPools* group = nullptr, mysql::Limits codec_limits = backend_codec_limits(),
            BackendCounters* counters = nullptr);
  MysqlPool(const MysqlPool&) = delete;
  MysqlPool& operator=(const MysqlPool&) = delete;
  ~MysqlPool();

  const MysqlKey& key() const noexcept { return key_; }
  const rt::SocketAddress& address() const noexcept { return address_; }
  const config::PoolLimits& limits() const noexcept { return limits_; }
  const MysqlServerInfo& server_info() const noexcept { return server_info_; }
  /// What this pool and its connections count (shared with the other pools of the same backend).
  BackendCounters& counters() noexcept { return counters_; }
  /// Its connections by state and its waiters, added to `gauges` (a scrape, on the pool's loop).
  void add_gauges(BackendGauges& gauges) const override;

  /// Lends an Idle connection whose schema and charset are the key's.
  /// Suspends while a connection is opened (connect_timeout), converted, or, at max_connections, until
  /// one is released to this caller (FIFO) or `deadline` passes (ERR 1040 naming user@host:port/schema
  /// and the limit). In backoff after a failed open it fails at once with that open's error (a refused
  /// login keeps the server's ERR, e.g. 1045). Cancellation: `cancel` ends the wait or the open
  /// (std::errc::operation_canceled); a half-opened connection is closed.
  rt::Task<MysqlAcquired> acquire(rt::Deadline deadline, rt::CancelSource* cancel);

 private:
  using Waiters = WaiterQueue<MysqlConnection>;

 public:
  /// acquire() without its coroutine for what a busy pool does most: lend a ready idle connection, or
  /// wait in the FIFO until a connection is handed over (the node lives in the caller's frame).
  ///   Turn turn(pool, deadline, cancel); co_await turn; MysqlAcquired got = turn.take();
  ///   if (!got.ok() && !got.code) got = co_await pool.acquire(turn);  // the rest of acquire()'s work
  /// Same order, deadlines and cancellation as acquire(). Lifetime: the pool must outlive the turn, and
  /// the turn must outlive acquire(turn)'s task.
  class Turn {
   public:
    Turn(MysqlPool& pool, rt::Deadline deadline, rt::CancelSource* cancel) noexcept
        : pool_(pool), queue_(pool.waiters_, deadline, cancel), deadline_(deadline) {}

    /// True when there is nothing to wait for here: a ready connection was lent, or acquire() has
    /// work that needs a coroutine (open, convert, fix up, report a stopped pool).
    bool await_ready();
    bool await_suspend(std::coroutine_handle<> handle) { return queue_.await_suspend(handle); }
    void await_resume() noexcept { queue_.await_resume(); }
    /// The lease, the failure (queue timeout ERR 1040, cancellation, shutdown), or neither: then
    /// acquire(*this) finishes (a handed connection to fix up, a freed slot to use ahead of newcomers).
    MysqlAcquired take();

   private:
    friend class MysqlPool;
    MysqlPool& pool_;
    Waiters::Turn queue_;
    rt::Deadline deadline_;
    MysqlLease ready_;
    bool waited_ = false;  // queued (await_ready() found nothing to lend and no work for acquire())
  };
  /// Finishes what `turn` could not do without a coroutine (see Turn).
  rt::Task<MysqlAcquired> acquire(Turn& turn);

  /// acquire()'s common case without a coroutine: the newest idle connection when it is healthy and
  /// already matches the key, lent at once. An empty lease when acquire() has work to do (no idle
  /// connection, one to fix up or close, a stopped pool): the caller then calls acquire().
  MysqlLease try_acquire_ready();

  /// auth = "backend": takes in a connection its session opened for this key with its client's relayed
  /// login (MysqlConnection::open_relayed), lent to the caller, when the pool and its credentials have
  /// room for it; otherwise an empty lease, and the connection is closed. Either way the connections of
  /// these credentials opened before it are retired (retire_before). Never suspends.
  MysqlLease adopt(std::unique_ptr<MysqlConnection> connection);
  /// A slot for a connection of corral's own, when the pool and its credentials have room and nobody
  /// waits for one (it never jumps the queue); an empty slot otherwise. Never suspends.
  MysqlPoolSlot reserve_slot();
  /// Closes the idle connections opened before `time`, and the lent ones when they come back.
  void retire_before(rt::Clock::time_point time);

  /// Takes a lent connection back: to the oldest waiter or the idle list when `clean` (the session left
  /// no state behind that it cannot account for) and the connection is Idle, outside a transaction,
  /// in autocommit mode and its state known; otherwise it is closed. Never suspends.
  MysqlIdleTicket release(MysqlConnection* connection, bool clean);
  /// Lends the connection `ticket` names when it is still in this pool's idle list since that release
  /// (nobody borrowed it), healthy and matching the key; an empty lease otherwise. Never suspends.
  /// For a session whose next statement reads what the previous one left on its connection
  /// (ROW_COUNT(), FOUND_ROWS(), LAST_INSERT_ID()).
  MysqlLease reclaim(const MysqlIdleTicket& ticket);
  /// True when reclaim(ticket) would lend the connection now.
  bool reclaimable(const MysqlIdleTicket& ticket) noexcept;

  /// Closes idle connections, cancels opens and waits, closes lent connections (their sessions' reads
  /// fail), and refuses further acquires.
  void stop();
  /// Suspends until the pool's own coroutines ended and every lent connection came back.
  rt::Task<void> join();

  std::size_t size() const noexcept { return connections_.size() + reserved_; }
  std::size_t idle_count() const noexcept { return idle_.size(); }
  std::size_t lent_count() const noexcept { return lent_.size(); }
  std::size_t waiting_count() const noexcept { return waiters_.size(); }
  /// Connections opened since the pool was made (a test can tell reuse from a new open).
  std::size_t opened_total() const noexcept { return opened_total_; }

 private:
  friend class MysqlPools;
  friend class MysqlPoolSlot;

  rt::Task<MysqlAcquired> lend(MysqlConnection* connection, rt::CancelSource* cancel);
  rt::Task<MysqlAcquired> open_and_lend(rt::CancelSource* cancel);
  rt::Task<MysqlAcquired> convert_from(MysqlPool& sibling, MysqlConnection* connection, rt::CancelSource* cancel);
  /// acquire()'s coroutine; starts with a connection `handed` to a Turn, or a slot freed for it.
  rt::Task<MysqlAcquired> acquire_after(rt::Deadline deadline, rt::CancelSource* cancel, MysqlConnection* handed,
                                        bool woken_for_slot);
  MysqlAcquired after_wait(const Waiters::Turn& turn);
  static rt::Task<void> reap_idle(MysqlPool* pool);
  /// Waiters::GiveBack: a connection handed to a waiter that went away goes back as released clean.
  static void take_back(void* pool, MysqlConnection* connection);

  /// Other pools with these credentials exist (the group's sibling bookkeeping is worth its cost:
  /// without siblings, release() skips hashing the credentials).
  bool has_siblings() const noexcept { return credential_pools_ != nullptr && credential_pools_->size() > 1; }
  MysqlConnection* pop_idle();
  MysqlConnection* lend_idle_for(const MysqlKey& key);  // for a sibling's conversion
  void move_to(MysqlConnection* connection, MysqlPool& to);
  bool reusable(const MysqlConnection& connection, bool clean) const;
  void make_idle(MysqlConnection* connection);
  void discard(MysqlConnection* connection);  // closes and deletes a lent or idle connection
  void slot_freed();
  void on_open_failed(const MysqlConnection& connection, std::error_code code);
  /// An open succeeded: the backoff ends, and a backend that was lost is logged as back.
  void backend_reached();
  bool stopped() const noexcept { return tasks_.stopping(); }
  MysqlAcquired failure(std::error_code code, MysqlError error) const;
  MysqlAcquired failure(std::error_code code, const mysql::ErrorSpec& spec, std::string message) const;

  MysqlKey key_;
  rt::SocketAddress address_;
  const config::PoolLimits& limits_;
  MysqlServerInfo& server_info_;
  MysqlPools* group_;
  std::unique_ptr<BackendCounters> own_counters_;  // only when no worker's counters were given
  BackendCounters& counters_;
  PoolRegistration registration_;  // in counters_.pools while the pool lives
  const std::vector<MysqlPool*>* credential_pools_ = nullptr;  // the group's pools with these credentials
  mysql::Limits codec_limits_;
  std::string describe_;                                    // key_.describe(), for errors
  std::string credentials_id_;                              // key_.credentials_id(): the sibling group
  std::vector<std::unique_ptr<MysqlConnection>> connections_;  // every connection: opening, lent, idle
  std::vector<MysqlConnection*> idle_;                      // oldest first; lent from the back
  std::vector<MysqlConnection*> lent_;                      // opening ones count as lent to their opener
  std::vector<rt::CancelSource*> opening_;                  // cancelled by stop()
  std::size_t reserved_ = 0;                                // slots held: conversions in progress, MysqlPoolSlot
  rt::TaskScope tasks_;     // the idle reaper and the deadline watcher; stopping() once the pool stopped
  Waiters waiters_;         // acquires at max_connections, oldest first
  bool reaping_ = false;
  rt::Notify drained_;                                      // the last lent connection came back (join)
  Backoff<MysqlError> backoff_;                             // after a failed open: its error
  rt::log::Throttle timeout_log_;                           // pool timeouts: a line a second at most
  std::size_t opened_total_ = 0;
  rt::Clock::time_point fresh_since_{};  // connections opened before are not reused (retire_before)
};

/// All MySQL pools of one worker, by key; pools with the same credentials lend each other idle
/// connections to convert. Not thread-safe: one loop.
class MysqlPools {
 public:
  /// `metrics` (may be null): the worker's backend counters, which the pools count into.
  explicit MysqlPools(const config::PoolLimits& limits, mysql::Limits codec_limits = backend_codec_limits(),
                      BackendMetrics* metrics = nullptr)
      : limits_(limits), codec_limits_(codec_limits), metrics_(metrics) {}
  MysqlPools(const MysqlPools&) = delete;
  MysqlPools& operator=(const MysqlPools&) = delete;
  ~MysqlPools();

  /// The pool for `key` (created on first use) connecting to `address`.
  MysqlPool& get(const MysqlKey& key, const rt::SocketAddress& address);
  /// Shorthand for get(key, address).acquire(deadline, cancel).
  rt::Task<MysqlAcquired> acquire(MysqlKey key, rt::SocketAddress address, rt::Deadline deadline,
                                  rt::CancelSource* cancel);
  /// What the last open to `address` learned from the server's greeting.
  MysqlServerInfo& server_info(const rt::SocketAddress& address);

  /// An idle connection of another pool with `key`'s credentials that can be converted to `key`, lent
  /// from that pool (which is returned alongside); {nullptr, nullptr} when there is none.
  struct Convertible {
    MysqlPool* from = nullptr;
    MysqlConnection* connection = nullptr;
  };
  Convertible lend_convertible(const MysqlKey& key, const MysqlPool* except);
  /// Connections of all pools with these credentials (opening, lent and idle): pool.max_connections
  /// bounds this sum too, so clients spread over schemas and charsets share the same few connections.
  std::size_t credentials_size(const std::string& credentials_id) const;
  /// MysqlPool::retire_before() on every pool with these credentials.
  void retire_before(const std::string& credentials_id, rt::Clock::time_point time);
  /// auth = "backend": counts the client sessions logged in with these credentials. When the last one
  /// leaves, the credentials' connections are retired (every login opens its own connection anyway,
  /// so an idle one would only outlive its user's sessions, which a server's sessions never do).
  void client_joined(const std::string& credentials_id);
  void client_left(const std::string& credentials_id);
  /// Hands `connection`, lent by `from` and just released clean, to the oldest waiter of a sibling pool
  /// it can be converted for (moved to that pool; the waiter converts it). When siblings wait but none
  /// can use it, closes it so one of them can open a connection. False when no sibling waits.
  bool hand_to_sibling(MysqlPool& from, MysqlConnection* connection);
  /// Closes the oldest idle connection of a sibling of `for_pool` (one that could not be converted for
  /// it); true when one was closed, so `for_pool` may open a connection within the credentials' bound.
  bool discard_idle_sibling(const MysqlPool& for_pool);
  /// Wakes the oldest waiter of one sibling of `from` (a connection of `from` became idle, or a slot
  /// of the credentials freed up): it retries, converting the idle connection or opening a new one.
  void wake_sibling(const MysqlPool& from);

  /// Runs the health checks of `set` (check_replicas()) on this worker's loop until stop(), logging in
  /// as `credentials`. Lifetime: `set` outlives join().
  void watch_replicas(MysqlReplicaSet& set, MysqlKey credentials, std::chrono::milliseconds max_lag,
                      std::chrono::milliseconds interval);

  void stop();
  rt::Task<void> join();

  std::size_t pool_count() const noexcept { return pools_.size(); }
  /// This worker's prepared statement templates (shared by all its MySQL sessions).
  PreparedTemplates& prepared_templates() noexcept { return prepared_templates_; }

 private:
  const config::PoolLimits& limits_;
  mysql::Limits codec_limits_;
  BackendMetrics* metrics_;
  std::unordered_map<std::string, std::unique_ptr<MysqlPool>> pools_;        // by MysqlKey::id()
  std::unordered_map<std::string, std::vector<MysqlPool*>> by_credentials_;  // by MysqlKey::credentials_id()
  std::unordered_map<std::string, std::size_t> clients_;                     // client_joined() minus client_left()
  ServerInfoCache<MysqlServerInfo> servers_;
  PreparedTemplates prepared_templates_;
  rt::TaskScope replica_checks_;  // watch_replicas(): stopped and joined with the pools
};

}  // namespace corral::pool
