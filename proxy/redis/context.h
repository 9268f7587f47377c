// The connection context of one Redis client, and the commands corral answers from it.
//
//   request ──route()──► Local ──answer_local()──► reply bytes + context change (SELECT, HELLO, AUTH...)
//                        Shared/Pinned ──pool_key()──► which backend pool serves this client now
//
// Everything here is I/O-free so every reply can be checked to the byte in unit tests. What needs the
// backend (validating an AUTH in backend mode, learning the server's version or database count)
// comes back as LocalOutcome::NeedsBackend with what to ask for.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "config/config.h"
#include "pool/redis_connection.h"
#include "pool/redis_key.h"
#include "protocols/redis/command_table.h"
#include "protocols/redis/encoder.h"
#include "protocols/redis/request.h"

namespace corral::proxy {

struct RedisContext {
  uint64_t id = 0;                  // CLIENT ID: corral's own, unique per process
  std::string peer;                 // addr= in CLIENT INFO
  std::string local;                // laddr=
  std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();
  int db = 0;                       // SELECTed database
  redis::RespVersion resp = redis::RespVersion::Resp2;
  bool authenticated = false;
  std::string user = "default";     // the user the client authenticated as
  std::string backend_user;         // credentials in the pool key
  std::string backend_password;
  std::string name;                 // CLIENT SETNAME / HELLO SETNAME
  std::string lib_name;             // CLIENT SETINFO LIB-NAME
  std::string lib_ver;              // CLIENT SETINFO LIB-VER
  bool in_multi = false;            // between MULTI and EXEC/DISCARD (on the pinned connection)
  bool watching = false;            // WATCH issued, not yet ended by EXEC/DISCARD/UNWATCH
  bool multi_failed = false;        // corral rejected a command queued in MULTI: EXEC answers EXECABORT
};

/// What answering a local command needs.
enum class LocalOutcome {
  Answered,      // reply appended, context updated
  Close,         // reply appended; close the connection after it is written (QUIT)
  NeedsBackend,  // ask the backend first (see LocalRequest), then call again
};

/// What the session must learn from the backend before a local command can be answered.
struct BackendQuestion {
  bool server_info = false;         // version / database count unknown yet
  bool check_credentials = false;   // auth mode "backend": do these credentials open a connection?
  std::string user;
  std::string password;
};

/// Answers a Local command. `info` is what the backend told about itself (may be incomplete: then
/// the outcome is NeedsBackend with question.server_info). For auth mode "backend", the session
/// validates credentials on the backend and passes the verdict in `backend_auth_error` (empty: they
/// are good; otherwise the server's error line, e.g. "-WRONGPASS ...\r\n").
class RedisLocalCommands {
 public:
  RedisLocalCommands(const config::Config& config, const config::Listener& listener)
      : config_(config), listener_(listener) {}

  /// The context a new client starts with (authenticated unless the listener requires AUTH).
  void init(RedisContext& context) const;

  LocalOutcome answer(const redis::Request& request, const redis::Route& route, RedisContext& context,
                      const pool::RedisServerInfo& info, std::string& out, BackendQuestion& question,
                      const std::string* backend_auth_error = nullptr) const;

  /// True when `request` may run before authentication (AUTH, HELLO, QUIT, RESET).
  static bool allowed_unauthenticated(const redis::Request& request);

  /// The pool key for this client's current context.
  pool::RedisKey pool_key(const RedisContext& context) const;

  /// What RESET does to the context (redis-server's clearClientConnectionState): db 0, RESP2, the
  /// listener's default authentication, no name, no transaction; lib-name and lib-ver stay.
  void reset(RedisContext& context) const;

 private:
  LocalOutcome auth(const redis::Request& request, RedisContext& context, std::string& out,
                    BackendQuestion& question, const std::string* backend_auth_error) const;
  LocalOutcome hello(const redis::Request& request, RedisContext& context, const pool::RedisServerInfo& info,
                     std::string& out, BackendQuestion& question, const std::string* backend_auth_error) const;
  LocalOutcome select(const redis::Request& request, RedisContext& context, const pool::RedisServerInfo& info,
                      std::string& out, BackendQuestion& question) const;
  LocalOutcome client(const redis::Request& request, RedisContext& context, std::string& out) const;
  /// Checks credentials against the config (auth mode "users"). Returns the error line or "".
  std::string check_user(std::string_view user, std::string_view password, RedisContext& context) const;
  /// Applies credentials: returns the error line to send, or "" after authenticating `context`.
  std::string authenticate(std::string_view user, std::string_view password, RedisContext& context,
                           BackendQuestion& question, const std::string* backend_auth_error, bool& needs_backend) const;
  void append_hello_reply(const RedisContext& context, const pool::RedisServerInfo& info, std::string& out) const;
  void append_client_info(const RedisContext& context, std::string& out) const;

  const config::Config& config_;
  const config::Listener& listener_;
};

}  // namespace corral::proxy
