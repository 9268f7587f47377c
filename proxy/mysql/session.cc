#include "proxy/mysql/session.h"

#include <cctype>
#include <charconv>
#include <chrono>

#include <string>
#include <utility>
#include <vector>

#include "pool/backoff.h"
#include "pool/mysql_own_threads.h"
#include "proxy/mysql/command_route.h"
#include "proxy/metrics.h"
#include "proxy/shared_state.h"
#include "runtime/log.h"

namespace corral::proxy {

namespace {

// Errors corral answers with (MariaDB server error reference).
constexpr mysql::ErrorSpec kErrNotAllowedCommand{1148, "42000", "The used command is not allowed"};
// ER_SUBQUERIES_NOT_SUPPORTED, as the server words it for a KILL.
constexpr mysql::ErrorSpec kErrKillSubquery{1970, "42000", "KILL does not support subqueries or stored functions"};

}  // namespace

rt::Task<void> MysqlFrontend::serve(rt::TcpStream client) {
  // The first session of a configuration starts its replicas' checker (on a reload that changed a
  // kept listener's backend, the worker already did: Worker::point_mysql_targets()).
  if (env().mysql_replicas != nullptr) check_replicas_once(pools(), *env().mysql_replicas, *env().listener, env().config->mysql);
  MysqlSession session(std::move(client), *this);
  co_await session.run();
}

MysqlSession::MysqlSession(rt::TcpStream client, MysqlFrontend& frontend)
    : env_(frontend.env()),
      cancel_(env_.stop_cancel),
      client_(std::move(client), env_, context_, &cancel_),
      statements_(env_.config->mysql.max_prepared_per_connection, env_.config->mysql.max_packet_size,
                  env_.shared->mysql_schema_changes, env_.config->mysql.share_prepared_statements),
      exchange_(client_, context_, frontend.pools(), env_, &cancel_, statements_),
      login_(client_, context_, frontend, &cancel_),
      frontend_(frontend) {
  context_.set_login_observer(this);
  context_.set_backend_tls(env_.backend_tls);
}

rt::Task<void> MysqlSession::run() {
  // Listed from the start, without an account until login (no KILL reaches it before): the account
  // is set before the client's OK leaves, so a KILL sent right after it finds the session.
  MysqlClientTable& clients = env_.shared->mysql_clients;
  clients.add(client_.id(), env_.loop, this, std::string(), client_.socket_fd(), exchange_.serving_thread());
  const bool logged_in = co_await login_.handshake();
  if (logged_in) {
    // The compressed protocol starts after the login's OK (which goes uncompressed), as on the server.
    if ((context_.capabilities() & mysql::CLIENT_COMPRESS) != 0) client_.start_compression();
    // What another session of this worker read lately is this one's too, from its first statement.
    apply_login_defaults();
    co_await serve_commands();
    client_.end_watch();  // a watcher still running ends; the session's frame joins it below
  }
  clients.remove(client_.id());
  // A KILL this session sent to the backend finishes first: it uses the worker's pools' address and
  // this session's key copy, and the session's frame owns the task scope.
  co_await side_tasks_.join();
}

rt::Task<void> MysqlSession::serve_commands() {
  for (;;) {
    client_.shrink_buffers();
    const rt::Deadline deadline = idle_deadline();
    if (client_.drained()) {
      // Idle here, not inside read_packet(): its frame is not held while the client thinks.
      const rt::Result<void> readable = co_await client_.wait_idle(deadline);
      if (!readable) co_return;
    }
    ClientPacket packet;
    const bool received = co_await client_.read_packet(packet, deadline, true, 0);  // a command: sequence 0
    if (!received) co_return;
    // Before the first command runs: its reports are filtered by the session's trackers.
    if (!login_defaults_known_) co_await learn_login_defaults();
    const rt::Clock::time_point started = env_.loop->now();  // the loop iteration that read the command
    // Before dispatch: the packet's bytes may be gone after it (LOAD DATA LOCAL reads more packets).
    RequestNote note = note_request(packet.payload);
    start_watch();
    const Step step = co_await dispatch(packet);
    client_.end_watch();
    observe_request(note, started);
    client_.consume_packet();
    if (step == Step::Close) {
      co_await client_.flush();
      co_return;
    }
  }
}

rt::Deadline MysqlSession::idle_deadline() const {
  std::chrono::milliseconds timeout = env_.config->client.idle_timeout;
  const std::chrono::milliseconds session = context_.wait_timeout();
  if (session.count() > 0 && (timeout.count() == 0 || session < timeout)) timeout = session;
  return timeout.count() > 0 ? rt::Deadline::after(timeout) : rt::Deadline::never();
}

namespace {

/// A global timeout as SELECT returned it (seconds), or zero.
std::chrono::seconds seconds_of(const std::optional<std::string>& text) {
  std::uint32_t seconds = 0;
  if (!text) return std::chrono::seconds(0);
  const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), seconds);
  return error == std::errc() && end == text->data() + text->size() ? std::chrono::seconds(seconds)
                                                                    : std::chrono::seconds(0);
}

/// Reads the backend's global wait_timeout, interactive_timeout and session_track_* settings into
/// `defaults` on a connection of its own, in a slot of `pool` (a pooled connection is some session's
/// previous one, whose ROW_COUNT(), FOUND_ROWS() and warnings a SELECT would overwrite). Zero and
/// nullopt when it failed.
rt::Task<void> read_global_defaults(pool::MysqlKey key, rt::SocketAddress address, const config::PoolLimits* limits,
                                    rt::CancelSource* cancel, MysqlFrontend::GlobalDefaults* defaults) {
  defaults->wait = defaults->interactive = std::chrono::seconds(0);
  defaults->trackers.reset();
  pool::MysqlConnection connection(*limits);
  const auto opened = co_await connection.open(key, address, cancel);
  if (!opened) {
    rt::log::debug("mysql: global defaults not read, no connection to {}: {}", key.describe(), connection.error().message);
    co_return;
  }
  const auto answer = co_await connection.query(
      "SELECT @@global.wait_timeout, @@global.interactive_timeout, @@global.session_track_schema, "
      "@@global.session_track_state_change, @@global.session_track_system_variables, "
      "@@global.session_track_transaction_info",
      cancel);
  if (answer && answer->ok() && answer->rows.size() == 1 && answer->rows[0].size() == 6) {
    const auto& row = answer->rows[0];
    defaults->wait = seconds_of(row[0]);
    defaults->interactive = seconds_of(row[1]);
    if (row[2] && row[3] && row[4] && row[5]) {
      defaults->trackers = mysql::SessionTrackFilter::from_settings(*row[2], *row[3], *row[4], *row[5]);
    }
  }
  connection.close();
}

}  // namespace

bool MysqlSession::apply_login_defaults() {
  const MysqlFrontend::GlobalDefaults& defaults = frontend_.global_defaults;
  const std::uint64_t changes = env_.shared->mysql_global_default_changes.load(std::memory_order_relaxed);
  const bool fresh =
      defaults.changes == changes && env_.loop->now() - defaults.read_at < MysqlFrontend::GlobalDefaults::kTtl;
  if (!fresh) return false;
  login_defaults_known_ = true;
  const bool interactive = (context_.capabilities() & mysql::CLIENT_INTERACTIVE) != 0;
  context_.set_login_wait_timeout(interactive ? defaults.interactive : defaults.wait);
  if (defaults.trackers) context_.set_default_trackers(*defaults.trackers);
  return true;
}

rt::Task<void> MysqlSession::learn_login_defaults() {
  if (apply_login_defaults()) co_return;
  MysqlFrontend::GlobalDefaults& defaults = frontend_.global_defaults;
  // Another session of this worker reads them now: this one asks again after its next command.
  if (defaults.reading) co_return;
  const std::uint64_t changes = env_.shared->mysql_global_default_changes.load(std::memory_order_relaxed);
  pool::MysqlKey key = context_.key();
  key.schema.clear();  // the schema may be gone; the read needs none
  // Within pool.max_connections: with no slot free now, a later command asks again.
  pool::MysqlPoolSlot slot = frontend_.pools().get(key, env_.backend_address).reserve_slot();
  if (!slot) co_return;
  defaults.reading = true;
  co_await read_global_defaults(std::move(key), env_.backend_address, &env_.config->pool, &cancel_, &defaults);
  defaults.reading = false;
  if (cancel_.cancelled()) co_return;  // the session ends: what it read (nothing) is not an answer
  defaults.read_at = env_.loop->now();
  defaults.changes = changes;
  apply_login_defaults();
}

void MysqlSession::start_watch() {
  client_.begin_watch();
  // A watcher whose wait end_watch() cancelled but which has not run since goes on for this command.
  if (watcher_running_) return;
  watcher_running_ = true;
  side_tasks_.spawn(watch_client());
}

rt::Task<void> MysqlSession::watch_client() {
  using Input = MysqlClientChannel::Input;
  Input input = Input::Nothing;
  while (client_.watch_allowed()) {
    input = client_.probe_input();
    if (input != Input::Nothing) break;
    rt::CancelSource round(&cancel_);  // end_watch() cancels it
    const rt::Result<void> readable = co_await client_.wait_input(&round);
    client_.watch_ended();
    if (!readable && cancel_.cancelled()) break;  // killed, or the worker stops: the session ends
  }
  watcher_running_ = false;
  // Data: the client sent its next command ahead; it is there (and the socket cannot be watched
  // again without reading it). A hang-up ends the session as KILL CONNECTION would.
  if (input == Input::HungUp) {
    rt::log::debug("mysql client {}: hung up while its command ran", client_.id());
    kill(MysqlKillScope::Connection);
  }
}

namespace {

RequestClass request_class(std::string_view payload) noexcept {
  if (payload.empty()) return RequestClass::Other;
  switch (static_cast<mysql::Command>(payload.front())) {
    case mysql::Command::COM_QUERY: return RequestClass::Query;
    case mysql::Command::COM_STMT_EXECUTE: return RequestClass::Execute;
    case mysql::Command::COM_STMT_PREPARE: return RequestClass::Prepare;
    default: return RequestClass::Other;
  }
}

/// A statement's text for the slow-request log: the first 200 bytes, and never one that may carry a
/// password (CREATE USER ... IDENTIFIED BY, SET PASSWORD, GRANT ... IDENTIFIED).
std::string loggable_statement(std::string_view sql) {
  constexpr std::size_t kMax = 200;
  std::string upper(sql.substr(0, 4096));
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  if (upper.find("IDENTIFIED") != std::string::npos || upper.find("PASSWORD") != std::string::npos) {
    return "<a statement that may carry a password, not logged>";
  }
  return sql.size() > kMax ? std::string(sql.substr(0, kMax)) + "..." : std::string(sql);
}

}  // namespace

MysqlSession::RequestNote MysqlSession::note_request(std::string_view payload) const {
  RequestNote note{request_class(payload), {}};
  // The statement is kept only when the slow-request log may need it.
  if (note.kind == RequestClass::Query && env_.config->server.slow_request.count() > 0) {
    note.statement = loggable_statement(payload.substr(1));
  }
  return note;
}

void MysqlSession::observe_request(const RequestNote& note, rt::Clock::time_point started) {
  // The loop's time (refreshed each iteration, so the time the reply was read, within the iteration
  // that wrote it): no clock read per request.
  const auto took = env_.loop->now() - started;
  env_.request_stats->observe(note.kind, took);
  const auto slow = env_.config->server.slow_request;
  if (slow.count() == 0 || took < slow) return;
  const std::string_view what = note.kind == RequestClass::Query ? std::string_view(note.statement) : to_string(note.kind);
  // The user the client logged in as: a [[users]] name, or with auth = "backend" the account itself.
  const std::string_view user = context_.user() != nullptr ? context_.user()->name : context_.key().user;
  rt::log::warn("listener {}: slow request: client {} (user '{}') took {}: {}", env_.listener->name, client_.id(), user,
                pool::milliseconds_text(took), what);
}

rt::Task<MysqlSession::Step> MysqlSession::reply() {
  if (!client_.queued()) co_return Step::Next;
  const auto written = co_await client_.write_queued();
  co_return client_.after_write_queued(written) ? Step::Next : Step::Close;
}

rt::Task<MysqlSession::Step> MysqlSession::dispatch(const ClientPacket& packet) {
  auto command = mysql::decode_command(packet.payload);
  if (!command) {
    client_.queue_error(packet.reply_sequence(), kErrMalformedPacket);
    co_return Step::Close;
  }
  // Handlers are awaited here, not through wrapper coroutines: one frame less per statement.
  switch (route_command(command->command)) {
    case CommandRoute::Query:
      co_return co_await handle_query(packet);
    case CommandRoute::Relay: {
      // Named: g++ 12 destroys a temporary in a co_await expression twice.
      const mysql::StatementTraits no_traits;
      const bool go_on = co_await exchange_.relay_statement(packet, no_traits);
      if (command->command == mysql::Command::COM_SHUTDOWN) co_return after_shutdown(go_on);
      co_return go_on ? Step::Next : Step::Close;
    }
    case CommandRoute::PreparedStatement: {
      // An execute of a prepared KILL is carried out here, as the KILL query is (statements.h).
      if (const mysql::KillStatement* kill = statements_.kill_to_execute(packet)) {
        co_return co_await carry_out_kill(packet, *kill);
      }
      if (command->command == mysql::Command::COM_STMT_PREPARE && !prepares_global_defaults_) {
        prepares_global_defaults_ = mysql::classify_statement(packet.payload.substr(1)).sets_global_defaults;
      }
      const bool go_on = co_await statements_.handle(exchange_, *command, packet);
      // corral does not know which statement an execute runs here: once the session prepared a SET
      // GLOBAL of a timeout, each of its COM_STMT_* makes the workers read the global timeouts again.
      if (prepares_global_defaults_) env_.shared->mysql_global_default_changes.fetch_add(1, std::memory_order_relaxed);
      co_return go_on ? Step::Next : Step::Close;
    }
    case CommandRoute::Ping:
      client_.queue_ok(packet.reply_sequence());
      co_return co_await reply();
    case CommandRoute::Quit:
      co_return Step::Close;
    case CommandRoute::SetOption:
      co_return co_await handle_set_option(packet);
    case CommandRoute::ChangeUser:
      co_return co_await handle_change_user(packet);
    case CommandRoute::ResetConnection:
      co_return co_await handle_reset_connection(packet);
    case CommandRoute::ProcessKill: {
      // COM_PROCESS_KILL: int<4> connection id (what mysql_kill() sends).
      if (packet.payload.size() < 5) {
        client_.queue_error(packet.reply_sequence(), kErrMalformedPacket);
        co_return Step::Close;
      }
      mysql::Reader r(packet.payload.substr(1));
      const std::uint64_t id = r.int4();
      co_return co_await kill_client(packet, id, MysqlKillScope::Connection);
    }
    case CommandRoute::Unsupported:
      break;
  }
  client_.queue_error(packet.reply_sequence(), mysql::ER_UNKNOWN_COM_ERROR,
                      "Unknown command: corral does not support " + mysql::to_string(command->command));
  co_return co_await reply();
}

rt::Task<MysqlSession::Step> MysqlSession::handle_query(const ClientPacket& packet) {
  auto query = mysql::decode_com_query(packet.payload, context_.capabilities(), client_.limits());
  const std::string_view sql = query ? query->query : std::string_view{};
  const mysql::StatementTraits traits = mysql::classify_statement(sql);
  if (!sql_prepared_kills_.empty()) {
    if (const mysql::KillStatement* kill = follow_sql_prepared(sql)) co_return co_await carry_out_kill(packet, *kill);
  }
  const QueryRoute route =
      route_query(traits, env_.config->mysql.local_infile, exchange_.held_backend() != nullptr);
  switch (route) {
    case QueryRoute::Relay: {
      const bool go_on = co_await exchange_.relay_statement(packet, traits);
      if (traits.shutdown) co_return after_shutdown(go_on);
      // Counted once it ran: a PREPARE answered from a response taken before now might describe
      // columns that are gone (statements.h).
      if (traits.changes_schema) env_.shared->mysql_schema_changes.fetch_add(1, std::memory_order_relaxed);
      if (traits.sets_global_defaults) {
        env_.shared->mysql_global_default_changes.fetch_add(1, std::memory_order_relaxed);
      }
      co_return go_on ? Step::Next : Step::Close;
    }
    case QueryRoute::AnswerLocally:
      // FOUND_ROWS() depends on the previous SELECT's LIMIT (offset rows count too): its connection
      // answers exactly when nobody borrowed it since; the context's row count is the fallback.
      if (traits.asks_for == mysql::PreviousStatementQuery::FoundRows && exchange_.previous_reclaimable()) {
        const bool go_on = co_await exchange_.relay_statement(packet, traits);
        co_return go_on ? Step::Next : Step::Close;
      }
      co_return co_await answer_locally(traits);
    case QueryRoute::RefuseLocalInfile:
      client_.queue_error(packet.reply_sequence(), kErrNotAllowedCommand,
                          "corral: LOAD DATA LOCAL INFILE is disabled (set mysql.local_infile = true to allow it)");
      break;
    case QueryRoute::Kill:
      co_return co_await handle_kill(packet, sql, traits);
  }
  co_return co_await reply();
}

MysqlSession::Step MysqlSession::after_shutdown(bool go_on) const noexcept {
  // The server ends every session when it shuts down, the one that asked first: so does corral for
  // that client, once the answer is out (mtr's shutdown_server waits for its connection to go).
  // Other clients stay; their next statement finds the server gone or back.
  return go_on && context_.last_statement_failed() ? Step::Next : Step::Close;
}

rt::Task<MysqlSession::Step> MysqlSession::answer_locally(const mysql::StatementTraits& traits) {
  std::vector<mysql::ColumnDefinition41> columns;
  std::vector<std::vector<mysql::TextValue>> rows;
  std::string value;    // a one-column answer
  std::string threads;  // Threads_connected's value (rows hold views)
  switch (traits.asks_for) {
    case mysql::PreviousStatementQuery::RowCount:
      columns.push_back(mysql::make_integer_column(traits.column_name));
      value = std::to_string(context_.row_count());
      break;
    case mysql::PreviousStatementQuery::FoundRows:
      columns.push_back(mysql::make_integer_column(traits.column_name, true));
      value = std::to_string(context_.found_rows());
      break;
    case mysql::PreviousStatementQuery::WarningCount:
      // A statement with warnings or an error keeps its connection, so the count here is always 0.
      columns.push_back(mysql::make_integer_column(traits.column_name, true));
      value = "0";
      break;
    case mysql::PreviousStatementQuery::ThreadsConnected:
      // Through corral, the server a client talks to is corral: its MySQL clients, not the backend
      // connections it pools (mtr's wait_until_count_sessions.inc waits for disconnects to show here).
      columns.push_back(mysql::make_text_column("Variable_name", 64));
      columns.push_back(mysql::make_text_column("Value", 2048));
      threads = std::to_string(env_.shared->mysql_clients.size());
      rows.push_back({mysql::TextValue("Threads_connected"), mysql::TextValue(threads)});
      break;
    case mysql::PreviousStatementQuery::ShowWarnings:
      columns.push_back(mysql::make_text_column("Level", 7));
      columns.push_back(mysql::make_integer_column("Code", true));
      columns.push_back(mysql::make_text_column("Message", 512));
      break;
    case mysql::PreviousStatementQuery::None:
      break;
  }
  if (!value.empty()) rows.push_back({mysql::TextValue(value)});
  mysql::append_text_result_set(client_.output(), 1, columns, rows, context_.capabilities(), context_.status_flags());
  co_return co_await reply();
}

rt::Task<MysqlSession::Step> MysqlSession::handle_set_option(const ClientPacket& packet) {
  const auto option = mysql::decode_com_set_option(packet.payload);
  if (!option || (*option != mysql::MYSQL_OPTION_MULTI_STATEMENTS_ON && *option != mysql::MYSQL_OPTION_MULTI_STATEMENTS_OFF)) {
    client_.queue_error(packet.reply_sequence(), mysql::ER_UNKNOWN_COM_ERROR,
                        "Unknown command: unknown COM_SET_OPTION option");
    co_return co_await reply();
  }
  // CLIENT_MULTI_STATEMENTS is part of the pool key: the next statement takes a connection that
  // negotiated the new setting. A pinned connection keeps the old one and is closed at the end of
  // its pin (its negotiated setting no longer matches its pool).
  exchange_.retire_held_backend();
  context_.set_multi_statements(*option == mysql::MYSQL_OPTION_MULTI_STATEMENTS_ON);
  std::string& out = client_.output();
  const std::size_t at = mysql::begin_packet(out);
  if ((context_.capabilities() & mysql::CLIENT_DEPRECATE_EOF) != 0) {
    mysql::OK_Packet ok;
    ok.header = mysql::kEofHeader;
    ok.status_flags = context_.status_flags();
    mysql::encode_ok_packet(out, ok, context_.capabilities());
  } else {
    mysql::encode_eof_packet(out, mysql::EOF_Packet{0, context_.status_flags()}, context_.capabilities());
  }
  mysql::finish_packet(out, at, packet.reply_sequence());
  co_return co_await reply();
}

rt::Task<MysqlSession::Step> MysqlSession::handle_change_user(const ClientPacket& packet) {
  const std::uint8_t reply_sequence = packet.reply_sequence();
  auto change = mysql::decode_com_change_user(packet.payload, context_.capabilities(), client_.limits());
  client_.consume_packet();
  if (!change) {
    client_.queue_error(reply_sequence, kErrMalformedPacket);
    co_return Step::Close;
  }
  // Whatever the outcome, the old session ends here: its state must not reach the new user.
  exchange_.release_backend(false);
  exchange_.forget_previous();
  context_.reset();
  statements_.clear();
  sql_prepared_kills_.clear();
  const bool logged_in = co_await login_.change_user(std::move(*change), reply_sequence);
  co_return logged_in ? Step::Next : Step::Close;  // a refused change keeps the connection (login.h)
}

rt::Task<MysqlSession::Step> MysqlSession::handle_reset_connection(const ClientPacket& packet) {
  // The backend connection of a pinned session holds the state being reset: close it rather than
  // trying to clean it (the next statement takes a fresh lease). A one-statement hold holds no state.
  exchange_.release_backend(!context_.holds_session_state());
  exchange_.forget_previous();
  context_.reset();
  statements_.clear();  // the server drops a session's prepared statements on reset
  sql_prepared_kills_.clear();
  client_.queue_ok(packet.reply_sequence());
  co_return co_await reply();
}


// ---- KILL -----------------------------------------------------------------------------------------

namespace {

/// Runs `sql` (KILL QUERY|CONNECTION <backend thread id>) on a connection of its own, opened outside
/// the pool: a KILL must not wait behind the statements it is meant to stop (the pool may be at
/// max_connections with exactly those). Parameters by value: the task outlives the caller's statement.
rt::Task<void> kill_backend_thread(pool::MysqlKey key, rt::SocketAddress address, const config::PoolLimits* limits,
                                   std::string sql, rt::CancelSource* cancel) {
  pool::MysqlConnection connection(*limits);
  const auto opened = co_await connection.open(key, address, cancel);
  if (!opened) {
    rt::log::warn("mysql: '{}' not sent, no connection to {}: {}", sql, key.describe(), connection.error().message);
    co_return;
  }
  const auto killed = co_await connection.query(sql, cancel);
  if (!killed) {
    rt::log::warn("mysql: '{}' failed: {}", sql, connection.error().message);
  } else if (killed->error && killed->error->code != mysql::ER_NO_SUCH_THREAD.code) {
    // 1094: the thread ended meanwhile (the statement finished, the connection closed): nothing to do.
    rt::log::warn("mysql: '{}' refused: {}", sql, killed->error->message);
  }
  connection.close();
}

}  // namespace

void MysqlSession::logged_in(const pool::MysqlKey& key) noexcept {
  record_login(env_.shared->metrics, env_.listener->name);
  env_.shared->mysql_clients.set_backend_user(client_.id(), key.user);
}

void MysqlSession::kill(MysqlKillScope scope) noexcept {
  // The backend thread serving this client now, if any. A KILL QUERY that arrives after the
  // statement ended finds no lease here and does nothing, as the server does for an idle thread.
  pool::MysqlConnection* backend = exchange_.held_backend();
  if (backend != nullptr) {
    // Whatever the KILL meets when it lands, it never meets another client: the connection is
    // closed at the end of this lease instead of going back to the pool.
    exchange_.retire_held_backend();
    pool::MysqlKey key = context_.key();
    key.schema.clear();  // the schema may be gone; the KILL needs none
    const char* what = scope == MysqlKillScope::Query ? "KILL QUERY " : "KILL CONNECTION ";
    // The session's frame owns side_tasks_ and joins it before it ends; the worker's stop cancels it.
    side_tasks_.spawn(kill_backend_thread(std::move(key), env_.backend_address, &env_.config->pool,
                                          what + std::to_string(backend->connection_id()), env_.stop_cancel));
  }
  if (scope == MysqlKillScope::Connection) {
    rt::log::debug("mysql client {}: killed", client_.id());
    cancel_.cancel();  // every wait of the session ends; its held connection is closed
  }
}

rt::Task<MysqlSession::Step> MysqlSession::handle_kill(const ClientPacket& packet, std::string_view sql,
                                                       const mysql::StatementTraits& traits) {
  const std::optional<mysql::KillStatement> kill = mysql::parse_kill(sql);
  if (!kill) {
    const std::optional<mysql::SqlPreparedStatement> prepared = mysql::parse_sql_prepared(sql);
    if (prepared && prepared->prepares_kill) co_return co_await prepare_sql_kill(packet, *prepared, traits);
  }
  if (const std::string_view refusal = kill_refusal(kill); !refusal.empty()) {
    client_.queue_error(packet.reply_sequence(), mysql::ER_NOT_SUPPORTED_YET, refusal);
    co_return co_await reply();
  }
  co_return co_await carry_out_kill(packet, *kill);
}

rt::Task<MysqlSession::Step> MysqlSession::prepare_sql_kill(const ClientPacket& packet,
                                                            const mysql::SqlPreparedStatement& prepared,
                                                            const mysql::StatementTraits& traits) {
  if (const std::string_view refusal = kill_refusal(prepared.kill); !refusal.empty()) {
    client_.queue_error(packet.reply_sequence(), mysql::ER_NOT_SUPPORTED_YET, refusal);
    co_return co_await reply();
  }
  // The server prepares it as it would direct (its answer, its replacing of an older statement of the
  // name) and pins the session (SQL PREPARE); only EXECUTE name is corral's. An EXECUTE corral cannot
  // read (in a procedure, among other statements) reaches the server: see "Tenant isolation".
  const bool go_on = co_await exchange_.relay_statement(packet, traits);
  const pool::MysqlConnection* pinned = exchange_.held_backend();
  if (pinned != nullptr && !pinned->summary().failed) sql_prepared_kills_.emplace(prepared.name, *prepared.kill);
  co_return go_on ? Step::Next : Step::Close;
}

const mysql::KillStatement* MysqlSession::follow_sql_prepared(std::string_view sql) {
  const std::optional<mysql::SqlPreparedStatement> use = mysql::parse_sql_prepared(sql);
  if (!use) return nullptr;
  if (use->verb == mysql::SqlPreparedStatement::Verb::Execute) {
    const auto it = sql_prepared_kills_.find(use->name);
    return it == sql_prepared_kills_.end() ? nullptr : &it->second;
  }
  sql_prepared_kills_.erase(use->name);  // a new statement of the name (maybe a KILL again), or none
  return nullptr;
}

rt::Task<MysqlSession::Step> MysqlSession::carry_out_kill(const ClientPacket& packet, const mysql::KillStatement& kill) {
  std::uint64_t id = kill.target == mysql::KillStatement::Target::Self ? client_.id() : kill.id;
  if (kill.target == mysql::KillStatement::Target::Expression && kill.uses_table) {
    client_.queue_error(packet.reply_sequence(), kErrKillSubquery);
    co_return co_await reply();
  }
  if (kill.target == mysql::KillStatement::Target::Expression) {
    const KillTarget target = co_await evaluate_kill_target(packet, kill.expression);
    if (!target.id) {
      const Step step = co_await reply();  // the server's error, or the backend's loss, is queued
      co_return target.go_on ? step : Step::Close;
    }
    id = *target.id;
  }
  co_return co_await kill_client(packet, id, kill.query ? MysqlKillScope::Query : MysqlKillScope::Connection);
}

rt::Task<MysqlSession::KillTarget> MysqlSession::evaluate_kill_target(const ClientPacket& packet,
                                                                      std::string_view expression) {
  // The server takes the expression's integer value (NULL is 0) as the thread id, evaluated in the
  // session: its user variables, its schema. CAST AS SIGNED is that value; a negative one is taken as
  // unsigned, as the server does. Only the id is the server's: the KILL itself stays corral's.
  pool::MysqlConnection* backend = co_await exchange_.backend_for_statement(packet.reply_sequence());
  if (backend == nullptr) co_return KillTarget{std::nullopt, exchange_.after_backend_lost()};
  std::string sql = "SELECT CAST((";
  sql.append(expression).append(") AS SIGNED)");
  const auto answer = co_await backend->query(sql, &cancel_);
  if (!answer) co_return KillTarget{std::nullopt, exchange_.fail_backend(*backend, packet.reply_sequence())};
  exchange_.release_if_unpinned();
  if (answer->error) {
    client_.queue_packet(packet.reply_sequence(), answer->error->err_payload());
    co_return KillTarget{};
  }
  std::int64_t value = 0;
  if (answer->rows.size() == 1 && answer->rows[0].size() == 1 && answer->rows[0][0]) {
    const std::string& text = *answer->rows[0][0];
    std::from_chars(text.data(), text.data() + text.size(), value);
  }
  co_return KillTarget{static_cast<std::uint64_t>(value)};
}

rt::Task<MysqlSession::Step> MysqlSession::kill_client(const ClientPacket& packet, std::uint64_t id,
                                                       MysqlKillScope scope) {
  const std::string id_text = std::to_string(id);
  using Outcome = MysqlClientTable::KillOutcome;
  const Outcome outcome = id > UINT32_MAX ? Outcome::NoSuchId
                                          : env_.shared->mysql_clients.kill(static_cast<std::uint32_t>(id), client_.id(),
                                                                             context_.key().user, scope);
  switch (outcome) {
    case Outcome::Self:
      // Its own statement (this KILL) is what runs: the server answers the same way.
      if (scope == MysqlKillScope::Connection) {
        client_.queue_error(packet.reply_sequence(), mysql::ER_CONNECTION_KILLED);
        co_return Step::Close;
      }
      client_.queue_error(packet.reply_sequence(), mysql::ER_QUERY_INTERRUPTED);
      break;
    case Outcome::Posted:
      client_.queue_ok(packet.reply_sequence());
      break;
    case Outcome::NoSuchId:
      if (id <= UINT32_MAX && may_hand_kill_to_server(static_cast<std::uint32_t>(id))) {
        co_return co_await kill_on_server(packet, id_text, scope);
      }
      client_.queue_error(packet.reply_sequence(), mysql::ER_NO_SUCH_THREAD, "Unknown thread id: " + id_text);
      break;
    case Outcome::NotOwner:
      client_.queue_error(packet.reply_sequence(), mysql::ER_KILL_DENIED_ERROR, "You are not owner of thread " + id_text);
      break;
  }
  co_return co_await reply();
}

bool MysqlSession::may_hand_kill_to_server(std::uint32_t thread) const {
  // Only the client's own account may be asked to kill: with [[users]] the backend account is
  // corral's, shared by every client, and the server would let one end another's threads.
  if (env_.listener->auth != config::AuthMode::Backend) return false;
  return !pool::MysqlOwnThreads::of_process().contains(env_.backend_address.to_string(), thread);
}

rt::Task<MysqlSession::Step> MysqlSession::kill_on_server(const ClientPacket& packet, const std::string& id_text,
                                                          MysqlKillScope scope) {
  pool::MysqlConnection* backend = co_await exchange_.backend_for_statement(packet.reply_sequence());
  if (backend == nullptr) {
    const bool go_on = exchange_.after_backend_lost();
    const Step step = co_await reply();
    co_return go_on ? step : Step::Close;
  }
  const std::string sql = (scope == MysqlKillScope::Query ? "KILL QUERY " : "KILL CONNECTION ") + id_text;
  const auto answer = co_await backend->query(sql, &cancel_);
  if (!answer) {
    const bool go_on = exchange_.fail_backend(*backend, packet.reply_sequence());
    const Step step = co_await reply();
    co_return go_on ? step : Step::Close;
  }
  exchange_.release_if_unpinned();
  if (answer->error) {
    client_.queue_packet(packet.reply_sequence(), answer->error->err_payload());
  } else {
    client_.queue_ok(packet.reply_sequence());
  }
  co_return co_await reply();
}

}  // namespace corral::proxy
