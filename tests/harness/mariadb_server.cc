#include "mariadb_server.h"

#include <pwd.h>
#include <unistd.h>

#include "harness_error.h"
#include "ports.h"
#include "server_start.h"

namespace corral::testing {

namespace {

// Small redo log: install and start stay fast and the directory stays ~25 MB. Both the install and
// every start must name the same size.
constexpr std::string_view kLogFileSize = "--innodb-log-file-size=8M";

// mariadbd refuses to run as root unless told to; as any other user --user must be left out.
std::vector<std::string> user_args() {
  if (::geteuid() != 0) return {};
  const passwd* pw = ::getpwuid(0);
  return {std::string("--user=") + (pw != nullptr ? pw->pw_name : "root")};
}

}  // namespace

std::string sql_quote(std::string_view text) {
  std::string out = "'";
  for (const char c : text) {
    if (c == '\'' || c == '\\') out += c;
    out += c;
  }
  out += '\'';
  return out;
}

std::string sql_identifier(std::string_view name) {
  std::string out = "`";
  for (const char c : name) {
    if (c == '`') out += c;
    out += c;
  }
  out += '`';
  return out;
}

MariaDbServer::MariaDbServer(MariaDbServerOptions options)
    : ServerChild({.dir_prefix = "corral-mariadb-",
                   .log_name = "mariadbd.log",  // mariadbd's stderr (its error log)
                   .name = "mariadbd",
                   .ready_what = "accept a login",
                   .poll_interval = std::chrono::milliseconds(20)}),
      options_(std::move(options)),
      server_binary_(find_executable("mariadbd")) {
  install();
  start(/*may_change_port=*/true, options_.start_timeout);
}

std::string MariaDbServer::url(std::string_view user, std::string_view password, std::string_view schema) const {
  std::string out = "mysql://" + std::string(user);
  if (!password.empty()) out += ":" + std::string(password);
  out += "@" + host_ + ":" + std::to_string(port_);
  if (!schema.empty()) out += "/" + std::string(schema);
  return out;
}

std::filesystem::path MariaDbServer::tmp_dir() const { return dir_.file("tmp"); }

void MariaDbServer::install() {
  // Each server needs its own tmpdir: mariadbd deletes every "#sql*" file in its tmpdir at start-up,
  // which breaks the temporary tables of other servers sharing /tmp (seen with parallel ctest).
  std::filesystem::create_directories(tmp_dir());
  // A fresh install per server (measured ~0.7 s here) keeps servers independent; a copied template
  // would save little and share state between tests.
  std::vector<std::string> argv = {find_executable("mariadb-install-db").string(),
                                   "--no-defaults",
                                   "--auth-root-authentication-method=normal",
                                   "--datadir=" + data_dir().string(),
                                   "--skip-test-db",
                                   "--skip-name-resolve",
                                   "--tmpdir=" + tmp_dir().string(),
                                   std::string(kLogFileSize)};
  const auto user = user_args();
  argv.insert(argv.end(), user.begin(), user.end());
  const CommandResult result = run_command(argv, std::chrono::seconds(120), dir_.file("install.log"));
  if (result.exit_code() != 0) {
    throw HarnessError("mariadb-install-db " + describe_wait_status(result.wait_status) + "; output:\n" +
                       tail_file(dir_.file("install.log"), 40));
  }
}

std::vector<std::string> MariaDbServer::command_line() const {
  std::vector<std::string> argv = {server_binary_.string(),
                                   "--no-defaults",
                                   "--datadir=" + data_dir().string(),
                                   "--socket=" + socket_path().string(),
                                   "--pid-file=" + dir_.file("mysqld.pid").string(),
                                   "--tmpdir=" + tmp_dir().string(),
                                   "--port=" + std::to_string(port_),
                                   "--bind-address=" + host_,
                                   "--skip-networking=0",
                                   "--skip-name-resolve",
                                   "--innodb-buffer-pool-size=64M",
                                   std::string(kLogFileSize),
                                   // Tests need no durability; parallel servers must not run out of
                                   // kernel AIO contexts.
                                   "--innodb-flush-log-at-trx-commit=2",
                                   "--innodb-use-native-aio=0"};
  const auto user = user_args();
  argv.insert(argv.end(), user.begin(), user.end());
  if (!options_.ssl_cert.empty()) argv.push_back("--ssl-cert=" + options_.ssl_cert);
  if (!options_.ssl_key.empty()) argv.push_back("--ssl-key=" + options_.ssl_key);
  if (!options_.ssl_ca.empty()) argv.push_back("--ssl-ca=" + options_.ssl_ca);
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  return argv;
}

bool MariaDbServer::answers(const StartLog& /*log*/) {
  std::error_code ec;
  if (!std::filesystem::exists(socket_path(), ec)) return false;
  try {
    admin();
    return true;  // the socket answers only once networking (and so the TCP port) is up
  } catch (const MysqlException&) {
    return false;  // not accepting logins yet: keep waiting
  }
}

bool MariaDbServer::lost_port(const std::string& log) const {
  return log.find("Address already in use") != std::string::npos ||
         log.find("Bind on TCP/IP port") != std::string::npos;
}

int MariaDbServer::stop() { return exit_code(process_.terminate(std::chrono::seconds(30))); }

void MariaDbServer::restart() {
  if (process_.running()) stop();
  start(/*may_change_port=*/false, options_.start_timeout);
}

MysqlClient MariaDbServer::admin() const {
  MysqlLogin login;
  login.unix_socket = socket_path().string();
  login.user = "root";
  login.timeout = std::chrono::seconds(5);
  return MysqlClient::connect(login);
}

MysqlClient MariaDbServer::connect(std::string_view user, std::string_view password, std::string_view database) const {
  MysqlLogin login;
  login.host = host_;
  login.port = port_;
  login.user = std::string(user);
  login.password = std::string(password);
  login.database = std::string(database);
  return MysqlClient::connect(login);
}

void MariaDbServer::execute(std::string_view sql) { admin().execute(sql); }

QueryResult MariaDbServer::query(std::string_view sql) { return admin().query(sql); }

void MariaDbServer::create_user(std::string_view name, std::string_view password, std::string_view plugin,
                                bool grant_all) {
  MysqlClient root = admin();
  if (plugin == "ed25519") {
    const auto installed = root.query("SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'ed25519'");
    if (installed.at(0) == "0") root.execute("INSTALL SONAME 'auth_ed25519'");
  }
  const std::string account = sql_quote(name) + "@'%'";
  root.execute("CREATE USER " + account + " IDENTIFIED VIA " + std::string(plugin) + " USING PASSWORD(" +
               sql_quote(password) + ")");
  if (grant_all) root.execute("GRANT ALL PRIVILEGES ON *.* TO " + account);
}

void MariaDbServer::create_database(std::string_view name) {
  execute("CREATE DATABASE IF NOT EXISTS " + sql_identifier(name));
}

}  // namespace corral::testing
