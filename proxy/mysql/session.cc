#include "proxy/mysql/session.h"

#include <string>
#include <utility>
#include <vector>

#include "proxy/mysql/command_route.h"

namespace corral::proxy {

namespace {

// Errors corral answers with (MariaDB server error reference).
constexpr mysql::ErrorSpec kErrNotAllowedCommand{1148, "42000", "The used command is not allowed"};

}  // namespace

rt::Task<void> MysqlFrontend::serve(rt::TcpStream client) {
  MysqlSession session(std::move(client), *this);
  co_await session.run();
}

MysqlSession::MysqlSession(rt::TcpStream client, MysqlFrontend& frontend)
    : env_(frontend.env()),
      cancel_(env_.stop_cancel),
      client_(std::move(client), env_, context_, &cancel_),
      statements_(env_.config->mysql.max_prepared_per_connection, env_.config->mysql.max_packet_size),
      exchange_(client_, context_, frontend.pools(), env_, &cancel_, statements_),
      login_(client_, context_, frontend, &cancel_) {}

rt::Task<void> MysqlSession::run() {
  const bool logged_in = co_await login_.handshake();
  if (!logged_in) co_return;
  const auto idle_timeout = env_.config->client.idle_timeout;
  for (;;) {
    client_.shrink_buffers();
    const rt::Deadline deadline = idle_timeout.count() > 0 ? rt::Deadline::after(idle_timeout) : rt::Deadline::never();
    ClientPacket packet;
    const bool received = co_await client_.read_packet(packet, deadline, true);
    if (!received) co_return;
    const Step step = co_await dispatch(packet);
    client_.consume_packet();
    if (step == Step::Close) {
      co_await client_.flush();
      co_return;
    }
  }
}

rt::Task<MysqlSession::Step> MysqlSession::reply() {
  if (client_.output().empty()) co_return Step::Next;
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
      co_return go_on ? Step::Next : Step::Close;
    }
    case CommandRoute::PreparedStatement: {
      const bool go_on = co_await statements_.handle(exchange_, *command, packet);
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
    case CommandRoute::Unsupported:
      break;
  }
  client_.queue_error(packet.reply_sequence(), mysql::ER_UNKNOWN_COM_ERROR,
                      "Unknown command: corral does not support " + mysql::to_string(command->command));
  co_return co_await reply();
}

rt::Task<MysqlSession::Step> MysqlSession::handle_query(const ClientPacket& packet) {
  auto query = mysql::decode_com_query(packet.payload, context_.capabilities(), client_.limits());
  const mysql::StatementTraits traits = mysql::classify_statement(query ? query->query : std::string_view{});
  const QueryRoute route =
      route_query(traits, env_.config->mysql.local_infile, exchange_.held_backend() != nullptr);
  switch (route) {
    case QueryRoute::Relay: {
      const bool go_on = co_await exchange_.relay_statement(packet, traits);
      co_return go_on ? Step::Next : Step::Close;
    }
    case QueryRoute::AnswerLocally:
      co_return co_await answer_locally(traits);
    case QueryRoute::RefuseLocalInfile:
      client_.queue_error(packet.reply_sequence(), kErrNotAllowedCommand,
                          "corral: LOAD DATA LOCAL INFILE is disabled (set mysql.local_infile = true to allow it)");
      break;
    case QueryRoute::RefuseKill:
      client_.queue_error(packet.reply_sequence(), mysql::ER_NOT_SUPPORTED_YET,
                          "corral: KILL is not supported (backend threads are shared by many clients)");
      break;
  }
  co_return co_await reply();
}

rt::Task<MysqlSession::Step> MysqlSession::answer_locally(const mysql::StatementTraits& traits) {
  std::vector<mysql::ColumnDefinition41> columns;
  std::vector<std::vector<mysql::TextValue>> rows;
  std::string value;
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
  context_.reset();
  statements_.clear();
  const bool logged_in = co_await login_.change_user(std::move(*change), reply_sequence);
  co_return logged_in ? Step::Next : Step::Close;  // a refused change keeps the connection (login.h)
}

rt::Task<MysqlSession::Step> MysqlSession::handle_reset_connection(const ClientPacket& packet) {
  // The backend connection of a pinned session holds the state being reset: close it rather than
  // trying to clean it (the next statement takes a fresh lease). A one-statement hold holds no state.
  exchange_.release_backend(!context_.holds_session_state());
  context_.reset();
  statements_.clear();  // the server drops a session's prepared statements on reset
  client_.queue_ok(packet.reply_sequence());
  co_return co_await reply();
}

}  // namespace corral::proxy
