#include "proxy/mysql/exchange.h"

#include <string>
#include <utility>

#include "proxy/shared_state.h"
#include "runtime/log.h"

namespace corral::proxy {

namespace {

/// Queued reply bytes that make the relay write before the response is complete.
constexpr std::size_t kFlushThreshold = 64 * 1024;

}  // namespace

MysqlExchange::MysqlExchange(MysqlClientChannel& client, MysqlContext& context, pool::MysqlPools& pools,
                             const ListenerEnv& env, rt::CancelSource* cancel, LeaseBoundState& lease_bound)
    : client_(client),
      context_(context),
      pools_(pools),
      env_(env),
      cancel_(cancel),
      lease_bound_(lease_bound),
      backend_listener_(env.listener),
      backend_address_(&env.backend_address),
      replicas_(env.mysql_replicas),
      next_replica_(client.id()) {}

MysqlExchange::~MysqlExchange() {
  // A lease still held here carries session state (a transaction, user variables...): never pooled.
  if (lease_) lease_.release(false);
}

// ---- a statement on a backend connection ----------------------------------------------------------

rt::Task<bool> MysqlExchange::relay_statement(const ClientPacket& packet, const mysql::StatementTraits& traits) {
  // ROW_COUNT(), FOUND_ROWS() and LAST_INSERT_ID() answer about the connection's previous statement:
  // such a statement goes back to the connection that ran the client's previous one when nobody
  // borrowed it since (backend_for_statement()).
  const bool wants_previous = traits.uses_last_insert_id || traits.reads_previous_counts;
  if (lease_ && !lease_->state_unknown() && !lease_->idle_healthy()) {
    // The server ended the held connection while the client was idle (idle_transaction_timeout,
    // wait_timeout, a KILL from elsewhere). With the client's transaction or session state on it, the
    // client finds its connection gone, as it would direct (CR_SERVER_LOST rather than an ERR from
    // corral); a one-statement hold is simply let go.
    const bool had_state = context_.holds_session_state();
    release_backend(false);
    if (had_state) {
      rt::log::debug("mysql client {}: the server closed the connection holding its session", client_.id());
      context_.forget_backend_state();
      co_return false;
    }
  }
  route_read(traits);
  pool::MysqlConnection* backend = wants_previous && !lease_ ? nullptr : ready_backend(false);
  if (backend == nullptr) {
    backend = co_await backend_for_statement(packet.reply_sequence(), traits.uses_last_insert_id, wants_previous);
  }
  end_routing();
  if (backend == nullptr) {
    const bool flushed = co_await client_.flush();
    co_return flushed && after_backend_lost();
  }
  apply_statement_timeout(*backend);
  const auto sent = co_await backend->send_command_wire(packet.wire, cancel_);
  if (!sent) {
    last_relayed_sequence_ = packet.sequence_id;
    client_.queue_packet(packet.reply_sequence(), backend->error().err_payload());
    release_backend(false);
    const bool flushed = co_await client_.flush();
    co_return flushed && after_backend_lost();
  }
  const mysql::Command command = backend->command();
  last_relayed_sequence_ = packet.sequence_id;  // an error before any response packet follows the command
  const RelayEnd end = co_await relay_response(*backend);
  if (end == RelayEnd::ClientGone) co_return false;
  if (end == RelayEnd::BackendLost) {
    const bool flushed = co_await client_.flush();
    co_return flushed && after_backend_lost();
  }
  if (command == mysql::Command::COM_INIT_DB && !backend->summary().failed) {
    // Also right for a backend without session tracking.
    context_.set_schema(backend->schema());
  }
  const bool failed = backend->summary().failed;
  end_statement(*backend, traits);
  // The client set its own trackers: the server's values are the judge (the SET may name
  // expressions), read on the connection the SET pinned.
  if (traits.sets_trackers != 0 && !failed && lease_ && context_.trackers()) {
    co_await learn_client_trackers(*lease_, traits.sets_trackers);
  }
  if (!client_.queued()) co_return true;
  const auto written = co_await client_.write_queued();
  co_return client_.after_write_queued(written);
}

rt::Task<void> MysqlExchange::learn_client_trackers(pool::MysqlConnection& backend, std::uint8_t assigned) {
  const auto answer = co_await backend.query(
      "SELECT @@session.session_track_schema, @@session.session_track_state_change, "
      "@@session.session_track_system_variables, @@session.session_track_transaction_info",
      cancel_);
  if (!answer || !answer->ok() || answer->rows.size() != 1 || answer->rows[0].size() != 4) co_return;
  const auto& row = answer->rows[0];
  if (!row[0] || !row[1] || !row[2] || !row[3] || !context_.trackers()) co_return;
  const auto read = mysql::SessionTrackFilter::from_settings(*row[0], *row[1], *row[2], *row[3]);
  // The trackers the SET did not assign are corral's on this connection, not the client's: those
  // stay as the client had them.
  mysql::SessionTrackFilter trackers = *context_.trackers();
  if ((assigned & mysql::kTrackSchema) != 0) trackers.schema = read.schema;
  if ((assigned & mysql::kTrackStateChange) != 0) trackers.state_change = read.state_change;
  if ((assigned & mysql::kTrackSystemVariables) != 0) {
    trackers.all_variables = read.all_variables;
    trackers.variables = read.variables;
  }
  if ((assigned & mysql::kTrackTransactionInfo) != 0) {
    trackers.transaction_state = read.transaction_state;
    trackers.transaction_characteristics = read.transaction_characteristics;
  }
  context_.set_client_trackers(std::move(trackers));
}

// ---- backend leases --------------------------------------------------------------------------------

void MysqlExchange::follow_backend() {
  const MysqlBackendTarget* target = env_.mysql_target;
  const config::Listener* newest = target != nullptr ? target->listener() : nullptr;
  // A login (COM_CHANGE_USER) keyed the context to the session's own listener again.
  const bool relogged = context_.backend_listener() != backend_listener_;
  if (!relogged && (newest == nullptr || newest == backend_listener_)) return;  // every statement but a few
  if (relogged) use_backend(env_.listener, &env_.backend_address, env_.mysql_replicas);
  if (newest == nullptr || newest == backend_listener_ || lease_ || context_.holds_session_state()) return;
  const LoadedConfig& loaded = *target->loaded;
  env_.pools->keep_for_pools(target->loaded);
  context_.follow_backend(*newest, loaded.backend_tls[target->index].get());
  use_backend(newest, &loaded.backend_addresses[target->index], loaded.mysql_replicas[target->index].get());
  rt::log::debug("mysql client {}: follows listener {}'s backend to {}", client_.id(), newest->name,
                 newest->backend.redacted());
}

void MysqlExchange::use_backend(const config::Listener* listener, const rt::SocketAddress* address,
                                pool::MysqlReplicaSet* replicas) {
  backend_listener_ = listener;
  backend_address_ = address;
  replicas_ = replicas;
  // Nothing of the old backend answers for the next statement: no pool, replica or connection to go
  // back to for LAST_INSERT_ID() and the like.
  pool_ = nullptr;
  replica_key_version_ = ~0ull;
  previous_ = {};
  insert_id_here_ = false;
}

pool::MysqlPool& MysqlExchange::context_pool() {
  if (pool_ == nullptr || pool_key_version_ != context_.key_version()) {
    pool_ = &pools_.get(context_.key(), *backend_address_);
    pool_key_version_ = context_.key_version();
  }
  return *pool_;
}

pool::MysqlPool& MysqlExchange::replica_pool(std::size_t i) {
  if (replica_key_version_ != context_.key_version()) {
    replica_pools_.assign(replicas_->size(), nullptr);
    replica_key_version_ = context_.key_version();
  }
  if (replica_pools_[i] == nullptr) {
    const pool::MysqlReplicaSet::Replica& replica = replicas_->replica(i);
    replica_pools_[i] = &pools_.get(pool::replica_key(context_.key(), replica), replica.address);
  }
  return *replica_pools_[i];
}

bool MysqlExchange::is_replica(const pool::MysqlPool& pool) const noexcept {
  // A replica's address is never the primary's (the configuration refuses that).
  const config::BackendUrl& primary = backend_listener_->backend;
  return pool.key().port != primary.port || pool.key().host != primary.host;
}

pool::MysqlPool* MysqlExchange::choose_replica(const mysql::StatementTraits& traits) {
  pool::MysqlReplicaSet* replicas = replicas_;
  // A held connection keeps the statement (ready_backend()); a transaction or autocommit off holds one.
  if (replicas == nullptr || !traits.read_only || lease_ || context_.in_transaction()) return nullptr;
  const rt::Clock::duration read_your_writes = env_.config->mysql.read_your_writes;
  const bool recent_write = wrote_ && rt::Clock::now() - last_write_ < read_your_writes;
  // Within the window a replica may read only with causal reads, once it applied the client's GTID.
  if (recent_write && (!env_.config->mysql.causal_reads || !is_gtid_list(context_.last_gtid()))) return nullptr;
  causal_check_ = recent_write;
  // Round robin over the healthy replicas, per session (sessions start at different ones).
  const std::size_t count = replicas->size();
  for (std::size_t k = 0; k < count; ++k) {
    const std::size_t i = (next_replica_ + k) % count;
    if (!replicas->healthy(i)) continue;
    next_replica_ = i + 1;
    return &replica_pool(i);
  }
  return nullptr;  // none healthy: the primary serves reads too
}

void MysqlExchange::route_read(const mysql::StatementTraits& traits) {
  // A one-statement hold on a replica serves what reads there: another read, the questions about
  // the previous statement (SHOW WARNINGS, FOUND_ROWS()...); anything else lets it go.
  target_ = choose_replica(traits);
  keep_replica_hold_ = traits.read_only || traits.uses_last_insert_id || traits.reads_previous_counts ||
                       traits.asks_for != mysql::PreviousStatementQuery::None;
}

bool MysqlExchange::is_gtid_list(std::string_view gtid) noexcept {
  // "domain-server-sequence[,...]": what the tracker reports; checked because it goes into SQL text.
  return !gtid.empty() && gtid.find_first_not_of("0123456789-,") == std::string_view::npos;
}

rt::Task<bool> MysqlExchange::caught_up(pool::MysqlConnection& replica) {
  // Timeout 0: answers at once whether the replica has applied it (0) or not (-1); the read then goes
  // to the primary rather than wait for the replica.
  auto waited = co_await replica.query("SELECT MASTER_GTID_WAIT('" + context_.last_gtid() + "', 0)", cancel_);
  co_return waited && waited->ok() && !waited->rows.empty() && !waited->rows[0].empty() && waited->rows[0][0] == "0";
}

pool::MysqlPool& MysqlExchange::previous_pool() {
  if (previous_.pool != nullptr && replicas_ != nullptr && previous_.pool != &context_pool()) {
    for (std::size_t i = 0; i < replicas_->size(); ++i) {
      pool::MysqlPool& replica = replica_pool(i);
      if (previous_.pool == &replica) return replica;
    }
  }
  return context_pool();
}

bool MysqlExchange::hold_is_stale() const noexcept {
  // A connection held only for the previous statement's answers does not follow a key change
  // (COM_SET_OPTION, a charset switch), nor serve on a replica a statement that may write.
  if (!lease_ || context_.holds_session_state()) return false;
  return lease_key_version_ != context_.key_version() || (lease_on_replica_ && !keep_replica_hold_);
}

rt::Task<pool::MysqlConnection*> MysqlExchange::backend_for_statement(std::uint8_t reply_sequence,
                                                                      bool needs_last_insert_id,
                                                                      bool wants_previous) {
  if (hold_is_stale()) release_backend(true);
  if (lease_) {  // pinned: the connection has been the session's all along
    if (lease_->tracking_to_match_query_cache()) {
      const bool matched = co_await match_tracking_to_query_cache(*lease_);
      if (!matched) co_return fail_replay(reply_sequence);
    }
    co_return lease_.get();
  }
  follow_backend();
  if (wants_previous) {
    pool::MysqlLease reclaimed = previous_pool().reclaim(previous_);
    if (reclaimed) {
      adopt(std::move(reclaimed));
      const bool replayed = co_await replay_session(*lease_, needs_last_insert_id && !insert_id_here_);
      if (!replayed) co_return fail_replay(reply_sequence);
      co_return lease_.get();
    }
  }
  pool::MysqlAcquired acquired = co_await acquire_from(statement_pool());
  bool to_primary = false;
  if (!acquired.ok() && target_ != nullptr && acquired.code != std::errc::operation_canceled) {
    // Nothing was sent to the replica: the read may go to the primary instead (the health check
    // ejects the replica on its next round).
    rt::log::debug("mysql client {}: replica {} unavailable ({}): the read goes to the primary", client_.id(),
                   target_->key().describe(), acquired.error.message);
    to_primary = true;
  } else if (acquired.ok() && target_ != nullptr && causal_check_) {
    const bool applied = co_await caught_up(*acquired.lease);
    if (!applied) {
      const bool idle = acquired.lease->is_idle();
      acquired.lease.release(idle);
      to_primary = true;
    }
  }
  if (to_primary) {
    target_ = nullptr;
    acquired = co_await acquire_from(context_pool());
  }
  if (!acquired.ok()) {
    client_.queue_packet(reply_sequence, acquired.error.err_payload());
    co_return nullptr;
  }
  adopt(std::move(acquired.lease));
  const bool replayed = co_await replay_session(*lease_, needs_last_insert_id && !insert_id_here_);
  if (!replayed) co_return fail_replay(reply_sequence);
  co_return lease_.get();
}

rt::Task<pool::MysqlAcquired> MysqlExchange::acquire_from(pool::MysqlPool& pool) {
  // A busy pool's common cases (a ready connection, a wait in the queue until one is handed over)
  // cost no coroutine of the pool's; the rest is acquire()'s.
  pool::MysqlPool::Turn turn(pool, rt::Deadline::after(env_.config->pool.queue_timeout), cancel_);
  co_await turn;
  pool::MysqlAcquired acquired = turn.take();
  if (!acquired.ok() && !acquired.code) acquired = co_await pool.acquire(turn);
  co_return acquired;
}

void MysqlExchange::adopt(pool::MysqlLease lease) {
  // LAST_INSERT_ID() of another connection is someone else's (or this client's of long ago).
  if (!previous_.names(*lease)) insert_id_here_ = false;
  lease_on_replica_ = is_replica(*lease.pool());
  lease_ = std::move(lease);
  serving_thread_.store(lease_->connection_id(), std::memory_order_relaxed);
  lease_key_version_ = context_.key_version();
}

pool::MysqlConnection* MysqlExchange::fail_replay(std::uint8_t reply_sequence) {
  client_.queue_packet(reply_sequence, lease_->error().err_payload());
  release_backend(false);
  return nullptr;
}

rt::Task<bool> MysqlExchange::replay_session(pool::MysqlConnection& backend, bool needs_last_insert_id) {
  // Replay what the context has and this connection lacks; one statement, and none when it matches.
  auto assignments = context_.variables_assignments(backend.replayed_variables());
  if (needs_last_insert_id) {
    assignments.emplace_back("last_insert_id", "last_insert_id = " + std::to_string(context_.last_insert_id()));
  }
  if (assignments.empty()) co_return co_await match_tracking_to_query_cache(backend);
  if (needs_last_insert_id) insert_id_here_ = true;
  std::string replay;
  for (const auto& [name, assignment] : assignments) replay.append(replay.empty() ? "SET SESSION " : ", ").append(assignment);
  auto replayed = co_await backend.query(replay, cancel_);
  if (!replayed) co_return false;
  if (replayed->error) {
    // The server refused an assignment (a variable it reports but will not take back, a value it no
    // longer accepts). That is corral's failure, not the client's statement's: find the refused ones
    // one by one, stop replaying them (logged), apply the rest, and run the statement.
    rt::log::warn("mysql client {}: backend {} refused the replayed session variables ({}): replaying them one by one",
                  client_.id(), backend.describe(), replayed->error->message);
    for (const auto& [name, assignment] : assignments) {
      auto one = co_await backend.query("SET SESSION " + assignment, cancel_);
      if (!one) co_return false;
      if (one->error) {
        rt::log::warn("mysql client {}: session variable {} is no longer replayed: backend {} refused '{}': {}",
                      client_.id(), name, backend.describe(), assignment, one->error->message);
        context_.forget_variable(name);
      }
    }
  }
  backend.replayed_variables() = context_.variables_text();
  co_return co_await match_tracking_to_query_cache(backend);
}

rt::Task<bool> MysqlExchange::match_tracking_to_query_cache(pool::MysqlConnection& backend) {
  // A query_cache_type replayed here or relayed for an earlier client changed whether the server
  // may use its query cache: transaction-info tracking follows (the server caches nothing while it
  // is on). One more statement, only when some client's query_cache_type differs from the last one's.
  const std::optional<std::string_view> statement = backend.tracking_to_match_query_cache();
  if (!statement) co_return true;
  auto set = co_await backend.query(*statement, cancel_);
  if (!set) co_return false;
  if (set->error) {
    rt::log::warn("mysql client {}: backend {} refused '{}': {}; its tracking stays as it is", client_.id(),
                  backend.describe(), *statement, set->error->message);
    backend.keep_tracking_as_is();
  }
  co_return true;
}

pool::MysqlConnection* MysqlExchange::ready_backend(bool needs_last_insert_id) {
  if (lease_) {  // backend_for_statement() lets a stale hold go, and matches tracking to the query cache
    return hold_is_stale() || lease_->tracking_to_match_query_cache() ? nullptr : lease_.get();
  }
  follow_backend();
  if (needs_last_insert_id || causal_check_) return nullptr;
  pool::MysqlLease lease = statement_pool().try_acquire_ready();
  if (!lease) return nullptr;
  if (lease->replayed_variables() != context_.variables_text() || lease->tracking_to_match_query_cache()) {
    // Variables to replay: backend_for_statement() takes it again (newest idle first) and replays.
    lease.release(true);
    return nullptr;
  }
  adopt(std::move(lease));
  return lease_.get();
}

void MysqlExchange::end_statement(pool::MysqlConnection& backend, const mysql::StatementTraits& traits) {
  const mysql::ResponseSummary& summary = backend.summary();
  if (traits.has(mysql::StatementEffect::ConnectionId)) tell_thread(backend);
  context_.learn_from_response(summary, backend.session_changes(), backend.status_flags(), traits, last_result_set_);
  if (!summary.failed && summary.last_insert_id != 0) insert_id_here_ = true;
  // Read-your-writes: a query or execute that may have written (not read-only) sends this client's
  // reads to the primary for mysql.read_your_writes (only a listener with replicas reads the clock).
  const mysql::Command command = backend.command();
  if (replicas_ != nullptr && !traits.read_only &&
      (command == mysql::Command::COM_QUERY || command == mysql::Command::COM_STMT_EXECUTE)) {
    wrote_ = true;
    last_write_ = rt::Clock::now();
  }
  if (backend.replayed_variables() != context_.variables_text()) {
    backend.replayed_variables() = context_.variables_text();
  }
  count_pins(context_.started_pins());
  if (!context_.pinned()) {
    release_backend(!discard_lease_);
  } else if (lease_) {
    lease_->set_held(true);  // the pool's gauges count it as pinned until it comes back
  }
}

void MysqlExchange::tell_thread(const pool::MysqlConnection& backend) {
  // Every time, even for the id the client was told last: another client may have read it since
  // (the pool lent it the thread meanwhile), and this client read it again now.
  env_.shared->mysql_clients.publish_backend_thread(client_.id(), backend.connection_id());
}

void MysqlExchange::release_backend(bool clean) {
  // Cursors live on the connection: they end with the lease (while it is still valid to touch).
  if (lease_bound_.lease_ending()) context_.set_cursor_open(false);
  if (lease_) previous_ = lease_.release(clean && !discard_lease_);
  serving_thread_.store(0, std::memory_order_relaxed);
  discard_lease_ = false;
}

void MysqlExchange::release_if_unpinned() {
  if (!context_.pinned()) release_backend(true);
}

void MysqlExchange::retire_held_backend() noexcept {
  if (lease_) discard_lease_ = true;
}

bool MysqlExchange::fail_backend(pool::MysqlConnection& backend, std::uint8_t reply_sequence) {
  const pool::MysqlError& error = backend.error();
  if (error.empty()) {
    client_.queue_error(reply_sequence, pool::kErrBackendLost);
  } else {
    client_.queue_packet(reply_sequence, error.err_payload());
  }
  release_backend(false);
  return after_backend_lost();
}

bool MysqlExchange::after_backend_lost() {
  // A transaction or session state lived on the lost connection. Going on would run the client's
  // next statements without it (autocommitted, without its variables), so the client is closed after
  // the error, as a direct connection to a dying server would be.
  const bool had_state = context_.holds_session_state();
  context_.forget_backend_state();
  return !had_state;
}

void MysqlExchange::count_pins(MysqlPins started) {
  for (std::size_t i = 0; i < kMysqlPinReasonCount; ++i) {
    if ((started & (1u << i)) != 0) env_.shared->mysql_pins[i].fetch_add(1, std::memory_order_relaxed);
  }
}

// ---- relaying a response ---------------------------------------------------------------------------

rt::Task<MysqlExchange::RelayEnd> MysqlExchange::relay_response(pool::MysqlConnection& backend, bool file_requested) {
  if (file_requested) {
    const bool relayed = co_await relay_local_infile(backend);
    if (!relayed) co_return lost_mid_response(backend);
  }
  const bool rewrite_session_state = rewrites_session_state(backend);
  std::string& out = client_.output();
  for (;;) {
    auto polled = backend.poll_response_run();
    if (!polled) break;
    const pool::RelayRun& run = *polled;
    if (run.wire.empty()) {
      // Everything buffered has been relayed: write what is queued, then wait for more.
      if (!out.empty()) {
        const bool flushed = co_await client_.flush();
        if (!flushed) {
          release_backend(false);
          co_return RelayEnd::ClientGone;
        }
      }
      const auto n = co_await backend.response_read(cancel_);
      if (!backend.after_response_read(n)) break;
      continue;
    }
    last_relayed_sequence_ = run.last_sequence_id();
    const mysql::ResponseEvent* event = run.event;
    if (rewrite_session_state && event != nullptr && carries_session_state(backend, *event)) {
      out.append(run.wire.substr(0, run.last_packet));
      queue_client_ok(event->ok, run.wire.substr(run.last_packet), run.last_sequence_id());
    } else if (event != nullptr && !event->complete) {
      // More of the response may already be buffered (the next result of a multi-result, ...):
      // queue this part so all of it leaves in one write.
      out.append(run.wire);
    } else if (event != nullptr) {
      // The run ends the response: it leaves straight from the backend's read buffer (no copy)
      // together with what is queued, as far as the client's socket takes it now. The rest waits
      // queued, so a client slow to read never holds the backend connection.
      if (!client_.send_or_queue(run.wire)) {
        release_backend(false);
        co_return RelayEnd::ClientGone;
      }
    } else {
      // Rows up to the end of what is buffered, more to come: written straight from the backend's
      // read buffer with what is queued, waiting for the client, so the client paces the backend
      // and a result of any size streams through bounded memory.
      iovec parts[2];
      const rt::Result<void> written = co_await client_.write_through(run.wire, parts);
      if (!client_.after_write_queued(written)) {
        release_backend(false);
        co_return RelayEnd::ClientGone;
      }
    }
    if (event != nullptr && event->awaiting_client && event->phase == mysql::ResponsePhase::LocalInfileRequest) {
      const bool relayed = co_await relay_local_infile(backend);
      if (!relayed) break;
      continue;
    }
    if (event != nullptr && event->complete) {
      last_result_set_ = event->phase == mysql::ResponsePhase::ResultSetEnd;
      co_return RelayEnd::Complete;
    }
    if (out.size() >= kFlushThreshold) {
      const bool flushed = co_await client_.flush();
      if (!flushed) {
        release_backend(false);
        co_return RelayEnd::ClientGone;
      }
    }
  }
  co_return lost_mid_response(backend);
}

MysqlExchange::RelayEnd MysqlExchange::lost_mid_response(pool::MysqlConnection& backend) {
  // The backend failed mid-response (it closed itself): the client gets its error as the next packet.
  const pool::MysqlError& error = backend.error();
  rt::log::debug("mysql client {}: backend {} failed mid-response: {}", client_.id(), backend.describe(),
                 error.message);
  client_.queue_packet(static_cast<std::uint8_t>(last_relayed_sequence_ + 1),
                       error.empty() ? mysql::make_err(pool::kErrBackendLost) : error.err_payload());
  release_backend(false);
  return RelayEnd::BackendLost;
}

bool MysqlExchange::carries_session_state(const pool::MysqlConnection& backend,
                                          const mysql::ResponseEvent& event) noexcept {
  // A result set's terminator is an OK_Packet (and may carry session state) only under DEPRECATE_EOF.
  const bool ok_packet = event.phase == mysql::ResponsePhase::Ok ||
                         (event.phase == mysql::ResponsePhase::ResultSetEnd && event.ok.header == mysql::kEofHeader &&
                          (backend.capabilities() & mysql::CLIENT_DEPRECATE_EOF) != 0);
  return ok_packet && (event.ok.status_flags & mysql::SERVER_SESSION_STATE_CHANGED) != 0;
}

void MysqlExchange::queue_client_ok(const mysql::OK_Packet& backend_ok, std::string_view wire,
                                    std::uint8_t sequence_id) {
  std::string kept;  // what of the block the client gets: nothing without CLIENT_SESSION_TRACK
  if ((context_.capabilities() & mysql::CLIENT_SESSION_TRACK) != 0 && context_.trackers()) {
    auto filtered = mysql::filter_session_state(backend_ok.session_state_info, *context_.trackers());
    if (!filtered || *filtered == backend_ok.session_state_info) {
      client_.output().append(wire);  // all of it tracked (or not corral's to judge): as the server sent it
      return;
    }
    kept = std::move(*filtered);
  }
  mysql::OK_Packet ok = backend_ok;
  // The flag says the block is there; a server whose trackers report nothing does not set it.
  if (kept.empty()) ok.status_flags = static_cast<mysql::StatusFlags>(ok.status_flags & ~mysql::SERVER_SESSION_STATE_CHANGED);
  ok.session_state_info = kept;
  std::string& out = client_.output();
  const std::size_t at = mysql::begin_packet(out);
  mysql::encode_ok_packet(out, ok, context_.capabilities());
  mysql::finish_packet(out, at, sequence_id);
}

void MysqlExchange::queue_relayed_packet(const pool::MysqlConnection& backend, const mysql::WirePacket& packet,
                                         const mysql::ResponseEvent& event) {
  last_relayed_sequence_ = packet.sequence_id;
  if (event.complete) last_result_set_ = event.phase == mysql::ResponsePhase::ResultSetEnd;
  if (rewrites_session_state(backend) && carries_session_state(backend, event)) {
    queue_client_ok(event.ok, packet.wire, packet.sequence_id);
  } else {
    client_.output().append(packet.wire);
  }
}

rt::Task<bool> MysqlExchange::relay_local_infile(pool::MysqlConnection& backend) {
  // The request reached the client; its file comes back as packets ending with an empty one. The
  // command packet is done with: reading more client input may move the read buffer.
  const bool asked = co_await client_.flush();
  if (!asked) co_return false;
  client_.consume_packet();
  const rt::Deadline deadline = rt::Deadline::after(env_.config->pool.operation_timeout);
  for (;;) {
    // Forward every whole wire packet already buffered in one write.
    std::string_view buffered = client_.buffered();
    std::size_t whole = 0;
    bool ended = false;
    std::uint8_t last_sequence = 0;
    while (!ended && buffered.size() - whole >= mysql::kPacketHeaderSize) {
      const std::size_t length = mysql::header_payload_length(buffered.substr(whole));
      if (buffered.size() - whole < mysql::kPacketHeaderSize + length) break;
      last_sequence = static_cast<std::uint8_t>(buffered[whole + 3]);
      whole += mysql::kPacketHeaderSize + length;
      ended = length == 0;
    }
    if (whole > 0) {
      const auto sent = co_await backend.send_wire(buffered.substr(0, whole), cancel_);
      client_.consume(whole);
      if (!sent) co_return false;
    }
    if (ended) {
      backend.resume(static_cast<std::uint8_t>(last_sequence + 1));
      co_return true;
    }
    const bool read = co_await client_.read_more(deadline);
    if (!read) co_return false;
  }
}

}  // namespace corral::proxy
