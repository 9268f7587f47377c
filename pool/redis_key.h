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
  /// rediss://: the client context connections handshake with (the listener's generation owns it,
  /// and pools live in that generation); null: plain TCP.
  const rt::TlsContext* tls = nullptr;

  /// The map key: host, port, user, password, db and RESP version in one string.
  std::string id() const {
    std::string out;
    out.reserve(host.size() + user.size() + password.size() + 32);
    out.append(host).append(":").append(std::to_string(port));
    out.append("/").append(std::to_string(db)).append("/").append(std::to_string(resp));
    out.append("/").append(std::to_string(user.size())).append(":").append(user);
    out.append(password);
    if (tls != nullptr) out.append("/tls");
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
