#include "pool/redis_pool.h"

#include <algorithm>

#include "runtime/log.h"

namespace corral::pool {

namespace {
/// Requests in flight on one shared connection before the pool opens another one (while under
/// max_connections). redis-server runs commands on one thread, so a second connection adds no
/// parallelism, only smaller batches on both sides (measured: docs/BENCHMARKS.md, "connections per
/// pool"). Another connection is worth it only behind a queue this deep: a stalled server or a huge
/// reply in front of the rest.
constexpr std::size_t kBusyConnection = 8192;
/// Pools a worker may hold before get() sweeps unused ones (then: twice the pools still in use).
constexpr std::size_t kPoolsBeforeSweep = 64;
}  // namespace

RedisPool::RedisPool(RedisKey key, rt::SocketAddress address, const config::PoolLimits& limits,
                     RedisServerInfo& server_info, BackendCounters* counters)
    : key_(std::move(key)),
      address_(address),
      limits_(limits),
      server_info_(server_info),
      own_counters_(counters == nullptr ? std::make_unique<BackendCounters>() : nullptr),
      counters_(counters != nullptr ? *counters : *own_counters_),
      registration_(counters_, *this),
      pin_waiters_(tasks_, &RedisPool::take_back, this),
      backoff_(limits.reconnect_backoff_min, limits.reconnect_backoff_max) {}

RedisPool::~RedisPool() = default;

void RedisPool::add_gauges(BackendGauges& gauges) const {
  for (const auto& connection : shared_) {
    switch (connection->state()) {
      case RedisConnection::State::Connecting: ++gauges.connecting; break;
      case RedisConnection::State::Ready: ++(connection->in_flight() > 0 ? gauges.in_use : gauges.idle); break;
      case RedisConnection::State::Closed: break;  // on its way out
    }
  }
  for (const auto& connection : pinned_) {
    const RedisConnection* raw = connection.get();
    switch (raw->state()) {
      case RedisConnection::State::Connecting: ++gauges.connecting; break;
      case RedisConnection::State::Ready:
        ++(std::find(lent_.begin(), lent_.end(), raw) != lent_.end() ? gauges.pinned : gauges.idle);
        break;
      case RedisConnection::State::Closed: break;
    }
  }
  gauges.waiters += pin_waiters_.size() + shared_waiting_;
}

RedisConnection* RedisPool::least_loaded_ready() const {
  RedisConnection* best = nullptr;
  for (const auto& connection : shared_) {
    if (connection->state() != RedisConnection::State::Ready) continue;
    if (best == nullptr || connection->in_flight() < best->in_flight()) best = connection.get();
  }
  return best;
}

bool RedisPool::opening_shared() const {
  return std::any_of(shared_.begin(), shared_.end(),
                     [](const auto& c) { return c->state() == RedisConnection::State::Connecting; });
}

RedisConnection* RedisPool::ready_shared() {
  RedisConnection* best = nullptr;
  RedisConnection* stalled = nullptr;  // the least loaded of the stalled ones
  for (const auto& connection : shared_) {
    if (connection->state() != RedisConnection::State::Ready) continue;
    RedisConnection*& slot = connection->stalled() ? stalled : best;
    if (slot == nullptr || connection->in_flight() < slot->in_flight()) slot = connection.get();
  }
  if (best != nullptr) {
    if (best->in_flight() >= kBusyConnection && can_open_shared()) open(false);
    return best;
  }
  if (stalled == nullptr) return nullptr;
  // Every ready connection waits behind something long (a script, a write held by CLIENT PAUSE): a
  // new one gets what the server answers now. One on its way is worth waiting for even when it was
  // the pool's last: only at max_connections does a request queue behind a stalled one.
  if (opening_shared()) return nullptr;
  if (!can_open_shared()) return stalled;
  open(false);
  return nullptr;
}

std::string RedisPool::unavailable_error() const {
  if (!backoff_.error().error.empty()) return backoff_.error().error;
  return "-ERR corral: backend " + key_.describe() + " unavailable\r\n";
}

rt::Task<Acquired> RedisPool::shared(rt::Deadline deadline, rt::CancelSource* cancel) {
  for (;;) {
    if (stopped()) co_return Acquired{nullptr, "-ERR corral: shutting down\r\n"};
    if (RedisConnection* ready = ready_shared()) co_return Acquired{ready, {}};
    if (!opening_shared()) {
      if (backoff_.active()) co_return unavailable();
      if (shared_.size() >= limits_.max_connections) {
        co_return Acquired{nullptr, "-ERR corral: pool for " + key_.describe() + " exhausted\r\n"};
      }
      open(false);
    }
    const uint64_t busy_before = busy_refusals_;
    bool changed = false;
    {
      // Counted as a waiter for as long as the wait lasts, however it ends.
      struct Waiting {
        std::size_t& count;
        explicit Waiting(std::size_t& n) : count(++n) {}
        ~Waiting() { --count; }
      } waiting(shared_waiting_);
      changed = co_await changed_.wait(deadline, cancel);
    }
    if (!changed) {
      co_return timed_out("-ERR corral: timed out waiting for backend " + key_.describe() + "\r\n", cancel);
    }
    if (backoff_.active() && least_loaded_ready() == nullptr) co_return unavailable();
    // The open this request waited for got BUSY: so does the request, as it would directly.
    if (busy_refusals_ != busy_before && !opening_shared()) co_return Acquired{nullptr, busy_error_};
  }
}

rt::Task<Acquired> RedisPool::pin(rt::Deadline deadline, rt::CancelSource* cancel, bool select_db) {
  bool woken_for_slot = false;  // a closed connection's slot was offered to this caller ahead of newcomers
  for (;;) {
    if (stopped()) co_return Acquired{nullptr, "-ERR corral: shutting down\r\n"};
    if (RedisConnection* idle = lend_idle_pinned()) co_return Acquired{idle, {}};
    // Earlier waiters go first: a newcomer takes a free slot only when nobody is queued for it.
    if (pinned_.size() < limits_.max_pinned && (woken_for_slot || pin_waiters_.first_live() == nullptr)) {
      if (backoff_.active()) {
        if (woken_for_slot) pin_waiters_.wake_for_slot();  // the next waiter fails at once too, not at its timeout
        co_return unavailable();
      }
      RedisConnection* connection = open(true, select_db);
      lent_.push_back(connection);  // lent from the start: nobody else may take it when it is ready
      while (connection->state() == RedisConnection::State::Connecting) {
        const auto changed = co_await changed_.wait(deadline, cancel);
        if (!changed) {
          unpin(connection, false);
          co_return timed_out("-ERR corral: timed out waiting for backend " + key_.describe() + "\r\n", cancel);
        }
      }
      if (connection->state() != RedisConnection::State::Ready) {
        std::string reason = connection->close_reason();
        unpin(connection, false);
        co_return Acquired{nullptr, std::move(reason)};
      }
      co_return Acquired{connection, {}};
    }
    Waiters::Turn turn(pin_waiters_, deadline, cancel, woken_for_slot);
    co_await turn;
    if (RedisConnection* handed = turn.take()) {
      // Unpinned clean and handed straight to this caller; it may have closed since.
      if (handed->state() == RedisConnection::State::Ready) co_return Acquired{handed, {}};
      unpin(handed, false);
      continue;
    }
    const WaitOutcome outcome = turn.outcome();
    if (outcome == WaitOutcome::TimedOut || outcome == WaitOutcome::Waiting) {
      co_return timed_out("-ERR corral: no dedicated connection to " + key_.describe() +
                              " free within the queue timeout (pool.max_pinned)\r\n",
                          cancel);
    }
    woken_for_slot = outcome == WaitOutcome::SlotFreed;  // else Stopped: reported above
  }
}

RedisConnection* RedisPool::lend_idle_pinned() {
  while (!idle_pinned_.empty()) {
    RedisConnection* connection = idle_pinned_.back();
    idle_pinned_.pop_back();
    if (connection->state() == RedisConnection::State::Ready) {
      lent_.push_back(connection);
      return connection;
    }
  }
  return nullptr;
}

void RedisPool::take_back(void* pool, RedisConnection* connection) {
  static_cast<RedisPool*>(pool)->unpin(connection, true);
}

void RedisPool::unpin(RedisConnection* connection, bool clean) {
  connection->set_owner(nullptr);
  connection->set_passthrough(false);
  connection->set_relay_filter(nullptr);
  if (clean && !stopped() && connection->state() == RedisConnection::State::Ready && connection->in_flight() == 0 &&
      connection->in_key_db()) {
    if (pin_waiters_.hand(connection)) return;  // still lent: now to the oldest waiter, and only it wakes
    std::erase(lent_, connection);
    idle_pinned_.push_back(connection);
    return;
  }
  std::erase(lent_, connection);
  if (connection->state() != RedisConnection::State::Closed) {
    connection->close("-ERR corral: connection closed\r\n");
    return;  // run() ends and on_closed() removes it
  }
  if (connection->run_finished_) remove(connection);  // else on_closed() will, when run() ends
}

RedisConnection* RedisPool::open(bool pinned, bool select_db) {
  auto connection = std::make_unique<RedisConnection>(*this, select_db);
  RedisConnection* raw = connection.get();
  (pinned ? pinned_ : shared_).push_back(std::move(connection));
  // The pool outlives its connections' run() tasks: stop() and join() come before destruction.
  tasks_.spawn(run_connection(this, raw));
  return raw;
}

rt::Task<void> RedisPool::run_connection(RedisPool* pool, RedisConnection* connection) {
  co_await connection->run();
  if (connection->state() != RedisConnection::State::Closed) connection->close("-ERR corral: connection closed\r\n");
  connection->run_finished_ = true;
  pool->on_closed(connection);
}

Acquired RedisPool::timed_out(std::string error, const rt::CancelSource* cancel) {
  const bool gave_up = cancel != nullptr && cancel->cancelled();  // the client went away: nothing to report
  if (!gave_up) ++counters_.figures.pool_timeouts;
  if (!gave_up && timeout_log_.allow()) {
    rt::log::warn("redis backend {}: pool timeout: {}{}", key_.describe(),
                  std::string_view(error).substr(13, error.size() - 15), timeout_log_.suppressed_text());
  }
  return Acquired{nullptr, std::move(error)};
}

void RedisPool::on_ready(RedisConnection*) {
  counters_.opened(true, true);
  const rt::Clock::time_point down_since = backoff_.down_since();
  if (const unsigned failures = backoff_.succeeded(); failures > 0) {
    rt::log::info("redis backend {}: reachable again after {} failed opens ({} after it was lost)", key_.describe(),
                  failures, milliseconds_text(rt::Clock::now() - down_since));
  }
  changed_.notify_all();
}

void RedisPool::on_open_failed(const RedisConnection& connection) {
  const std::string& reason = connection.close_reason();
  // Not the backend's doing when the pool closed it (shutdown, a pin wait that gave up).
  if (!stopped() && !connection.closed_by_pool()) counters_.opened(false, connection.server_answered());
  if (connection.refused_busy()) {
    // The server is up and answers; once the script ends the next open succeeds. Not logged: it
    // happens once per request while the script runs, and the clients see the BUSY themselves.
    ++busy_refusals_;
    busy_error_ = reason;
    return;
  }
  backoff_.failed(OpenFailure{reason, connection.refusal()});
  const std::string_view why = std::string_view(reason).substr(1, reason.size() - 3);
  // Once when it is lost, not at every retry (each worker's pool retries every few hundred ms).
  if (backoff_.failures() == 1) {
    rt::log::warn("redis backend {}: lost: {}; clients get this error until an open succeeds", key_.describe(), why);
  } else {
    rt::log::debug("redis backend {}: still unreachable ({} failed opens): {}", key_.describe(), backoff_.failures(),
                   why);
  }
}

void RedisPool::on_closed(RedisConnection* connection) {
  if (!connection->was_ready()) on_open_failed(*connection);
  if (std::find(lent_.begin(), lent_.end(), connection) != lent_.end()) {
    changed_.notify_all();
    return;  // the session still holds it; unpin() removes it
  }
  remove(connection);
}

void RedisPool::remove(RedisConnection* connection) {
  std::erase(idle_pinned_, connection);
  std::erase_if(shared_, [connection](const auto& c) { return c.get() == connection; });
  const std::size_t erased = std::erase_if(pinned_, [connection](const auto& c) { return c.get() == connection; });
  changed_.notify_all();
  if (erased != 0) pin_waiters_.wake_for_slot();  // one slot: the oldest waiter may open one
}

void RedisPool::stop() {
  tasks_.stop();
  for (auto& connection : shared_) connection->close("-ERR corral: shutting down\r\n");
  for (auto& connection : pinned_) connection->close("-ERR corral: shutting down\r\n");
  changed_.notify_all();
  pin_waiters_.stop();
}

// ---- RedisPools ---------------------------------------------------------------------------------

void RedisPool::counted_ref_release() noexcept {
  if (--users_ == 0 && owner_ != nullptr) owner_->on_unreferenced(*this);
}

RedisPools::~RedisPools() {
  if (pool_gauge_ != nullptr) pool_gauge_->fetch_sub(pools_.size(), std::memory_order_relaxed);
}

RedisPoolRef RedisPools::get(const RedisKey& key, const rt::SocketAddress& address) {
  std::string id = key.id();
  auto found = pools_.find(id);
  if (found != pools_.end()) return RedisPoolRef(*found->second);
  if (pools_.size() >= sweep_at_) {
    sweep();
    sweep_at_ = std::max(kPoolsBeforeSweep, 2 * pools_.size());
  }
  RedisServerInfo& info = server_info(address);
  BackendCounters* counters =
      metrics_ != nullptr ? &metrics_->backend(redis_backend_label(key.host, key.port, key.tls != nullptr)) : nullptr;
  auto pool = std::make_unique<RedisPool>(key, address, limits_, info, counters);
  pool->owner_ = this;
  pool->id_ = id;
  RedisPoolRef ref(*pool);
  pools_.emplace(std::move(id), std::move(pool));
  if (pool_gauge_ != nullptr) pool_gauge_->fetch_add(1, std::memory_order_relaxed);
  return ref;
}

void RedisPools::on_unreferenced(RedisPool& pool) {
  // Called outside the pool's own code (a session dropping its reference), so freeing is safe here.
  if (stopped_ || !pool.unused()) return;
  auto found = pools_.find(pool.id_);
  if (found != pools_.end()) erase(found);
}

void RedisPools::sweep() {
  if (stopped_) return;
  for (auto it = pools_.begin(); it != pools_.end();) {
    auto next = std::next(it);
    if (it->second->unused()) erase(it);
    it = next;
  }
}

void RedisPools::erase(std::unordered_map<std::string, std::unique_ptr<RedisPool>>::iterator it) {
  pools_.erase(it);
  if (pool_gauge_ != nullptr) pool_gauge_->fetch_sub(1, std::memory_order_relaxed);
}

RedisServerInfo& RedisPools::server_info(const rt::SocketAddress& address) { return servers_.of(address); }

void RedisPools::stop() {
  stopped_ = true;
  for (auto& [id, pool] : pools_) pool->stop();
}

rt::Task<void> RedisPools::join() {
  for (auto& [id, pool] : pools_) co_await pool->join();
}

}  // namespace corral::pool
