#include "proxy/mysql/login.h"

#include "runtime/log.h"

#include <atomic>
#include <utility>

#include "proxy/shared_state.h"

namespace corral::proxy {

namespace {

/// Time a client has for each step of the login.
constexpr auto kHandshakeTimeout = std::chrono::seconds(10);
/// Refused COM_CHANGE_USERs after which mariadbd answers every further one "Unknown command".
constexpr int kMaxFailedChangeUsers = 3;

/// Capability bits that only concern the exchange between the client and corral: offered always.
constexpr mysql::CapabilityFlags kFrontendOwnCapabilities =
    mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_SECURE_CONNECTION | mysql::CLIENT_PLUGIN_AUTH |
    mysql::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | mysql::CLIENT_CONNECT_WITH_DB | mysql::CLIENT_CONNECT_ATTRS |
    mysql::CLIENT_LONG_FLAG | mysql::CLIENT_TRANSACTIONS | mysql::CLIENT_IGNORE_SIGPIPE;
/// Bits that change what the backend sends or how it runs statements: offered only when the backend
/// offers them, because its packets are relayed unchanged. (Prepared-statement metadata caching is left
/// out: a client skips metadata the statement's backend may send, and a statement runs on many. Bulk
/// unit results are left out too: MariaDB 10.11 does not have them, so nothing tests them. A client's
/// compression is corral's to speak, and its backend connections compress too: pool/mysql_key.h.)
constexpr mysql::CapabilityFlags kFrontendRelayedCapabilities =
    mysql::CLIENT_MYSQL | mysql::CLIENT_FOUND_ROWS | mysql::CLIENT_LOCAL_FILES | mysql::CLIENT_IGNORE_SPACE |
    mysql::CLIENT_INTERACTIVE | mysql::CLIENT_MULTI_STATEMENTS | mysql::CLIENT_MULTI_RESULTS |
    mysql::CLIENT_PS_MULTI_RESULTS | mysql::CLIENT_SESSION_TRACK | mysql::CLIENT_DEPRECATE_EOF |
    mysql::CLIENT_QUERY_ATTRIBUTES | mysql::MARIADB_CLIENT_PROGRESS | mysql::MARIADB_CLIENT_EXTENDED_METADATA |
    mysql::MARIADB_CLIENT_STMT_BULK_OPERATIONS | mysql::CLIENT_COMPRESS | mysql::CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS;

std::string auth_more_data(std::string_view data) {
  std::string payload;
  mysql::encode_auth_more_data(payload, data);
  return payload;
}

}  // namespace

MysqlLogin::MysqlLogin(MysqlClientChannel& client, MysqlContext& context, MysqlFrontend& frontend,
                       rt::CancelSource* cancel)
    : client_(client),
      context_(context),
      frontend_(frontend),
      env_(frontend.env()),
      cancel_(cancel),
      peer_host_(client.peer_host()) {}

rt::Task<bool> MysqlLogin::learn_server() {
  pool::MysqlPools& pools = frontend_.pools();
  const rt::Deadline deadline = rt::Deadline::after(env_.config->pool.queue_timeout);
  // One probe per worker at a time: clients arriving meanwhile wait for its result.
  while (frontend_.probing && !pools.server_info(env_.backend_address).known) {
    const bool woken = co_await frontend_.probed.wait(deadline, cancel_);
    if (!woken) break;
  }
  if (pools.server_info(env_.backend_address).known) co_return true;
  // The greeting offers what the backend offers: open one backend connection to find out.
  frontend_.probing = true;
  // Named, not a temporary in the co_await expression: g++ 12 mishandles those (see docs/ARCHITECTURE.md).
  pool::MysqlKey probe = pool::make_mysql_key(env_.listener->backend, 0, env_.backend_tls);
  auto acquired = co_await pools.acquire(std::move(probe), env_.backend_address, deadline, cancel_);
  frontend_.probing = false;
  frontend_.probed.notify_all();
  if (!acquired.ok()) {
    client_.queue_packet(0, acquired.error.err_payload());
    co_await client_.flush();
    co_return false;
  }
  // Closed, not pooled: its key (no client capabilities) is no client's, so it would only take a slot.
  acquired.lease.release(false);
  co_return true;
}

rt::Task<bool> MysqlLogin::refuse(std::uint8_t sequence_id, const mysql::ErrorSpec& spec, std::string_view message) {
  client_.queue_error(sequence_id, spec, message);
  co_return co_await refused();
}

void MysqlLogin::log_failed_login(std::string_view user_name, std::string_view reason) const {
  record_failed_login(env_.shared->metrics, env_.listener->name, user_name, client_.peer_host(), reason);
}

rt::Task<bool> MysqlLogin::refused() {
  const bool told = co_await client_.flush();
  refused_ = told;
  co_return false;
}

mysql::CapabilityFlags MysqlLogin::offered_capabilities(mysql::CapabilityFlags backend) const {
  mysql::CapabilityFlags relayed = kFrontendRelayedCapabilities;
  if (!env_.config->mysql.local_infile) relayed &= ~mysql::CLIENT_LOCAL_FILES;
  // TLS toward the client is corral's own: offered when the listener has a certificate. Without it a
  // client that prefers TLS (the mysql CLI's default) goes on in plain text.
  const mysql::CapabilityFlags tls = env_.listener_tls != nullptr ? mysql::CLIENT_SSL : 0;
  return kFrontendOwnCapabilities | tls | (backend & relayed);
}

rt::Task<bool> MysqlLogin::read_handshake_response(ClientPacket& packet) {
  const rt::TlsContext* tls = env_.listener_tls;
  if (tls != nullptr) client_.limit_reads_to(mysql::kPacketHeaderSize + mysql::kSslRequestSize);
  bool received = co_await client_.read_packet(packet, rt::Deadline::after(kHandshakeTimeout), true, 1);
  if (!received) co_return false;
  if (mysql::is_ssl_request(packet.payload)) {
    const std::uint8_t next_sequence = packet.reply_sequence();
    client_.consume_packet();
    if (tls == nullptr) {
      // The greeting did not offer CLIENT_SSL; a client asking anyway is out of step.
      const std::string message = "corral: TLS is not enabled on listener '" + env_.listener->name + "'";
      co_return co_await refuse(next_sequence, mysql::ER_HANDSHAKE_ERROR, message);
    }
    const bool secured = co_await client_.start_tls(*tls, rt::Deadline::after(kHandshakeTimeout));
    if (!secured) co_return false;
    // Protocol::SSLRequest: the full HandshakeResponse41 follows inside TLS with the next sequence id.
    received = co_await client_.read_packet(packet, rt::Deadline::after(kHandshakeTimeout), true, next_sequence);
    if (!received) co_return false;
    if (mysql::is_ssl_request(packet.payload)) {
      const std::uint8_t reply_sequence = packet.reply_sequence();
      client_.consume_packet();
      co_return co_await refuse(reply_sequence, mysql::ER_HANDSHAKE_ERROR);
    }
    co_return true;
  }
  if (tls != nullptr && env_.listener->tls->required) {
    // Refused before any authentication: nothing of the password is checked over plain text.
    auto response = mysql::decode_handshake_response41(packet.payload, server_capabilities_, client_.limits());
    const std::uint8_t reply_sequence = packet.reply_sequence();
    client_.consume_packet();
    log_failed_login(response ? std::string_view(response->username) : std::string_view(),
                     "insecure transport (the listener has tls_required = true)");
    const std::string message = "Connections using insecure transport are prohibited on listener '" +
                                env_.listener->name + "' (tls_required = true)";
    co_return co_await refuse(reply_sequence, mysql::ER_SECURE_TRANSPORT_REQUIRED, message);
  }
  co_return true;
}

rt::Task<bool> MysqlLogin::greet(const pool::MysqlServerInfo& server, std::string_view plugin) {
  server_capabilities_ = offered_capabilities(server.capabilities);
  mysql::HandshakeV10 greeting;
  // The backend's own version unless configured: clients recognise MariaDB by it ("5.5.5-" prefix
  // and "MariaDB" in it) and pick their dialect and features from it, as they would direct.
  const std::string& configured_version = env_.config->mysql.server_version;
  greeting.server_version = configured_version.empty() ? server.server_version : configured_version;
  greeting.connection_id = client_.id();
  greeting.auth_plugin_data = scramble_;
  greeting.capabilities = server_capabilities_;
  greeting.character_set = server.character_set != 0 ? server.character_set : mysql::kCollationUtf8mb4GeneralCi;
  greeting.status_flags = mysql::SERVER_STATUS_AUTOCOMMIT;
  greeting.auth_plugin_name = std::string(plugin);
  std::string& out = client_.output();
  const std::size_t at = mysql::begin_packet(out);
  mysql::encode_handshake_v10(out, greeting);
  mysql::finish_packet(out, at, 0);
  co_return co_await client_.flush();
}

rt::Task<bool> MysqlLogin::handshake() {
  if (backend_auth()) co_return co_await backend_handshake();
  const bool server_known = co_await learn_server();
  if (!server_known) co_return false;
  auto scramble = mysql::generate_scramble();
  if (!scramble) {
    co_return co_await refuse(0, mysql::ER_HANDSHAKE_ERROR,
                              "corral: cannot make a scramble (random number generator failed)");
  }
  scramble_ = std::move(*scramble);
  const pool::MysqlServerInfo& server = frontend_.pools().server_info(env_.backend_address);
  const bool greeted = co_await greet(server, mysql::kMysqlNativePassword);
  if (!greeted) co_return false;

  ClientPacket packet;
  const bool received = co_await read_handshake_response(packet);
  if (!received) co_return false;
  const std::uint8_t reply_sequence = packet.reply_sequence();
  auto response = mysql::decode_handshake_response41(packet.payload, server_capabilities_, client_.limits());
  client_.consume_packet();
  if (!response) co_return co_await refuse(reply_sequence, mysql::ER_HANDSHAKE_ERROR);
  const mysql::CapabilityFlags capabilities = response->capabilities & server_capabilities_;
  const config::User* user = env_.config->find_user(response->username);
  std::string plugin = (capabilities & mysql::CLIENT_PLUGIN_AUTH) != 0 ? response->auth_plugin_name
                                                                       : std::string(mysql::kMysqlNativePassword);
  const AuthOutcome auth = co_await authenticate(user, response->username, std::move(plugin),
                                                 std::move(response->auth_response), reply_sequence);
  if (!auth.ok) co_return false;
  std::string schema = (capabilities & mysql::CLIENT_CONNECT_WITH_DB) != 0 ? response->database : std::string();
  context_.login(*env_.listener, *user, std::move(schema),
                 std::string(mysql::charset_of_collation(response->character_set)), capabilities,
                 env_.config->mysql.local_infile);
  co_return co_await finish(auth.next_sequence_id);
}

rt::Task<bool> MysqlLogin::change_user(mysql::COM_CHANGE_USER change, std::uint8_t sequence_id) {
  const MysqlContext before = context_;
  refused_ = false;
  bool logged_in = false;
  const std::string_view refused_charset =
      change.character_set ? mysql::refused_client_charset(*change.character_set) : std::string_view();
  if (failed_change_users_ >= kMaxFailedChangeUsers) {
    // As mariadbd, against guessing passwords: every further COM_CHANGE_USER is an unknown command.
    logged_in = co_await refuse(sequence_id, mysql::ER_UNKNOWN_COM_ERROR);
  } else if (!refused_charset.empty()) {
    // As mariadbd, before it authenticates: a client charset its parser cannot take.
    logged_in = co_await refuse(sequence_id, mysql::ER_WRONG_VALUE_FOR_VAR,
                                "Variable 'character_set_client' can't be set to the value of '" +
                                    std::string(refused_charset) + "'");
  } else if (backend_auth()) {
    logged_in = co_await backend_change_user(std::move(change), sequence_id);
  } else {
    logged_in = co_await users_change_user(std::move(change), sequence_id);
  }
  if (logged_in || !refused_) co_return logged_in;
  // As mariadbd: a refused COM_CHANGE_USER keeps the connection and the previous user, schema and
  // charset (the previous session's state is gone all the same).
  ++failed_change_users_;
  context_ = before;
  co_return true;
}

rt::Task<bool> MysqlLogin::users_change_user(mysql::COM_CHANGE_USER change, std::uint8_t sequence_id) {
  const config::User* user = env_.config->find_user(change.username);
  std::string plugin = change.auth_plugin_name.empty() ? std::string(mysql::kMysqlNativePassword)
                                                       : std::move(change.auth_plugin_name);
  const AuthOutcome auth = co_await authenticate(user, change.username, std::move(plugin),
                                                 std::move(change.auth_response), sequence_id);
  if (!auth.ok) co_return false;
  std::string charset = change.character_set ? std::string(mysql::charset_of_collation(*change.character_set))
                                             : std::string();
  context_.login(*env_.listener, *user, std::move(change.database), std::move(charset), context_.capabilities(),
                 env_.config->mysql.local_infile);
  co_return co_await finish(auth.next_sequence_id);
}

rt::Task<bool> MysqlLogin::finish(std::uint8_t sequence_id) {
  if (!context_.schema().empty()) {
    const bool schema_ok = co_await check_schema(sequence_id);
    if (!schema_ok) co_return false;
  }
  client_.queue_ok(sequence_id);
  co_return co_await client_.flush();
}

std::string MysqlLogin::access_denied(std::string_view user_name, bool with_password) const {
  std::string message = "Access denied for user '";
  message.append(user_name).append("'@'").append(peer_host_).append("' (using password: ");
  message.append(with_password ? "YES)" : "NO)");
  return message;
}

rt::Task<MysqlLogin::AuthOutcome> MysqlLogin::authenticate(const config::User* user, std::string_view user_name,
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
    client_.queue_packet(sequence_id, request);
    const bool sent = co_await client_.flush();
    if (!sent) co_return AuthOutcome{};
    ClientPacket reply;
    const bool received = co_await client_.read_packet(reply, rt::Deadline::after(kHandshakeTimeout), false);
    if (!received) co_return AuthOutcome{};
    token = std::string(reply.payload);
    sequence_id = reply.reply_sequence();
    client_.consume_packet();
    plugin = std::string(switch_to);
  }
  if (plugin == mysql::kCachingSha2Password) co_return co_await caching_sha2_auth(user, user_name, token, sequence_id);
  const bool ok = user != nullptr && mysql::verify_native_password_plain(token, scramble_, user->password);
  if (!ok) {
    log_failed_login(user_name, user == nullptr ? "no such user in [[users]]" : "wrong password");
    client_.queue_error(sequence_id, mysql::ER_ACCESS_DENIED_ERROR, access_denied(user_name, !token.empty()));
    co_await refused();
    co_return AuthOutcome{false, sequence_id};
  }
  co_return AuthOutcome{true, sequence_id};
}

rt::Task<MysqlLogin::AuthOutcome> MysqlLogin::caching_sha2_auth(const config::User* user, std::string_view user_name,
                                                                std::string_view token, std::uint8_t sequence_id) {
  std::atomic<bool>* cached = nullptr;
  if (user != nullptr && env_.mysql_sha2_cached != nullptr) {
    cached = &env_.mysql_sha2_cached[static_cast<std::size_t>(user - env_.config->users.data())];
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
      client_.queue_packet(sequence_id++,
                           auth_more_data(std::string(1, static_cast<char>(mysql::kCachingSha2FastAuthSuccess))));
      env_.shared->mysql_sha2_fast_auths.fetch_add(1, std::memory_order_relaxed);
    }
  } else {
    // Full path (an unknown user goes through it too, so its answer does not tell users apart). The
    // token is checked now all the same: see the plain-text answer below.
    const bool token_ok = user != nullptr &&
                          mysql::verify_caching_sha2_token(token, scramble_, mysql::caching_sha2_hash(user->password));
    client_.queue_packet(sequence_id++,
                         auth_more_data(std::string(1, static_cast<char>(mysql::kCachingSha2PerformFullAuth))));
    const bool asked = co_await client_.flush();
    if (!asked) co_return AuthOutcome{};
    ClientPacket reply;
    bool received = co_await client_.read_packet(reply, rt::Deadline::after(kHandshakeTimeout), false);
    if (!received) co_return AuthOutcome{};
    sequence_id = reply.reply_sequence();
    const bool wants_key = reply.payload.size() == 1 && reply.payload[0] == mysql::kCachingSha2RequestPublicKey;
    if (wants_key) {
      client_.consume_packet();
      client_.queue_packet(sequence_id++, auth_more_data(frontend_.rsa_public_pem()));
      const bool sent = co_await client_.flush();
      if (!sent) co_return AuthOutcome{};
      received = co_await client_.read_packet(reply, rt::Deadline::after(kHandshakeTimeout), false);
      if (!received) co_return AuthOutcome{};
      sequence_id = reply.reply_sequence();
      auto password = mysql::decrypt_password_rsa(frontend_.rsa_key(), reply.payload, scramble_);
      client_.consume_packet();
      ok = user != nullptr && password && mysql::secure_equal(*password, user->password);
      note_full_auth(ok, cached);
    } else {
      // Over TLS the client sends the password itself, NUL-terminated (caching_sha2_password's full
      // authentication on a secure connection): no key exchange.
      std::string_view clear = reply.payload;
      if (!clear.empty() && clear.back() == '\0') clear.remove_suffix(1);
      ok = user != nullptr && mysql::secure_equal(clear, user->password);
      if (!client_.is_tls()) {
        // Without TLS only a client whose token already proved the password is let in: MariaDB
        // Connector/C with ssl on (the mariadb CLI's default) sends the password in clear even when
        // the greeting offered no TLS. Refusing would not unsend it; the operator is told instead.
        ok = ok && token_ok;
        if (ok) {
          rt::log::warn("listener {}: user '{}' from {} sent its password in clear over an unencrypted connection "
                        "(a MariaDB client with ssl on and no TLS offered): give the listener tls_cert and "
                        "tls_key, or connect with --skip-ssl",
                        env_.listener->name, user_name, peer_host_);
        }
      }
      client_.consume_packet();
      note_full_auth(ok, cached);
    }
  }
  if (!ok) {
    log_failed_login(user_name, user == nullptr ? "no such user in [[users]] (caching_sha2_password)"
                                                : "wrong password (caching_sha2_password)");
    client_.queue_error(sequence_id, mysql::ER_ACCESS_DENIED_ERROR, access_denied(user_name, with_password));
    co_await refused();
    co_return AuthOutcome{false, sequence_id};
  }
  co_return AuthOutcome{true, sequence_id};
}

void MysqlLogin::note_full_auth(bool ok, std::atomic<bool>* cached) const {
  if (!ok) return;
  if (cached != nullptr) cached->store(true, std::memory_order_relaxed);
  env_.shared->mysql_sha2_full_auths.fetch_add(1, std::memory_order_relaxed);
}

rt::Task<bool> MysqlLogin::check_schema(std::uint8_t sequence_id) {
  // The backend is the judge of which databases exist (ERR 1049 Unknown database, 1044 no access).
  pool::MysqlPool& pool = frontend_.pools().get(context_.key(), env_.backend_address);
  auto acquired = co_await pool.acquire(rt::Deadline::after(env_.config->pool.queue_timeout), cancel_);
  if (!acquired.ok()) {
    client_.queue_packet(sequence_id, acquired.error.err_payload());
    co_return co_await refused();
  }
  acquired.lease.release(true);
  co_return true;
}

}  // namespace corral::proxy
