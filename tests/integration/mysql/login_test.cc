// Login through corral: mysql_native_password and caching_sha2_password (fast and full path), auth
// switch, wrong credentials (ERR 1045 as MySQL words it), unknown database (ERR 1049), backend
// credentials per user, and an unreachable backend named in the error. With auth = "backend": users
// that exist only on the backend, the server's own refusals, COM_CHANGE_USER, pools shared by the
// clients of one user, and no password (or equivalent) in corral's log.
#include <gmock/gmock.h>
#include <mysql.h>

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <thread>

#include "mysql_path.h"
#include "protocols/mysql/auth.h"

namespace corral::testing::mysql_it {
namespace {

using ::testing::HasSubstr;

class Login : public MysqlPathTest {};

TEST_F(Login, NativePasswordLogsInAndQueriesReachTheBackend) {
  start_proxy();
  MysqlClient client = connect();
  EXPECT_EQ(client.query("SELECT 1 + 1").at(0), "2");
  EXPECT_EQ(client.query("SELECT CURRENT_USER()").at(0), "corral@%");
  EXPECT_TRUE(client.ping());
}

TEST_F(Login, WrongPasswordGetsAccessDeniedLikeMysql) {
  start_proxy();
  try {
    connect(kUser, "wrong");
    FAIL() << "login with a wrong password succeeded";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1045u);
    EXPECT_EQ(e.sqlstate(), "28000");
    EXPECT_THAT(e.what(), HasSubstr("Access denied for user 'app'@'127.0.0.1' (using password: YES)"));
  }
  try {
    connect("nobody", "");
    FAIL() << "login as an unknown user succeeded";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1045u);
    EXPECT_THAT(e.what(), HasSubstr("Access denied for user 'nobody'@'127.0.0.1' (using password: NO)"));
  }
}

TEST_F(Login, EmptyPasswordUserLogsIn) {
  start_proxy();
  MysqlClient client = connect("nopw", "");
  EXPECT_EQ(client.query("SELECT 7").at(0), "7");
}

TEST_F(Login, CachingSha2FullPathThenFastPath) {
  start_proxy();
  // The first login of a user has nothing cached: the full path with the RSA key exchange.
  MysqlClient first = MysqlClient::connect(
      {.port = proxy_port(), .user = kUser, .password = kPassword, .default_auth = "caching_sha2_password"});
  EXPECT_EQ(first.query("SELECT 3").at(0), "3");
  EXPECT_THAT(metrics(), HasSubstr("corral_mysql_caching_sha2_auths_total{path=\"full\"} 1"));
  // The next one takes the fast path (scramble only).
  MysqlClient second = connect(kUser, kPassword, {}, "caching_sha2_password");
  EXPECT_EQ(second.query("SELECT 4").at(0), "4");
  EXPECT_THAT(metrics(), HasSubstr("corral_mysql_caching_sha2_auths_total{path=\"fast\"} 1"));
  try {
    connect(kUser, "wrong", {}, "caching_sha2_password");
    FAIL() << "caching_sha2 login with a wrong password succeeded";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1045u);
    EXPECT_THAT(e.what(), HasSubstr("Access denied for user 'app'"));
  }
}

TEST_F(Login, CachingSha2FullPathRefusesAWrongPasswordAndUnknownUsers) {
  start_proxy();
  try {
    connect(kUser, "wrong", {}, "caching_sha2_password");
    FAIL() << "caching_sha2 login with a wrong password succeeded";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1045u);
    EXPECT_THAT(e.what(), HasSubstr("Access denied for user 'app'@'127.0.0.1' (using password: YES)"));
  }
  try {
    connect("nobody", "pw", {}, "caching_sha2_password");
    FAIL() << "caching_sha2 login of an unknown user succeeded";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1045u);
    EXPECT_THAT(e.what(), HasSubstr("Access denied for user 'nobody'@'127.0.0.1' (using password: YES)"));
  }
  EXPECT_THAT(metrics(), HasSubstr("corral_mysql_caching_sha2_auths_total{path=\"full\"} 0"));
}

TEST_F(Login, ClientPluginCorralDoesNotVerifyGetsAnAuthSwitch) {
  start_proxy();
  // client_ed25519 is a plugin corral does not verify: it switches the client to mysql_native_password.
  MysqlClient client = connect(kUser, kPassword, {}, "client_ed25519");
  EXPECT_EQ(client.query("SELECT 5").at(0), "5");
}

TEST_F(Login, DatabaseInTheHandshakeIsCheckedOnTheBackend) {
  start_proxy();
  MysqlClient client = connect(kUser, kPassword, "app");
  EXPECT_EQ(client.query("SELECT DATABASE()").at(0), "app");
  try {
    connect(kUser, kPassword, "missing_db");
    FAIL() << "login into an unknown database succeeded";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1049u);
    EXPECT_THAT(e.what(), HasSubstr("missing_db"));
  }
}

TEST_F(Login, UserWithItsOwnBackendAccount) {
  start_proxy();
  MysqlClient client = connect("reader", "reader-pw");
  EXPECT_EQ(client.query("SELECT CURRENT_USER()").at(0), "reader@%");
}

TEST_F(Login, UnreachableBackendIsNamedWithoutItsPassword) {
  start_backend();
  const uint16_t port = backend().port();
  backend().stop();
  start_proxy();
  try {
    connect();
    FAIL() << "login with the backend down succeeded";
  } catch (const MysqlException& e) {
    EXPECT_THAT(e.what(), HasSubstr("127.0.0.1:" + std::to_string(port)));
    EXPECT_THAT(e.what(), ::testing::Not(HasSubstr(kBackendPassword)));
  }
}


// ---- auth = "backend" ------------------------------------------------------------------------------

/// Runs a long SLEEP on `client` and swallows the interruption a KILL QUERY gives it (the server
/// returns 1 from SLEEP, or ERR 1317 where the statement itself was interrupted).
void sleep_until_killed(MysqlClient& client) {
  try {
    client.query("SELECT SLEEP(60)");
  } catch (const MysqlException&) {
  }
}

class BackendLogin : public MysqlPathTest {
 protected:
  CorralProcess& start(ProxySetup setup = {}) {
    setup.auth = "backend";
    if (setup.server_toml.empty()) setup.server_toml = "log_level = \"trace\"\n";
    start_backend();
    backend().create_user("bob", "bob-pw");
    backend().create_user("carol", "carol-pw");
    backend().create_user("empty", "");
    return start_proxy(std::move(setup));
  }

  /// The error of a refused direct login to the backend, to compare corral's with.
  MysqlException direct_refusal(std::string_view user, std::string_view password) {
    try {
      backend().connect(user, password);
    } catch (const MysqlException& e) {
      return e;
    }
    throw HarnessError("direct login of " + std::string(user) + " succeeded");
  }

  /// Backend connections logged in as `user` (root counts them over the Unix socket).
  int backend_connections(std::string_view user) {
    return std::stoi(backend().query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = '" +
                                     std::string(user) + "'").at(0));
  }
};

/// The server's words in a refused login's error (the harness prefixes the address it connected to).
std::string server_text(const MysqlException& e) {
  const std::string what = e.what();
  const std::size_t at = what.find("': ");
  return at == std::string::npos ? what : what.substr(at + 3);
}

std::string to_hex(std::string_view bytes) {
  std::string out;
  char digits[3];
  for (unsigned char c : bytes) {
    std::snprintf(digits, sizeof digits, "%02x", c);
    out += digits;
  }
  return out;
}

TEST_F(BackendLogin, ComShutdownIsTheServersToRefuseOrCarryOut) {
  // As the SHUTDOWN statement: the server checks the account's privilege.
  start();
  backend().create_user("dave", "dave-pw", "mysql_native_password", false);  // no SHUTDOWN privilege
  MysqlClient dave = connect("dave", "dave-pw");
  EXPECT_NE(mysql_shutdown(dave.handle(), SHUTDOWN_DEFAULT), 0);
  EXPECT_EQ(mysql_errno(dave.handle()), 1227u) << mysql_error(dave.handle());  // not corral's 1047
  EXPECT_EQ(dave.query("SELECT 1").at(0), "1");
  MysqlClient bob = connect("bob", "bob-pw");  // ALL PRIVILEGES: the server shuts down
  EXPECT_EQ(mysql_shutdown(bob.handle(), SHUTDOWN_DEFAULT), 0) << mysql_error(bob.handle());
  wait_until([&] { return !backend().running(); }, 10s, "mariadbd to shut down");
  // As on the server, the session that shut it down is over (mtr's shutdown_server waits for that);
  // the others stay connected to corral.
  EXPECT_FALSE(bob.ping());
  EXPECT_TRUE(dave.ping());
}

TEST_F(BackendLogin, UserThatExistsOnlyOnTheBackendLogsIn) {
  start();
  MysqlClient client = connect("bob", "bob-pw");
  EXPECT_EQ(client.query("SELECT CURRENT_USER()").at(0), "bob@%");
  // Statements after the login run on pooled connections of bob (opened with the password equivalent).
  EXPECT_EQ(client.query("SELECT USER() LIKE 'bob@%'").at(0), "1");
  MysqlClient in_db = connect("carol", "carol-pw", "app");
  EXPECT_EQ(in_db.query("SELECT CONCAT(CURRENT_USER(), ' ', DATABASE())").at(0), "carol@% app");
}

TEST_F(BackendLogin, MariadbCliLogsInAsABackendUser) {
  start();
  const auto cli = [&](std::string_view password) {
    return run_command({find_executable("mysql").string(), "-h127.0.0.1", "-P" + std::to_string(proxy_port()),
                        "-ubob", "-p" + std::string(password), "--batch", "-e", "SELECT CURRENT_USER() AS who"});
  };
  const CommandResult ok = cli("bob-pw");
  EXPECT_EQ(ok.exit_code(), 0) << ok.output;
  EXPECT_THAT(ok.output, HasSubstr("who\nbob@%\n"));
  const CommandResult refused = cli("wrong");
  EXPECT_NE(refused.exit_code(), 0);
  EXPECT_THAT(refused.output, HasSubstr("ERROR 1045 (28000): Access denied for user 'bob'@'127.0.0.1' (using password: YES)"));
}

TEST_F(BackendLogin, AnExpiredPasswordGetsTheServersSandboxOnlyWhenTheClientCanHandleIt) {
  // mtr main.password_expiration: under disconnect_on_expired_password the server refuses an expired
  // account (ERR 1862) unless the client says it can handle one (--connect-expired-password); then
  // the session may only change the password (ERR 1820 for anything else).
  start();
  backend().execute("CREATE USER eve@'%' IDENTIFIED BY 'eve-pw' PASSWORD EXPIRE");
  backend().execute("SET GLOBAL disconnect_on_expired_password = ON");
  const auto cli = [&](std::uint16_t port, std::string_view password, bool can_handle_expired, std::string_view sql) {
    std::vector<std::string> args{find_executable("mysql").string(), "-h127.0.0.1", "-P" + std::to_string(port),
                                  "-ueve", "-p" + std::string(password), "--batch"};
    if (can_handle_expired) args.emplace_back("--connect-expired-password");
    args.emplace_back("-e");
    args.emplace_back(sql);
    return run_command(args);
  };
  for (const std::uint16_t port : {backend().port(), proxy_port()}) {
    SCOPED_TRACE(port == proxy_port() ? "through corral" : "direct");
    const CommandResult refused = cli(port, "eve-pw", false, "SELECT 1");
    EXPECT_NE(refused.exit_code(), 0);
    EXPECT_THAT(refused.output, HasSubstr("ERROR 1862 (HY000)"));
    const CommandResult sandboxed = cli(port, "eve-pw", true, "SELECT 1");
    EXPECT_NE(sandboxed.exit_code(), 0);
    EXPECT_THAT(sandboxed.output, HasSubstr("ERROR 1820 (HY000)"));
  }
  const CommandResult changed = cli(proxy_port(), "eve-pw", true, "SET PASSWORD = PASSWORD('eve-new')");
  EXPECT_EQ(changed.exit_code(), 0) << changed.output;
  const CommandResult after = cli(proxy_port(), "eve-new", false, "SELECT CURRENT_USER() AS who");
  EXPECT_EQ(after.exit_code(), 0) << after.output;
  EXPECT_THAT(after.output, HasSubstr("who\neve@%\n"));
}

TEST_F(BackendLogin, ClientCharsetTheServerRefusesIsRefusedAsDirect) {
  // mariadb-client-test's test_bug58036: the server refuses a handshake in ucs2 (its parser cannot
  // take it) with ERR 1231; corral passes the client's collation on, so the refusal is the server's.
  start();
  const auto cli = [&](std::uint16_t port) {
    return run_command({find_executable("mysql").string(), "--no-defaults", "-h127.0.0.1", "-P" + std::to_string(port),
                        "-ubob", "-pbob-pw", "--default-character-set=ucs2", "-e", "SELECT 1"});
  };
  const CommandResult direct = cli(backend().port());
  ASSERT_NE(direct.exit_code(), 0);
  ASSERT_THAT(direct.output, HasSubstr("ERROR 1231 (42000)"));
  const CommandResult through = cli(proxy_port());
  EXPECT_NE(through.exit_code(), 0);
  EXPECT_EQ(through.output, direct.output);
  // COM_CHANGE_USER in ucs2: the same refusal, and the session goes on as before (as on the server).
  MysqlClient client = connect("bob", "bob-pw");
  MysqlClient direct_client = backend().connect("bob", "bob-pw");
  for (MysqlClient* session : {&client, &direct_client}) {
    ASSERT_EQ(mysql_options(session->handle(), MYSQL_SET_CHARSET_NAME, "ucs2"), 0);
    ASSERT_NE(mysql_change_user(session->handle(), "carol", "carol-pw", nullptr), 0);
  }
  EXPECT_EQ(mysql_errno(client.handle()), mysql_errno(direct_client.handle()));
  EXPECT_EQ(std::string(mysql_error(client.handle())), std::string(mysql_error(direct_client.handle())));
  EXPECT_EQ(client.query("SELECT CURRENT_USER()").at(0), "bob@%");
}

TEST_F(BackendLogin, LoginOkCarriesTheServersAutocommit) {
  // mariadb-client-test's test_connect_autocommit: with the server's global autocommit at 0 a new
  // session starts without it, and the OK ending the login says so (SERVER_STATUS_AUTOCOMMIT).
  start();
  for (const int autocommit : {0, 1}) {
    backend().execute("SET GLOBAL autocommit = " + std::to_string(autocommit));
    MysqlClient client = connect("bob", "bob-pw");
    EXPECT_EQ((client.handle()->server_status & SERVER_STATUS_AUTOCOMMIT) != 0, autocommit == 1);
    EXPECT_EQ(client.query("SELECT @@autocommit").at(0), std::to_string(autocommit));
    ASSERT_EQ(mysql_change_user(client.handle(), "carol", "carol-pw", nullptr), 0) << mysql_error(client.handle());
    EXPECT_EQ((client.handle()->server_status & SERVER_STATUS_AUTOCOMMIT) != 0, autocommit == 1);
  }
}

/// Reads one packet (header and payload) from a blocking socket; throws when the connection ends.
std::string read_packet(int fd) {
  std::string packet;
  std::size_t wanted = 4;
  while (packet.size() < wanted) {
    char buffer[4096];
    const ssize_t n = ::read(fd, buffer, std::min(sizeof buffer, wanted - packet.size()));
    if (n <= 0) throw HarnessError("connection ended");
    packet.append(buffer, static_cast<std::size_t>(n));
    if (packet.size() == 4) {
      wanted = 4 + (static_cast<unsigned char>(packet[0]) | static_cast<unsigned char>(packet[1]) << 8 |
                    static_cast<unsigned char>(packet[2]) << 16);
    }
  }
  return packet;
}

TEST_F(BackendLogin, HandshakeResponseOutOfOrderIsRefusedAsByTheServer) {
  start();
  const int fd = connect_tcp("127.0.0.1", proxy_port(), std::chrono::seconds(5));
  read_packet(fd);  // the greeting
  // HandshakeResponse41 for bob (PROTOCOL_41 | SECURE_CONNECTION | PLUGIN_AUTH), empty token, sequence id 5.
  std::string payload = {'\x00', '\x82', '\x08', '\x00', '\x00', '\x00', '\x00', '\x01', '\x21'};
  payload.append(23, '\0');
  payload.append("bob").push_back('\0');
  payload.push_back('\0');
  payload.append("mysql_native_password").push_back('\0');
  std::string packet = {static_cast<char>(payload.size()), '\0', '\0', '\x05'};
  packet += payload;
  ASSERT_EQ(::write(fd, packet.data(), packet.size()), static_cast<ssize_t>(packet.size()));
  const std::string reply = read_packet(fd);
  ::close(fd);
  ASSERT_GE(reply.size(), 7u);
  EXPECT_EQ(static_cast<unsigned char>(reply[4]), 0xffu);
  EXPECT_EQ(static_cast<unsigned char>(reply[5]) | static_cast<unsigned char>(reply[6]) << 8, 1156);
}

TEST_F(BackendLogin, CachingSha2ClientIsSwitchedByTheServer) {
  start();
  // A MySQL 8 client starts with caching_sha2_password; MariaDB switches it to mysql_native_password.
  MysqlClient client = connect("bob", "bob-pw", {}, "caching_sha2_password");
  EXPECT_EQ(client.query("SELECT CURRENT_USER()").at(0), "bob@%");
  MysqlClient ed = connect("carol", "carol-pw", {}, "client_ed25519");
  EXPECT_EQ(ed.query("SELECT CURRENT_USER()").at(0), "carol@%");
}

TEST_F(BackendLogin, EmptyPasswordLogsIn) {
  start();
  MysqlClient client = connect("empty", "");
  EXPECT_EQ(client.query("SELECT CURRENT_USER()").at(0), "empty@%");
  MysqlClient second = connect("empty", "");
  EXPECT_EQ(second.query("SELECT 1").at(0), "1");
}

TEST_F(BackendLogin, RefusalsAreTheServersOwn) {
  start();
  for (const auto& [user, password] : std::vector<std::pair<std::string, std::string>>{
           {"bob", "wrong"}, {"bob", ""}, {"nobody", "pw"}, {"nobody", ""}}) {
    const MysqlException direct = direct_refusal(user, password);
    try {
      connect(user, password);
      ADD_FAILURE() << "login of " << user << " with a wrong password succeeded";
    } catch (const MysqlException& e) {
      EXPECT_EQ(e.code(), 1045u);
      EXPECT_EQ(e.sqlstate(), "28000");
      EXPECT_EQ(server_text(e), server_text(direct));
    }
  }
  try {
    connect("bob", "bob-pw", "missing_db");
    FAIL() << "login into an unknown database succeeded";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1049u);  // the server's own check of the handshake's schema
    EXPECT_THAT(e.what(), HasSubstr("missing_db"));
  }
  // A refusal leaves nothing behind that a right password could not get past.
  MysqlClient client = connect("bob", "bob-pw");
  EXPECT_EQ(client.query("SELECT 1").at(0), "1");
}

TEST_F(BackendLogin, ChangeUserToAnotherBackendUser) {
  start();
  MysqlClient client = connect("bob", "bob-pw");
  ASSERT_EQ(mysql_change_user(client.handle(), "carol", "carol-pw", "app"), 0) << mysql_error(client.handle());
  EXPECT_EQ(client.query("SELECT CONCAT(CURRENT_USER(), ' ', DATABASE())").at(0), "carol@% app");
  ASSERT_EQ(mysql_change_user(client.handle(), "empty", "", nullptr), 0) << mysql_error(client.handle());
  EXPECT_EQ(client.query("SELECT CURRENT_USER()").at(0), "empty@%");

  // A wrong password, an unknown user: the server's ERR 1045, and the session goes on as the previous
  // user, as on the server.
  MysqlClient direct = backend().connect("bob", "bob-pw");
  ASSERT_EQ(mysql_change_user(direct.handle(), "empty", "", nullptr), 0) << mysql_error(direct.handle());
  for (const char* user : {"carol", "nobody"}) {
    ASSERT_NE(mysql_change_user(direct.handle(), user, "wrong", nullptr), 0);
    const std::string direct_error = mysql_error(direct.handle());
    ASSERT_NE(mysql_change_user(client.handle(), user, "wrong", nullptr), 0);
    EXPECT_EQ(mysql_errno(client.handle()), 1045u);
    EXPECT_EQ(std::string(mysql_error(client.handle())), direct_error);
    EXPECT_EQ(client.query("SELECT CURRENT_USER()").at(0), direct.query("SELECT CURRENT_USER()").at(0));
  }
}

TEST_F(BackendLogin, OldPasswordAccountsLogInAndChangeUserAsOnTheServer) {
  // mtr's main.set_password and main.change_user: accounts with a pre-4.1 hash (mysql_old_password),
  // which the server accepts while secure_auth is OFF. It asks a client that started with
  // mysql_native_password for the old token with a lone 0xFE; corral relays that at login, asks it
  // itself in COM_CHANGE_USER, and opens further connections with the stored hash.
  CorralProcess& corral = start();
  backend().execute("SET GLOBAL secure_auth = OFF");
  backend().execute("CREATE USER 'oldie'@'%' IDENTIFIED BY PASSWORD '" + to_hex(mysql::old_password_hash("old-pw")) +
                    "'");
  backend().execute("GRANT SELECT ON app.* TO 'oldie'@'%'");
  MysqlClient client = connect("oldie", "old-pw");
  EXPECT_EQ(client.query("SELECT CURRENT_USER()").at(0), "oldie@%");
  MysqlClient direct = backend().connect("bob", "bob-pw");
  for (MysqlClient* session : {&client, &direct}) {
    ASSERT_EQ(mysql_change_user(session->handle(), "bob", "bob-pw", nullptr), 0) << mysql_error(session->handle());
    ASSERT_EQ(mysql_change_user(session->handle(), "oldie", "old-pw", "app"), 0) << mysql_error(session->handle());
    EXPECT_EQ(session->query("SELECT CONCAT(CURRENT_USER(), ' ', DATABASE())").at(0), "oldie@% app");
  }

  // A wrong password: the server's refusal, worded as direct, and the session goes on as before.
  ASSERT_NE(mysql_change_user(direct.handle(), "oldie", "wrong", nullptr), 0);
  ASSERT_NE(mysql_change_user(client.handle(), "oldie", "wrong", nullptr), 0);
  EXPECT_EQ(mysql_errno(client.handle()), 1045u);
  EXPECT_EQ(std::string(mysql_error(client.handle())), std::string(mysql_error(direct.handle())));
  EXPECT_EQ(client.query("SELECT CURRENT_USER()").at(0), "oldie@%");
  const MysqlException refused = direct_refusal("oldie", "wrong");
  try {
    connect("oldie", "wrong");
    ADD_FAILURE() << "login of oldie with a wrong password succeeded";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1045u);
    EXPECT_EQ(server_text(e), server_text(refused));
  }

  // secure_auth ON (the server's default): the server refuses the old hash, through corral as direct.
  backend().execute("SET GLOBAL secure_auth = ON");
  const MysqlException secure = direct_refusal("oldie", "old-pw");
  try {
    connect("oldie", "old-pw");
    ADD_FAILURE() << "login of oldie under secure_auth succeeded";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), secure.code());
    EXPECT_EQ(server_text(e), server_text(secure));
  }
  ASSERT_EQ(mysql_change_user(direct.handle(), "bob", "bob-pw", nullptr), 0) << mysql_error(direct.handle());
  ASSERT_NE(mysql_change_user(direct.handle(), "oldie", "old-pw", nullptr), 0);
  ASSERT_NE(mysql_change_user(client.handle(), "oldie", "old-pw", nullptr), 0);
  EXPECT_EQ(mysql_errno(client.handle()), mysql_errno(direct.handle()));
  EXPECT_EQ(std::string(mysql_error(client.handle())), std::string(mysql_error(direct.handle())));
  // The stored hash is this account's password equivalent: never in the log, like the password.
  const std::string log = corral.log();
  EXPECT_THAT(log, HasSubstr("mysql"));  // trace logging is on: the log is not empty
  EXPECT_THAT(log, ::testing::Not(HasSubstr("old-pw")));
  EXPECT_THAT(log, ::testing::Not(HasSubstr(to_hex(mysql::old_password_hash("old-pw")))));
}

TEST_F(BackendLogin, ClientsOfOneUserShareItsPool) {
  start({.workers = 1, .pool_toml = "max_connections = 1\n"});
  MysqlClient first = connect("bob", "bob-pw");
  MysqlClient second = connect("bob", "bob-pw");
  MysqlClient other = connect("carol", "carol-pw");
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(first.query("SELECT CURRENT_USER()").at(0), "bob@%");
    EXPECT_EQ(second.query("SELECT CURRENT_USER()").at(0), "bob@%");
    EXPECT_EQ(other.query("SELECT CURRENT_USER()").at(0), "carol@%");
  }
  // The second login's own connection found the pool full and was closed: one connection per user.
  for (int tries = 0; tries < 50 && backend_connections("bob") > 1; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(backend_connections("bob"), 1);
  EXPECT_EQ(backend_connections("carol"), 1);
  // When the last client of a user leaves, so do its backend sessions (as its sessions would end on
  // the server); the other user's stay.
  first.close();
  EXPECT_EQ(second.query("SELECT 2").at(0), "2");
  EXPECT_EQ(backend_connections("bob"), 1);
  second.close();
  for (int tries = 0; tries < 50 && backend_connections("bob") > 0; ++tries) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(backend_connections("bob"), 0);
  EXPECT_EQ(backend_connections("carol"), 1);
}

// mtr main.events_processlist: a user's KILL QUERY of its own event worker's thread, which no client
// of corral's is on. With the client's own account on the backend the server decides such a KILL, as
// it would for a direct connection of that account; corral's own connections are never named.
TEST_F(BackendLogin, AKillOfAThreadNoClientIsOnIsTheServersToDecideForTheAccount) {
  start({.workers = 1});
  // Accounts without privileges: KILL of another account's thread needs CONNECTION ADMIN.
  backend().create_user("erin", "erin-pw", "mysql_native_password", false);
  backend().create_user("frank", "frank-pw", "mysql_native_password", false);
  const auto error_of = [](MysqlClient& client, const std::string& sql) -> unsigned {
    try {
      client.execute(sql);
    } catch (const MysqlException& e) {
      return e.code();
    }
    return 0;
  };
  MysqlClient direct = backend().connect("erin", "erin-pw");  // a thread of erin's that corral does not hold
  const std::string directs = direct.query("SELECT CONNECTION_ID()").at(0);
  const auto started = std::chrono::steady_clock::now();
  std::thread sleeper([&direct] { sleep_until_killed(direct); });
  for (int tries = 0; tries < 100; ++tries) {
    const std::string state =
        backend().query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = " + directs + " AND STATE = 'User sleep'").at(0);
    if (state == "1") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  MysqlClient erin = connect("erin", "erin-pw");
  EXPECT_EQ(error_of(erin, "KILL QUERY " + directs), 0u);
  sleeper.join();
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30)) << "the SLEEP(60) was interrupted";
  EXPECT_EQ(direct.query("SELECT 1").at(0), "1") << "KILL QUERY leaves the connection";
  // corral's own connection of erin's serves erin's other clients: never handed to the server. The
  // login's connection, the first corral opened for erin, stays pooled (a later one, such as the read
  // of the global timeouts, may close on its own meanwhile).
  const std::string corrals = backend().query("SELECT MIN(ID) FROM information_schema.PROCESSLIST WHERE USER = 'erin' "
                                              "AND ID <> " + directs).at(0);
  EXPECT_EQ(error_of(erin, "KILL " + corrals), 1094u);
  EXPECT_EQ(backend().query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = " + corrals).at(0), "1");
  // Another account's thread: the server's own refusal.
  MysqlClient frank = backend().connect("frank", "frank-pw");
  const std::string franks = frank.query("SELECT CONNECTION_ID()").at(0);
  EXPECT_EQ(error_of(erin, "KILL " + franks), 1095u);
  EXPECT_EQ(frank.query("SELECT 5").at(0), "5");
  EXPECT_EQ(error_of(erin, "KILL CONNECTION " + directs), 0u);
  EXPECT_EQ(erin.query("SELECT 6").at(0), "6");
}

TEST_F(BackendLogin, ANewLoginNeverGetsAnOlderSession) {
  // One connection per key: without retiring, the second login's connection would not fit and its
  // statements would run on the first login's session.
  start({.workers = 1, .pool_toml = "max_connections = 1\n"});
  backend().execute("CREATE TABLE app.t (a INT); INSERT INTO app.t VALUES (1)");
  backend().create_user("dave", "dave-pw", "mysql_native_password", false);
  backend().execute("GRANT SELECT ON *.* TO 'dave'@'%'");
  MysqlClient before = connect("dave", "dave-pw");
  EXPECT_EQ(before.query("SELECT a FROM app.t").at(0), "1");
  // Global privileges and global variables reach sessions that start later, as on the server.
  backend().execute("REVOKE SELECT ON *.* FROM 'dave'@'%'; SET GLOBAL net_write_timeout = 77");
  MysqlClient after = connect("dave", "dave-pw");
  for (int i = 0; i < 3; ++i) {
    try {
      after.query("SELECT a FROM app.t");
      ADD_FAILURE() << "a session that started after the REVOKE could still SELECT";
    } catch (const MysqlException& e) {
      EXPECT_EQ(e.code(), 1142u) << e.what();
    }
    EXPECT_EQ(after.query("SELECT @@session.net_write_timeout").at(0), "77");
  }
}

TEST_F(BackendLogin, NoPasswordOrEquivalentInTheLog) {
  CorralProcess& corral = start();
  { MysqlClient client = connect("bob", "bob-pw"); client.query("SELECT 1"); }
  { MysqlClient client = connect("bob", "bob-pw", {}, "caching_sha2_password"); client.query("SELECT 1"); }
  EXPECT_THROW(connect("bob", "wrong-pw"), MysqlException);
  {
    MysqlClient client = connect("carol", "carol-pw");
    mysql_change_user(client.handle(), "bob", "bob-pw", nullptr);
    mysql_change_user(client.handle(), "bob", "wrong-pw", nullptr);
  }
  const std::string log = corral.log();
  EXPECT_THAT(log, HasSubstr("mysql"));  // trace logging is on: the log is not empty
  for (const std::string password : {"bob-pw", "carol-pw", "wrong-pw"}) {
    EXPECT_THAT(log, ::testing::Not(HasSubstr(password)));
    const std::string sha1 = mysql::sha1(password);
    const std::string stored = mysql::native_password_hash_text(password);
    EXPECT_THAT(log, ::testing::Not(HasSubstr(to_hex(sha1))));
    EXPECT_THAT(log, ::testing::Not(HasSubstr(stored.substr(1))));
    EXPECT_THAT(log, ::testing::Not(HasSubstr(to_hex(mysql::sha1(sha1)))));
  }
}

}  // namespace
}  // namespace corral::testing::mysql_it
