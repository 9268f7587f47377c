// MysqlKey: everything that makes one MySQL backend session different from another. Connections are
// pooled per key; a client statement runs only on a connection whose key equals its context's.
//
//   credentials_id(): host, port, ssl-mode and CA, user, password (or an equivalent), capability bits
//                                                                 ─► connections convertible among
//   id():             credentials_id() + schema + charset          ─► one pool   (COM_INIT_DB / SET NAMES)
//
// The capability bits are the ones that change packet formats or statement semantics (the proxy relays
// backend packets unchanged, so the backend connection must have negotiated what the client did).
#pragma once

#include <cstdint>
#include <string>

#include "config/config.h"
#include "protocols/mysql/constants.h"

namespace corral::rt {
class TlsContext;
}

namespace corral::pool {

/// Client capability bits a key may carry: each changes what the backend sends or how it runs a
/// statement, so connections that differ in them are not interchangeable (Capabilities Flags;
/// MariaDB KB "Connection" for the extended bits). Everything else corral negotiates itself.
inline constexpr mysql::CapabilityFlags kMysqlKeyCapabilities =
    mysql::CLIENT_FOUND_ROWS |           // affected rows = matched rows
    mysql::CLIENT_LOCAL_FILES |          // LOAD DATA LOCAL may be asked for
    mysql::CLIENT_IGNORE_SPACE |         // "f (x)" parses as a function call
    // A compressed client's statements run on compressed connections, so what the server tells of
    // the connection (SHOW STATUS LIKE 'Compression') is what it tells a direct client; a client on
    // a slow link asked for compression, and a backend far away saves the same bytes.
    mysql::CLIENT_COMPRESS |
    mysql::CLIENT_INTERACTIVE |          // interactive_timeout instead of wait_timeout
    // An account whose password expired logs in to the server's sandbox (only SET statements, so it
    // can change the password) rather than being refused with ERR 1862 under
    // disconnect_on_expired_password (the mysql CLI asks for it with --connect-expired-password).
    mysql::CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS |
    mysql::CLIENT_MULTI_STATEMENTS |     // ";"-separated statements in one COM_QUERY
    mysql::CLIENT_MULTI_RESULTS |        // CALL may return several results
    mysql::CLIENT_PS_MULTI_RESULTS |     // the same for COM_STMT_EXECUTE
    mysql::CLIENT_DEPRECATE_EOF |        // 0xFE OK_Packet instead of EOF_Packet
    mysql::CLIENT_OPTIONAL_RESULTSET_METADATA |
    mysql::CLIENT_QUERY_ATTRIBUTES |     // COM_QUERY / COM_STMT_EXECUTE carry attributes
    mysql::MARIADB_CLIENT_PROGRESS |     // progress reports inside responses
    mysql::MARIADB_CLIENT_STMT_BULK_OPERATIONS |
    mysql::MARIADB_CLIENT_EXTENDED_METADATA |
    mysql::MARIADB_CLIENT_CACHE_METADATA |
    mysql::MARIADB_CLIENT_BULK_UNIT_RESULTS;

/// auth = "backend": what corral logs a user in with on further connections, learned from the user's
/// own login (both empty: an empty password).
struct MysqlPasswordEquivalent {
  std::string sha1{};      // SHA1(password), raw 20 bytes: mysql_native_password
  std::string old_hash{};  // the stored mysql_old_password hash, raw 8 bytes
};

struct MysqlKey {
  std::string host;      // as configured (resolved once at start-up)
  uint16_t port = 0;
  std::string user;
  std::string password;  // empty: empty password
  std::string schema;    // default schema; empty: none
  std::string charset;   // SET NAMES after login; empty: the server's default
  mysql::CapabilityFlags capabilities = 0;  // client bits; only kMysqlKeyCapabilities count
  // auth = "backend": SHA1(password), raw 20 bytes, learned from the client's own login (empty: the
  // password above counts). Enough for mysql_native_password.
  std::string password_sha1{};
  // auth = "backend", an account with mysql_old_password: its stored hash, raw 8 bytes, which makes
  // that plugin's tokens (empty: none). Set instead of password_sha1.
  std::string old_password_hash{};
  // TLS toward the server (the URL's ssl-mode and ssl-ca), and the client context that does it:
  // required unless the mode is Disabled. Lifetime: the context outlives every connection of the key.
  config::MysqlSslMode ssl_mode = config::MysqlSslMode::Disabled;
  std::string ssl_ca{};
  const rt::TlsContext* tls = nullptr;

  /// The key's capability bits that count (the others are corral's business).
  mysql::CapabilityFlags format_capabilities() const noexcept { return capabilities & kMysqlKeyCapabilities; }

  /// Connections with equal credentials ids differ at most in schema and charset, which COM_INIT_DB and
  /// SET NAMES change on a live connection.
  std::string credentials_id() const {
    std::string out;
    out.reserve(host.size() + user.size() + password.size() + 48);
    out.append(host).append(":").append(std::to_string(port));
    // A connection made under one ssl-mode is no substitute for another (a plain one for REQUIRED).
    out.append("/").append(config::to_string(ssl_mode));
    out.append("/").append(std::to_string(ssl_ca.size())).append(":").append(ssl_ca);
    out.append("/").append(std::to_string(format_capabilities()));
    // Length prefixes keep "ab"+"c" and "a"+"bc" apart.
    out.append("/").append(std::to_string(user.size())).append(":").append(user);
    out.append(std::to_string(password.size())).append(":").append(password);
    out.append(password_sha1);
    out.append("/").append(old_password_hash);
    return out;
  }
  /// The map key of a pool: credentials, schema and charset in one string.
  std::string id() const {
    std::string out = credentials_id();
    out.append("|").append(std::to_string(schema.size())).append(":").append(schema);
    out.append("|").append(charset);
    return out;
  }
  /// For logs and errors: "user@host:port/schema"; never contains the password.
  std::string describe() const {
    std::string out = user;
    out.append("@").append(host.find(':') != std::string::npos ? "[" + host + "]" : host);
    out.append(":").append(std::to_string(port));
    if (!schema.empty()) out.append("/").append(schema);
    return out;
  }
  bool operator==(const MysqlKey&) const = default;
};

/// The key for a backend URL (mysql://user:pass@host:port/schema?charset=NAME&ssl-mode=...) and the
/// capability bits the client negotiated with corral; `tls` is the client context built for the URL's
/// ssl-mode (null when it is DISABLED).
inline MysqlKey make_mysql_key(const config::BackendUrl& url, mysql::CapabilityFlags client_capabilities,
                               const rt::TlsContext* tls = nullptr) {
  MysqlKey key{url.host, url.port, url.user, url.password, url.mysql_schema, url.mysql_charset,
               client_capabilities & kMysqlKeyCapabilities};
  key.ssl_mode = url.mysql_ssl_mode;
  key.ssl_ca = url.tls_ca_file;
  key.tls = tls;
  return key;
}

}  // namespace corral::pool
