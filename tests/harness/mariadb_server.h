// A real mariadbd child on a free loopback port, for integration tests.
//
//   MariaDbServer() --mariadb-install-db (once, into dir/data)--> mariadbd --port P --socket dir/mysqld.sock
//                   --wait: root logs in over the socket--> ready
//   execute()/query()/create_user() --root over the Unix socket-->    clients --TCP 127.0.0.1:P-->
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "mysql_client.h"
#include "server_child.h"

namespace corral::testing {

struct MariaDbServerOptions {
  /// Appended to the mariadbd command line, e.g. {"--max-connections=1000"}.
  std::vector<std::string> extra_args{};
  std::chrono::milliseconds start_timeout{30000};
  /// TLS: the server's certificate chain and key (PEM); both set: clients may use TLS (CLIENT_SSL).
  std::string ssl_cert{};
  std::string ssl_key{};
  /// CAs of client certificates (--ssl-ca); empty: none asked for.
  std::string ssl_ca{};
};

/// Initialises a fresh data directory with mariadb-install-db and starts mariadbd on 127.0.0.1 at a
/// free port (its Unix socket in the same private directory); returns once root can log in. The
/// administrative root account (root@localhost, no password) is reachable only over the Unix socket,
/// because the server runs with --skip-name-resolve: TCP clients need users made with create_user().
/// Server defaults apply otherwise (latin1 server charset, as --no-defaults gives).
/// Throws HarnessError (binary missing, start failure with the log's tail); a start that loses its
/// port to another process is retried on a new port.
/// Lifetime: the destructor kills the server and removes its directory. Not thread-safe.
class MariaDbServer final : public ServerChild {
 public:
  explicit MariaDbServer(MariaDbServerOptions options = {});
  MariaDbServer(MariaDbServer&&) noexcept = default;
  MariaDbServer& operator=(MariaDbServer&&) noexcept = default;

  std::filesystem::path socket_path() const { return dir_.file("mysqld.sock"); }
  /// "mysql://user:password@127.0.0.1:PORT[/schema]": a corral backend URL (no percent-encoding done).
  std::string url(std::string_view user, std::string_view password, std::string_view schema = {}) const;
  std::filesystem::path data_dir() const { return dir_.file("data"); }

  /// SIGTERM and wait (a clean InnoDB shutdown). Returns the shell-style exit code.
  int stop();
  /// Stops the server if it runs, then starts it again on the same port and data directory.
  void restart();

  /// Runs SQL as root (Unix socket) and drops the results. Throws MysqlException.
  void execute(std::string_view sql);
  /// Runs SQL as root (Unix socket) and returns the first result set. Throws MysqlException.
  QueryResult query(std::string_view sql);
  /// CREATE USER 'name'@'%' IDENTIFIED VIA `plugin` USING PASSWORD('password') (for "ed25519" the
  /// server plugin is installed first), then GRANT ALL ON *.* when `grant_all`.
  /// Plugins available here: mysql_native_password, ed25519 (auth_ed25519.so); MariaDB 10.11 has no
  /// caching_sha2_password server plugin.
  void create_user(std::string_view name, std::string_view password,
                   std::string_view plugin = "mysql_native_password", bool grant_all = true);
  /// CREATE DATABASE IF NOT EXISTS `name`.
  void create_database(std::string_view name);
  /// Logs in over TCP as `user`. Throws MysqlException (1045 for a refused login).
  MysqlClient connect(std::string_view user, std::string_view password, std::string_view database = {}) const;
  /// Root over the Unix socket.
  MysqlClient admin() const;

 private:
  std::vector<std::string> command_line() const override;
  bool answers(const StartLog& log) override;
  bool lost_port(const std::string& log) const override;
  void install();
  std::filesystem::path tmp_dir() const;

  MariaDbServerOptions options_;
  std::filesystem::path server_binary_;
};

/// Quotes `text` as an SQL string literal ('it''s'), escaping backslashes too.
std::string sql_quote(std::string_view text);
/// Quotes `name` as an identifier (`my``db`).
std::string sql_identifier(std::string_view name);

}  // namespace corral::testing
