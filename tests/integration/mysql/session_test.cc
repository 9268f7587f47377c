// A client's session across lending: what the server's trackers report that no session may set
// (last_gtid), what a statement reads about the previous one on its connection (ROW_COUNT(),
// FOUND_ROWS(), LAST_INSERT_ID()), and KILL with the connection ids corral gives its clients.
#include <gmock/gmock.h>

#include <mysql.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "mysql_path.h"

namespace corral::testing::mysql_it {
namespace {

using ::testing::HasSubstr;

class SessionAcrossLending : public MysqlPathTest {};

/// The error code of running `sql` on `client` (0 when it succeeds).
unsigned error_of(MysqlClient& client, std::string_view sql) {
  try {
    client.execute(sql);
  } catch (const MysqlException& e) {
    return e.code();
  }
  return 0;
}

/// The error code of preparing `sql` with COM_STMT_PREPARE and executing it once (0 when both succeed).
unsigned prepared_error_of(MysqlClient& client, std::string_view sql) {
  MYSQL_STMT* stmt = mysql_stmt_init(client.handle());
  unsigned code = mysql_stmt_prepare(stmt, sql.data(), sql.size()) != 0 ? mysql_stmt_errno(stmt) : 0;
  if (code == 0 && mysql_stmt_execute(stmt) != 0) code = mysql_stmt_errno(stmt);
  mysql_stmt_close(stmt);
  return code;
}

TEST_F(SessionAcrossLending, ReadOnlyVariablesTheTrackerReportsAreNeverReplayed) {
  // With binary logging the tracker reports last_gtid after every commit; SET last_gtid gets 1238.
  start_backend({.extra_args = {"--log-bin", "--server-id=1"}});
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  backend().execute("CREATE TABLE app.t (v INT)");
  MysqlClient client = connect(kUser, kPassword, "app");
  MysqlClient other = connect(kUser, kPassword, "app");
  client.execute("SET SESSION time_zone = '+02:00'");
  client.execute("INSERT INTO t VALUES (1)");
  // `other` keeps the connection `client` used: the next statement of `client` replays on another.
  other.execute("BEGIN");
  other.execute("INSERT INTO t VALUES (2)");
  EXPECT_EQ(client.query("SELECT @@time_zone").at(0), "+02:00");
  client.execute("INSERT INTO t VALUES (3)");
  other.execute("COMMIT");
  EXPECT_EQ(client.query("SELECT COUNT(*) FROM t").at(0), "3");
}

TEST_F(SessionAcrossLending, AReplayTheServerRefusesIsDroppedAndTheStatementStillRuns) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  MysqlClient other = connect(kUser, kPassword, "app");
  client.execute("SET SESSION time_zone = '+03:00', sql_log_bin = 0");
  // Connections opened from now on may no longer set sql_log_bin (the privilege is read at login).
  backend().execute("REVOKE SUPER, BINLOG ADMIN ON *.* FROM 'corral'@'%'");
  other.execute("BEGIN");
  other.execute("SELECT 1");  // holds the connection `client` used
  EXPECT_EQ(client.query("SELECT @@time_zone").at(0), "+03:00") << "the statement runs, what could be set is set";
  other.execute("COMMIT");
}

TEST_F(SessionAcrossLending, RowCountBesideLastInsertIdAnswersForTheInsert) {
  start_proxy({.workers = 1});
  backend().execute("CREATE TABLE app.seq (id INT AUTO_INCREMENT PRIMARY KEY, v INT)");
  MysqlClient client = connect(kUser, kPassword, "app");
  client.execute("INSERT INTO seq (v) VALUES (1), (2), (3)");
  const QueryResult answer = client.query("SELECT LAST_INSERT_ID(), ROW_COUNT()");
  EXPECT_EQ(answer.at(0, 0), "1");
  EXPECT_EQ(answer.at(0, 1), "3") << "a SET last_insert_id before the statement would make it 0";
  client.execute("UPDATE seq SET v = v + 1");
  EXPECT_EQ(client.query("SELECT ROW_COUNT() AS changed").at(0), "3");
  client.query("SELECT v FROM seq");
  EXPECT_EQ(client.query("SELECT ROW_COUNT() + 0").at(0), "-1");
}

TEST_F(SessionAcrossLending, CountsInExpressionsComeFromTheConnectionOfThePreviousStatement) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  backend().execute("CREATE TABLE app.n (v INT); INSERT INTO app.n VALUES (1), (2), (3), (4)");
  MysqlClient client = connect(kUser, kPassword, "app");
  MysqlClient other = connect(kUser, kPassword, "app");
  // `other` holds one connection while `client` uses the second; then the first is the newest idle.
  other.execute("BEGIN");
  client.query("SELECT v FROM n WHERE v > 1");
  other.execute("COMMIT");
  EXPECT_EQ(client.query("SELECT FOUND_ROWS() AS found").at(0), "3");
  other.execute("BEGIN");
  client.execute("DELETE FROM n WHERE v > 2");
  other.execute("COMMIT");
  EXPECT_EQ(client.query("SELECT ROW_COUNT() AS deleted").at(0), "2");
  other.execute("BEGIN");
  client.query("SELECT SQL_CALC_FOUND_ROWS v FROM n LIMIT 1");
  other.execute("COMMIT");
  EXPECT_EQ(client.query("SELECT FOUND_ROWS() AS found").at(0), "2");
}

TEST_F(SessionAcrossLending, TheSessionsCollationFollowsItToEveryConnection) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 3\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  MysqlClient other = connect(kUser, kPassword, "app");
  client.execute("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_ci");
  for (int round = 0; round < 3; ++round) {
    other.execute("BEGIN");
    other.query("SELECT 1");  // holds the connection `client` used last
    EXPECT_EQ(client.query("SELECT @@collation_connection").at(0), "utf8mb4_unicode_520_ci");
    EXPECT_EQ(client.query("SELECT COLLATION('a')").at(0), "utf8mb4_unicode_520_ci");
    other.execute("COMMIT");
  }
  EXPECT_EQ(other.query("SELECT @@collation_connection").at(0), "utf8mb4_general_ci") << "nobody else gets it (the handshake's utf8mb4)";
  client.execute("SET NAMES utf8mb4");
  other.execute("BEGIN");
  other.query("SELECT 1");
  EXPECT_EQ(client.query("SELECT @@collation_connection").at(0), "utf8mb4_general_ci");
  other.execute("COMMIT");
}

TEST_F(SessionAcrossLending, FoundRowsCountsTheRowsTheLimitSkippedAsDirect) {
  start_proxy({.workers = 1});
  backend().execute("CREATE TABLE app.f (c INT); INSERT INTO app.f VALUES (1), (2), (3), (4), (5)");
  MysqlClient client = connect(kUser, kPassword, "app");
  client.query("SELECT * FROM f ORDER BY c LIMIT 2, 1");
  EXPECT_EQ(client.query("SELECT FOUND_ROWS()").at(0), "3") << "main.select_found (MDEV-9390)";
}

TEST_F(SessionAcrossLending, ThreadsConnectedCountsCorralsClients) {
  // mtr's count_sessions.inc / wait_until_count_sessions.inc wait for a disconnect to show here.
  start_proxy({.workers = 2});
  MysqlClient client = connect();
  const auto threads_connected = [&client] {
    return std::stoi(client.query("SHOW STATUS LIKE 'Threads_connected'").at(0, 1));
  };
  // This corral's only client is this one, once the harness's start-up probe (a connection closed
  // at once) has ended on its worker.
  int now = threads_connected();
  for (int i = 0; i < 50 && now != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    now = threads_connected();
  }
  ASSERT_EQ(now, 1);
  {
    MysqlClient more = connect();
    more.query("SELECT 1");
    EXPECT_EQ(threads_connected(), 2);
  }
  now = threads_connected();
  for (int i = 0; i < 50 && now != 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    now = threads_connected();
  }
  EXPECT_EQ(now, 1) << "the backend connection may stay pooled; the client is gone";
}

TEST_F(SessionAcrossLending, AHeldConnectionTheServerClosedEndsTheClientsConnectionAsDirect) {
  start_proxy({.workers = 1});
  MysqlClient client = connect(kUser, kPassword, "app");
  client.execute("SET SESSION idle_transaction_timeout = 1");
  client.execute("BEGIN");
  client.query("SELECT 1");
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));  // the server ends the session
  const unsigned code = error_of(client, "SELECT 2");
  EXPECT_TRUE(code == 2013 || code == 2006) << "a lost connection, not an ERR from corral: " << code;
  // A one-statement hold (a warning) on a connection the server closed is let go silently. (The
  // server ends it with KILL here: a session wait_timeout would now close the client too, as direct.)
  MysqlClient other = connect(kUser, kPassword, "app");
  const std::string held = other.query("SELECT CAST('x' AS INT), CONNECTION_ID()").at(0, 1);
  backend().execute("KILL " + held);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_EQ(other.query("SELECT 3").at(0), "3");
}

TEST_F(SessionAcrossLending, AClientIdleLongerThanItsWaitTimeoutIsClosedAsDirect) {
  // mtr main.wait_timeout: a session gets the global wait_timeout at login (interactive_timeout with
  // CLIENT_INTERACTIVE) unless it sets its own; idle for longer, its next statement finds the
  // connection gone (2006 / 2013).
  start_proxy({.workers = 1});
  MysqlClient admin = connect();
  EXPECT_EQ(admin.query("SELECT 1").at(0), "1");  // the worker reads the global timeouts (28800)
  admin.execute("SET @@global.wait_timeout = 2, @@global.interactive_timeout = 4");
  MysqlClient late = connect();
  EXPECT_EQ(late.query("SELECT 1").at(0), "1");
  MysqlClient own = connect();
  own.execute("SET SESSION wait_timeout = 100");
  MYSQL* interactive = mysql_init(nullptr);
  ASSERT_NE(mysql_real_connect(interactive, "127.0.0.1", kUser, kPassword, nullptr, proxy_port(), nullptr,
                               CLIENT_INTERACTIVE),
            nullptr)
      << mysql_error(interactive);
  ASSERT_EQ(mysql_query(interactive, "DO 1"), 0) << mysql_error(interactive);
  std::this_thread::sleep_for(std::chrono::milliseconds(3000));
  const unsigned code = error_of(late, "SELECT 2");
  EXPECT_TRUE(code == 2006 || code == 2013) << "the global wait_timeout at login, 2 s: " << code;
  EXPECT_EQ(own.query("SELECT 2").at(0), "2") << "the client's own wait_timeout";
  EXPECT_EQ(mysql_query(interactive, "DO 2"), 0) << "interactive_timeout (4 s): " << mysql_error(interactive);
  std::this_thread::sleep_for(std::chrono::milliseconds(5000));
  EXPECT_NE(mysql_query(interactive, "DO 3"), 0) << "idle longer than interactive_timeout";
  const unsigned interactive_code = mysql_errno(interactive);
  EXPECT_TRUE(interactive_code == 2006 || interactive_code == 2013) << interactive_code;
  mysql_close(interactive);
  EXPECT_EQ(admin.query("SELECT 3").at(0), "3") << "a session keeps the wait_timeout it logged in with";
  own.execute("SET SESSION wait_timeout = 1");
  // The unscoped form, which MariaDB's tracker does not report (mtr: `set @@wait_timeout=1`).
  MysqlClient unscoped = connect();
  unscoped.execute("SET @@wait_timeout = 1");
  MysqlClient prepared = connect();
  EXPECT_EQ(prepared_error_of(prepared, "SET @@wait_timeout = 1"), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  for (MysqlClient* client : {&own, &unscoped, &prepared}) {
    const unsigned closed = error_of(*client, "SELECT 4");
    EXPECT_TRUE(closed == 2006 || closed == 2013) << "a wait_timeout of 1 s: " << closed;
  }
  admin.execute("SET @@global.wait_timeout = 28800, @@global.interactive_timeout = 28800");
}

// ---- KILL ------------------------------------------------------------------------------------------

/// The number of backend threads whose state is `state` (processlist, seen directly on the server).
int threads_in_state(MariaDbServer& server, std::string_view state) {
  return std::stoi(server.query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE STATE = '" +
                                std::string(state) + "'").at(0));
}

/// Waits up to 10 s until threads_in_state() is `count`; returns the last count seen.
int wait_for_threads_in_state(MariaDbServer& server, std::string_view state, int count) {
  int seen = threads_in_state(server, state);
  for (int i = 0; i < 100 && seen != count; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    seen = threads_in_state(server, state);
  }
  return seen;
}

TEST_F(SessionAcrossLending, KillOfTheIdConnectionIdGaveStopsThatClientsStatement) {
  // CONNECTION_ID() is the backend thread's (processlist and INNODB_TRX show those ids); a KILL of it
  // reaches the client that read it, wherever its statement runs then (mtr: `let $id = `SELECT
  // CONNECTION_ID()``, then `KILL QUERY $id` on another connection).
  start_proxy({.workers = 2});
  for (const std::string_view ask : {"SELECT CONNECTION_ID()", "SELECT @@pseudo_thread_id"}) {
    MysqlClient victim = connect();
    MysqlClient killer = connect();
    const std::string backend_id = victim.query(ask).at(0);
    EXPECT_EQ(backend().query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = " + backend_id).at(0), "1")
        << "the id is a server thread's, as direct";
    EXPECT_LT(std::stoul(backend_id), 1000000000u) << "not corral's own id (mysql_thread_id())";
    auto sleeping = std::async(std::launch::async, [&victim] { return error_of(victim, "SELECT SLEEP(60)"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(error_of(killer, "KILL QUERY " + backend_id), 0u) << ask;
    EXPECT_EQ(sleeping.get(), 1317u) << ask << ": ER_QUERY_INTERRUPTED, as direct";
    EXPECT_EQ(victim.query("SELECT 7").at(0), "7") << "the client goes on";
    EXPECT_EQ(error_of(victim, "KILL QUERY " + backend_id), 1317u) << "its own id: the KILL itself is interrupted";
    // KILL CONNECTION of it ends the client, as direct.
    EXPECT_EQ(error_of(killer, "KILL " + backend_id), 0u);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    EXPECT_FALSE(victim.ping());
  }
}

TEST_F(SessionAcrossLending, AKillOfAThreadIdFromTheProcessListStopsTheStatementRunningThere) {
  // mtr main.lock_multi: `let $ID = select id from information_schema.processlist where info = ...`,
  // then `kill query $ID` on another connection. The id was never told to a client: corral finds the
  // client whose statement runs on that backend thread now.
  start_proxy({.workers = 2});
  MysqlClient victim = connect();
  MysqlClient killer = connect();
  MysqlClient reader = connect("reader", "reader-pw");
  auto sleeping = std::async(std::launch::async, [&victim] { return error_of(victim, "SELECT SLEEP(60)"); });
  std::string thread;
  for (int i = 0; i < 50 && thread.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const QueryResult found =
        killer.query("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(60)'");
    if (found.rows.size() == 1) thread = found.at(0);
  }
  ASSERT_FALSE(thread.empty()) << "the sleeping statement never showed in the process list";
  EXPECT_EQ(error_of(reader, "KILL QUERY " + thread), 1095u) << "another backend account, as for any KILL";
  EXPECT_EQ(error_of(killer, "KILL QUERY " + thread), 0u);
  EXPECT_EQ(sleeping.get(), 1317u) << "ER_QUERY_INTERRUPTED, as direct";
  EXPECT_EQ(victim.query("SELECT 7").at(0), "7") << "the client goes on";
}

TEST_F(SessionAcrossLending, AKillOfAToldIdFromAnotherAccountIsDeniedAndAnIdleThreadIdFindsNoClient) {
  start_proxy({.workers = 2});
  MysqlClient client = connect();
  MysqlClient reader = connect("reader", "reader-pw");
  const std::string readers_id = reader.query("SELECT CONNECTION_ID()").at(0);
  EXPECT_EQ(error_of(client, "KILL " + readers_id), 1095u) << "ER_KILL_DENIED_ERROR (mtr main.grant_kill)";
  EXPECT_EQ(error_of(client, "KILL QUERY " + readers_id), 1095u);
  EXPECT_TRUE(reader.ping());
  // A thread id nobody read from CONNECTION_ID() and no client holds names no client, even one of the
  // same account.
  MysqlClient holder = connect();
  holder.execute("BEGIN");
  holder.execute("SELECT 1");
  holder.execute("COMMIT");  // its connection goes back to the pool, idle
  const std::string untold =
      backend().query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'corral' AND COMMAND = 'Sleep' "
                      "ORDER BY ID DESC LIMIT 1").at(0);
  EXPECT_EQ(error_of(client, "KILL QUERY " + untold), 1094u);
}

TEST_F(SessionAcrossLending, APreparedConnectionIdIsKillableToo) {
  // mysqltest --ps-protocol reads CONNECTION_ID() with COM_STMT_PREPARE / COM_STMT_EXECUTE.
  start_proxy({.workers = 1});
  MysqlClient victim = connect();
  MysqlClient killer = connect();
  MYSQL_STMT* stmt = mysql_stmt_init(victim.handle());
  const std::string ask = "SELECT CONNECTION_ID()";
  ASSERT_EQ(mysql_stmt_prepare(stmt, ask.data(), ask.size()), 0) << mysql_stmt_error(stmt);
  ASSERT_EQ(mysql_stmt_execute(stmt), 0) << mysql_stmt_error(stmt);
  unsigned long long id = 0;
  MYSQL_BIND result{};
  result.buffer_type = MYSQL_TYPE_LONGLONG;
  result.buffer = &id;
  result.is_unsigned = 1;
  ASSERT_EQ(mysql_stmt_bind_result(stmt, &result), 0);
  ASSERT_EQ(mysql_stmt_fetch(stmt), 0);
  mysql_stmt_close(stmt);
  ASSERT_GT(id, 0u);
  auto sleeping = std::async(std::launch::async, [&victim] { return error_of(victim, "SELECT SLEEP(60)"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(error_of(killer, "KILL QUERY " + std::to_string(id)), 0u);
  EXPECT_EQ(sleeping.get(), 1317u);
}

TEST_F(SessionAcrossLending, AClientThatHangsUpEndsItsStatementOnTheBackend) {
  // mtr main.dirty_close: a client waiting in GET_LOCK closes its socket; the server must see its
  // session go (the direct server notices the closed socket while it waits).
  start_proxy({.workers = 1, .pool_toml = "max_connections = 4\n"});
  MysqlClient blocker = connect();
  ASSERT_EQ(blocker.query("SELECT GET_LOCK('corral_dirty', 0)").at(0), "1");
  for (const bool prepared : {false, true}) {
    MysqlClient victim = connect();
    const int fd = static_cast<int>(mysql_get_socket(victim.handle()));
    auto waiting = std::async(std::launch::async, [&victim, prepared] {
      const std::string sql = "SELECT GET_LOCK('corral_dirty', 60)";
      return prepared ? prepared_error_of(victim, sql) : error_of(victim, sql);
    });
    ASSERT_EQ(wait_for_threads_in_state(backend(), "User lock", 1), 1);
    ::shutdown(fd, SHUT_RDWR);  // a dirty close: no COM_QUIT, the socket just ends
    EXPECT_NE(waiting.get(), 0u);
    EXPECT_EQ(wait_for_threads_in_state(backend(), "User lock", 0), 0)
        << (prepared ? "prepared" : "text") << ": the backend statement of a client that hung up is ended";
  }
  EXPECT_EQ(blocker.query("SELECT IS_USED_LOCK('corral_dirty') = CONNECTION_ID()").at(0), "1");
  EXPECT_EQ(blocker.query("SELECT RELEASE_LOCK('corral_dirty')").at(0), "1");
  MysqlClient fresh = connect();
  EXPECT_EQ(fresh.query("SELECT GET_LOCK('corral_dirty', 0)").at(0), "1") << "no backend connection kept a waiter";
}

TEST_F(SessionAcrossLending, KillQueryStopsTheStatementOfTheClientWithThatIdOnAnyWorker) {
  start_proxy({.workers = 2});
  for (int round = 0; round < 4; ++round) {  // the two clients land on either worker
    MysqlClient victim = connect();
    MysqlClient killer = connect();
    const unsigned long id = mysql_thread_id(victim.handle());
    const auto started = std::chrono::steady_clock::now();
    auto sleeping = std::async(std::launch::async, [&victim] { return error_of(victim, "SELECT SLEEP(60)"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    killer.execute("KILL QUERY " + std::to_string(id));
    EXPECT_EQ(sleeping.get(), 1317u) << "ER_QUERY_INTERRUPTED, as direct";
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(20));
    EXPECT_EQ(victim.query("SELECT 7").at(0), "7") << "the client goes on";
    // The connection the killed statement ran on is not lent to anyone again.
    for (int i = 0; i < 5; ++i) EXPECT_EQ(killer.query("SELECT SLEEP(0.05)").at(0), "0");
  }
}

TEST_F(SessionAcrossLending, KillConnectionEndsTheClientAndItsStatement) {
  start_proxy({.workers = 2});
  MysqlClient victim = connect();
  MysqlClient killer = connect();
  const unsigned long id = mysql_thread_id(victim.handle());
  auto sleeping = std::async(std::launch::async, [&victim] { return error_of(victim, "SELECT SLEEP(60)"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  killer.execute("KILL " + std::to_string(id));
  const unsigned code = sleeping.get();
  EXPECT_TRUE(code == 2013 || code == 2006 || code == 1927) << code;
  // The backend thread stopped too: nothing sleeps any more.
  for (int i = 0; i < 50 && backend().query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP%'").at(0) != "0"; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(backend().query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE 'SELECT SLEEP%'").at(0), "0");
  // COM_PROCESS_KILL (mysql_kill()) names corral ids too.
  MysqlClient second = connect();
  EXPECT_EQ(mysql_kill(killer.handle(), mysql_thread_id(second.handle())), 0) << mysql_error(killer.handle());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(second.ping());
}

TEST_F(SessionAcrossLending, AKilledClientsNextCommandFindsItsConnectionClosedAsDirect) {
  // The server shuts the victim's socket before it answers the KILL: the victim's next command finds
  // the connection closed, and a client with auto-reconnect reconnects and runs it (a command sent
  // into a connection that closes under it is lost instead: mariadb-client-test test_bug17512527).
  start_proxy({.workers = 2});
  for (int round = 0; round < 5; ++round) {  // the two clients land on either worker
    MysqlClient victim = connect();
    const my_bool reconnect = 1;
    ASSERT_EQ(mysql_options(victim.handle(), MYSQL_OPT_RECONNECT, &reconnect), 0);
    MysqlClient killer = connect();
    const unsigned long id = mysql_thread_id(victim.handle());
    killer.execute("KILL " + std::to_string(id));
    EXPECT_EQ(victim.query("SELECT 5").at(0), "5") << "round " << round << ": reconnected and ran";
    EXPECT_NE(mysql_thread_id(victim.handle()), id);
  }
}

TEST_F(SessionAcrossLending, KillOfAnUnknownIdOrOfAnotherAccountsClientIsRefused) {
  start_proxy({.workers = 2});
  MysqlClient client = connect();
  MysqlClient reader = connect("reader", "reader-pw");
  EXPECT_EQ(error_of(client, "KILL 999999"), 1094u);
  EXPECT_EQ(error_of(client, "KILL QUERY " + std::to_string(mysql_thread_id(reader.handle()))), 1095u);
  EXPECT_EQ(error_of(client, "KILL QUERY " + std::to_string(mysql_thread_id(client.handle()))), 1317u);
  EXPECT_EQ(error_of(client, "KILL QUERY CONNECTION_ID()"), 1317u);
  EXPECT_EQ(error_of(client, "KILL QUERY ID 5"), 1235u);
  EXPECT_EQ(error_of(client, "KILL USER reader"), 1235u);
  // An expression is evaluated by the server in the session (mtr main.sp-bugs), its value is the id.
  EXPECT_EQ(error_of(client, "KILL  (('x' IN ( SELECT 1)) MOD 44)"), 1094u) << "0: no such thread";
  client.execute("SET @reader = " + std::to_string(mysql_thread_id(reader.handle())));
  EXPECT_EQ(error_of(client, "KILL QUERY @reader"), 1095u);
  EXPECT_EQ(error_of(client, "KILL (1 + "), 1064u) << "the server's syntax error";
  EXPECT_EQ(error_of(client, "KILL ( SELECT 1 ) + LASTVAL(s)"), 1970u) << "the server's refusal (mtr main.parser)";
  EXPECT_EQ(error_of(client, "KILL no_such_column"), 1054u) << "the server's error for the expression";
  EXPECT_EQ(prepared_error_of(client, "KILL (999998 + 1)"), 1094u);
  EXPECT_EQ(client.query("SELECT 5").at(0), "5");
  EXPECT_TRUE(reader.ping());
}

TEST_F(SessionAcrossLending, NoSqlRouteTakesAKillToABackendThread) {
  // Every form of KILL is carried out by corral: a backend thread id names the client whose statement
  // or transaction is on that thread now (as the server's KILL names the session on it), never the
  // pooled connection itself.
  start_backend();
  backend().execute("CREATE TABLE app.k (a INT) ENGINE=InnoDB");
  start_proxy({.workers = 1, .pool_toml = "max_connections = 4\n"});
  MysqlClient victim = connect();
  MysqlClient attacker = connect();
  MysqlClient other = connect();
  attacker.execute("SET @pinned = 1");             // the attacker's statements all run on its own connection
  const std::string attackers = attacker.query("SELECT CONNECTION_ID()").at(0);
  victim.execute("BEGIN");
  victim.execute("INSERT INTO app.k VALUES (1)");  // holds a backend connection: a transaction is open on it
  other.execute("SELECT 1");                       // a third connection, back in the pool, idle
  const std::string victims =
      backend().query("SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX").at(0);
  const std::string idle = backend().query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'corral' "
                                           "AND ID NOT IN (" + victims + ", " + attackers + ")").at(0);
  // Each form carrying the idle pooled thread's id: no client is on it, so none is killed.
  EXPECT_EQ(error_of(attacker, "EXECUTE IMMEDIATE 'KILL " + idle + "'"), 1094u);
  EXPECT_EQ(error_of(attacker, "SET STATEMENT max_statement_time = 10 FOR KILL " + idle), 1094u);
  EXPECT_EQ(error_of(attacker, "PREPARE s FROM 'KILL " + idle + "'"), 0u) << "the server prepares it";
  EXPECT_EQ(error_of(attacker, "EXECUTE s"), 1094u) << "corral carries out the EXECUTE";
  EXPECT_EQ(error_of(attacker, "execute `S`"), 1094u) << "names are case-insensitive";
  EXPECT_EQ(error_of(attacker, "DEALLOCATE PREPARE s"), 0u);
  EXPECT_EQ(error_of(attacker, "EXECUTE s"), 1243u) << "the server's unknown statement, as direct";
  EXPECT_EQ(prepared_error_of(attacker, "KILL " + idle), 1094u) << "COM_STMT_PREPARE: carried out by corral too";
  EXPECT_EQ(prepared_error_of(attacker, "EXECUTE IMMEDIATE 'KILL QUERY " + idle + "'"), 1094u);
  EXPECT_EQ(backend().query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = " + idle).at(0), "1")
      << "the pooled connection was never killed";
  EXPECT_EQ(victim.query("SELECT COUNT(*) FROM app.k").at(0), "1") << "the transaction goes on";
  // The victim's thread names the victim: a KILL of it ends that client, as the server's would.
  EXPECT_EQ(error_of(attacker, "EXECUTE IMMEDIATE 'KILL " + victims + "'"), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the KILL reaches the victim's session
  const unsigned closed = error_of(victim, "SELECT 3");
  EXPECT_TRUE(closed == 2006 || closed == 2013) << closed;
  EXPECT_EQ(backend().query("SELECT COUNT(*) FROM app.k").at(0), "0") << "its transaction rolled back";
  EXPECT_EQ(attacker.query("SELECT 4").at(0), "4");
}

TEST_F(SessionAcrossLending, APreparedKillIsCarriedOutAsTheKillQueryIs) {
  // COM_STMT_PREPARE + COM_STMT_EXECUTE of KILL: the server prepares it, and so does corral, for the
  // ids it gave its clients; each execute kills (mysqltest --ps-protocol sends KILL this way).
  start_proxy({.workers = 2});
  MysqlClient victim = connect();
  MysqlClient killer = connect();
  MysqlClient reader = connect("reader", "reader-pw");
  const std::string id = std::to_string(mysql_thread_id(victim.handle()));
  MYSQL_STMT* stmt = mysql_stmt_init(killer.handle());
  const std::string kill = "KILL QUERY " + id;
  ASSERT_EQ(mysql_stmt_prepare(stmt, kill.data(), kill.size()), 0) << mysql_stmt_error(stmt);
  EXPECT_EQ(mysql_stmt_param_count(stmt), 0u);
  EXPECT_EQ(mysql_stmt_field_count(stmt), 0u);
  for (int round = 0; round < 2; ++round) {  // the statement stays usable, as on the server
    auto sleeping = std::async(std::launch::async, [&victim] { return error_of(victim, "SELECT SLEEP(60)"); });
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    EXPECT_EQ(mysql_stmt_execute(stmt), 0) << mysql_stmt_error(stmt);
    EXPECT_EQ(sleeping.get(), 1317u) << "ER_QUERY_INTERRUPTED, as direct";
    EXPECT_EQ(victim.query("SELECT 7").at(0), "7") << "the client goes on";
  }
  mysql_stmt_close(stmt);
  // The refusals and answers of the KILL query, in the prepared protocol.
  EXPECT_EQ(prepared_error_of(killer, "KILL 999999"), 1094u);
  EXPECT_EQ(prepared_error_of(killer, "KILL " + std::to_string(mysql_thread_id(reader.handle()))), 1095u);
  EXPECT_EQ(prepared_error_of(killer, "KILL QUERY CONNECTION_ID()"), 1317u);
  EXPECT_EQ(prepared_error_of(killer, "KILL ?"), 1235u) << "a parameter corral cannot bind into the evaluation";
  EXPECT_EQ(prepared_error_of(killer, "KILL QUERY ID 5"), 1235u);
  // The SQL-level PREPARE of a KILL (mtr main.ps_1general): the server holds it, corral runs EXECUTE.
  killer.execute("PREPARE k FROM 'KILL QUERY " + id + "'");
  auto sleeping = std::async(std::launch::async, [&victim] { return error_of(victim, "SELECT SLEEP(60)"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  killer.execute("EXECUTE k");
  EXPECT_EQ(sleeping.get(), 1317u);
  killer.execute("PREPARE k FROM 'SELECT 9'");  // the name now means another statement
  EXPECT_EQ(killer.query("EXECUTE k").at(0), "9");
  // An expression: evaluated at each EXECUTE, in the session (its user variables).
  killer.execute("PREPARE k FROM 'KILL QUERY @victim'");
  killer.execute("SET @victim = " + id);
  sleeping = std::async(std::launch::async, [&victim] { return error_of(victim, "SELECT SLEEP(60)"); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  killer.execute("EXECUTE k");
  EXPECT_EQ(sleeping.get(), 1317u) << "KILL QUERY @victim";
  killer.execute("SET @victim = 999999");
  EXPECT_EQ(error_of(killer, "EXECUTE k"), 1094u);
  killer.execute("DEALLOCATE PREPARE k");
  EXPECT_EQ(prepared_error_of(killer, "SET STATEMENT max_statement_time = 10 FOR KILL " + id), 0u);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the KILL reaches the victim's worker
  EXPECT_FALSE(victim.ping()) << "KILL CONNECTION (SET STATEMENT ... FOR KILL) closed the victim";
  EXPECT_TRUE(reader.ping());
  EXPECT_EQ(killer.query("SELECT 8").at(0), "8");
}

TEST_F(SessionAcrossLending, TenantsOnDifferentBackendAccountsCannotKillEachOthersThreads) {
  // SQL the proxy cannot read (a computed string, a stored procedure) reaches the server, which lets an
  // account kill only its own threads: tenants are isolated by backend accounts without CONNECTION ADMIN.
  start_backend();
  backend().execute("CREATE USER 'tenant'@'%' IDENTIFIED BY 'tenant-pw'");
  backend().execute("GRANT SELECT, EXECUTE, CREATE ROUTINE ON app.* TO 'tenant'@'%'");
  start_proxy({.workers = 1,
               .more_toml = "[[users]]\nname = \"tenant\"\npassword = \"tenant-pw\"\nbackend_user = \"tenant\"\n"
                            "backend_password = \"tenant-pw\"\n"});
  MysqlClient victim = connect();
  victim.execute("BEGIN");
  victim.execute("SELECT 1");
  const std::string backend_id =
      backend().query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'corral' ORDER BY ID LIMIT 1").at(0);
  MysqlClient tenant = connect("tenant", "tenant-pw", "app");
  EXPECT_EQ(error_of(tenant, "EXECUTE IMMEDIATE CONCAT('KI', 'LL " + backend_id + "')"), 1095u);
  tenant.execute("CREATE PROCEDURE k(id BIGINT) KILL id");
  EXPECT_EQ(error_of(tenant, "CALL k(" + backend_id + ")"), 1095u);
  EXPECT_EQ(victim.query("SELECT 3").at(0), "3");
  victim.execute("COMMIT");
}

/// The session-state reports of `sql` run on `client`, as libmysqlclient hands them out: "type: name
/// = value" per variable, "type: value" per other entry, sorted (the server orders a statement's
/// variables by its tracking list, which differs between corral's connections and a direct one).
std::vector<std::string> reports_of(MysqlClient& client, std::string_view sql) {
  client.execute(sql);
  std::vector<std::string> reports;
  for (int type = SESSION_TRACK_BEGIN; type <= SESSION_TRACK_END; ++type) {
    const char* data = nullptr;
    size_t length = 0;
    const auto kind = static_cast<enum enum_session_state_type>(type);
    std::string pending;  // a variable's name, until its value follows
    for (int more = mysql_session_track_get_first(client.handle(), kind, &data, &length); more == 0;
         more = mysql_session_track_get_next(client.handle(), kind, &data, &length)) {
      const std::string item(data, length);
      if (kind == SESSION_TRACK_SYSTEM_VARIABLES && pending.empty()) {
        pending = item;
        continue;
      }
      reports.push_back(std::to_string(type) + ": " + (pending.empty() ? item : pending + " = " + item));
      pending.clear();
    }
  }
  std::sort(reports.begin(), reports.end());
  return reports;
}

// corral's backend connections track every variable, state changes and transaction state; a client
// gets the reports of its own trackers only, as direct: the server's defaults, then what it sets
// (mtr main.mysqltest_tracking_info), and the defaults again after COM_RESET_CONNECTION.
TEST_F(SessionAcrossLending, AClientGetsTheReportsOfItsOwnTrackersOnly) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  const std::vector<std::string> steps = {
      "SET NAMES utf8",
      "SET sql_mode = 'ANSI_QUOTES'",  // not tracked by default
      "BEGIN",
      "INSERT INTO app.tracked VALUES (1)",
      "COMMIT",
      "SET @@session.session_track_system_variables = 'character_set_connection'",
      "SET NAMES big5",
      "SET sql_mode = ''",
      "BEGIN",
      "INSERT INTO app.tracked VALUES (2)",
      "COMMIT",
  };
  backend().execute("CREATE TABLE app.tracked (a INT) ENGINE=InnoDB");
  MysqlClient direct = backend().connect(kBackendUser, kBackendPassword, "app");
  MysqlClient through = connect(kUser, kPassword, "app");
  through.execute("SELECT 1");  // the first command: the session learns the server's defaults
  direct.execute("SELECT 1");
  for (const std::string& sql : steps) {
    EXPECT_EQ(reports_of(through, sql), reports_of(direct, sql)) << sql;
  }
  // A SET of trackers is itself reported with the trackers from before it through corral (the server
  // uses the new ones: docs/ARCHITECTURE.md, Session trackers); what follows it is as direct.
  for (MysqlClient* client : {&direct, &through}) {
    client->execute("SET session_track_system_variables = 'sql_mode', session_track_transaction_info = 'STATE'");
  }
  for (const std::string sql : {"SET sql_mode = 'ANSI_QUOTES'", "SET NAMES utf8", "BEGIN",
                                "INSERT INTO app.tracked VALUES (3)", "COMMIT"}) {
    EXPECT_EQ(reports_of(through, sql), reports_of(direct, sql)) << sql;
  }
  // Back to the server's defaults.
  ASSERT_EQ(mysql_reset_connection(through.handle()), 0) << mysql_error(through.handle());
  ASSERT_EQ(mysql_reset_connection(direct.handle()), 0) << mysql_error(direct.handle());
  for (const std::string& sql : {std::string("SET sql_mode = 'ANSI_QUOTES'"), std::string("SET NAMES latin1")}) {
    EXPECT_EQ(reports_of(through, sql), reports_of(direct, sql)) << sql;
  }
}

}  // namespace
}  // namespace corral::testing::mysql_it
