// auth = "backend": the backend checks the client's own credentials (see login.h and
// docs/ARCHITECTURE.md "MySQL logins checked by the backend").
//
// Every login and COM_CHANGE_USER is relayed on a new backend connection, so the server applies its
// own accounts, plugins and host rules and words its own refusals. To lend that user further
// connections corral needs a password equivalent: for mysql_native_password, SHA1(password), which the
// client's token yields together with the account's stored SHA1(SHA1(password)) that SHOW GRANTS shows
// to the user itself; for mysql_old_password (pre-4.1 hashes, accepted by servers with
// secure_auth=OFF), the stored hash itself, once the client's token proved it knows the password. The
// equivalent is only ever kept in memory, in the pool key; no token, hash or equivalent is logged.
#include <memory>
#include <utility>

#include "proxy/mysql/login.h"

#include <fmt/format.h>

namespace corral::proxy {

namespace {

/// Time a client has for each step of the login (as in login.cc).
constexpr auto kClientStepTimeout = std::chrono::seconds(10);

/// The stored hash as SHOW GRANTS prints it: ... IDENTIFIED BY PASSWORD '*<40 hex>' ...
constexpr std::string_view kPasswordClause = " IDENTIFIED BY PASSWORD '";

/// A SHA1(password) for a COM_CHANGE_USER whose token matches no account: no password hashes to it
/// that anyone knows, so the server refuses the login (finding a preimage of 20 zero bytes is SHA1's
/// preimage problem).
const std::string kNoAccountsSha1(mysql::kSha1Length, '\0');

std::string hex(std::string_view bytes) {
  constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

/// The same for an account with mysql_old_password: a hash no password has that anyone knows.
const std::string kNoAccountsOldHash(mysql::kOldPasswordHashLength, '\0');

/// The stored hash in one line of SHOW GRANTS, as text ("*<40 hex>" or, for mysql_old_password,
/// "<16 hex>"); empty when the line has none.
std::string_view stored_hash_in(std::string_view grant) {
  const std::size_t at = grant.find(kPasswordClause);
  if (at == std::string_view::npos) return {};
  const std::string_view rest = grant.substr(at + kPasswordClause.size());
  const std::size_t end = rest.find('\'');
  if (end == std::string_view::npos) return {};
  return rest.substr(0, end);
}

/// The equivalent a client's `token` over `scramble` proves for an account whose stored hash is
/// `stored_text`; nullopt when the token is not that password's (or the hash is of another kind).
std::optional<pool::MysqlPasswordEquivalent> equivalent_for(std::string_view stored_text, std::string_view token,
                                                            std::string_view scramble, std::string_view plugin) {
  if (plugin == mysql::kMysqlOldPassword) {
    auto stored = mysql::parse_old_password_hash(stored_text);
    if (!stored || !mysql::verify_old_password(token, scramble, *stored)) return std::nullopt;
    return pool::MysqlPasswordEquivalent{{}, std::move(*stored)};
  }
  auto stored = mysql::parse_native_password_hash(stored_text);
  if (!stored) return std::nullopt;
  // Verifies the token against the hash too: a hash that is not this password's gives nothing.
  auto sha1 = mysql::recover_native_password_sha1(token, scramble, *stored);
  if (!sha1) return std::nullopt;
  return pool::MysqlPasswordEquivalent{std::move(*sha1), {}};
}

}  // namespace

/// The client's half of a relayed handshake: corral's greeting carries the server's scramble, and
/// every later auth packet passes through.
class MysqlLogin::BackendRelay final : public pool::MysqlLoginRelay {
 public:
  explicit BackendRelay(MysqlLogin& login) : login_(login) {}

  rt::Task<rt::Result<Answer>> greeted(const mysql::HandshakeV10& server) override {
    greeted_ = true;
    login_.scramble_ = server.auth_plugin_data;
    const pool::MysqlServerInfo info{true, server.server_version, server.capabilities, server.character_set};
    const std::string_view greeting_plugin =
        server.auth_plugin_name.empty() ? mysql::kMysqlNativePassword : std::string_view(server.auth_plugin_name);
    const bool sent = co_await login_.greet(info, greeting_plugin);
    if (!sent) co_return client_gone();
    ClientPacket packet;
    // The answer to the greeting (sequence id 1, as mariadbd checks; 2 after an SSLRequest) or a
    // refusal the client already got.
    const bool received = co_await login_.read_handshake_response(packet);
    if (!received) co_return client_gone();
    sequence_id_ = packet.reply_sequence();
    auto response = mysql::decode_handshake_response41(packet.payload, login_.server_capabilities_,
                                                       login_.client_.limits());
    login_.client_.consume_packet();
    if (!response) co_return refused(mysql::ER_HANDSHAKE_ERROR, {});
    const mysql::CapabilityFlags capabilities = response->capabilities & login_.server_capabilities_;
    std::string schema =
        (capabilities & mysql::CLIENT_CONNECT_WITH_DB) != 0 ? std::move(response->database) : std::string();
    login_.context_.login_as_backend_user(*login_.env_.listener, std::move(response->username), {}, std::move(schema),
                                          std::string(mysql::charset_of_collation(response->character_set)),
                                          capabilities, login_.env_.config->mysql.local_infile);
    last_token_ = response->auth_response;
    std::string plugin = (capabilities & mysql::CLIENT_PLUGIN_AUTH) != 0 ? std::move(response->auth_plugin_name)
                                                                         : std::string(mysql::kMysqlNativePassword);
    co_return Answer{&login_.context_.key(), std::move(plugin), std::move(response->auth_response),
                     response->character_set};
  }

  rt::Task<rt::Result<std::string>> exchange(std::string_view payload, bool answered) override {
    login_.client_.queue_packet(sequence_id_++, payload);
    const bool sent = co_await login_.client_.flush();
    if (!sent) co_return client_gone();
    if (!answered) co_return std::string();
    auto reply = co_await read_reply();
    if (!reply) co_return reply.error();
    last_token_ = *reply;
    co_return std::move(*reply);
  }

  bool client_on_tls() const noexcept override { return login_.client_.is_tls(); }

  /// The sequence id of corral's next packet to the client.
  std::uint8_t sequence_id() const noexcept { return sequence_id_; }
  /// The client's last authentication data (a token, or what it sent on the caching_sha2 full path).
  const std::string& last_token() const noexcept { return last_token_; }
  /// True once the client was greeted (before that, a failure is answered with sequence id 0).
  bool greeted() const noexcept { return greeted_; }
  /// True when the client is gone or already got its answer: nothing more is written to it.
  bool done_with_client() const noexcept { return done_with_client_; }

 private:
  rt::Task<rt::Result<std::string>> read_reply() {
    ClientPacket reply;
    const bool received = co_await login_.client_.read_packet(reply, rt::Deadline::after(kClientStepTimeout), false);
    if (!received) co_return client_gone();
    sequence_id_ = reply.reply_sequence();
    std::string payload(reply.payload);
    login_.client_.consume_packet();
    co_return payload;
  }

  std::error_code client_gone() {
    done_with_client_ = true;
    return make_error_code(std::errc::connection_aborted);
  }
  /// Answers the client with corral's own ERR; the backend connection is then abandoned.
  std::error_code refused(const mysql::ErrorSpec& spec, std::string_view message) {
    login_.client_.queue_error(sequence_id_, spec, message);
    done_with_client_ = true;
    return make_error_code(std::errc::protocol_error);
  }

  MysqlLogin& login_;
  std::uint8_t sequence_id_ = 0;
  std::string last_token_;
  bool greeted_ = false;
  bool done_with_client_ = false;
};

MysqlLogin::~MysqlLogin() {
  if (!joined_credentials_.empty()) frontend_.pools().client_left(joined_credentials_);
}

void MysqlLogin::join_credentials() {
  std::string credentials = context_.key().credentials_id();
  frontend_.pools().client_joined(credentials);
  if (!joined_credentials_.empty()) frontend_.pools().client_left(joined_credentials_);
  joined_credentials_ = std::move(credentials);
}

rt::Task<bool> MysqlLogin::backend_handshake() {
  BackendRelay relay(*this);
  co_return co_await backend_login(relay);
}

rt::Task<bool> MysqlLogin::backend_change_user(mysql::COM_CHANGE_USER change, std::uint8_t sequence_id) {
  // Clients make the token of COM_CHANGE_USER (and of a switch during it) over the scramble of the
  // connection's greeting, as a server keeps it for the whole connection: only the backend connection
  // of that greeting could check it. So corral checks it against the account's stored hashes and
  // logs in on a new connection with the equivalent: the server still decides, and words a refusal.
  std::string token = std::move(change.auth_response);
  if (!change.auth_plugin_name.empty() && change.auth_plugin_name != mysql::kMysqlNativePassword) {
    std::string request;
    mysql::encode_auth_switch_request(request, {std::string(mysql::kMysqlNativePassword), scramble_ + '\0'});
    auto answer = co_await ask_client(request, sequence_id);
    if (!answer) co_return false;
    token = std::move(*answer);
  }
  pool::MysqlPasswordEquivalent equivalent;
  if (!token.empty()) {
    StoredHashes stored = co_await stored_hashes(change.username);
    if (!stored.error.empty()) {
      co_return co_await refuse(sequence_id, mysql::ER_NOT_SUPPORTED_AUTH_MODE,
                                "corral: COM_CHANGE_USER with auth = \"backend\" needs the listener's backend "
                                "account to read mysql.user: " +
                                    stored.error);
    }
    auto matched = match_stored(stored.native, token, mysql::kMysqlNativePassword);
    if (!matched && !stored.old.empty()) {
      // As the server does for an account with a pre-4.1 hash: a lone 0xFE asks the client for a
      // mysql_old_password token over the same scramble.
      const auto old_switch = static_cast<char>(mysql::kAuthSwitchRequestHeader);  // OldAuthSwitchRequest
      auto answer = co_await ask_client(std::string_view(&old_switch, 1), sequence_id);
      if (!answer) co_return false;
      matched = match_stored(stored.old, *answer, mysql::kMysqlOldPassword);
      if (!matched) matched = pool::MysqlPasswordEquivalent{{}, kNoAccountsOldHash};
    }
    // No stored hash matches (a wrong password, an unknown user, another plugin): a password no
    // account has, so that the server refuses the login in its own words.
    equivalent = matched.value_or(pool::MysqlPasswordEquivalent{kNoAccountsSha1, {}});
  }
  std::string charset =
      change.character_set ? std::string(mysql::charset_of_collation(*change.character_set)) : std::string();
  context_.login_as_backend_user(*env_.listener, std::move(change.username), std::move(equivalent),
                                 std::move(change.database), std::move(charset), context_.capabilities(),
                                 env_.config->mysql.local_infile);
  auto connection = std::make_unique<pool::MysqlConnection>(env_.config->pool, pool::backend_codec_limits());
  auto opened = co_await connection->open(context_.key(), env_.backend_address, cancel_);
  if (!opened) {
    client_.queue_packet(sequence_id, connection->error().err_payload());
    co_return co_await refused();
  }
  context_.started_with_autocommit(connection->autocommit());
  pool::MysqlLease lease = frontend_.pools().get(context_.key(), env_.backend_address).adopt(std::move(connection));
  if (lease) lease.release(true);
  const bool finished = co_await finish(sequence_id);
  if (finished) join_credentials();  // a refusal in finish() puts the previous user back (change_user())
  co_return finished;
}

rt::Task<std::optional<std::string>> MysqlLogin::ask_client(std::string_view request, std::uint8_t& sequence_id) {
  client_.queue_packet(sequence_id, request);
  const bool sent = co_await client_.flush();
  if (!sent) co_return std::nullopt;
  ClientPacket reply;
  const bool received = co_await client_.read_packet(reply, rt::Deadline::after(kClientStepTimeout), false);
  if (!received) co_return std::nullopt;
  std::string answer(reply.payload);
  sequence_id = reply.reply_sequence();
  client_.consume_packet();
  co_return answer;
}

std::optional<pool::MysqlPasswordEquivalent> MysqlLogin::match_stored(const std::vector<std::string>& hashes,
                                                                      std::string_view token,
                                                                      std::string_view plugin) const {
  for (const std::string& hash : hashes) {
    auto equivalent = equivalent_for(hash, token, scramble_, plugin);
    if (equivalent) return equivalent;
  }
  return std::nullopt;
}

rt::Task<MysqlLogin::StoredHashes> MysqlLogin::stored_hashes(std::string_view user) {
  pool::MysqlKey admin = pool::make_mysql_key(env_.listener->backend, 0, env_.backend_tls);
  auto acquired = co_await frontend_.pools().acquire(std::move(admin), env_.backend_address,
                                                     rt::Deadline::after(env_.config->pool.queue_timeout), cancel_);
  if (!acquired.ok()) co_return StoredHashes{{}, {}, acquired.error.message};
  // The name as a hex literal: nothing the client sent is ever parsed as SQL.
  std::string sql = "SELECT DISTINCT authentication_string FROM mysql.user WHERE User = X'";
  sql.append(hex(user)).append("'");
  auto outcome = co_await acquired.lease->query(sql, cancel_);
  if (!outcome || outcome->error) {
    std::string error = outcome ? outcome->error->message : acquired.lease->error().message;
    acquired.lease.release(static_cast<bool>(outcome));
    co_return StoredHashes{{}, {}, std::move(error)};
  }
  acquired.lease.release(true);
  StoredHashes stored;
  for (const auto& row : outcome->rows) {
    if (row.empty() || !row[0]) continue;
    // mysql_native_password's "*<40 hex>", or mysql_old_password's 16 hex digits.
    (mysql::parse_old_password_hash(*row[0]) ? stored.old : stored.native).push_back(*row[0]);
  }
  co_return stored;
}

rt::Task<bool> MysqlLogin::backend_login(BackendRelay& relay) {
  auto connection = std::make_unique<pool::MysqlConnection>(env_.config->pool, pool::backend_codec_limits());
  auto opened = co_await connection->open_relayed(relay, env_.backend_address, cancel_);
  if (!opened) {
    if (relay.done_with_client()) {
      co_await client_.flush();  // corral's own refusal, when it made one
      co_return false;
    }
    // The server's refusal (ERR 1045 "Access denied ...", 1049 "Unknown database"), or corral's
    // "backend unavailable" before or during the login.
    const pool::MysqlError& error = connection->error();
    if (relay.greeted()) {
      log_failed_login(context_.key().user, fmt::format("the backend refused it: ERR {} {}", error.code, error.message));
    }
    client_.queue_packet(relay.greeted() ? relay.sequence_id() : 0, error.err_payload());
    co_return co_await refused();
  }
  // A later COM_CHANGE_USER's token is made over the scramble the client saw last.
  scramble_ = connection->scramble();
  auto equivalent = co_await password_equivalent(*connection, relay.last_token());
  if (!equivalent) {
    co_return co_await refuse(relay.sequence_id(), mysql::ER_NOT_SUPPORTED_AUTH_MODE,
                              "corral: the backend accepted user '" + context_.key().user +
                                  "', but corral cannot open further connections for it (auth = \"backend\" "
                                  "needs an account with mysql_native_password, or mysql_old_password, whose hash "
                                  "SHOW GRANTS shows)");
  }
  context_.login_as_backend_user(*env_.listener, context_.key().user, std::move(*equivalent), context_.schema(),
                                 context_.charset(), context_.capabilities(), env_.config->mysql.local_infile);
  context_.started_with_autocommit(connection->autocommit());
  // The login's connection serves this user from now on, when its pool has room for it.
  join_credentials();
  pool::MysqlLease lease = frontend_.pools().get(context_.key(), env_.backend_address).adopt(std::move(connection));
  if (lease) lease.release(true);
  co_return co_await finish(relay.sequence_id());
}

rt::Task<std::optional<pool::MysqlPasswordEquivalent>> MysqlLogin::password_equivalent(
    pool::MysqlConnection& connection, std::string_view token) {
  const std::string& plugin = connection.auth_plugin();
  if (plugin != mysql::kMysqlNativePassword && plugin != mysql::kMysqlOldPassword) co_return std::nullopt;
  // An accepted empty token: the account has no password, and an empty token opens every connection.
  if (token.empty()) co_return pool::MysqlPasswordEquivalent{};
  auto grants = co_await connection.query("SHOW GRANTS", cancel_);
  if (!grants) co_return std::nullopt;
  if (grants->error) {
    // An expired password's sandbox (the client said it can handle one) runs only SET statements:
    // the stored hash is read with the listener's own backend account instead, as for COM_CHANGE_USER.
    if (grants->error->code != mysql::ER_MUST_CHANGE_PASSWORD.code) co_return std::nullopt;
    const StoredHashes stored = co_await stored_hashes(context_.key().user);
    co_return match_stored(plugin == mysql::kMysqlOldPassword ? stored.old : stored.native, token, plugin);
  }
  for (const auto& row : grants->rows) {
    for (const auto& value : row) {
      if (!value) continue;
      auto equivalent = equivalent_for(stored_hash_in(*value), token, connection.scramble(), plugin);
      if (equivalent) co_return equivalent;
    }
  }
  co_return std::nullopt;
}

}  // namespace corral::proxy
