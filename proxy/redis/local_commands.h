// The commands corral answers itself from a Redis client's context, and the pool key it implies.
//
//   request ──route()──► Local ──answer()──► reply bytes + context change (SELECT, HELLO, AUTH...)
//                        Shared/Pinned ──pool_key()──► which backend pool serves this client now
//
// Everything here is I/O-free so every reply can be checked to the byte in unit tests. What needs the
// backend (validating an AUTH in backend mode, learning the server's version or database count)
// comes back as LocalOutcome::NeedsBackend with what to ask for.
#pragma once

#include <string>
#include <string_view>

#include "config/config.h"
#include "pool/redis_connection.h"
#include "pool/redis_key.h"
#include "protocols/redis/command_table.h"
#include "protocols/redis/request.h"
#include "proxy/metrics.h"
#include "proxy/redis/context.h"

namespace corral::proxy {

/// What answering a local command needs.
enum class LocalOutcome {
  Answered,      // reply appended, context updated
  Close,         // reply appended; close the connection after it is written (QUIT)
  NeedsBackend,  // ask the backend first (see BackendQuestion), then call again
};

/// What the session must learn from the backend before a local command can be answered.
struct BackendQuestion {
  bool server_info = false;         // version / database count unknown yet
  bool check_credentials = false;   // auth mode "backend": do these credentials open a connection?
  bool check_select = false;        // may this user SELECT (not the URL's user: see RedisKey::select_first)?
  std::string user;
  std::string password;
};

/// Answers a Local command. `info` is what the backend told about itself (may be incomplete: then
/// the outcome is NeedsBackend with question.server_info). For auth mode "backend", the session
/// validates credentials on the backend and passes the verdict in `backend_auth_error` (empty: they
/// are good; otherwise the server's error line, e.g. "-WRONGPASS ...\r\n"); for check_select the
/// verdict is the server's answer to that SELECT run as the client's user.
class RedisLocalCommands {
 public:
  /// `metrics`: where refused logins are counted and logged (null: neither, as in unit tests).
  /// `backend_tls`: the client TLS context of a rediss:// backend (null: plain), put in pool keys.
  RedisLocalCommands(const config::Config& config, const config::Listener& listener,
                     MetricsRegistry* metrics = nullptr, const rt::TlsContext* backend_tls = nullptr)
      : config_(config), listener_(listener), metrics_(metrics), backend_tls_(backend_tls) {}

  /// The context a new client starts with (authenticated unless the listener requires AUTH).
  void init(RedisContext& context) const;

  LocalOutcome answer(const redis::Request& request, const redis::Route& route, RedisContext& context,
                      const pool::RedisServerInfo& info, std::string& out, BackendQuestion& question,
                      const std::string* backend_auth_error = nullptr) const;

  /// The client, which sent no AUTH, is the backend URL's user: the backend accepted that user
  /// without a password (see RedisContext::implicit_login).
  void log_in_implicitly(RedisContext& context) const;

  /// The pool key for this client's current context.
  pool::RedisKey pool_key(const RedisContext& context) const;
  /// Puts user and password ("default" or empty: the default user) into `key`, with the identity
  /// that enters its db first when that user is not the backend URL's (RedisKey::select_first).
  void set_credentials(pool::RedisKey& key, std::string_view user, std::string_view password) const;

  /// What RESET does to the context (redis-server's clearClientConnectionState): db 0, RESP2, the
  /// listener's default authentication, no name, no transaction; lib-name and lib-ver stay.
  void reset(RedisContext& context) const;

 private:
  LocalOutcome auth(const redis::Request& request, RedisContext& context, std::string& out,
                    BackendQuestion& question, const std::string* backend_auth_error) const;
  LocalOutcome hello(const redis::Request& request, RedisContext& context, const pool::RedisServerInfo& info,
                     std::string& out, BackendQuestion& question, const std::string* backend_auth_error) const;
  LocalOutcome select(const redis::Request& request, RedisContext& context, const pool::RedisServerInfo& info,
                      std::string& out, BackendQuestion& question, const std::string* verdict) const;
  static void client_setname(const redis::Request& request, RedisContext& context, std::string& out);
  static void client_setinfo(const redis::Request& request, RedisContext& context, std::string& out);
  static void client_reply(const redis::Request& request, RedisContext& context, std::string& out);
  /// Checks credentials against the config (auth mode "users"). Returns the error line or "".
  std::string check_user(std::string_view user, std::string_view password, RedisContext& context) const;
  void failed_login(std::string_view user, const RedisContext& context, const std::string& reason) const;
  /// Applies credentials: returns the error line to send, or "" after authenticating `context`.
  std::string authenticate(std::string_view user, std::string_view password, RedisContext& context,
                           BackendQuestion& question, const std::string* backend_auth_error, bool& needs_backend) const;
  void append_hello_reply(const RedisContext& context, const pool::RedisServerInfo& info, std::string& out) const;
  void append_client_info(const redis::Request& request, const RedisContext& context, std::string& out) const;

  const config::Config& config_;
  const config::Listener& listener_;
  MetricsRegistry* metrics_;
  const rt::TlsContext* backend_tls_;
};

}  // namespace corral::proxy
