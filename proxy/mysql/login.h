// Logging a MySQL client in: corral as the server of the connection phase, and the authentication
// part of COM_CHANGE_USER.
//
//   handshake(): learn_server() (the backend's capabilities, one probe per worker)
//     ─► HandshakeV10 (scramble, capabilities = corral's own ∪ (backend's ∩ relayable))
//     ◄─ [SSLRequest ─► TLS handshake, when the listener has tls_cert] ◄─ HandshakeResponse41
//        (a plain one on a listener with tls_required ─► ERR 3159)
//     ─► authenticate(): mysql_native_password | caching_sha2_password
//          fast path (0x03, a full authentication of the user succeeded before in this process)
//          full path (0x04 ◄─ 0x02 ─► RSA public key ◄─ OAEP(password ^ scramble);
//                     over TLS: 0x04 ◄─ password + NUL)
//          AuthSwitchRequest for a client without a token, or with a plugin corral does not verify
//     ─► context.login() ─► [CONNECT_WITH_DB: a lease of the key proves the schema] ─► OK
//   change_user(): authenticate() with the same scramble ─► context.login() ─► [schema] ─► OK
//
// A refusal is ERR 1045 28000 "Access denied for user 'u'@'host' (using password: YES|NO)"; an
// unknown user takes the same path and gets the same error.
//
// auth = "backend" (login_backend.cc): the backend checks the client's own credentials.
//   handshake(): open a backend connection whose login is relayed (MysqlConnection::open_relayed)
//     ◄─ server HandshakeV10 ─► client greeting with the server's scramble ◄─ HandshakeResponse41
//     ─► server: HandshakeResponse41 (the client's user, plugin, token; schema with CONNECT_WITH_DB)
//     ◄─► AuthSwitchRequest / AuthMoreData relayed both ways ◄─ OK | ERR (to the client as the server wrote it)
//     ─► password equivalent: SHOW GRANTS' "*hash" + the client's native token ─► SHA1(password)
//     ─► context.login_as_backend_user() ─► the connection joins the pool of that key ─► OK
//   change_user(): the client's token is over the greeting's scramble, which only the greeting's backend
//     connection knows: the stored hashes of the user's accounts (mysql.user, read with the listener's
//     backend account) turn it into SHA1(password) [none matches and the user has a pre-4.1 hash:
//     ─► lone 0xFE ◄─ mysql_old_password token, checked against that hash] ─► a new backend connection
//     logs in with the equivalent (the server decides and words a refusal) ─► the context logs in, the
//     connection joins the pool ─► OK
//
// Not thread-safe: one session.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pool/mysql_connection.h"
#include "protocols/mysql/mysql.h"
#include "proxy/mysql/client_channel.h"
#include "proxy/mysql/context.h"
#include "proxy/mysql/frontend.h"
#include "runtime/task.h"

namespace corral::proxy {

class MysqlLogin {
 public:
  /// Lifetime: every argument outlives the login; `cancel` fires when the worker stops.
  MysqlLogin(MysqlClientChannel& client, MysqlContext& context, MysqlFrontend& frontend, rt::CancelSource* cancel);
  /// auth = "backend": the session leaves its credentials' client count (see MysqlPools::client_left).
  ~MysqlLogin();
  MysqlLogin(const MysqlLogin&) = delete;
  MysqlLogin& operator=(const MysqlLogin&) = delete;

  /// The connection phase: greets the client, authenticates it and logs the context in. Suspends for
  /// each client packet (10 s each) and the backend probe. False (the client got an ERR when it can
  /// read one) when the connection must close.
  rt::Task<bool> handshake();
  /// COM_CHANGE_USER after the old session was ended: authenticates `change`'s user with the
  /// connection's scramble and logs the context in again. When the user is refused or its schema does
  /// not exist the client gets the ERR and, as with mariadbd, keeps its previous user, schema and
  /// charset (after three refusals every further COM_CHANGE_USER is ERR 1047). False when the
  /// connection must close (the client is gone).
  rt::Task<bool> change_user(mysql::COM_CHANGE_USER change, std::uint8_t sequence_id);

 private:
  struct AuthOutcome {
    bool ok = false;
    std::uint8_t next_sequence_id = 0;
  };

  class BackendRelay;  // login_backend.cc

  /// What the greeting offers given what the backend offers.
  mysql::CapabilityFlags offered_capabilities(mysql::CapabilityFlags backend) const;
  /// Sends HandshakeV10 with `scramble` and the backend's `server` details.
  rt::Task<bool> greet(const pool::MysqlServerInfo& server, std::string_view plugin);
  rt::Task<bool> learn_server();
  // auth = "backend" (login_backend.cc).
  bool backend_auth() const noexcept { return env_.listener->auth == config::AuthMode::Backend; }
  rt::Task<bool> backend_handshake();
  rt::Task<bool> backend_change_user(mysql::COM_CHANGE_USER change, std::uint8_t sequence_id);
  /// Relays the login on a new backend connection; on success logs the context in and pools it.
  rt::Task<bool> backend_login(BackendRelay& relay);
  /// The context's credentials now count this client (and the previous ones no longer do).
  void join_credentials();
  /// The password equivalent of the user `connection` logged in as with `token` (empty for an empty
  /// password); nullopt when corral cannot learn it (neither mysql_native_password nor
  /// mysql_old_password, or no hash in SHOW GRANTS).
  rt::Task<std::optional<pool::MysqlPasswordEquivalent>> password_equivalent(pool::MysqlConnection& connection,
                                                                             std::string_view token);
  struct StoredHashes {
    std::vector<std::string> native;  // "*<40 hex>": mysql_native_password
    std::vector<std::string> old;     // "<16 hex>": mysql_old_password
    std::string error;                // non-empty: mysql.user could not be read (the server's words)
  };
  /// COM_CHANGE_USER: the stored hashes of `user`'s accounts, read with the listener's backend account.
  rt::Task<StoredHashes> stored_hashes(std::string_view user);
  /// The equivalent that `token` (over scramble_, made for `plugin`) proves for one of `hashes`.
  std::optional<pool::MysqlPasswordEquivalent> match_stored(const std::vector<std::string>& hashes,
                                                            std::string_view token, std::string_view plugin) const;
  /// Sends `request` (an auth switch) with `sequence_id` and reads the client's answer; `sequence_id`
  /// becomes the one for corral's next packet. Suspends up to 10 s for the answer. nullopt when the
  /// client is gone.
  rt::Task<std::optional<std::string>> ask_client(std::string_view request, std::uint8_t& sequence_id);
  rt::Task<AuthOutcome> authenticate(const config::User* user, std::string_view user_name, std::string plugin,
                                     std::string token, std::uint8_t sequence_id);
  rt::Task<AuthOutcome> caching_sha2_auth(const config::User* user, std::string_view user_name,
                                          std::string_view token, std::uint8_t sequence_id);
  /// A caching_sha2_password full authentication ended: on success the user may take the fast path
  /// from now on (`cached`: its flag, null for none) and the metrics count it.
  void note_full_auth(bool ok, std::atomic<bool>* cached) const;
  /// Reads the client's answer to the greeting into `packet`. An SSLRequest (when the greeting offered
  /// CLIENT_SSL) is followed by the TLS handshake and the HandshakeResponse41 inside TLS (sequence
  /// id 2); a plain answer on a listener with tls_required gets ERR 3159. Suspends for each packet
  /// (10 s) and the handshake. False when the connection must close (the client got an ERR when it
  /// could read one).
  rt::Task<bool> read_handshake_response(ClientPacket& packet);
  /// After the context logged in: proves its schema (when it has one), then answers OK.
  rt::Task<bool> finish(std::uint8_t sequence_id);
  rt::Task<bool> check_schema(std::uint8_t sequence_id);
  rt::Task<bool> users_change_user(mysql::COM_CHANGE_USER change, std::uint8_t sequence_id);
  /// Queues an ERR (the connection phase's refusal) and writes it. Always false.
  rt::Task<bool> refuse(std::uint8_t sequence_id, const mysql::ErrorSpec& spec, std::string_view message = {});
  /// Writes the refusal queued for the client and notes that it was told. Always false.
  rt::Task<bool> refused();
  /// The log line of a refused login: user, client address and why (never a password or token).
  void log_failed_login(std::string_view user_name, std::string_view reason) const;
  std::string access_denied(std::string_view user_name, bool with_password) const;

  MysqlClientChannel& client_;
  MysqlContext& context_;
  MysqlFrontend& frontend_;
  const ListenerEnv& env_;
  rt::CancelSource* cancel_;
  std::string scramble_;                            // the greeting's; COM_CHANGE_USER reuses it
  std::string peer_host_;                           // for "Access denied for user 'u'@'host'"
  mysql::CapabilityFlags server_capabilities_ = 0;  // what the greeting offered
  std::string joined_credentials_;                  // auth = "backend": the credentials counted for this client
  bool refused_ = false;                            // the client got a refusal (not: it went away)
  int failed_change_users_ = 0;                     // refused COM_CHANGE_USERs on this connection
};

}  // namespace corral::proxy
