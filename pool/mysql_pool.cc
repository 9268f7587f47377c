#include "pool/mysql_pool.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "pool/backoff.h"
#include "runtime/log.h"

namespace corral::pool {

namespace {

bool is_cancelled(std::error_code code) noexcept { return code == std::errc::operation_canceled; }

}  // namespace

mysql::Limits backend_codec_limits() noexcept {
  mysql::Limits limits;
  limits.max_packet_size = std::size_t{1} << 30;  // max_allowed_packet cannot exceed 1 GiB
  return limits;
}

// ---- MysqlLease ----------------------------------------------------------------------------------

MysqlLease::MysqlLease(MysqlLease&& other) noexcept
    : pool_(std::exchange(other.pool_, nullptr)), connection_(std::exchange(other.connection_, nullptr)) {}

MysqlLease& MysqlLease::operator=(MysqlLease&& other) noexcept {
  if (this != &other) {
    release(false);
    pool_ = std::exchange(other.pool_, nullptr);
    connection_ = std::exchange(other.connection_, nullptr);
  }
  return *this;
}

MysqlIdleTicket MysqlLease::release(bool clean) {
  if (connection_ == nullptr) return {};
  MysqlPool* pool = std::exchange(pool_, nullptr);
  return pool->release(std::exchange(connection_, nullptr), clean);
}

// ---- MysqlPool: acquire --------------------------------------------------------------------------

MysqlPool::MysqlPool(MysqlKey key, rt::SocketAddress address, const config::PoolLimits& limits,
                     MysqlServerInfo& server_info, MysqlPools* group, mysql::Limits codec_limits,
                     BackendCounters* counters)
    : key_(std::move(key)),
      address_(address),
      limits_(limits),
      server_info_(server_info),
      group_(group),
      own_counters_(counters == nullptr ? std::make_unique<BackendCounters>() : nullptr),
      counters_(counters != nullptr ? *counters : *own_counters_),
      registration_(counters_, *this),
      codec_limits_(codec_limits),
      describe_(key_.describe()),
      credentials_id_(key_.credentials_id()),
      waiters_(tasks_, &MysqlPool::take_back, this),
      backoff_(limits.reconnect_backoff_min, limits.reconnect_backoff_max) {}

MysqlPool::~MysqlPool() = default;

void MysqlPool::add_gauges(BackendGauges& gauges) const {
  for (const auto& owned : connections_) {
    const MysqlConnection* connection = owned.get();
    switch (connection->state()) {
      case MysqlConnection::State::New:
      case MysqlConnection::State::Opening: ++gauges.connecting; break;
      case MysqlConnection::State::Closed: break;  // on its way out
      default:
        if (std::find(idle_.begin(), idle_.end(), connection) != idle_.end()) {
          ++gauges.idle;
        } else {
          ++(connection->held() ? gauges.pinned : gauges.in_use);
        }
    }
  }
  gauges.waiters += waiters_.size();
}

MysqlAcquired MysqlPool::failure(std::error_code code, MysqlError error) const {
  return MysqlAcquired{MysqlLease(), std::move(error), code};
}

MysqlAcquired MysqlPool::failure(std::error_code code, const mysql::ErrorSpec& spec, std::string message) const {
  return failure(code, MysqlError{spec.code, std::string(spec.sql_state), std::move(message)});
}

void MysqlPool::take_back(void* pool, MysqlConnection* connection) {
  static_cast<MysqlPool*>(pool)->release(connection, true);
}

rt::Task<MysqlAcquired> MysqlPool::acquire(rt::Deadline deadline, rt::CancelSource* cancel) {
  return acquire_after(deadline, cancel, nullptr, false);
}

rt::Task<MysqlAcquired> MysqlPool::acquire(Turn& turn) {
  const bool woken_for_slot = turn.waited_ && turn.queue_.outcome() == WaitOutcome::SlotFreed;
  return acquire_after(turn.deadline_, turn.queue_.cancel(), turn.queue_.take(), woken_for_slot);
}

bool MysqlPool::Turn::await_ready() {
  MysqlPool& pool = pool_;
  const rt::CancelSource* cancel = queue_.cancel();
  if (pool.stopped() || (cancel != nullptr && cancel->cancelled())) return true;  // acquire() reports it
  if (!pool.idle_.empty()) {
    ready_ = pool.try_acquire_ready();  // empty when the idle one needs a fix-up or is dead: acquire()'s
    return true;
  }
  // Below the limit with nobody queued, acquire() opens or converts a connection.
  if (pool.size() < pool.limits_.max_connections && pool.waiters_.first_live() == nullptr) return true;
  waited_ = true;
  return false;
}

MysqlAcquired MysqlPool::Turn::take() {
  if (ready_) return MysqlAcquired{std::move(ready_), {}, {}};
  if (!waited_) return {};
  MysqlPool& pool = pool_;
  if (queue_.outcome() == WaitOutcome::SlotFreed) return {};
  if (queue_.outcome() != WaitOutcome::Handed) return pool.after_wait(queue_);
  // Handed over by release(): lent as it is when it matches the key (acquire(turn) fixes it up
  // otherwise, or gives it back when this caller gave up or the pool stopped meanwhile).
  const MysqlConnection* connection = queue_.handed();
  const bool cancelled = queue_.cancel() != nullptr && queue_.cancel()->cancelled();
  if (cancelled || pool.stopped() || connection->is_closed() || !connection->conforms_to(pool.key_)) return {};
  return MysqlAcquired{MysqlLease(&pool, queue_.take()), {}, {}};
}

rt::Task<MysqlAcquired> MysqlPool::acquire_after(rt::Deadline deadline, rt::CancelSource* cancel,
                                                 MysqlConnection* handed, bool woken_for_slot) {
  // woken_for_slot: a released slot was offered to this caller ahead of later arrivals.
  for (;;) {
    if (handed == nullptr) {
      if (stopped()) {
        co_return failure(make_error_code(MysqlBackendErrc::Unavailable), kErrBackendUnavailable,
                          "corral: shutting down");
      }
      if (cancel != nullptr && cancel->cancelled()) {
        if (woken_for_slot) slot_freed();  // the slot this caller will not use goes to the next waiter
        co_return failure(rt::cancelled(), kErrBackendLost, "corral: request cancelled");
      }
      if (MysqlConnection* idle = pop_idle()) {
        if (!idle->is_closed() && idle->conforms_to(key_)) co_return MysqlAcquired{MysqlLease(this, idle), {}, {}};
        MysqlAcquired lent = co_await lend(idle, cancel);
        if (lent.code != MysqlBackendErrc::Lost) co_return lent;
        continue;  // that connection died while being fixed up; nothing of the caller's ran on it
      }
      // Earlier waiters go first: a newcomer takes a free slot only when nobody is queued for it.
      if (size() < limits_.max_connections && (woken_for_slot || waiters_.first_live() == nullptr)) {
        const MysqlPools::Convertible convertible =
            group_ != nullptr ? group_->lend_convertible(key_, this) : MysqlPools::Convertible{};
        if (convertible.connection != nullptr) {
          MysqlAcquired converted = co_await convert_from(*convertible.from, convertible.connection, cancel);
          if (converted.code != MysqlBackendErrc::Lost) co_return converted;
          continue;
        }
        // max_connections also bounds all pools of the same credentials together (they differ only in
        // schema and charset): at the bound, wait for a sibling's connection to convert.
        // An idle sibling connection that cannot be converted (a schema cannot be unselected) is closed
        // to make room, or a key without a schema would wait for ever once every connection has one.
        if (group_ == nullptr || group_->credentials_size(credentials_id_) < limits_.max_connections ||
            group_->discard_idle_sibling(*this)) {
          if (backoff_.active()) {
            co_return failure(make_error_code(MysqlBackendErrc::Unavailable), backoff_.error());
          }
          co_return co_await open_and_lend(cancel);
        }
      }
      Waiters::Turn turn(waiters_, deadline, cancel, woken_for_slot);
      co_await turn;
      woken_for_slot = turn.outcome() == WaitOutcome::SlotFreed;
      handed = turn.take();
      if (!woken_for_slot && handed == nullptr) co_return after_wait(turn);
      if (handed == nullptr) continue;  // a slot freed up for this caller: try again, ahead of newcomers
    }
    // Handed over by release(): this caller's now, unless it gave up in the meantime.
    MysqlConnection* connection = std::exchange(handed, nullptr);
    if (cancel != nullptr && cancel->cancelled()) {
      release(connection, true);
      co_return failure(rt::cancelled(), kErrBackendLost, "corral: request cancelled");
    }
    if (stopped()) {
      release(connection, false);
      co_return failure(make_error_code(MysqlBackendErrc::Unavailable), kErrBackendUnavailable,
                        "corral: shutting down");
    }
    if (!connection->is_closed() && connection->conforms_to(key_)) {
      co_return MysqlAcquired{MysqlLease(this, connection), {}, {}};
    }
    MysqlAcquired lent = co_await lend(connection, cancel);
    if (lent.code != MysqlBackendErrc::Lost) co_return lent;
  }
}

MysqlAcquired MysqlPool::after_wait(const Waiters::Turn& turn) {
  if (turn.outcome() == WaitOutcome::Stopped || stopped()) {
    return failure(make_error_code(MysqlBackendErrc::Unavailable), kErrBackendUnavailable, "corral: shutting down");
  }
  const rt::CancelSource* cancel = turn.cancel();
  if (turn.outcome() != WaitOutcome::TimedOut && cancel != nullptr && cancel->cancelled()) {
    return failure(rt::cancelled(), kErrBackendLost, "corral: request cancelled");
  }
  ++counters_.figures.pool_timeouts;
  std::string message = "corral: no connection to backend " + describe_ + " became free within " +
                        milliseconds_text(rt::Clock::now() - turn.queued_at()) +
                        " (pool.max_connections=" + std::to_string(limits_.max_connections) + ")";
  if (timeout_log_.allow()) {
    rt::log::warn("mysql backend {}: pool timeout: {}{}", describe_, message.substr(8), timeout_log_.suppressed_text());
  }
  return failure(make_error_code(MysqlBackendErrc::PoolExhausted), kErrPoolExhausted, std::move(message));
}

MysqlLease MysqlPool::try_acquire_ready() {
  // An idle connection means nobody is waiting (release() hands connections to waiters first), so
  // taking it here keeps acquire()'s order.
  if (stopped() || idle_.empty()) return {};
  MysqlConnection* connection = idle_.back();
  if (!connection->idle_healthy() || !connection->conforms_to(key_)) return {};
  idle_.pop_back();
  lent_.push_back(connection);
  return MysqlLease(this, connection);
}

rt::Task<MysqlAcquired> MysqlPool::lend(MysqlConnection* connection, rt::CancelSource* cancel) {
  if (connection->is_closed()) {
    discard(connection);
    co_return failure(make_error_code(MysqlBackendErrc::Lost), kErrBackendLost, "corral: connection closed");
  }
  // A relayed USE or SET NAMES may have moved a connection that came back clean: fix it up here, where
  // suspending is allowed (release() never suspends).
  if (!connection->conforms_to(key_)) {
    if (!connection->can_conform_to(key_)) {
      discard(connection);
      co_return failure(make_error_code(MysqlBackendErrc::Lost), kErrBackendLost, "corral: connection discarded");
    }
    auto conformed = co_await connection->conform_to(key_, cancel);
    if (!conformed || conformed->error) {
      const std::error_code code = !conformed ? conformed.error() : make_error_code(MysqlBackendErrc::ServerError);
      MysqlError error = !conformed ? connection->error() : std::move(*conformed->error);
      discard(connection);
      co_return failure(is_cancelled(code) || code == MysqlBackendErrc::ServerError
                            ? code
                            : make_error_code(MysqlBackendErrc::Lost),
                        std::move(error));
    }
  }
  co_return MysqlAcquired{MysqlLease(this, connection), {}, {}};
}

rt::Task<MysqlAcquired> MysqlPool::open_and_lend(rt::CancelSource* cancel) {
  auto owned = std::make_unique<MysqlConnection>(limits_, codec_limits_);
  MysqlConnection* connection = owned.get();
  connection->count_in(&counters_);
  connections_.push_back(std::move(owned));
  lent_.push_back(connection);  // lent to this caller from the start: nobody else may take it
  // Ends with the caller's cancellation or with stop(); lives in this frame, which outlives the open.
  rt::CancelSource open_cancel(cancel);
  opening_.push_back(&open_cancel);
  // Unlisted before open_cancel goes, however this frame ends: stop() must not reach a dead source.
  struct Unlist {
    std::vector<rt::CancelSource*>& list;
    rt::CancelSource* source;
    ~Unlist() { std::erase(list, source); }
  } unlist{opening_, &open_cancel};
  auto opened = co_await connection->open(key_, address_, &open_cancel);
  if (!opened || stopped()) {
    const std::error_code code = opened ? make_error_code(MysqlBackendErrc::Unavailable) : opened.error();
    MysqlError error = connection->error();
    if (!opened) on_open_failed(*connection, code);
    discard(connection);
    if (stopped()) {
      co_return failure(make_error_code(MysqlBackendErrc::Unavailable), kErrBackendUnavailable,
                        "corral: shutting down");
    }
    co_return failure(code, std::move(error));
  }
  ++opened_total_;
  counters_.opened(true, true);
  server_info_ = connection->server_info();
  backend_reached();
  co_return MysqlAcquired{MysqlLease(this, connection), {}, {}};
}

rt::Task<MysqlAcquired> MysqlPool::convert_from(MysqlPool& sibling, MysqlConnection* connection,
                                                rt::CancelSource* cancel) {
  // The connection stays the sibling's until converted, so a refusal hands it back unchanged; the
  // reserved slot keeps this pool within max_connections meanwhile.
  ++reserved_;
  auto conformed = co_await connection->conform_to(key_, cancel);
  --reserved_;
  if (!conformed) {
    MysqlError error = connection->error();
    sibling.release(connection, false);
    co_return failure(is_cancelled(conformed.error()) ? conformed.error() : make_error_code(MysqlBackendErrc::Lost),
                      std::move(error));
  }
  if (conformed->error) {
    // ERR 1049 unknown database, say: the caller's key is wrong, the connection is fine.
    MysqlError error = std::move(*conformed->error);
    sibling.release(connection, true);
    co_return failure(make_error_code(MysqlBackendErrc::ServerError), std::move(error));
  }
  if (stopped()) {
    sibling.release(connection, false);
    co_return failure(make_error_code(MysqlBackendErrc::Unavailable), kErrBackendUnavailable, "corral: shutting down");
  }
  rt::log::debug("mysql backend {}: converted an idle connection of {}", describe_, sibling.describe_);
  sibling.move_to(connection, *this);
  co_return MysqlAcquired{MysqlLease(this, connection), {}, {}};
}

// ---- MysqlPool: release and bookkeeping ----------------------------------------------------------

void MysqlPool::retire_before(rt::Clock::time_point time) {
  fresh_since_ = std::max(fresh_since_, time);
  for (std::size_t i = idle_.size(); i-- > 0;) {
    if (idle_[i]->opened_at() < fresh_since_) discard(idle_[i]);  // the entries below i keep their places
  }
}

bool MysqlPool::reusable(const MysqlConnection& connection, bool clean) const {
  if (!clean || stopped() || !connection.is_idle() || connection.state_unknown()) return false;
  if (connection.opened_at() < fresh_since_) return false;  // retired by a later login
  // Whatever the session said, a transaction or a changed autocommit must never reach another client.
  if (connection.in_transaction() || !connection.autocommit_as_opened()) {
    rt::log::warn("mysql backend {}: connection returned inside a transaction or with autocommit changed; closed",
                  describe_);
    return false;
  }
  return true;
}

MysqlLease MysqlPool::adopt(std::unique_ptr<MysqlConnection> connection) {
  // A new login of these credentials: from now on no client gets a session older than it (the server
  // gives a new session the privileges and global variables of its time).
  if (group_ != nullptr) {
    group_->retire_before(credentials_id_, connection->opened_at());
  } else {
    retire_before(connection->opened_at());
  }
  const bool room = size() < limits_.max_connections &&
                    (group_ == nullptr || group_->credentials_size(credentials_id_) < limits_.max_connections);
  // Without room the connection closes as it goes out of scope: the pool's bounds hold for all of them.
  if (stopped() || !room || !connection->is_idle() || !connection->conforms_to(key_)) return {};
  MysqlConnection* adopted = connection.get();
  adopted->count_in(&counters_);
  connections_.push_back(std::move(connection));
  lent_.push_back(adopted);
  ++opened_total_;
  counters_.opened(true, true);
  server_info_ = adopted->server_info();
  backend_reached();
  return MysqlLease(this, adopted);
}

MysqlPoolSlot MysqlPool::reserve_slot() {
  const bool room = size() < limits_.max_connections && waiters_.first_live() == nullptr &&
                    (group_ == nullptr || group_->credentials_size(credentials_id_) < limits_.max_connections);
  if (stopped() || !room) return {};
  ++reserved_;
  return MysqlPoolSlot(this);
}

MysqlPoolSlot::~MysqlPoolSlot() {
  if (pool_ == nullptr) return;
  --pool_->reserved_;
  pool_->slot_freed();
}

MysqlIdleTicket MysqlPool::release(MysqlConnection* connection, bool clean) {
  if (std::find(lent_.begin(), lent_.end(), connection) == lent_.end()) {
    rt::log::error("mysql backend {}: release of a connection this pool did not lend", describe_);
    return {};
  }
  connection->set_held(false);
  // Whatever ran on it since its last idle stay (another session's INSERT, say), a ticket of that
  // stay no longer names it: handed straight to a waiter it must not pass for that session's own.
  connection->set_idle_stamp(0);
  if (!reusable(*connection, clean)) {
    discard(connection);
    return {};
  }
  connection->trim();
  connection->set_operation_timeout(limits_.operation_timeout);  // a session may have set its statement bound
  if (waiters_.hand(connection)) return {};  // stays in lent_: handed straight to the oldest waiter
  // A waiter of a sibling pool (same credentials, other schema or charset) gets it next, converted on
  // its side: making it idle instead would let this pool's newcomers take it first every time.
  if (has_siblings() && group_->hand_to_sibling(*this, connection)) return {};
  std::erase(lent_, connection);
  make_idle(connection);
  return MysqlIdleTicket{this, connection, connection->idle_stamp()};
}

MysqlLease MysqlPool::reclaim(const MysqlIdleTicket& ticket) {
  if (!reclaimable(ticket)) return {};
  const auto it = std::find(idle_.begin(), idle_.end(), ticket.connection);
  MysqlConnection* connection = *it;
  idle_.erase(it);
  lent_.push_back(connection);
  return MysqlLease(this, connection);
}

bool MysqlPool::reclaimable(const MysqlIdleTicket& ticket) noexcept {
  if (ticket.pool != this || ticket.stamp == 0 || stopped()) return false;
  const auto it = std::find(idle_.begin(), idle_.end(), ticket.connection);
  if (it == idle_.end()) return false;
  MysqlConnection* connection = *it;
  return connection->idle_stamp() == ticket.stamp && connection->idle_healthy() && connection->conforms_to(key_);
}

void MysqlPool::make_idle(MysqlConnection* connection) {
  // Unique per thread (pools live on one loop), so a ticket never matches a later idle stay.
  thread_local std::uint64_t last_idle_stamp = 0;
  connection->set_idle_stamp(++last_idle_stamp);
  connection->mark_idle_since(rt::Clock::now());
  idle_.push_back(connection);
  if (limits_.idle_timeout.count() > 0 && !reaping_ && !stopped()) {
    reaping_ = true;
    // The pool outlives the reaper: stop() cancels its sleep and join() waits for it before destruction.
    tasks_.spawn(reap_idle(this));
  }
}

rt::Task<void> MysqlPool::reap_idle(MysqlPool* pool) {
  while (!pool->stopped() && !pool->idle_.empty()) {
    MysqlConnection* oldest = pool->idle_.front();
    const rt::Clock::time_point expires = oldest->idle_since() + pool->limits_.idle_timeout;
    const rt::Clock::time_point now = rt::Clock::now();
    if (expires <= now) {
      rt::log::debug("mysql backend {}: closing a connection idle for {}", pool->describe_,
                     milliseconds_text(now - oldest->idle_since()));
      pool->discard(oldest);
      continue;
    }
    const bool slept = co_await rt::sleep_for(expires - now, pool->tasks_.cancel_source());
    if (!slept) break;
  }
  pool->reaping_ = false;
}

MysqlConnection* MysqlPool::pop_idle() {
  // Newest first: the oldest ones stay unused and reach the idle timeout when load drops.
  while (!idle_.empty()) {
    MysqlConnection* connection = idle_.back();
    idle_.pop_back();
    if (connection->idle_healthy()) {
      lent_.push_back(connection);
      return connection;
    }
    rt::log::debug("mysql backend {}: idle connection closed by the server", describe_);
    counters_.error(BackendError::BackendClosed);
    discard(connection);
  }
  return nullptr;
}

MysqlConnection* MysqlPool::lend_idle_for(const MysqlKey& key) {
  for (std::size_t i = idle_.size(); i-- > 0;) {
    MysqlConnection* connection = idle_[i];
    if (!connection->idle_healthy()) {
      counters_.error(BackendError::BackendClosed);
      discard(connection);  // erases idle_[i]; the entries below i keep their places
      continue;
    }
    if (!connection->can_conform_to(key)) continue;
    idle_.erase(idle_.begin() + static_cast<std::ptrdiff_t>(i));
    lent_.push_back(connection);
    return connection;
  }
  return nullptr;
}

void MysqlPool::move_to(MysqlConnection* connection, MysqlPool& to) {
  auto found = std::find_if(connections_.begin(), connections_.end(),
                            [connection](const auto& owned) { return owned.get() == connection; });
  if (found == connections_.end()) return;
  to.connections_.push_back(std::move(*found));
  connections_.erase(found);
  std::erase(lent_, connection);
  to.lent_.push_back(connection);
  slot_freed();
}

void MysqlPool::discard(MysqlConnection* connection) {
  connection->close();
  std::erase(idle_, connection);
  std::erase(lent_, connection);
  std::erase_if(connections_, [connection](const auto& owned) { return owned.get() == connection; });
  slot_freed();
}

void MysqlPool::slot_freed() {
  if (stopped()) {
    if (lent_.empty()) drained_.notify();
    return;
  }
  if (waiters_.wake_for_slot()) return;
  // The slot counts for the credentials' bound too: a sibling's waiter may open a connection now.
  if (has_siblings()) group_->wake_sibling(*this);
}

void MysqlPool::backend_reached() {
  const rt::Clock::time_point down_since = backoff_.down_since();
  if (const unsigned failures = backoff_.succeeded(); failures > 0) {
    rt::log::info("mysql backend {}: reachable again after {} failed opens ({} after it was lost)", describe_,
                  failures, milliseconds_text(rt::Clock::now() - down_since));
  }
}

void MysqlPool::on_open_failed(const MysqlConnection& connection, std::error_code code) {
  if (is_cancelled(code) || stopped()) return;  // the caller gave up; the backend is not to blame
  // The server answered when it refused the login or asked for what corral does not speak.
  counters_.opened(false, code == MysqlBackendErrc::ServerError || code == MysqlBackendErrc::Unsupported);
  backoff_.failed(connection.error());
  const MysqlError& error = backoff_.error();
  // Once when it is lost, not at every retry (each worker's pool retries every few hundred ms).
  if (backoff_.failures() == 1) {
    rt::log::warn("mysql backend {}: lost: open failed: {} ({}); clients get this error until an open succeeds",
                  describe_, error.message, error.code);
  } else {
    rt::log::debug("mysql backend {}: still unreachable ({} failed opens): {} ({}); next attempt in {}", describe_,
                   backoff_.failures(), error.message, error.code, milliseconds_text(backoff_.delay()));
  }
}

void MysqlPool::stop() {
  if (stopped()) return;
  tasks_.stop();
  for (rt::CancelSource* opening : std::vector<rt::CancelSource*>(opening_)) opening->cancel();
  while (!idle_.empty()) discard(idle_.back());
  const MysqlError shutting_down{kErrBackendUnavailable.code, std::string(kErrBackendUnavailable.sql_state),
                                 "corral: shutting down"};
  for (MysqlConnection* connection : lent_) {
    if (connection->state() != MysqlConnection::State::Opening) connection->close(shutting_down);
  }
  waiters_.stop();
  if (lent_.empty()) drained_.notify();
}

rt::Task<void> MysqlPool::join() {
  co_await tasks_.join();
  while (!lent_.empty()) {
    const bool drained = co_await drained_.wait();
    (void)drained;
  }
}

// ---- MysqlPools ----------------------------------------------------------------------------------

MysqlPools::~MysqlPools() = default;

MysqlPool& MysqlPools::get(const MysqlKey& key, const rt::SocketAddress& address) {
  std::string id = key.id();
  auto found = pools_.find(id);
  if (found != pools_.end()) return *found->second;
  BackendCounters* counters = metrics_ != nullptr ? &metrics_->backend(mysql_backend_label(key.host, key.port)) : nullptr;
  auto pool =
      std::make_unique<MysqlPool>(key, address, limits_, server_info(address), this, codec_limits_, counters);
  MysqlPool& ref = *pool;
  pools_.emplace(std::move(id), std::move(pool));
  std::vector<MysqlPool*>& siblings = by_credentials_[key.credentials_id()];
  siblings.push_back(&ref);
  ref.credential_pools_ = &siblings;  // a map node: stays where it is while the map grows
  return ref;
}

rt::Task<MysqlAcquired> MysqlPools::acquire(MysqlKey key, rt::SocketAddress address, rt::Deadline deadline,
                                            rt::CancelSource* cancel) {
  MysqlPool& pool = get(key, address);
  co_return co_await pool.acquire(deadline, cancel);
}

MysqlServerInfo& MysqlPools::server_info(const rt::SocketAddress& address) { return servers_.of(address); }

MysqlPools::Convertible MysqlPools::lend_convertible(const MysqlKey& key, const MysqlPool* except) {
  auto found = by_credentials_.find(key.credentials_id());
  if (found == by_credentials_.end()) return {};
  for (MysqlPool* pool : found->second) {
    if (pool == except || pool->stopped()) continue;
    if (MysqlConnection* connection = pool->lend_idle_for(key)) return {pool, connection};
  }
  return {};
}

void MysqlPools::retire_before(const std::string& credentials_id, rt::Clock::time_point time) {
  auto found = by_credentials_.find(credentials_id);
  if (found == by_credentials_.end()) return;
  for (MysqlPool* pool : found->second) pool->retire_before(time);
}

void MysqlPools::client_joined(const std::string& credentials_id) { ++clients_[credentials_id]; }

void MysqlPools::client_left(const std::string& credentials_id) {
  auto found = clients_.find(credentials_id);
  if (found == clients_.end()) return;
  if (--found->second > 0) return;
  clients_.erase(found);
  retire_before(credentials_id, rt::Clock::now());
}

std::size_t MysqlPools::credentials_size(const std::string& credentials_id) const {
  const auto found = by_credentials_.find(credentials_id);
  if (found == by_credentials_.end()) return 0;
  std::size_t total = 0;
  for (const MysqlPool* pool : found->second) total += pool->size();
  return total;
}

bool MysqlPools::hand_to_sibling(MysqlPool& from, MysqlConnection* connection) {
  const auto found = by_credentials_.find(from.credentials_id_);
  if (found == by_credentials_.end()) return false;
  bool someone_waits = false;
  for (MysqlPool* pool : found->second) {
    if (pool == &from || pool->stopped()) continue;
    MysqlPool::Waiters::Waiter* waiter = pool->waiters_.first_live();
    if (waiter == nullptr) continue;
    someone_waits = true;
    if (!connection->can_conform_to(pool->key_)) continue;
    pool->waiters_.unlink(*waiter);  // before move_to, whose freed slot wakes some other waiter
    from.move_to(connection, *pool);
    // Counted as lent to `pool`; its acquire() converts it.
    waiter->wake(WaitOutcome::Handed, connection);
    return true;
  }
  if (!someone_waits) return false;
  // Sibling waiters exist but none can use it: close it, so its slot lets one of them open a connection.
  from.discard(connection);
  return true;
}

bool MysqlPools::discard_idle_sibling(const MysqlPool& for_pool) {
  const auto found = by_credentials_.find(for_pool.credentials_id_);
  if (found == by_credentials_.end()) return false;
  for (MysqlPool* pool : found->second) {
    if (pool == &for_pool || pool->idle_.empty()) continue;
    pool->discard(pool->idle_.front());  // the oldest: the least likely to be wanted soon
    return true;
  }
  return false;
}

void MysqlPools::wake_sibling(const MysqlPool& from) {
  const auto found = by_credentials_.find(from.credentials_id_);
  if (found == by_credentials_.end()) return;
  for (MysqlPool* pool : found->second) {
    if (pool == &from || pool->stopped()) continue;
    if (pool->waiters_.wake_for_slot()) return;
  }
}

void MysqlPools::watch_replicas(MysqlReplicaSet& set, MysqlKey credentials, std::chrono::milliseconds max_lag,
                                std::chrono::milliseconds interval) {
  // The set outlives join() (the caller's promise), and limits_ outlives these pools.
  replica_checks_.spawn(check_replicas(&set, std::move(credentials), &limits_, max_lag, interval,
                                       replica_checks_.cancel_source()));
}

void MysqlPools::stop() {
  replica_checks_.stop();
  for (auto& [id, pool] : pools_) pool->stop();
}

rt::Task<void> MysqlPools::join() {
  co_await replica_checks_.join();
  for (auto& [id, pool] : pools_) co_await pool->join();
}

}  // namespace corral::pool
