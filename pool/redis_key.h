// RedisKey: everything that makes one Redis backend session different from another. Connections are
// pooled per key; two clients share a connection only when their keys are equal.
#pragma once

#include <cstdint>
#include <string>

namespace corral::rt {
class TlsContext;
}

namespace corral::pool {

struct RedisKey {
  std::string host;      // as configured (resolved once at start-up)
  uint16_t port = 0;
  std::string user;      // empty: the default user
  std::string password;  // empty: no AUTH
  int db = 0;            // SELECTed database
  int resp = 2;          // RESP version of the connection (HELLO 2|3)
  // The identity (the backend URL's) that SELECTs db when the user is refused it, before the user
  // AUTHs again: redis-server keeps a client's db across AUTH and checks SELECT only when the client
  // sends one, so a user without +select that AUTHs in db N is still in db N. Empty password: the
  // default user (AUTH default with an empty password).
  bool select_first = false;
  std::string select_user;
  std::string select_password;
  /// rediss://: the client context connections handshake with (the listener's generation owns it,
  /// and pools live in that generation); null: plain TCP.
  const rt::TlsContext* tls = nullptr;

  /// The map key: host, port, user, password, db, RESP version and TLS context in one string.
  std::string id() const {
    std::string out;
    out.reserve(host.size() + user.size() + password.size() + 32);
    out.append(host).append(":").append(std::to_string(port));
    out.append("/").append(std::to_string(db)).append("/").append(std::to_string(resp));
    if (select_first) {  // length-prefixed: the password below runs to the end of the id
      out.append("/s").append(std::to_string(select_user.size())).append(":").append(select_user);
      out.append(std::to_string(select_password.size())).append(":").append(select_password);
    }
    // Which context, not only whether: listeners with the same rediss:// server but another CA (or client
    // certificate) must not share a connection that was verified with a CA they do not trust.
    // Before the password, which runs to the end of the id.
    if (tls != nullptr) out.append("/tls").append(std::to_string(reinterpret_cast<std::uintptr_t>(tls)));
    out.append("/").append(std::to_string(user.size())).append(":").append(user);
    out.append(password);
    return out;
  }
  /// For logs and errors: never contains the password.
  std::string describe() const {
    std::string out = host.find(':') != std::string::npos ? "[" + host + "]" : host;
    out.append(":").append(std::to_string(port));
    return out;
  }
  bool operator==(const RedisKey&) const = default;
};

}  // namespace corral::pool
