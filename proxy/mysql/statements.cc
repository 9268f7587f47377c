#include "proxy/mysql/statements.h"

#include <algorithm>
#include <span>
#include <string>
#include <utility>

#include "pool/mysql_connection.h"
#include "protocols/mysql/primitives.h"
#include "proxy/mysql/client_table.h"
#include "proxy/mysql/exchange.h"
#include "runtime/event_loop.h"

namespace corral::proxy {

namespace {

/// mariadbd's ER_UNKNOWN_ERROR at the execute after more COM_STMT_SEND_LONG_DATA bytes than its
/// max_allowed_packet.
constexpr mysql::ErrorSpec kErrLongDataTooLong{
    1105, "HY000",
    "Parameter of prepared statement which is set through mysql_send_long_data() is longer than "
    "'max_allowed_packet' bytes"};

/// The client's packet as a mutable span: it views the session's own read buffer, and the statement
/// id is rewritten there so the packet is relayed without a copy.
std::span<char> mutable_wire(const ClientPacket& packet) noexcept {
  return {const_cast<char*>(packet.wire.data()), packet.wire.size()};
}

/// mariadbd's answer to a COM_STMT_EXECUTE shorter than its own counts (scan_execute() refused it),
/// as tried against mariadbd 10.11: ERR 1210 when the fixed part (id, flags, iteration count) is
/// whole but the NULL bitmap or the new_params_bound byte is missing, ERR 1835 when the fixed part or
/// the type block is cut short. (The offsets are those without CLIENT_QUERY_ATTRIBUTES, which MariaDB
/// does not offer.)
const mysql::ErrorSpec& malformed_execute_error(std::string_view payload, std::uint16_t num_params) noexcept {
  constexpr std::size_t kFixedSize = 10;  // command byte, int<4> id, int<1> flags, int<4> iteration count
  const std::size_t bound_flag_at = kFixedSize + (num_params + 7u) / 8u;
  const bool lacks_bitmap = payload.size() >= kFixedSize && payload.size() <= bound_flag_at;
  return lacks_bitmap ? kErrExecuteArguments : kErrMalformedPacket;
}

}  // namespace

void MysqlStatements::clear() noexcept {
  statements_.clear();
  last_prepared_ = 0;
  open_cursors_ = 0;
}

bool MysqlStatements::lease_ending() noexcept {
  if (open_cursors_ == 0) return false;
  for (auto& [id, statement] : statements_) close_cursor(statement);
  return true;
}

MysqlStatements::Statement* MysqlStatements::find(std::uint32_t client_id) noexcept {
  const auto it = statements_.find(resolve(client_id));
  return it == statements_.end() ? nullptr : &it->second;
}

MysqlStatements::Statement* MysqlStatements::find_or_refuse(MysqlExchange& exchange, const ClientPacket& packet,
                                                            std::uint32_t client_id, std::string_view command) {
  Statement* statement = find(client_id);
  if (statement == nullptr) {
    exchange.client().queue_error(packet.reply_sequence(), mysql::ER_UNKNOWN_STMT_HANDLER,
                                  "Unknown prepared statement handler (" + std::to_string(client_id) +
                                      ") given to " + std::string(command));
  }
  return statement;
}

void MysqlStatements::sync_cursor_pin(MysqlExchange& exchange) const noexcept {
  exchange.context().set_cursor_open(open_cursors_ > 0);
}

void MysqlStatements::close_cursor(Statement& statement) noexcept {
  if (statement.cursor == nullptr) return;
  statement.cursor->cursor_open = false;
  statement.cursor = nullptr;
  --open_cursors_;
}

rt::Task<bool> MysqlStatements::handle(MysqlExchange& exchange, const mysql::CommandPacket& command,
                                       const ClientPacket& packet) {
  // Not a coroutine: the caller awaits the handler's own task, one frame less per statement.
  switch (command.command) {
    case mysql::Command::COM_STMT_PREPARE:
      return prepare(exchange, packet);
    case mysql::Command::COM_STMT_EXECUTE:
      return execute(exchange, packet);
    case mysql::Command::COM_STMT_FETCH:
      return fetch(exchange, packet);
    case mysql::Command::COM_STMT_RESET:
      return reset(exchange, packet);
    case mysql::Command::COM_STMT_CLOSE:
    case mysql::Command::COM_STMT_SEND_LONG_DATA:
      return handle_silent(exchange, command, packet);
    default:  // COM_STMT_BULK_EXECUTE: the last COM_STMT_* route_command() sends here
      return bulk_execute(exchange, packet);
  }
}

rt::Task<bool> MysqlStatements::handle_silent(MysqlExchange& exchange, const mysql::CommandPacket& command,
                                              const ClientPacket& packet) {
  if (command.command == mysql::Command::COM_STMT_CLOSE) {
    const bool go_on = co_await close(exchange, packet);
    if (go_on) co_await yield_every_few(exchange);
    co_return go_on;
  }
  send_long_data(packet);  // no response, as from a server
  co_await yield_every_few(exchange);
  co_return true;
}

rt::Task<void> MysqlStatements::yield_every_few(MysqlExchange& exchange) {
  // Commands without a response never wait for I/O: a client that sends thousands of them in one go
  // (libmysqlclient closing its statements) would keep the loop to itself, and in builds without
  // tail calls (Debug, ASan) each one would nest the session's stack deeper. Every so often the
  // session waits for the next loop turn, which unwinds the stack and lets other sessions run.
  if (++silent_commands_ % kSilentCommandsPerTurn != 0) co_return;
  co_await rt::sleep_for(std::chrono::nanoseconds(1), exchange.cancel());
}

rt::Task<bool> MysqlStatements::fail(MysqlExchange& exchange, pool::MysqlConnection& backend,
                                     std::uint8_t reply_sequence) {
  const bool go_on = exchange.fail_backend(backend, reply_sequence);
  const bool flushed = co_await exchange.client().flush();
  co_return flushed && go_on;
}

rt::Task<bool> MysqlStatements::lost(MysqlExchange& exchange) {
  const bool flushed = co_await exchange.client().flush();
  co_return flushed && exchange.after_backend_lost();
}

// ---- COM_STMT_PREPARE ----------------------------------------------------------------------------

void MysqlStatements::answer_prepare(MysqlExchange& exchange, const pool::PreparedTemplate& prepared,
                                     std::uint32_t client_id, std::uint8_t first_sequence_id) {
  // The cached response is the backend's wire packets; only the statement id (first packet) and the
  // sequence ids (when the client's PREPARE spanned several packets) differ for this client.
  std::string_view rest = prepared.prepare_response;
  std::uint8_t sequence = first_sequence_id;
  bool first = true;
  std::string prepare_ok;
  while (rest.size() >= mysql::kPacketHeaderSize) {
    const std::size_t length = mysql::header_payload_length(rest);
    const std::string_view payload = rest.substr(mysql::kPacketHeaderSize, length);
    if (first) {
      prepare_ok.assign(payload);
      std::string id;
      mysql::Writer(id).int4(client_id);
      prepare_ok.replace(1, 4, id);  // COM_STMT_PREPARE_OK: 0x00, int<4> statement_id, ...
      exchange.client().queue_packet(sequence++, prepare_ok);
      first = false;
    } else {
      exchange.client().queue_packet(sequence++, payload);
    }
    rest.remove_prefix(mysql::kPacketHeaderSize + length);
  }
}

rt::Task<bool> MysqlStatements::prepare(MysqlExchange& exchange, const ClientPacket& packet) {
  last_prepared_ = 0;  // until this one succeeds: an execute of "the last one" then finds nothing
  const auto sql = mysql::decode_com_stmt_prepare(packet.payload);
  if (!sql) {
    exchange.client().queue_error(packet.reply_sequence(), mysql::ER_UNKNOWN_COM_ERROR, "Malformed COM_STMT_PREPARE");
    co_return co_await exchange.client().flush();
  }
  mysql::StatementTraits traits = mysql::classify_statement(*sql);
  if (traits.kill || traits.dynamic_kill) co_return co_await prepare_kill(exchange, packet, *sql);
  // What the PREPARE itself leaves: the previous statement's warnings stay if the text names no table.
  mysql::StatementTraits prepare_traits;
  prepare_traits.keeps_diagnostics = traits.keeps_diagnostics;
  if (statements_.size() >= kMaxStatementsPerSession) {
    exchange.client().queue_error(packet.reply_sequence(), kErrTooManyStatements);
    co_return co_await exchange.client().flush();
  }
  const std::uint64_t schema_changes = schema_changes_.load(std::memory_order_relaxed);
  ++own_templates_;
  // Held at once: a client closing the text's last statement while this PREPARE waits for a backend
  // must not retire it under this one.
  pool::TemplateHold prepared(exchange.pools().prepared_templates().find_or_add(
      template_context(exchange, schema_changes), exchange.context().schema(), *sql));
  // The cached PREPARE warned: the server must warn again where SHOW WARNINGS can see it.
  const bool again = prepared->prepare_warnings > 0;
  if (prepared->prepare_response.empty() || again) {
    // Nobody prepared this text since the last definition change, or see above: the server checks
    // it (and may refuse it).
    pool::MysqlConnection* backend = co_await exchange.backend_for_statement(packet.reply_sequence());
    if (backend == nullptr) co_return co_await exchange.client().flush();
    if (again) {
      // A statement cached on this connection would be reused as it is: prepare it anew.
      auto closed = co_await pool::close_on(*backend, prepared->id, exchange.cancel());
      if (!closed) co_return co_await fail(exchange, *backend, packet.reply_sequence());
    }
    auto outcome =
        co_await pool::prepare_on(*backend, prepared.shared(), max_prepared_per_connection_, exchange.cancel());
    if (!outcome) co_return co_await fail(exchange, *backend, packet.reply_sequence());
    if (!outcome->refusal.empty()) {
      exchange.client().queue_packet(packet.reply_sequence(), outcome->refusal);
      exchange.end_statement(*backend, prepare_traits);
      co_return co_await exchange.client().flush();
    }
    exchange.end_statement(*backend, prepare_traits);
  }
  const std::uint32_t client_id = take_id();
  last_prepared_ = client_id;
  answer_prepare(exchange, *prepared, client_id, packet.reply_sequence());
  statements_.emplace(client_id, Statement{std::move(prepared), {}, false, nullptr, traits.changes_schema,
                                           traits.read_only, traits.effects, traits.ended_effects,
                                           traits.uses_last_insert_id, traits.reads_previous_counts,
                                           std::move(traits.names_collation), std::nullopt,
                                           traits.unscoped_wait_timeout, traits.keeps_diagnostics});
  co_return co_await exchange.client().flush();
}

std::string MysqlStatements::template_context(MysqlExchange& exchange, std::uint64_t schema_changes) const {
  const MysqlContext& context = exchange.context();
  std::string id = context.key().id();
  id.append("|").append(context.variables_text()).append("|").append(std::to_string(schema_changes));
  if ((context.pins() & pin_bit(MysqlPinReason::TemporaryTable)) != 0) {
    id.append("|client ").append(std::to_string(exchange.client().id()));
  }
  // What the key and the variables do not say may change how the text parses (SET @@sql_mode =
  // 'NO_BACKSLASH_ESCAPES') or what the PREPARE answers (column names in character_set_results): the
  // session's own template, new after each such change.
  if (!share_) {
    // mysql.share_prepared_statements = false: this PREPARE is the server's, as on a direct connection.
    id.append("|own ").append(std::to_string(exchange.client().id()));
    id.append("/").append(std::to_string(own_templates_));
  }
  if (context.has_unsaid_state()) {
    id.append("|session ").append(std::to_string(exchange.client().id()));
    id.append("/").append(std::to_string(context.unsaid_state_changes()));
  }
  return id;
}

void MysqlStatements::check_columns(const pool::PreparedTemplate& prepared, const mysql::ResponseEvent& first) noexcept {
  // A template without columns (CALL, a statement that writes) says nothing about a result set.
  if (first.phase != mysql::ResponsePhase::ColumnCount || prepared.num_columns == 0) return;
  if (first.column_count != prepared.num_columns) schema_changes_.fetch_add(1, std::memory_order_relaxed);
}

std::uint32_t MysqlStatements::take_id() noexcept {
  // After 2^32 prepares the counter wraps.
  while (next_id_ == 0 || statements_.contains(next_id_)) ++next_id_;
  return next_id_++;
}

rt::Task<bool> MysqlStatements::prepare_kill(MysqlExchange& exchange, const ClientPacket& packet, std::string_view sql) {
  // What the KILL query gets, the prepared KILL gets: carried out for a corral connection id (an
  // expression evaluated at each execute), refused with the same ERR 1235 otherwise (here at the
  // prepare, so no execute could succeed). A parameter is refused too: corral answers the prepare
  // with no parameters, and would have to bind the execute's value into the evaluation.
  std::optional<mysql::KillStatement> kill = mysql::parse_kill(sql);
  std::string_view refusal = kill_refusal(kill);
  if (refusal.empty() && kill->has_parameter_marker) refusal = "corral: a prepared KILL takes no parameter markers";
  if (!refusal.empty()) {
    exchange.client().queue_error(packet.reply_sequence(), mysql::ER_NOT_SUPPORTED_YET, refusal);
    co_return co_await exchange.client().flush();
  }
  if (statements_.size() >= kMaxStatementsPerSession) {
    exchange.client().queue_error(packet.reply_sequence(), kErrTooManyStatements);
    co_return co_await exchange.client().flush();
  }
  // The server's answer to a KILL's prepare: no columns, no parameters, so no definitions follow.
  mysql::COM_STMT_PREPARE_OK ok;
  ok.statement_id = take_id();
  last_prepared_ = ok.statement_id;
  std::string payload;
  mysql::encode_com_stmt_prepare_ok(payload, ok, exchange.context().capabilities());
  exchange.client().queue_packet(packet.reply_sequence(), payload);
  Statement statement;
  statement.kill = std::move(kill);
  statements_.emplace(ok.statement_id, std::move(statement));
  co_return co_await exchange.client().flush();
}

const mysql::KillStatement* MysqlStatements::kill_to_execute(const ClientPacket& packet) const noexcept {
  if (packet.payload.empty() || static_cast<mysql::Command>(packet.payload.front()) != mysql::Command::COM_STMT_EXECUTE) {
    return nullptr;
  }
  const auto client_id = mysql::statement_id_of(packet.payload);
  const auto it = client_id ? statements_.find(resolve(*client_id)) : statements_.end();
  return it == statements_.end() || !it->second.kill ? nullptr : &*it->second.kill;
}

// ---- COM_STMT_EXECUTE ----------------------------------------------------------------------------

rt::Task<bool> MysqlStatements::execute(MysqlExchange& exchange, const ClientPacket& packet) {
  const auto client_id = mysql::statement_id_of(packet.payload);
  if (!client_id) {
    // mariadbd: 1835 for a partial id (and no reply at all for none, which would leave the client waiting).
    exchange.client().queue_error(packet.reply_sequence(), kErrMalformedPacket);
    co_return co_await exchange.client().flush();
  }
  Statement* statement = find_or_refuse(exchange, packet, *client_id, "mysqld_stmt_execute");
  if (statement == nullptr) co_return co_await exchange.client().flush();
  if (statement->long_data_overflow) {
    statement->long_data_overflow = false;
    statement->execute.clear_long_data();
    // The server's error for its own limit (corral's mysql.max_packet_size is its max_allowed_packet).
    exchange.client().queue_error(packet.reply_sequence(), kErrLongDataTooLong);
    co_return co_await exchange.client().flush();
  }
  // A packet shorter than its own counts is refused here, as the server would: relayed, it would
  // cost a backend round trip, and corral cannot rewrite what it cannot parse.
  const auto layout = pool::scan_execute(packet.payload, statement->prepared->num_params,
                                         exchange.context().capabilities());
  if (!layout) {
    exchange.client().queue_error(packet.reply_sequence(),
                                  malformed_execute_error(packet.payload, statement->prepared->num_params));
    co_return co_await exchange.client().flush();
  }
  const std::uint8_t cursor_type = layout->flags;
  // A read may run on a replica, unless it opens a cursor: a cursor holds its connection while the
  // client goes on with other statements, writes included, which must not follow it there.
  mysql::StatementTraits traits;
  traits.read_only = statement->read_only && (cursor_type & mysql::CURSOR_TYPE_READ_ONLY) == 0;
  traits.names_collation = statement->names_collation;  // empty but for SET NAMES ... COLLATE
  traits.effects = statement->effects;
  traits.unscoped_wait_timeout = statement->unscoped_wait_timeout;
  traits.keeps_diagnostics = statement->keeps_diagnostics;
  traits.ended_effects = statement->ended_effects;
  exchange.route_read(traits);
  // LAST_INSERT_ID(), ROW_COUNT() and FOUND_ROWS() answer about the connection's previous statement:
  // as for a query, the client's previous connection when nobody borrowed it since, else LAST_INSERT_ID
  // set for the client (relay_statement()). Otherwise an idle connection that matches and needs no
  // replay is taken without a coroutine.
  const bool wants_previous = statement->uses_last_insert_id || statement->reads_previous_counts;
  pool::MysqlConnection* backend =
      wants_previous && exchange.held_backend() == nullptr ? nullptr : exchange.ready_backend(false);
  if (backend == nullptr) {
    backend = co_await exchange.backend_for_statement(packet.reply_sequence(), statement->uses_last_insert_id,
                                                      wants_previous);
  }
  exchange.end_routing();
  if (backend == nullptr) co_return co_await exchange.client().flush();
  close_cursor(*statement);  // a new execute closes the statement's cursor on the server
  sync_cursor_pin(exchange);
  exchange.apply_statement_timeout(*backend);
  bool complete = false;
  bool first_relayed = false;
  bool need_reprepare = false;
  bool file_requested = false;  // LOAD DATA LOCAL INFILE, prepared: the server asks for the client's file
  // Hot path: the statement is prepared on this connection and the client's packet goes as it is (id
  // rewritten in place). Only the socket waits suspend; the first packet is looked at before the
  // client sees it, because ERR 1615 means the statement did not run and is worth one re-prepare.
  pool::BackendStatement* backend_statement =
      pool::ready_execute(*backend, *statement->prepared, statement->execute, mutable_wire(packet), packet.payload);
  if (backend_statement != nullptr) {
    const auto sent = co_await backend->send_command_wire(packet.wire, exchange.cancel());
    if (!sent) co_return co_await fail(exchange, *backend, packet.reply_sequence());
    for (;;) {
      auto polled = backend->poll_response_packet();
      if (!polled) co_return co_await fail(exchange, *backend, packet.reply_sequence());
      if (polled->has_value()) {
        const pool::ResponsePacket& first = **polled;
        need_reprepare = first.event.phase == mysql::ResponsePhase::Err &&
                         first.event.err.error_code == pool::kErrNeedReprepare;
        if (!need_reprepare) {
          check_columns(*statement->prepared, first.event);
          exchange.queue_relayed_packet(*backend, first.packet, first.event);
          complete = first.event.complete;
          file_requested = first.event.phase == mysql::ResponsePhase::LocalInfileRequest;
          first_relayed = true;
        }
        break;
      }
      const auto filled = co_await backend->read_response_bytes(exchange.cancel());
      if (!filled) co_return co_await fail(exchange, *backend, packet.reply_sequence());
    }
  }
  if (!first_relayed) {
    auto started = co_await pool::start_execute(*backend, statement->prepared.shared(), statement->execute,
                                                mutable_wire(packet), packet.payload, max_prepared_per_connection_,
                                                need_reprepare, exchange.cancel());
    if (!started) co_return co_await fail(exchange, *backend, packet.reply_sequence());
    if (!started->refusal.empty()) {
      exchange.client().queue_packet(packet.reply_sequence(), started->refusal);
      exchange.end_statement(*backend, traits);
      co_return co_await exchange.client().flush();
    }
    backend_statement = started->statement;
    check_columns(*statement->prepared, started->first_event);
    exchange.queue_relayed_packet(*backend, started->first, started->first_event);
    complete = started->first_event.complete;
    file_requested = started->first_event.phase == mysql::ResponsePhase::LocalInfileRequest;
  }
  if (!complete) {
    const MysqlExchange::RelayEnd end = co_await exchange.relay_response(*backend, file_requested);
    if (end == MysqlExchange::RelayEnd::BackendLost) co_return co_await lost(exchange);
    if (end == MysqlExchange::RelayEnd::ClientGone) co_return false;
  }
  if ((cursor_type & mysql::CURSOR_TYPE_READ_ONLY) != 0 && backend->summary().cursor_exists() &&
      !backend->summary().failed) {
    // Rows come with COM_STMT_FETCH on this connection: it stays with the session until the cursor ends.
    backend_statement->cursor_open = true;
    statement->cursor = backend_statement;
    ++open_cursors_;
  }
  sync_cursor_pin(exchange);
  exchange.end_statement(*backend, traits);
  if (statement->changes_schema) schema_changes_.fetch_add(1, std::memory_order_relaxed);  // as for COM_QUERY
  const auto written = co_await exchange.client().write_queued();  // the socket awaited directly: no flush() frame
  co_return exchange.client().after_write_queued(written);
}

// ---- COM_STMT_BULK_EXECUTE -----------------------------------------------------------------------

rt::Task<bool> MysqlStatements::bulk_execute(MysqlExchange& exchange, const ClientPacket& packet) {
  const auto client_id = mysql::statement_id_of(packet.payload);
  if (!client_id) {
    exchange.client().queue_error(packet.reply_sequence(), kErrMalformedPacket);
    co_return co_await exchange.client().flush();
  }
  Statement* statement = find_or_refuse(exchange, packet, *client_id, "mysqld_stmt_bulk_execute");
  if (statement == nullptr) co_return co_await exchange.client().flush();
  if (statement->kill) {
    // A KILL has no parameters to bind arrays to; corral carries it out for COM_STMT_EXECUTE only.
    exchange.client().queue_error(packet.reply_sequence(), mysql::ER_UNSUPPORTED_PS);
    co_return co_await exchange.client().flush();
  }
  if (!pool::scan_bulk_execute(packet.payload, statement->prepared->num_params)) {
    exchange.client().queue_error(packet.reply_sequence(), kErrMalformedPacket);
    co_return co_await exchange.client().flush();
  }
  // Rows are written: the primary, as for any statement not known to only read.
  mysql::StatementTraits traits;
  traits.effects = statement->effects;
  traits.ended_effects = statement->ended_effects;
  pool::MysqlConnection* backend = co_await exchange.backend_for_statement(packet.reply_sequence());
  if (backend == nullptr) co_return co_await exchange.client().flush();
  statement->execute.clear_long_data();  // not sent with a bulk execute; the server drops it too
  exchange.apply_statement_timeout(*backend);
  auto started = co_await pool::start_bulk_execute(*backend, statement->prepared.shared(), statement->execute,
                                                   mutable_wire(packet), packet.payload,
                                                   max_prepared_per_connection_, exchange.cancel());
  if (!started) co_return co_await fail(exchange, *backend, packet.reply_sequence());
  if (!started->refusal.empty()) {
    exchange.client().queue_packet(packet.reply_sequence(), started->refusal);
    exchange.end_statement(*backend, traits);
    co_return co_await exchange.client().flush();
  }
  exchange.queue_relayed_packet(*backend, started->first, started->first_event);
  if (!started->first_event.complete) {
    const MysqlExchange::RelayEnd end = co_await exchange.relay_response(*backend);
    if (end == MysqlExchange::RelayEnd::BackendLost) co_return co_await lost(exchange);
    if (end == MysqlExchange::RelayEnd::ClientGone) co_return false;
  }
  exchange.end_statement(*backend, traits);
  if (statement->changes_schema) schema_changes_.fetch_add(1, std::memory_order_relaxed);
  co_return co_await exchange.client().flush();
}

// ---- COM_STMT_FETCH ------------------------------------------------------------------------------

rt::Task<bool> MysqlStatements::fetch(MysqlExchange& exchange, const ClientPacket& packet) {
  // The row count is the server's to check (as mariadbd, a fetch without one is judged by its id).
  const auto client_id = mysql::statement_id_of(packet.payload);
  Statement* statement = find_or_refuse(exchange, packet, client_id ? *client_id : 0, "mysqld_stmt_fetch");
  if (statement == nullptr) co_return co_await exchange.client().flush();
  if (statement->cursor == nullptr) {
    exchange.client().queue_error(packet.reply_sequence(), kErrNoOpenCursor,
                                  "The statement (" + std::to_string(*client_id) + ") has no open cursor");
    co_return co_await exchange.client().flush();
  }
  // The cursor pin keeps the connection the cursor is on (a lease that ended took the cursor along).
  pool::MysqlConnection* backend = exchange.held_backend();
  if (backend == nullptr) {
    close_cursor(*statement);
    sync_cursor_pin(exchange);
    exchange.client().queue_error(packet.reply_sequence(), kErrNoOpenCursor);
    co_return co_await exchange.client().flush();
  }
  mysql::rewrite_statement_id(mutable_wire(packet), statement->cursor->backend_id);
  exchange.apply_statement_timeout(*backend);
  auto sent = co_await backend->send_command_wire(packet.wire, exchange.cancel());
  if (!sent) co_return co_await fail(exchange, *backend, packet.reply_sequence());
  const MysqlExchange::RelayEnd end = co_await exchange.relay_response(*backend);
  if (end == MysqlExchange::RelayEnd::BackendLost) co_return co_await lost(exchange);
  if (end == MysqlExchange::RelayEnd::ClientGone) co_return false;
  const mysql::ResponseSummary& summary = backend->summary();
  if (summary.failed || !summary.cursor_exists() || (summary.status_flags & mysql::SERVER_STATUS_LAST_ROW_SENT)) {
    close_cursor(*statement);  // the server closed it with the last row (or on the error)
  }
  sync_cursor_pin(exchange);
  exchange.end_statement(*backend, mysql::StatementTraits{});
  co_return co_await exchange.client().flush();
}

// ---- COM_STMT_SEND_LONG_DATA, COM_STMT_RESET, COM_STMT_CLOSE -------------------------------------

void MysqlStatements::send_long_data(const ClientPacket& packet) {
  const auto data = mysql::decode_com_stmt_send_long_data(packet.payload);
  Statement* statement = data ? find(data->statement_id) : nullptr;
  // Like the server, a bad statement or parameter gets no reply here (there is none for this command);
  // the execute that follows fails on the server's own checks.
  if (statement == nullptr || statement->kill || data->param_id >= statement->prepared->num_params) return;
  pool::ExecuteState& state = statement->execute;
  if (state.long_data_bytes + data->data.size() > max_long_data_) {
    statement->long_data_overflow = true;
    state.clear_long_data();
    return;
  }
  if (state.long_data.size() <= data->param_id) state.long_data.resize(data->param_id + 1u);
  auto& value = state.long_data[data->param_id];
  if (!value) value.emplace();
  value->append(data->data);
  state.long_data_bytes += data->data.size();
  state.long_data_piece = std::max(state.long_data_piece, data->data.size());
}

rt::Task<bool> MysqlStatements::reset(MysqlExchange& exchange, const ClientPacket& packet) {
  const auto client_id = mysql::decode_com_stmt_reset(packet.payload);
  Statement* statement = find_or_refuse(exchange, packet, client_id ? *client_id : 0, "mysqld_stmt_reset");
  if (statement == nullptr) co_return co_await exchange.client().flush();
  statement->execute.clear_long_data();
  statement->long_data_overflow = false;
  if (statement->cursor == nullptr) {
    exchange.client().queue_ok(packet.reply_sequence());  // long data lives here; the backend statement has none
    co_return co_await exchange.client().flush();
  }
  // The server must close the cursor: relay the reset to the statement on the cursor's connection.
  pool::MysqlConnection* backend = exchange.held_backend();
  if (backend == nullptr) {
    close_cursor(*statement);
    sync_cursor_pin(exchange);
    exchange.client().queue_ok(packet.reply_sequence());
    co_return co_await exchange.client().flush();
  }
  mysql::rewrite_statement_id(mutable_wire(packet), statement->cursor->backend_id);
  close_cursor(*statement);
  auto sent = co_await backend->send_command_wire(packet.wire, exchange.cancel());
  if (!sent) co_return co_await fail(exchange, *backend, packet.reply_sequence());
  const MysqlExchange::RelayEnd end = co_await exchange.relay_response(*backend);
  if (end == MysqlExchange::RelayEnd::BackendLost) co_return co_await lost(exchange);
  if (end == MysqlExchange::RelayEnd::ClientGone) co_return false;
  sync_cursor_pin(exchange);
  exchange.end_statement(*backend, mysql::StatementTraits{});
  co_return co_await exchange.client().flush();
}

rt::Task<bool> MysqlStatements::close(MysqlExchange& exchange, const ClientPacket& packet) {
  const auto client_id = mysql::decode_com_stmt_close(packet.payload);
  const auto it = client_id ? statements_.find(resolve(*client_id)) : statements_.end();
  if (it == statements_.end()) co_return true;  // no response to COM_STMT_CLOSE, even for unknown ids
  if (it->second.cursor == nullptr) {
    // The backend statement stays cached on its connections while another client holds the text;
    // after the last one it is retired (closed at each connection's next PREPARE).
    statements_.erase(it);
    co_return true;
  }
  // An open cursor holds server resources: closing its backend statement ends it (the next client
  // of this text prepares it again on that connection).
  pool::MysqlConnection* backend = exchange.held_backend();  // never a new lease: no reply may go out
  const std::uint64_t template_id = it->second.prepared->id;
  close_cursor(it->second);
  statements_.erase(it);
  sync_cursor_pin(exchange);
  if (backend == nullptr) co_return true;
  auto closed = co_await pool::close_on(*backend, template_id, exchange.cancel());
  if (!closed) {
    exchange.release_backend(false);
    co_return exchange.after_backend_lost();
  }
  exchange.release_if_unpinned();
  co_return true;
}

}  // namespace corral::proxy
