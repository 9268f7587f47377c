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
                     RedisServerInfo& server_info)
    : key_(std::move(key)), address_(address), limits_(limits), server_info_(server_info) {}

RedisPool::~RedisPool() = default;

RedisConnection* RedisPool::least_loaded_ready() const {
  RedisConnection* best = nullptr;
  for (const auto& connection : shared_) {
    if (connection->state() != RedisConnection::State::Ready) continue;
    if (best == nullptr || connection->in_flight() < best->in_flight()) best = connection.get();
  }
  return best;
}

RedisConnection* RedisPool::ready_shared() {
  RedisConnection* best = least_loaded_ready();
  if (best != nullptr && best->in_flight() >= kBusyConnection && shared_.size() < limits_.max_connections &&
      !in_backoff()) {
    open(false);
  }
  return best;
}

bool RedisPool::in_backoff() const { return rt::Clock::now() < retry_at_; }

std::string RedisPool::unavailable_error() const {
  if (!last_error_.empty()) return last_error_;
  return "-ERR corral: backend " + key_.describe() + " unavailable\r\n";
}

rt::Task<Acquired> RedisPool::shared(rt::Deadline deadline, rt::CancelSource* cancel) {
  for (;;) {
    if (stopped_) co_return Acquired{nullptr, "-ERR corral: shutting down\r\n"};
    if (RedisConnection* ready = ready_shared()) co_return Acquired{ready, {}};
    const bool opening = std::any_of(shared_.begin(), shared_.end(), [](const auto& c) {
      return c->state() == RedisConnection::State::Connecting;
    });
    if (!opening) {
      if (in_backoff()) co_return unavailable();
      if (shared_.size() >= limits_.max_connections) {
        co_return Acquired{nullptr, "-ERR corral: pool for " + key_.describe() + " exhausted\r\n"};
      }
      open(false);
    }
    const auto changed = co_await changed_.wait(deadline, cancel);
    if (!changed) {
      co_return Acquired{nullptr, "-ERR corral: timed out waiting for backend " + key_.describe() + "\r\n"};
    }
    if (in_backoff() && least_loaded_ready() == nullptr) co_return unavailable();
  }
}

rt::Task<Acquired> RedisPool::pin(rt::Deadline deadline, rt::CancelSource* cancel) {
  for (;;) {
    if (stopped_) co_return Acquired{nullptr, "-ERR corral: shutting down\r\n"};
    while (!idle_pinned_.empty()) {
      RedisConnection* connection = idle_pinned_.back();
      idle_pinned_.pop_back();
      if (connection->state() == RedisConnection::State::Ready) {
        lent_.push_back(connection);
        co_return Acquired{connection, {}};
      }
    }
    if (pinned_.size() < limits_.max_pinned) {
      if (in_backoff()) co_return unavailable();
      RedisConnection* connection = open(true);
      lent_.push_back(connection);  // lent from the start: nobody else may take it when it is ready
      while (connection->state() == RedisConnection::State::Connecting) {
        const auto changed = co_await changed_.wait(deadline, cancel);
        if (!changed) {
          unpin(connection, false);
          co_return Acquired{nullptr, "-ERR corral: timed out waiting for backend " + key_.describe() + "\r\n"};
        }
      }
      if (connection->state() != RedisConnection::State::Ready) {
        std::string reason = connection->close_reason();
        unpin(connection, false);
        co_return Acquired{nullptr, std::move(reason)};
      }
      co_return Acquired{connection, {}};
    }
    const auto changed = co_await changed_.wait(deadline, cancel);
    if (!changed) {
      co_return Acquired{nullptr, "-ERR corral: no dedicated connection to " + key_.describe() +
                                      " free within the queue timeout (pool.max_pinned)\r\n"};
    }
  }
}

void RedisPool::unpin(RedisConnection* connection, bool clean) {
  std::erase(lent_, connection);
  connection->set_owner(nullptr);
  connection->set_passthrough(false);
  connection->set_relay_filter(nullptr);
  if (clean && !stopped_ && connection->state() == RedisConnection::State::Ready && connection->in_flight() == 0) {
    idle_pinned_.push_back(connection);
    changed_.notify_all();
    return;
  }
  if (connection->state() != RedisConnection::State::Closed) {
    connection->close("-ERR corral: connection closed\r\n");
    return;  // run() ends and on_closed() removes it
  }
  if (connection->run_finished_) remove(connection);  // else on_closed() will, when run() ends
}

RedisConnection* RedisPool::open(bool pinned) {
  auto connection = std::make_unique<RedisConnection>(*this);
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

void RedisPool::on_ready(RedisConnection*) {
  backoff_ = {};
  retry_at_ = {};
  last_error_.clear();
  last_refusal_.clear();
  changed_.notify_all();
}

void RedisPool::on_open_failed(const RedisConnection& connection) {
  backoff_ = backoff_ == rt::Clock::duration{} ? rt::Clock::duration(limits_.reconnect_backoff_min)
                                               : std::min<rt::Clock::duration>(backoff_ * 2, limits_.reconnect_backoff_max);
  retry_at_ = rt::Clock::now() + backoff_;
  const std::string& reason = connection.close_reason();
  last_error_ = reason;
  last_refusal_ = connection.refusal();
  rt::log::warn("redis backend {}: {}", key_.describe(), std::string_view(reason).substr(1, reason.size() - 3));
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
  std::erase_if(pinned_, [connection](const auto& c) { return c.get() == connection; });
  changed_.notify_all();
}

void RedisPool::stop() {
  stopped_ = true;
  for (auto& connection : shared_) connection->close("-ERR corral: shutting down\r\n");
  for (auto& connection : pinned_) connection->close("-ERR corral: shutting down\r\n");
  changed_.notify_all();
}

// ---- RedisPools ---------------------------------------------------------------------------------

void RedisPoolRef::reset() noexcept {
  RedisPool* pool = std::exchange(pool_, nullptr);
  if (pool != nullptr && --pool->users_ == 0 && pool->owner_ != nullptr) pool->owner_->on_unreferenced(*pool);
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
  auto pool = std::make_unique<RedisPool>(key, address, limits_, info);
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

RedisServerInfo& RedisPools::server_info(const rt::SocketAddress& address) { return servers_[address.to_string()]; }

void RedisPools::stop() {
  stopped_ = true;
  for (auto& [id, pool] : pools_) pool->stop();
}

rt::Task<void> RedisPools::join() {
  for (auto& [id, pool] : pools_) co_await pool->join();
}

}  // namespace corral::pool
