#include "proxy/mysql/session.h"

#include <sys/uio.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "proxy/mysql/frontend.h"
#include "runtime/log.h"

namespace corral::proxy {

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;
/// Queued reply bytes that make the relay write before the response is complete.
constexpr std::size_t kFlushThreshold = 64 * 1024;
/// Buffers larger than this are freed between commands instead of kept for an idle client.
constexpr std::size_t kKeepBufferCapacity = 256 * 1024;
/// Time a client has for each step of the login.
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);

/// Capability bits that only concern the exchange between the client and corral: offered always.
constexpr mysql::CapabilityFlags kFrontendOwnCapabilities =
    mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_SECURE_CONNECTION | mysql::CLIENT_PLUGIN_AUTH |
    mysql::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | mysql::CLIENT_CONNECT_WITH_DB | mysql::CLIENT_CONNECT_ATTRS |
    mysql::CLIENT_LONG_FLAG | mysql::CLIENT_TRANSACTIONS | mysql::CLIENT_IGNORE_SIGPIPE;
/// Bits that change what the backend sends or how it runs statements: offered only when the backend
/// offers them, because its packets are relayed unchanged. (Prepared-statement metadata caching and
/// bulk operations are left out until prepared statements are multiplexed.)
constexpr mysql::CapabilityFlags kFrontendRelayedCapabilities =
    mysql::CLIENT_MYSQL | mysql::CLIENT_FOUND_ROWS | mysql::CLIENT_LOCAL_FILES | mysql::CLIENT_IGNORE_SPACE |
    mysql::CLIENT_INTERACTIVE | mysql::CLIENT_MULTI_STATEMENTS | mysql::CLIENT_MULTI_RESULTS |
    mysql::CLIENT_PS_MULTI_RESULTS | mysql::CLIENT_SESSION_TRACK | mysql::CLIENT_DEPRECATE_EOF |
    mysql::CLIENT_QUERY_ATTRIBUTES | mysql::MARIADB_CLIENT_PROGRESS | mysql::MARIADB_CLIENT_EXTENDED_METADATA;

// Errors corral answers with (MariaDB server error reference).
constexpr mysql::ErrorSpec kErrNotAllowedCommand{1148, "42000", "The used command is not allowed"};
constexpr mysql::ErrorSpec kErrMalformedPacket{1835, "HY000", "Malformed communication packet"};

bool is_statement_command(mysql::Command command) noexcept {
  switch (command) {
    case mysql::Command::COM_STMT_PREPARE:
    case mysql::Command::COM_STMT_EXECUTE:
    case mysql::Command::COM_STMT_SEND_LONG_DATA:
    case mysql::Command::COM_STMT_CLOSE:
    case mysql::Command::COM_STMT_RESET:
    case mysql::Command::COM_STMT_FETCH:
    case mysql::Command::COM_STMT_BULK_EXECUTE:
      return true;
    default:
      return false;
  }
}

std::string auth_more_data(std::string_view data) {
  std::string payload;
  mysql::encode_auth_more_data(payload, data);
  return payload;
}

}  // namespace

rt::Task<void> MysqlFrontend::serve(rt::TcpStream client) {
  MysqlSession session(std::move(client), *this);
  co_await session.run();
}

MysqlSession::MysqlSession(rt::TcpStream client, MysqlFrontend& frontend)
    : client_(std::move(client)),
      env_(frontend.env()),
      frontend_(frontend),
      cancel_(env_.stop_cancel),
      statements_(env_.config->mysql.max_prepared_per_connection, env_.config->mysql.max_packet_size) {
  limits_.max_packet_size = env_.config->mysql.max_packet_size;
  connection_id_ = static_cast<std::uint32_t>(env_.shared->next_client_id.fetch_add(1, std::memory_order_relaxed));
  const std::string peer = client_.peer_address().to_string();
  // "1.2.3.4:5678" or "[::1]:5678": MySQL names the host without the port (and without brackets).
  std::string_view host = std::string_view(peer).substr(0, peer.rfind(':'));
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  peer_host_ = std::string(host);
}

MysqlSession::~MysqlSession() {
  // A lease still held here carries session state (a transaction, user variables...): never pooled.
  if (lease_) lease_.release(false);
}

// ---- client I/O -----------------------------------------------------------------------------------

void MysqlSession::queue_packet(std::uint8_t sequence_id, std::string_view payload) {
  mysql::append_packet(out_, sequence_id, payload);
}

void MysqlSession::queue_error(std::uint8_t sequence_id, const mysql::ErrorSpec& spec, std::string_view message) {
  queue_packet(sequence_id, mysql::make_err(spec, message));
}

void MysqlSession::queue_ok(std::uint8_t sequence_id, std::uint64_t affected_rows, std::uint64_t last_insert_id) {
  mysql::OK_Packet ok;
  ok.affected_rows = affected_rows;
  ok.last_insert_id = last_insert_id;
  ok.status_flags = context_.status_flags();
  const std::size_t at = mysql::begin_packet(out_);
  mysql::encode_ok_packet(out_, ok, context_.capabilities());
  mysql::finish_packet(out_, at, sequence_id);
}

rt::Task<bool> MysqlSession::flush() {
  if (out_.empty()) co_return true;
  const auto written = co_await write_queued();
  co_return after_write_queued(written);
}

rt::WriteAwaitable MysqlSession::write_queued() {
  return client_.write_all(out_, rt::Deadline::after(env_.config->pool.operation_timeout), &cancel_);
}

bool MysqlSession::after_write_queued(const rt::Result<void>& written) {
  out_.clear();
  if (!written) rt::log::debug("mysql client {}: write failed: {}", connection_id_, written.error().message());
  return written.ok();
}

rt::Task<bool> MysqlSession::read_packet(ClientPacket& packet, rt::Deadline deadline, bool idle) {
  for (;;) {
    const mysql::LogicalPacket logical = mysql::read_logical_packet(in_.readable(), limits_, scratch_);
    if (logical.status == mysql::FrameStatus::Packet) {
      packet.payload = logical.payload;
      packet.wire = in_.readable().substr(0, logical.consumed);
      packet.sequence_id = logical.last_sequence_id;
      pending_consume_ = logical.consumed;
      co_return true;
    }
    if (logical.status == mysql::FrameStatus::Error) {
      // The stream cannot be framed any more: one ERR, then the connection closes.
      const std::string_view head = in_.readable();
      const auto sequence_id = static_cast<std::uint8_t>(head.size() > 3 ? static_cast<std::uint8_t>(head[3]) + 1 : 1);
      if (logical.error == mysql::Errc::PacketTooLarge) {
        queue_error(sequence_id, mysql::ER_NET_PACKET_TOO_LARGE);
        co_await flush();
        co_await discard_input();
        co_return false;
      } else if (logical.error == mysql::Errc::BadSequence) {
        queue_error(sequence_id, mysql::ER_NET_PACKETS_OUT_OF_ORDER);
      } else {
        queue_error(sequence_id, kErrMalformedPacket);
      }
      co_await flush();
      co_return false;
    }
    std::size_t want = kReadChunk;
    const std::string_view head = in_.readable();
    if (head.size() >= mysql::kPacketHeaderSize) {
      const std::size_t whole = mysql::kPacketHeaderSize + mysql::header_payload_length(head);
      if (whole > head.size()) want = std::max(want, whole - head.size());
    }
    rt::CancelSource* cancel = &cancel_;
    if (idle && in_.empty()) {
      // Wait without a buffer: an idle client then costs no read buffer. Draining ends this wait.
      in_.release_if_empty();
      cancel = env_.idle_cancel;
      const rt::Result<void> readable = co_await client_.wait_readable(deadline, cancel);
      if (!readable) co_return false;
    }
    const auto n = co_await client_.read_some(in_.writable(want), deadline, cancel);
    if (!n || *n == 0) {
      rt::log::debug("mysql client {}: {} while reading", connection_id_, n ? "end of stream" : n.error().message());
      co_return false;
    }
    in_.commit(*n);
  }
}

rt::Task<void> MysqlSession::discard_input() {
  // The client may still be writing the packet that was refused; closing now would reset the
  // connection before it reads the error. Let it finish (bounded in time and bytes), then close.
  constexpr std::size_t kMaxDiscarded = std::size_t{1} << 30;
  client_.shutdown_write();
  in_.consume(in_.size());
  const rt::Deadline deadline = rt::Deadline::after(std::chrono::seconds(2));
  std::size_t discarded = 0;
  while (discarded < kMaxDiscarded) {
    const auto n = co_await client_.read_some(in_.writable(kReadChunk), deadline, &cancel_);
    if (!n || *n == 0) break;
    discarded += *n;
  }
}

void MysqlSession::consume_packet() noexcept {
  in_.consume(pending_consume_);
  pending_consume_ = 0;
}

// ---- login ----------------------------------------------------------------------------------------

rt::Task<bool> MysqlSession::learn_server() {
  pool::MysqlPools& pools = frontend_.pools();
  const rt::Deadline deadline = rt::Deadline::after(env_.config->pool.queue_timeout);
  // One probe per worker at a time: clients arriving meanwhile wait for its result.
  while (frontend_.probing && !pools.server_info(env_.backend_address).known) {
    const bool woken = co_await frontend_.probed.wait(deadline, &cancel_);
    if (!woken) break;
  }
  if (pools.server_info(env_.backend_address).known) co_return true;
  // The greeting offers what the backend offers: open one backend connection to find out.
  frontend_.probing = true;
  // Named, not a temporary in the co_await expression: g++ 12 mishandles those (see docs/ARCHITECTURE.md).
  pool::MysqlKey probe = pool::make_mysql_key(env_.listener->backend, 0);
  auto acquired = co_await pools.acquire(std::move(probe), env_.backend_address, deadline, &cancel_);
  frontend_.probing = false;
  frontend_.probed.notify_all();
  if (!acquired.ok()) {
    queue_packet(0, acquired.error.err_payload());
    co_await flush();
    co_return false;
  }
  // Closed, not pooled: its key (no client capabilities) is no client's, so it would only take a slot.
  acquired.lease.release(false);
  co_return true;
}

rt::Task<bool> MysqlSession::handshake() {
  const bool server_known = co_await learn_server();
  if (!server_known) co_return false;
  auto scramble = mysql::generate_scramble();
  if (!scramble) {
    queue_error(0, mysql::ER_HANDSHAKE_ERROR, "corral: cannot make a scramble (random number generator failed)");
    co_await flush();
    co_return false;
  }
  scramble_ = std::move(*scramble);
  const pool::MysqlServerInfo& server = frontend_.pools().server_info(env_.backend_address);
  mysql::CapabilityFlags relayed = kFrontendRelayedCapabilities;
  if (!env_.config->mysql.local_infile) relayed &= ~mysql::CLIENT_LOCAL_FILES;
  server_capabilities_ = kFrontendOwnCapabilities | (server.capabilities & relayed);

  mysql::HandshakeV10 greeting;
  greeting.server_version = env_.config->mysql.server_version;
  greeting.connection_id = connection_id_;
  greeting.auth_plugin_data = scramble_;
  greeting.capabilities = server_capabilities_;
  greeting.character_set = server.character_set != 0 ? server.character_set : mysql::kCollationUtf8mb4GeneralCi;
  greeting.status_flags = mysql::SERVER_STATUS_AUTOCOMMIT;
  greeting.auth_plugin_name = std::string(mysql::kMysqlNativePassword);
  const std::size_t at = mysql::begin_packet(out_);
  mysql::encode_handshake_v10(out_, greeting);
  mysql::finish_packet(out_, at, 0);
  const bool greeted = co_await flush();
  if (!greeted) co_return false;

  ClientPacket packet;
  const bool received = co_await read_packet(packet, rt::Deadline::after(kHandshakeTimeout), true);
  if (!received) co_return false;
  const auto reply_sequence = static_cast<std::uint8_t>(packet.sequence_id + 1);
  if (mysql::is_ssl_request(packet.payload)) {
    queue_error(reply_sequence, mysql::ER_HANDSHAKE_ERROR, "corral does not support TLS; connect without SSL");
    co_await flush();
    co_return false;
  }
  auto response = mysql::decode_handshake_response41(packet.payload, server_capabilities_, limits_);
  consume_packet();
  if (!response) {
    queue_error(reply_sequence, mysql::ER_HANDSHAKE_ERROR);
    co_await flush();
    co_return false;
  }
  const mysql::CapabilityFlags capabilities = response->capabilities & server_capabilities_;
  const config::User* user = env_.config->find_user(response->username);
  std::string plugin = (capabilities & mysql::CLIENT_PLUGIN_AUTH) != 0 ? response->auth_plugin_name
                                                                       : std::string(mysql::kMysqlNativePassword);
  const AuthOutcome auth = co_await authenticate(user, response->username, std::move(plugin),
                                                 std::move(response->auth_response), reply_sequence);
  if (!auth.ok) co_return false;
  std::string schema = (capabilities & mysql::CLIENT_CONNECT_WITH_DB) != 0 ? response->database : std::string();
  context_.login(*env_.listener, *user, std::move(schema), std::string(mysql::charset_of_collation(response->character_set)),
                 capabilities, env_.config->mysql.local_infile);
  if (!context_.schema().empty()) {
    const bool schema_ok = co_await check_schema(auth.next_sequence_id);
    if (!schema_ok) co_return false;
  }
  queue_ok(auth.next_sequence_id);
  co_return co_await flush();
}

std::string MysqlSession::access_denied(std::string_view user_name, bool with_password) const {
  std::string message = "Access denied for user '";
  message.append(user_name).append("'@'").append(peer_host_).append("' (using password: ");
  message.append(with_password ? "YES)" : "NO)");
  return message;
}

rt::Task<MysqlSession::AuthOutcome> MysqlSession::authenticate(const config::User* user, std::string_view user_name,
                                                               std::string plugin, std::string token,
                                                               std::uint8_t sequence_id) {
  const bool supported = plugin == mysql::kMysqlNativePassword || plugin == mysql::kCachingSha2Password;
  // A client whose plugin differs from the one the greeting named may send no token and wait for a
  // scramble meant for its plugin (Connector/C does); a plugin corral does not verify is switched to
  // the one corral proposes, as a server does when the account's plugin differs from the client's.
  if (!supported || (token.empty() && plugin != mysql::kMysqlNativePassword)) {
    const std::string_view switch_to = supported ? std::string_view(plugin) : mysql::kMysqlNativePassword;
    std::string request;
    mysql::encode_auth_switch_request(request, {std::string(switch_to), scramble_ + '\0'});
    queue_packet(sequence_id, request);
    const bool sent = co_await flush();
    if (!sent) co_return AuthOutcome{};
    ClientPacket reply;
    const bool received = co_await read_packet(reply, rt::Deadline::after(kHandshakeTimeout), false);
    if (!received) co_return AuthOutcome{};
    token = std::string(reply.payload);
    sequence_id = static_cast<std::uint8_t>(reply.sequence_id + 1);
    consume_packet();
    plugin = std::string(switch_to);
  }
  if (plugin == mysql::kCachingSha2Password) co_return co_await caching_sha2_auth(user, user_name, token, sequence_id);
  const bool ok = user != nullptr && mysql::verify_native_password_plain(token, scramble_, user->password);
  if (!ok) {
    queue_error(sequence_id, mysql::ER_ACCESS_DENIED_ERROR, access_denied(user_name, !token.empty()));
    co_await flush();
    co_return AuthOutcome{false, sequence_id};
  }
  co_return AuthOutcome{true, sequence_id};
}

rt::Task<MysqlSession::AuthOutcome> MysqlSession::caching_sha2_auth(const config::User* user, std::string_view user_name,
                                                                    std::string_view token, std::uint8_t sequence_id) {
  std::atomic<bool>* cached = nullptr;
  if (user != nullptr && env_.shared->mysql_sha2_cached) {
    cached = &env_.shared->mysql_sha2_cached[static_cast<std::size_t>(user - env_.config->users.data())];
  }
  const bool with_password = !token.empty();
  bool ok = false;
  if (user != nullptr && user->password.empty()) {
    ok = token.empty();
  } else if (token.empty()) {
    ok = false;
  } else if (cached != nullptr && cached->load(std::memory_order_relaxed)) {
    // Fast path: the token proves SHA256(password) against corral's "cache" of the user.
    ok = mysql::verify_caching_sha2_token(token, scramble_, mysql::caching_sha2_hash(user->password));
    if (ok) {
      queue_packet(sequence_id++, auth_more_data(std::string(1, static_cast<char>(mysql::kCachingSha2FastAuthSuccess))));
      env_.shared->mysql_sha2_fast_auths.fetch_add(1, std::memory_order_relaxed);
    }
  } else {
    // Full path (an unknown user goes through it too, so its answer does not tell users apart).
    queue_packet(sequence_id++, auth_more_data(std::string(1, static_cast<char>(mysql::kCachingSha2PerformFullAuth))));
    const bool asked = co_await flush();
    if (!asked) co_return AuthOutcome{};
    ClientPacket reply;
    bool received = co_await read_packet(reply, rt::Deadline::after(kHandshakeTimeout), false);
    if (!received) co_return AuthOutcome{};
    sequence_id = static_cast<std::uint8_t>(reply.sequence_id + 1);
    const bool wants_key = reply.payload.size() == 1 && reply.payload[0] == mysql::kCachingSha2RequestPublicKey;
    consume_packet();
    // Without TLS a client may only send the password RSA-encrypted; a clear-text one is refused.
    if (wants_key) {
      queue_packet(sequence_id++, auth_more_data(frontend_.rsa_public_pem()));
      const bool sent = co_await flush();
      if (!sent) co_return AuthOutcome{};
      received = co_await read_packet(reply, rt::Deadline::after(kHandshakeTimeout), false);
      if (!received) co_return AuthOutcome{};
      sequence_id = static_cast<std::uint8_t>(reply.sequence_id + 1);
      auto password = mysql::decrypt_password_rsa(frontend_.rsa_key(), reply.payload, scramble_);
      consume_packet();
      ok = user != nullptr && password && mysql::secure_equal(*password, user->password);
      if (ok && cached != nullptr) cached->store(true, std::memory_order_relaxed);
      if (ok) env_.shared->mysql_sha2_full_auths.fetch_add(1, std::memory_order_relaxed);
    }
  }
  if (!ok) {
    queue_error(sequence_id, mysql::ER_ACCESS_DENIED_ERROR, access_denied(user_name, with_password));
    co_await flush();
    co_return AuthOutcome{false, sequence_id};
  }
  co_return AuthOutcome{true, sequence_id};
}

rt::Task<bool> MysqlSession::check_schema(std::uint8_t sequence_id) {
  // The backend is the judge of which databases exist (ERR 1049 Unknown database, 1044 no access).
  auto acquired = co_await context_pool().acquire(rt::Deadline::after(env_.config->pool.queue_timeout), &cancel_);
  if (!acquired.ok()) {
    queue_packet(sequence_id, acquired.error.err_payload());
    co_await flush();
    co_return false;
  }
  acquired.lease.release(true);
  co_return true;
}

// ---- commands -------------------------------------------------------------------------------------

rt::Task<void> MysqlSession::run() {
  const bool logged_in = co_await handshake();
  if (!logged_in) co_return;
  const auto idle_timeout = env_.config->client.idle_timeout;
  for (;;) {
    if (out_.capacity() > kKeepBufferCapacity) std::string().swap(out_);
    if (scratch_.capacity() > kKeepBufferCapacity) std::string().swap(scratch_);
    const rt::Deadline deadline = idle_timeout.count() > 0 ? rt::Deadline::after(idle_timeout) : rt::Deadline::never();
    ClientPacket packet;
    const bool received = co_await read_packet(packet, deadline, true);
    if (!received) co_return;
    const Step step = co_await dispatch(packet);
    consume_packet();
    if (step == Step::Close) {
      co_await flush();
      co_return;
    }
  }
}

rt::Task<MysqlSession::Step> MysqlSession::dispatch(const ClientPacket& packet) {
  const auto reply_sequence = static_cast<std::uint8_t>(packet.sequence_id + 1);
  reply_sequence_ = reply_sequence;
  auto command = mysql::decode_command(packet.payload);
  if (!command) {
    queue_error(reply_sequence, kErrMalformedPacket);
    co_return Step::Close;
  }
  if (is_statement_command(command->command)) {
    // Awaited here, not through a wrapper coroutine: one frame less per prepared statement.
    const bool go_on = co_await statements_.handle(*this, *command, packet);
    co_return go_on ? Step::Next : Step::Close;
  }
  switch (command->command) {
    case mysql::Command::COM_QUERY:
      co_return co_await handle_query(packet);
    case mysql::Command::COM_INIT_DB:
    case mysql::Command::COM_FIELD_LIST:
    case mysql::Command::COM_STATISTICS: {
      // Named: g++ 12 destroys a temporary in a co_await expression twice.
      const mysql::StatementTraits no_traits;
      co_return co_await relay_statement(packet, no_traits);
    }
    case mysql::Command::COM_PING: {
      queue_ok(reply_sequence);
      const bool flushed = co_await flush();
      co_return flushed ? Step::Next : Step::Close;
    }
    case mysql::Command::COM_QUIT:
      co_return Step::Close;
    case mysql::Command::COM_SET_OPTION:
      co_return co_await handle_set_option(packet);
    case mysql::Command::COM_CHANGE_USER:
      co_return co_await handle_change_user(packet);
    case mysql::Command::COM_RESET_CONNECTION:
      co_return co_await handle_reset_connection();
    default:
      break;
  }
  queue_error(reply_sequence, mysql::ER_UNKNOWN_COM_ERROR,
              "Unknown command: corral does not support " + mysql::to_string(command->command));
  const bool flushed = co_await flush();
  co_return flushed ? Step::Next : Step::Close;
}

rt::Task<MysqlSession::Step> MysqlSession::handle_query(const ClientPacket& packet) {
  auto query = mysql::decode_com_query(packet.payload, context_.capabilities(), limits_);
  const mysql::StatementTraits traits = mysql::classify_statement(query ? query->query : std::string_view{});
  const auto reply_sequence = static_cast<std::uint8_t>(packet.sequence_id + 1);
  if (traits.local_infile && !env_.config->mysql.local_infile) {
    queue_error(reply_sequence, kErrNotAllowedCommand,
                "corral: LOAD DATA LOCAL INFILE is disabled (set mysql.local_infile = true to allow it)");
  } else if (traits.kill) {
    queue_error(reply_sequence, mysql::ER_NOT_SUPPORTED_YET,
                "corral: KILL is not supported (backend threads are shared by many clients)");
  } else if (traits.asks_for != mysql::PreviousStatementQuery::None && !lease_) {
    co_return co_await answer_locally(traits);
  } else {
    co_return co_await relay_statement(packet, traits);
  }
  const bool flushed = co_await flush();
  co_return flushed ? Step::Next : Step::Close;
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
  mysql::append_text_result_set(out_, 1, columns, rows, context_.capabilities(), context_.status_flags());
  const bool flushed = co_await flush();
  co_return flushed ? Step::Next : Step::Close;
}

rt::Task<MysqlSession::Step> MysqlSession::relay_statement(const ClientPacket& packet, const mysql::StatementTraits& traits) {
  pool::MysqlConnection* backend = ready_backend(traits.uses_last_insert_id);
  if (backend == nullptr) {
    backend = co_await backend_for_statement(traits.uses_last_insert_id);
    if (backend == nullptr) {
      const bool flushed = co_await flush();
      co_return flushed ? after_backend_lost() : Step::Close;
    }
  }
  apply_statement_timeout(*backend);
  const auto sent = co_await backend->send_command_wire(packet.wire, &cancel_);
  if (!sent) {
    last_relayed_sequence_ = packet.sequence_id;
    queue_packet(static_cast<std::uint8_t>(packet.sequence_id + 1), backend->error().err_payload());
    release_backend(false);
    const bool flushed = co_await flush();
    co_return flushed ? after_backend_lost() : Step::Close;
  }
  const mysql::Command command = backend->command();
  last_relayed_sequence_ = packet.sequence_id;  // an error before any response packet follows the command
  const RelayEnd end = co_await relay_response(*backend);
  if (end == RelayEnd::ClientGone) co_return Step::Close;
  if (end == RelayEnd::BackendLost) {
    const bool flushed = co_await flush();
    co_return flushed ? after_backend_lost() : Step::Close;
  }
  if (command == mysql::Command::COM_INIT_DB && !backend->summary().failed) {
    // Also right for a backend without session tracking.
    context_.set_schema(backend->schema());
  }
  end_statement(*backend, traits);
  if (out_.empty()) co_return Step::Next;
  const auto written = co_await write_queued();
  co_return after_write_queued(written) ? Step::Next : Step::Close;
}

rt::Task<MysqlSession::Step> MysqlSession::handle_set_option(const ClientPacket& packet) {
  const auto reply_sequence = static_cast<std::uint8_t>(packet.sequence_id + 1);
  const auto option = mysql::decode_com_set_option(packet.payload);
  if (!option || (*option != mysql::MYSQL_OPTION_MULTI_STATEMENTS_ON && *option != mysql::MYSQL_OPTION_MULTI_STATEMENTS_OFF)) {
    queue_error(reply_sequence, mysql::ER_UNKNOWN_COM_ERROR, "Unknown command: unknown COM_SET_OPTION option");
  } else {
    // CLIENT_MULTI_STATEMENTS is part of the pool key: the next statement takes a connection that
    // negotiated the new setting. A pinned connection keeps the old one and is closed at the end of
    // its pin (its negotiated setting no longer matches its pool).
    if (lease_) discard_lease_ = true;
    context_.set_multi_statements(*option == mysql::MYSQL_OPTION_MULTI_STATEMENTS_ON);
    const std::size_t at = mysql::begin_packet(out_);
    if ((context_.capabilities() & mysql::CLIENT_DEPRECATE_EOF) != 0) {
      mysql::OK_Packet ok;
      ok.header = mysql::kEofHeader;
      ok.status_flags = context_.status_flags();
      mysql::encode_ok_packet(out_, ok, context_.capabilities());
    } else {
      mysql::encode_eof_packet(out_, mysql::EOF_Packet{0, context_.status_flags()}, context_.capabilities());
    }
    mysql::finish_packet(out_, at, reply_sequence);
  }
  const bool flushed = co_await flush();
  co_return flushed ? Step::Next : Step::Close;
}

rt::Task<MysqlSession::Step> MysqlSession::handle_change_user(const ClientPacket& packet) {
  const auto reply_sequence = static_cast<std::uint8_t>(packet.sequence_id + 1);
  auto change = mysql::decode_com_change_user(packet.payload, context_.capabilities(), limits_);
  consume_packet();
  if (!change) {
    queue_error(reply_sequence, kErrMalformedPacket);
    co_return Step::Close;
  }
  // Whatever the outcome, the old session ends here: its state must not reach the new user.
  release_backend(false);
  context_.reset();
  statements_.clear();
  const config::User* user = env_.config->find_user(change->username);
  std::string plugin = change->auth_plugin_name.empty() ? std::string(mysql::kMysqlNativePassword)
                                                        : std::move(change->auth_plugin_name);
  const AuthOutcome auth = co_await authenticate(user, change->username, std::move(plugin),
                                                 std::move(change->auth_response), reply_sequence);
  if (!auth.ok) co_return Step::Close;  // as mysqld: a failed COM_CHANGE_USER ends the connection
  std::string charset = change->character_set ? std::string(mysql::charset_of_collation(*change->character_set))
                                              : std::string();
  context_.login(*env_.listener, *user, std::move(change->database), std::move(charset), context_.capabilities(),
                 env_.config->mysql.local_infile);
  if (!context_.schema().empty()) {
    const bool schema_ok = co_await check_schema(auth.next_sequence_id);
    if (!schema_ok) co_return Step::Close;
  }
  queue_ok(auth.next_sequence_id);
  const bool flushed = co_await flush();
  co_return flushed ? Step::Next : Step::Close;
}

rt::Task<MysqlSession::Step> MysqlSession::handle_reset_connection() {
  // The backend connection of a pinned session holds the state being reset: close it rather than
  // trying to clean it (the next statement takes a fresh lease). A one-statement hold holds no state.
  release_backend(!context_.holds_session_state());
  context_.reset();
  statements_.clear();  // the server drops a session's prepared statements on reset
  queue_ok(reply_sequence_);
  const bool flushed = co_await flush();
  co_return flushed ? Step::Next : Step::Close;
}

// ---- backend leases and relaying ------------------------------------------------------------------

pool::MysqlPool& MysqlSession::context_pool() {
  if (pool_ == nullptr || pool_key_version_ != context_.key_version()) {
    pool_ = &frontend_.pools().get(context_.key(), env_.backend_address);
    pool_key_version_ = context_.key_version();
  }
  return *pool_;
}

rt::Task<pool::MysqlConnection*> MysqlSession::backend_for_statement(bool needs_last_insert_id) {
  // A connection held only for the previous statement's answers does not follow a key change
  // (COM_SET_OPTION, a charset switch): the next statement needs one that matches the new key.
  if (lease_ && !context_.holds_session_state() && lease_key_version_ != context_.key_version()) {
    release_backend(true);
  }
  if (lease_) co_return lease_.get();  // pinned: the connection has been the session's all along
  // A busy pool's common cases (a ready connection, a wait in the queue until one is handed over)
  // cost no coroutine of the pool's; the rest is acquire()'s.
  pool::MysqlPool& pool = context_pool();
  pool::MysqlPool::Turn turn(pool, rt::Deadline::after(env_.config->pool.queue_timeout), &cancel_);
  co_await turn;
  pool::MysqlAcquired acquired = turn.take();
  if (!acquired.ok() && !acquired.code) acquired = co_await pool.acquire(turn);
  if (!acquired.ok()) {
    queue_packet(reply_sequence_, acquired.error.err_payload());
    co_return nullptr;
  }
  lease_ = std::move(acquired.lease);
  lease_key_version_ = context_.key_version();
  pool::MysqlConnection& backend = *lease_;
  // Replay what the context has and this connection lacks; one statement, and none when it matches.
  std::string replay = context_.variables_statement(backend.replayed_variables());
  if (needs_last_insert_id) {
    replay.append(replay.empty() ? "SET SESSION " : ", ");
    replay.append("last_insert_id = ").append(std::to_string(context_.last_insert_id()));
  }
  if (replay.empty()) co_return &backend;
  auto replayed = co_await backend.query(replay, &cancel_);
  if (!replayed || replayed->error) {
    queue_packet(reply_sequence_, replayed ? replayed->error->err_payload() : backend.error().err_payload());
    release_backend(false);  // some of the variables may have been set
    co_return nullptr;
  }
  backend.replayed_variables() = context_.variables_text();
  co_return &backend;
}

pool::MysqlConnection* MysqlSession::ready_backend(bool needs_last_insert_id) {
  if (lease_) {
    // As backend_for_statement(): a one-statement hold does not follow a key change.
    const bool stale = !context_.holds_session_state() && lease_key_version_ != context_.key_version();
    return stale ? nullptr : lease_.get();
  }
  if (needs_last_insert_id) return nullptr;
  pool::MysqlLease lease = context_pool().try_acquire_ready();
  if (!lease) return nullptr;
  if (lease->replayed_variables() != context_.variables_text()) {
    // Variables to replay: backend_for_statement() takes it again (newest idle first) and replays.
    lease.release(true);
    return nullptr;
  }
  lease_ = std::move(lease);
  lease_key_version_ = context_.key_version();
  return lease_.get();
}

rt::Task<MysqlSession::RelayEnd> MysqlSession::relay_response(pool::MysqlConnection& backend) {
  // Clients without CLIENT_SESSION_TRACK read an OK_Packet's info as string<EOF>: give them OK
  // packets without the session-state block the backend connection carries.
  const bool strip_session_state = (backend.capabilities() & mysql::CLIENT_SESSION_TRACK) != 0 &&
                                   (context_.capabilities() & mysql::CLIENT_SESSION_TRACK) == 0;
  for (;;) {
    auto polled = backend.poll_response_run();
    if (!polled) break;
    const pool::ResponseRun& run = *polled;
    if (run.wire.empty()) {
      // Everything buffered has been relayed: write what is queued, then wait for more.
      if (!out_.empty()) {
        const bool flushed = co_await flush();
        if (!flushed) {
          release_backend(false);
          co_return RelayEnd::ClientGone;
        }
      }
      const auto n = co_await backend.response_read(&cancel_);
      if (!backend.after_response_read(n)) break;
      continue;
    }
    last_relayed_sequence_ = run.last_sequence_id();
    const mysql::ResponseEvent* event = run.event;
    if (strip_session_state && event != nullptr && needs_session_state_stripped(backend, *event)) {
      out_.append(run.wire.substr(0, run.last_packet));
      queue_stripped_ok(event->ok, run.last_sequence_id());
    } else if (event != nullptr && !event->complete) {
      // More of the response may already be buffered (the next result of a multi-result, ...):
      // queue this part so all of it leaves in one write.
      out_.append(run.wire);
    } else if (event != nullptr) {
      // The run ends the response: it leaves straight from the backend's read buffer (no copy)
      // together with what is queued, as far as the client's socket takes it now. The rest waits
      // in out_, so a client slow to read never holds the backend connection.
      if (!send_or_queue(run.wire)) {
        release_backend(false);
        co_return RelayEnd::ClientGone;
      }
    } else {
      // Rows up to the end of what is buffered, more to come: written straight from the backend's
      // read buffer with what is queued, waiting for the client, so the client paces the backend
      // and a result of any size streams through bounded memory.
      const rt::Deadline deadline = rt::Deadline::after(env_.config->pool.operation_timeout);
      iovec parts[2];
      const std::span<iovec> unsent = queued_then(run.wire, parts);
      const rt::Result<void> written = co_await client_.writev_all(unsent, deadline, &cancel_);
      out_.clear();
      if (!written) {
        rt::log::debug("mysql client {}: write failed: {}", connection_id_, written.error().message());
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
    if (out_.size() >= kFlushThreshold) {
      const bool flushed = co_await flush();
      if (!flushed) {
        release_backend(false);
        co_return RelayEnd::ClientGone;
      }
    }
  }
  // The backend failed mid-response (it closed itself): the client gets its error as the next packet.
  const pool::MysqlError& error = backend.error();
  rt::log::debug("mysql client {}: backend {} failed mid-response: {}", connection_id_, backend.describe(),
                 error.message);
  queue_packet(static_cast<std::uint8_t>(last_relayed_sequence_ + 1),
               error.empty() ? mysql::make_err(pool::kErrBackendLost) : error.err_payload());
  release_backend(false);
  co_return RelayEnd::BackendLost;
}

std::span<iovec> MysqlSession::queued_then(std::string_view wire, iovec (&parts)[2]) {
  std::size_t count = 0;
  if (!out_.empty()) parts[count++] = {out_.data(), out_.size()};
  parts[count++] = {const_cast<char*>(wire.data()), wire.size()};
  return {parts, count};
}

bool MysqlSession::send_or_queue(std::string_view wire) {
  iovec parts[2];
  std::span<iovec> unsent = queued_then(wire, parts);
  const rt::Result<void> sent = client_.try_writev(unsent);
  if (!sent) {
    rt::log::debug("mysql client {}: write failed: {}", connection_id_, sent.error().message());
    return false;
  }
  // Left over: a tail of out_ and all of `wire`, or a tail of `wire` (out_ keeps its capacity).
  if (unsent.size() == 2) {
    out_.erase(0, out_.size() - unsent[0].iov_len);
    out_.append(wire);
  } else if (unsent.size() == 1) {
    out_.assign(wire.substr(wire.size() - unsent[0].iov_len));
  } else {
    out_.clear();
  }
  return true;
}

bool MysqlSession::needs_session_state_stripped(const pool::MysqlConnection& backend,
                                                const mysql::ResponseEvent& event) noexcept {
  // A result set's terminator is an OK_Packet (and may carry session state) only under DEPRECATE_EOF.
  const bool ok_packet = event.phase == mysql::ResponsePhase::Ok ||
                         (event.phase == mysql::ResponsePhase::ResultSetEnd && event.ok.header == mysql::kEofHeader &&
                          (backend.capabilities() & mysql::CLIENT_DEPRECATE_EOF) != 0);
  return ok_packet && (event.ok.status_flags & mysql::SERVER_SESSION_STATE_CHANGED) != 0;
}

void MysqlSession::queue_stripped_ok(const mysql::OK_Packet& backend_ok, std::uint8_t sequence_id) {
  mysql::OK_Packet ok = backend_ok;
  ok.status_flags = static_cast<mysql::StatusFlags>(ok.status_flags & ~mysql::SERVER_SESSION_STATE_CHANGED);
  ok.session_state_info = {};
  const std::size_t at = mysql::begin_packet(out_);
  mysql::encode_ok_packet(out_, ok, context_.capabilities());
  mysql::finish_packet(out_, at, sequence_id);
}

void MysqlSession::queue_relayed_packet(const pool::MysqlConnection& backend, const mysql::WirePacket& packet,
                                        const mysql::ResponseEvent& event) {
  last_relayed_sequence_ = packet.sequence_id;
  if (event.complete) last_result_set_ = event.phase == mysql::ResponsePhase::ResultSetEnd;
  const bool strip_session_state = (backend.capabilities() & mysql::CLIENT_SESSION_TRACK) != 0 &&
                                   (context_.capabilities() & mysql::CLIENT_SESSION_TRACK) == 0 &&
                                   needs_session_state_stripped(backend, event);
  if (strip_session_state) {
    queue_stripped_ok(event.ok, packet.sequence_id);
  } else {
    out_.append(packet.wire);
  }
}

rt::Task<bool> MysqlSession::relay_local_infile(pool::MysqlConnection& backend) {
  // The request reached the client; its file comes back as packets ending with an empty one. The
  // command packet is done with: reading more client input may move the read buffer.
  const bool asked = co_await flush();
  if (!asked) co_return false;
  consume_packet();
  const rt::Deadline deadline = rt::Deadline::after(env_.config->pool.operation_timeout);
  for (;;) {
    // Forward every whole wire packet already buffered in one write.
    std::string_view buffered = in_.readable();
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
      const auto sent = co_await backend.send_wire(buffered.substr(0, whole), &cancel_);
      in_.consume(whole);
      if (!sent) co_return false;
    }
    if (ended) {
      backend.resume(static_cast<std::uint8_t>(last_sequence + 1));
      co_return true;
    }
    const auto n = co_await client_.read_some(in_.writable(kReadChunk), deadline, &cancel_);
    if (!n || *n == 0) co_return false;
    in_.commit(*n);
  }
}

void MysqlSession::end_statement(pool::MysqlConnection& backend, const mysql::StatementTraits& traits) {
  const mysql::ResponseSummary& summary = backend.summary();
  context_.learn_from_response(summary, backend.session_changes(), backend.status_flags(), traits, last_result_set_);
  if (backend.replayed_variables() != context_.variables_text()) {
    backend.replayed_variables() = context_.variables_text();
  }
  count_pins(context_.started_pins());
  if (!context_.pinned()) release_backend(!discard_lease_);
}

void MysqlSession::release_backend(bool clean) {
  // Cursors live on the connection: they end with the lease (while it is still valid to touch).
  if (statements_.cursor_open()) {
    statements_.forget_cursors();
    context_.set_cursor_open(false);
  }
  if (lease_) lease_.release(clean && !discard_lease_);
  discard_lease_ = false;
}

void MysqlSession::release_if_unpinned() {
  if (!context_.pinned()) release_backend(true);
}

MysqlSession::Step MysqlSession::after_backend_lost() {
  // A transaction or session state lived on the lost connection. Going on would run the client's
  // next statements without it (autocommitted, without its variables), so the client is closed after
  // the error, as a direct connection to a dying server would be.
  const bool had_state = context_.holds_session_state();
  context_.forget_backend_state();
  return had_state ? Step::Close : Step::Next;
}

void MysqlSession::count_pins(MysqlPins started) {
  for (std::size_t i = 0; i < kMysqlPinReasonCount; ++i) {
    if ((started & (1u << i)) != 0) env_.shared->mysql_pins[i].fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace corral::proxy
