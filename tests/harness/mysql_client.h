// A blocking MySQL client for tests, on libmysqlclient (MariaDB Connector/C).
//
//   MysqlClient::connect(login) --mysql_real_connect--> query(sql) --> QueryResult{columns, rows, ...}
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "harness_error.h"

struct st_mysql;

namespace corral::testing {

/// A failed connect or statement: the server's (or client library's) error number, SQLSTATE and text.
class MysqlException : public HarnessError {
 public:
  MysqlException(unsigned code, std::string sqlstate, const std::string& message)
      : HarnessError(message), code_(code), sqlstate_(std::move(sqlstate)) {}
  /// e.g. 1045 (ER_ACCESS_DENIED_ERROR), 2013 (CR_SERVER_LOST).
  unsigned code() const { return code_; }
  /// e.g. "28000"; "HY000" for client-side errors.
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  unsigned code_;
  std::string sqlstate_;
};

struct MysqlLogin {
  std::string host = "127.0.0.1";  // used when unix_socket is empty (always TCP, never "localhost")
  uint16_t port = 3306;
  std::string unix_socket{};       // non-empty: connect over this socket instead of TCP
  std::string user{};
  std::string password{};
  std::string database{};          // empty: none
  std::string default_auth{};      // client auth plugin to start with, e.g. "caching_sha2_password"
  std::chrono::seconds timeout{10};  // connect, read and write timeouts each
  // TLS (MYSQL_OPT_SSL_*): `ssl` uses it when the server offers it (MYSQL_OPT_SSL_ENFORCE; Connector/C
  // 3.3 goes on in plain text when the greeting has no CLIENT_SSL). Only ssl_verify_server_cert insists:
  // then a server without TLS fails the connect with 2026.
  bool ssl = false;
  std::string ssl_ca{};            // CA to check the server with (MYSQL_OPT_SSL_CA)
  bool ssl_verify_server_cert = false;  // check the certificate (chain and `host`); TLS is then required
  std::string ssl_cert{};          // client certificate and key, for servers that ask for one
  std::string ssl_key{};
  bool compress = false;           // the compressed protocol (MYSQL_OPT_COMPRESS)
};

/// The first result set of a statement (rows empty for statements without one).
struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::vector<std::optional<std::string>>> rows;  // nullopt: SQL NULL
  uint64_t affected_rows = 0;
  uint64_t insert_id = 0;
  unsigned warnings = 0;

  /// rows[row][column] as text; throws HarnessError when out of range or NULL.
  const std::string& at(std::size_t row, std::size_t column = 0) const;
};

/// One client connection. Move-only; the destructor closes it. Not thread-safe.
class MysqlClient {
 public:
  /// Connects and logs in. Throws MysqlException (e.g. code 1045 for a wrong password).
  static MysqlClient connect(const MysqlLogin& login);
  MysqlClient() = default;
  ~MysqlClient();
  MysqlClient(MysqlClient&& other) noexcept;
  MysqlClient& operator=(MysqlClient&& other) noexcept;
  MysqlClient(const MysqlClient&) = delete;
  MysqlClient& operator=(const MysqlClient&) = delete;

  /// Runs `sql` (multi-statements allowed) and returns the first result set; further ones are read
  /// and dropped. Throws MysqlException.
  QueryResult query(std::string_view sql);
  /// Runs `sql` and drops every result. Throws MysqlException.
  void execute(std::string_view sql);
  /// mysql_ping(): true when the connection still works.
  bool ping();
  /// The TLS cipher of this client's own connection (mysql_get_ssl_cipher), empty when plain.
  std::string ssl_cipher();
  /// The C handle, for what this class does not wrap (prepared statements, options). Owned here.
  st_mysql* handle() { return mysql_; }
  void close();

 private:
  [[noreturn]] void fail(std::string_view what);
  st_mysql* mysql_ = nullptr;
};

}  // namespace corral::testing
