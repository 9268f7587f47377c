// A MySQL listener whose backend is a primary with replicas (issue 14): a real MariaDB primary and two
// replicas with GTID replication on loopback, corral in front, libmysqlclient clients. Where a
// statement ran is read from @@server_id (primary 1, replicas 2 and 3): the test accounts may write
// on a read_only replica (READ_ONLY ADMIN), so only the id tells a misrouted write apart.
//
//   client ─► corral ─┬─► primary (writes, transactions, pinned sessions, reads after a write)
//                     └─► replica 2 / replica 3 (reads, round robin over the healthy ones)
#include <mysql.h>

#include <gmock/gmock.h>

#include <chrono>
#include <set>
#include <string>
#include <thread>

#include "../proxy_path_test.h"
#include "harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

constexpr const char* kBackendUser = "corral";
constexpr const char* kBackendPassword = "backend-pw";
constexpr const char* kUser = "app";
constexpr const char* kPassword = "app-pw";

struct ReplicaSetup {
  int read_your_writes_ms = 0;
  uint32_t workers = 2;
  int max_replication_lag_ms = 5000;
  int first_replica_delay_s = 0;  // MASTER_DELAY of replica 0 (delayed replication)
  int check_interval_ms = 100;
  std::string auth = "users";  // "backend": clients log in as the backend's accounts
  bool causal_reads = false;
};

class Replicas : public ProxyPathTest<MariaDbReplication> {
 protected:
  void start(ReplicaSetup setup = {}) {
    backend_ = std::make_unique<MariaDbReplication>(2);
    MariaDbServer& primary = backend_->primary();
    primary.create_user(kBackendUser, kBackendPassword);
    primary.create_database("app");
    primary.execute("CREATE TABLE app.t (id INT AUTO_INCREMENT PRIMARY KEY, server INT)");
    backend_->sync();
    if (setup.first_replica_delay_s > 0) {
      MariaDbServer& replica = backend_->replica(0);
      replica.execute("STOP SLAVE");
      replica.execute("CHANGE MASTER TO MASTER_DELAY = " + std::to_string(setup.first_replica_delay_s));
      replica.execute("START SLAVE");
      backend_->wait_replicating(0);
    }
    admin_port_ = pick_free_port();
    const std::string toml = "[server]\nworkers = " + std::to_string(setup.workers) +
                             "\nshutdown_grace_ms = 2000\nadmin = \"127.0.0.1:" + std::to_string(admin_port_) +
                             "\"\n[mysql]\nreplica_check_interval_ms = " + std::to_string(setup.check_interval_ms) + "\n"
                             "max_replication_lag_ms = " + std::to_string(setup.max_replication_lag_ms) + "\n" +
                             "causal_reads = " + (setup.causal_reads ? "true" : "false") + "\n"
                             "read_your_writes_ms = " + std::to_string(setup.read_your_writes_ms) +
                             "\n[pool]\nconnect_timeout_ms = 1000\n[[users]]\nname = \"app\"\npassword = \"app-pw\"\n";
    proxy_ = std::make_unique<CorralProcess>(CorralOptions{
        .listeners = {{.name = "db",
                       .protocol = "mysql",
                       .backend = primary.url(kBackendUser, kBackendPassword, "app") + "?replicas=" +
                                  backend_->replica_list(),
                       .auth = setup.auth}},
        .extra_toml = toml});
    auth_ = setup.auth;
    // The first session starts the health checks; replicas take reads once they passed one.
    MysqlClient first = connect();
    first.query("SELECT 1");
    wait_admitted(0, 1);
    wait_admitted(1, 1);
  }

  MysqlClient connect() const {
    const bool backend_auth = auth_ == "backend";
    return MysqlClient::connect({.port = proxy_->port("db"),
                                 .user = backend_auth ? kBackendUser : kUser,
                                 .password = backend_auth ? kBackendPassword : kPassword,
                                 .database = "app"});
  }

  /// The corral_mysql_replica_healthy line of replica i on GET /metrics.
  std::string health_metric(std::size_t i, int value) {
    return "corral_mysql_replica_healthy{listener=\"db\",replica=\"" + replica_address(i) + "\"} " +
           std::to_string(value) + "\n";
  }

  std::string replica_address(std::size_t i) { return "127.0.0.1:" + std::to_string(backend_->replica(i).port()); }

  /// How many times corral's log says `text`.
  std::size_t log_count(const std::string& text) const {
    const std::string log = proxy_->log();
    std::size_t count = 0;
    for (std::size_t at = log.find(text); at != std::string::npos; at = log.find(text, at + 1)) ++count;
    return count;
  }
  void wait_admitted(std::size_t i, std::size_t times) {
    const std::string line = "replica " + replica_address(i) + " takes reads";
    wait_until([&] { return log_count(line) >= times; }, 30s, "corral to log '" + line + "' " + std::to_string(times) + "x");
  }
  void wait_ejected(std::size_t i, std::size_t times, const std::string& reason) {
    const std::string line = "replica " + replica_address(i) + " ejected, its reads go elsewhere: " + reason;
    wait_until([&] { return log_count(line) >= times; }, 30s, "corral to log '" + line + "' " + std::to_string(times) + "x");
  }

  uint16_t admin_port_ = 0;
  std::string auth_;

  /// The server ids `sql` (a query of @@server_id) ran on over `n` runs.
  static std::set<std::string> servers_of(MysqlClient& client, const std::string& sql, int n = 20) {
    std::set<std::string> ids;
    for (int i = 0; i < n; ++i) ids.insert(client.query(sql).at(0));
    return ids;
  }
};

/// A libmysqlclient prepared statement whose executes return the first column of their first row
/// (empty for a statement without a result).
class Prepared {
 public:
  Prepared(MysqlClient& client, std::string_view sql, bool cursor = false) : stmt_(mysql_stmt_init(client.handle())) {
    if (stmt_ == nullptr) throw HarnessError("mysql_stmt_init failed");
    if (cursor) {
      const unsigned long type = CURSOR_TYPE_READ_ONLY;
      if (mysql_stmt_attr_set(stmt_, STMT_ATTR_CURSOR_TYPE, &type) != 0) fail("mysql_stmt_attr_set");
    }
    if (mysql_stmt_prepare(stmt_, sql.data(), sql.size()) != 0) fail("mysql_stmt_prepare");
  }
  ~Prepared() { mysql_stmt_close(stmt_); }
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;

  std::string execute() {
    if (mysql_stmt_execute(stmt_) != 0) fail("mysql_stmt_execute");
    if (mysql_stmt_field_count(stmt_) == 0) return {};
    char buffer[64] = {};
    unsigned long length = 0;
    MYSQL_BIND out{};
    out.buffer_type = MYSQL_TYPE_STRING;
    out.buffer = buffer;
    out.buffer_length = sizeof buffer;
    out.length = &length;
    if (mysql_stmt_bind_result(stmt_, &out) != 0) fail("mysql_stmt_bind_result");
    if (mysql_stmt_fetch(stmt_) != 0) fail("mysql_stmt_fetch");
    mysql_stmt_free_result(stmt_);
    return std::string(buffer, length);
  }

 private:
  [[noreturn]] void fail(std::string_view what) {
    throw MysqlException(mysql_stmt_errno(stmt_), mysql_stmt_sqlstate(stmt_),
                         std::string(what) + ": " + mysql_stmt_error(stmt_));
  }
  MYSQL_STMT* stmt_;
};

const std::set<std::string> kPrimary = {"1"};
const std::set<std::string> kBothReplicas = {"2", "3"};

TEST_F(Replicas, ReadsSpreadOverTheReplicas) {
  start();
  MysqlClient client = connect();
  EXPECT_EQ(servers_of(client, "SELECT @@server_id"), kBothReplicas);
  EXPECT_EQ(servers_of(client, "/* a comment */ select @@server_id from dual"), kBothReplicas);
  // Another session spreads too, and SHOW of definitions is a read.
  MysqlClient other = connect();
  EXPECT_EQ(servers_of(other, "SELECT @@server_id"), kBothReplicas);
  EXPECT_EQ(other.query("SHOW TABLES").at(0), "t");
  EXPECT_EQ(proxy().log().find("ERROR"), std::string::npos) << proxy().log();
}

TEST_F(Replicas, ReadsSpreadForClientsCheckedByTheBackendToo) {
  // auth = "backend": the replica pools log in with the password equivalent learned from the
  // client's login on the primary (the account is replicated).
  start({.auth = "backend"});
  MysqlClient client = connect();
  EXPECT_EQ(servers_of(client, "SELECT @@server_id"), kBothReplicas);
  EXPECT_EQ(client.query("SELECT CURRENT_USER()").at(0), std::string(kBackendUser) + "@%");
  client.execute("INSERT INTO t (server) VALUES (@@server_id)");
  EXPECT_EQ(backend().primary().query("SELECT server FROM app.t").at(0), "1");
}

TEST_F(Replicas, WritesTransactionsAndPinnedSessionsStayOnThePrimary) {
  start();
  MysqlClient client = connect();
  client.execute("INSERT INTO t (server) VALUES (@@server_id)");
  client.execute("UPDATE t SET server = @@server_id * 10 WHERE id = 1");
  EXPECT_EQ(backend().primary().query("SELECT server FROM app.t WHERE id = 1").at(0), "10");
  // Reads that lock, write or ask for session state are not reads a replica may answer.
  EXPECT_EQ(servers_of(client, "SELECT @@server_id FROM t FOR UPDATE", 5), kPrimary);
  EXPECT_EQ(servers_of(client, "SELECT @@server_id FROM t LOCK IN SHARE MODE", 5), kPrimary);
  EXPECT_EQ(servers_of(client, "SELECT @@server_id, CONNECTION_ID()", 5), kPrimary);
  // A transaction, read-only or not, runs on the primary from its first statement to its end.
  client.execute("START TRANSACTION READ ONLY");
  EXPECT_EQ(servers_of(client, "SELECT @@server_id", 5), kPrimary);
  client.execute("COMMIT");
  client.execute("BEGIN");
  EXPECT_EQ(servers_of(client, "SELECT @@server_id", 5), kPrimary);
  client.execute("ROLLBACK");
  client.execute("SET autocommit = 0");
  EXPECT_EQ(servers_of(client, "SELECT @@server_id", 5), kPrimary);
  client.execute("SET autocommit = 1");
  EXPECT_EQ(servers_of(client, "SELECT @@server_id"), kBothReplicas);
  // Session state that pins (a user variable) keeps the session on the primary.
  client.execute("SET @mark = 1");
  EXPECT_EQ(servers_of(client, "SELECT @@server_id", 5), kPrimary);
  // A replica's session gets the client's session variables as the primary's would.
  MysqlClient fresh = connect();
  fresh.execute("SET SESSION sql_mode = 'ANSI_QUOTES'");
  fresh.execute("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci");
  const std::string on_primary = "SELECT @@server_id, @@session.sql_mode, DATABASE(), @@collation_connection";
  const QueryResult primary = fresh.query(on_primary + ", CONNECTION_ID()");
  EXPECT_EQ(primary.at(0, 0), "1");
  EXPECT_EQ(primary.at(0, 3), "utf8mb4_unicode_ci");
  for (int i = 0; i < 6; ++i) {
    const QueryResult r = fresh.query(on_primary);
    EXPECT_NE(r.at(0, 0), "1");
    EXPECT_EQ(r.at(0, 1), "ANSI_QUOTES");
    EXPECT_EQ(r.at(0, 2), "app");
    EXPECT_EQ(r.at(0, 3), "utf8mb4_unicode_ci");
  }
}

TEST_F(Replicas, PreparedReadsSpreadWhilePreparedWritesAndCursorsStayOnThePrimary) {
  start();
  MysqlClient client = connect();
  Prepared read(client, "SELECT @@server_id");
  std::set<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.insert(read.execute());
  EXPECT_EQ(ids, kBothReplicas);
  Prepared write(client, "INSERT INTO t (server) VALUES (@@server_id)");
  for (int i = 0; i < 3; ++i) write.execute();
  EXPECT_EQ(backend().primary().query("SELECT COUNT(*), MIN(server), MAX(server) FROM app.t").at(0, 2), "1");
  // A cursor keeps its connection while the client does other things (writes too): primary only.
  Prepared cursor(client, "SELECT @@server_id FROM t", true);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(cursor.execute(), "1");
}

TEST_F(Replicas, ReadYourWritesSendsTheWritersReadsToThePrimaryForTheWindow) {
  // A window far longer than the reads below take even on a loaded machine; the test then waits it out.
  constexpr auto kWindow = 10s;
  start({.read_your_writes_ms = static_cast<int>(std::chrono::milliseconds(kWindow).count())});
  MysqlClient writer = connect();
  MysqlClient reader = connect();
  writer.execute("INSERT INTO t (server) VALUES (1)");
  const auto wrote = std::chrono::steady_clock::now();
  // The writer sees its row at once: its reads go to the primary within the window.
  for (int i = 0; i < 10; ++i) {
    const QueryResult r = writer.query("SELECT @@server_id, COUNT(*) FROM t");
    EXPECT_EQ(r.at(0, 0), "1");
    EXPECT_EQ(r.at(0, 1), "1");
  }
  ASSERT_LT(std::chrono::steady_clock::now() - wrote, kWindow) << "the reads above outlasted the window";
  // Another client did not write: its reads still go to the replicas.
  EXPECT_EQ(servers_of(reader, "SELECT @@server_id"), kBothReplicas);
  // After the window the writer's reads spread again.
  std::this_thread::sleep_until(wrote + kWindow + 100ms);
  EXPECT_EQ(servers_of(writer, "SELECT @@server_id"), kBothReplicas);
}

TEST_F(Replicas, CausalReadsUseOnlyReplicasThatAppliedTheWritersLastGtid) {
  // Replica 0 applies everything 30 s late but stays admitted (lag bound 60 s); the writer's reads
  // within its window go to replica 1 once it has the write, and never to replica 0.
  start({.read_your_writes_ms = 60000, .max_replication_lag_ms = 60000, .first_replica_delay_s = 30,
         .causal_reads = true});
  MysqlClient writer = connect();
  writer.execute("INSERT INTO t (server) VALUES (1)");
  const std::string position = backend().primary().query("SELECT @@gtid_binlog_pos").at(0);
  EXPECT_EQ(backend().replica(1).query("SELECT MASTER_GTID_WAIT('" + position + "', 30)").at(0), "0");
  const std::string count_and_server = "SELECT COUNT(*), @@server_id FROM t";
  std::set<std::string> servers;
  for (int i = 0; i < 20; ++i) {
    const QueryResult r = writer.query(count_and_server);
    EXPECT_EQ(r.at(0, 0), "1") << "a read missed the client's own write on server " << r.at(0, 1);
    servers.insert(r.at(0, 1));
  }
  // Round robin offers replica 0 every other read: those reads fall back to the primary.
  EXPECT_EQ(servers, (std::set<std::string>{"1", "3"}));
}

TEST_F(Replicas, LastInsertIdAndFoundRowsAnswerWhereThePreviousStatementRan) {
  start();
  backend().primary().execute("INSERT INTO app.t (server) VALUES (1), (1), (1)");
  backend().sync();
  MysqlClient client = connect();
  client.execute("INSERT INTO t (server) VALUES (7)");
  EXPECT_EQ(client.query("SELECT LAST_INSERT_ID()").at(0), "4");
  EXPECT_EQ(client.query("SELECT LAST_INSERT_ID(), @@server_id").at(0, 1), "1");
  backend().sync();
  // SQL_CALC_FOUND_ROWS on a replica: FOUND_ROWS() is answered by that very connection.
  const QueryResult found = client.query("SELECT SQL_CALC_FOUND_ROWS @@server_id FROM t LIMIT 1");
  EXPECT_NE(found.at(0), "1");
  EXPECT_EQ(client.query("SELECT FOUND_ROWS()").at(0), "4");
  const QueryResult again = client.query("SELECT SQL_CALC_FOUND_ROWS @@server_id FROM t LIMIT 1");
  EXPECT_EQ(client.query("SELECT FOUND_ROWS(), @@server_id").at(0, 1), again.at(0));
  // A write right after a replica's warning-holding read goes to the primary all the same.
  client.query("SELECT CAST('x' AS SIGNED), @@server_id");
  client.execute("INSERT INTO t (server) VALUES (@@server_id)");
  EXPECT_EQ(backend().primary().query("SELECT server FROM app.t ORDER BY id DESC LIMIT 1").at(0), "1");
}

TEST_F(Replicas, AStoppedReplicaIsEjectedAndReadmitted) {
  start();
  MysqlClient client = connect();
  backend().replica(0).execute("STOP SLAVE SQL_THREAD");
  backend().primary().execute("INSERT INTO app.t (server) VALUES (1)");
  wait_ejected(0, 1, "Slave_SQL_Running is No");
  const std::string ejected = admin_get(admin_port_, "/metrics");
  EXPECT_THAT(ejected, HasSubstr(health_metric(0, 0)));
  EXPECT_THAT(ejected, HasSubstr(health_metric(1, 1)));
  EXPECT_EQ(servers_of(client, "SELECT @@server_id"), std::set<std::string>{"3"});
  // The stale replica never answers: once the live one has the row, every read sees it.
  wait_until([&] { return backend().replica(1).query("SELECT COUNT(*) FROM app.t").at(0) == "1"; }, 30s,
             "replica 1 to apply the insert");
  for (int i = 0; i < 6; ++i) EXPECT_EQ(client.query("SELECT COUNT(*) FROM t").at(0), "1");
  backend().replica(0).execute("START SLAVE SQL_THREAD");
  wait_admitted(0, 2);
  EXPECT_THAT(admin_get(admin_port_, "/metrics"), HasSubstr(health_metric(0, 1)));
  EXPECT_EQ(servers_of(client, "SELECT @@server_id"), kBothReplicas);
}

TEST_F(Replicas, ALaggingReplicaIsEjectedUntilItCatchesUp) {
  // Delayed replication: replica 0 applies each event 30 s after the primary wrote it, so its
  // Seconds_Behind_Master passes max_replication_lag_ms while both its threads run.
  start({.max_replication_lag_ms = 1000, .first_replica_delay_s = 30});
  backend().primary().execute("INSERT INTO app.t (server) VALUES (1)");
  wait_ejected(0, 1, "lagging");
  MysqlClient client = connect();
  EXPECT_EQ(servers_of(client, "SELECT @@server_id"), std::set<std::string>{"3"});
  EXPECT_EQ(client.query("SELECT COUNT(*) FROM t").at(0), "1");  // never the lagging replica's 0
  MariaDbServer& replica = backend().replica(0);
  replica.execute("STOP SLAVE");
  replica.execute("CHANGE MASTER TO MASTER_DELAY = 0");
  replica.execute("START SLAVE");
  wait_admitted(0, 2);
  EXPECT_EQ(servers_of(client, "SELECT @@server_id"), kBothReplicas);
}

TEST_F(Replicas, AKilledReplicaIsEjectedAndReadmittedAfterItsRestart) {
  start();
  MysqlClient client = connect();
  EXPECT_EQ(servers_of(client, "SELECT @@server_id"), kBothReplicas);
  backend().replica(1).kill();
  wait_ejected(1, 1, "");  // "cannot log in", or "connection lost" mid-check
  // No read fails: the dead replica is out, the other one serves.
  EXPECT_EQ(servers_of(client, "SELECT @@server_id"), std::set<std::string>{"2"});
  backend().replica(1).restart();
  backend().wait_replicating(1);
  wait_admitted(1, 2);
  EXPECT_EQ(servers_of(client, "SELECT @@server_id"), kBothReplicas);
}

TEST_F(Replicas, ReadyShowsEachReplicasStateAndADeadReplicaKeepsTheProxyReady) {
  start();
  const auto entry = [&](std::size_t i, const std::string& state, const std::string& reason) {
    return R"(\{"address":")" + replica_address(i) + R"(","state":")" + state + R"(","reason":")" + reason +
           R"(","checked_ms_ago":[0-9]+\})";
  };
  std::string ready = admin_get(admin_port_, "/ready");
  EXPECT_THAT(ready, HasSubstr("200 OK"));
  EXPECT_THAT(ready, ::testing::ContainsRegex(R"("name":"db",[^]]*"ready":true,"reason":"","replicas":\[)"));
  EXPECT_THAT(ready, ::testing::ContainsRegex(entry(0, "healthy", "[0-9]+ s behind the primary")));
  EXPECT_THAT(ready, ::testing::ContainsRegex(entry(1, "healthy", "[0-9]+ s behind the primary")));

  MysqlClient client = connect();
  backend().replica(0).kill();
  wait_ejected(0, 1, "");
  // Reads fall back to the live replica (and to the primary without one): still ready, and the body
  // says which replica is out and why.
  ready = admin_get(admin_port_, "/ready");
  EXPECT_THAT(ready, HasSubstr("200 OK"));
  EXPECT_THAT(ready, HasSubstr(R"({"ready":true,)"));
  EXPECT_THAT(ready, ::testing::ContainsRegex(entry(0, "ejected", "(cannot log in|connection lost): [^}]+")));
  EXPECT_THAT(ready, ::testing::ContainsRegex(entry(1, "healthy", "[0-9]+ s behind the primary")));
  EXPECT_EQ(servers_of(client, "SELECT @@server_id"), std::set<std::string>{"3"});

  backend().replica(1).execute("STOP SLAVE SQL_THREAD");
  wait_ejected(1, 1, "Slave_SQL_Running is No");
  ready = admin_get(admin_port_, "/ready");
  EXPECT_THAT(ready, HasSubstr("200 OK"));
  EXPECT_THAT(ready, ::testing::ContainsRegex(entry(1, "ejected", "Slave_SQL_Running is No")));
  EXPECT_EQ(servers_of(client, "SELECT @@server_id"), kPrimary);

  // The primary is what makes the listener ready: without it, 503 whatever the replicas say.
  backend().primary().kill();
  ready = admin_get(admin_port_, "/ready");
  EXPECT_THAT(ready, HasSubstr("503 Service Unavailable"));
  EXPECT_THAT(ready, ::testing::ContainsRegex(R"("name":"db",[^]]*"ready":false,"reason":"[^"]+","replicas":\[)"));
}

TEST_F(Replicas, AReadWhoseReplicaCannotBeReachedGoesToThePrimary) {
  // Checks a minute apart: the killed replica stays admitted, so reads keep being routed to it.
  start({.check_interval_ms = 60000});
  MysqlClient client = connect();
  backend().replica(0).kill();
  // Nothing was sent when its connect failed: those reads ran on the primary, none failed.
  EXPECT_EQ(servers_of(client, "SELECT @@server_id"), (std::set<std::string>{"1", "3"}));
  EXPECT_EQ(log_count("ejected"), 0u);
}

TEST_F(Replicas, AReadOnAReplicaThatDiesMidStatementFailsAndIsNotRetried) {
  start({.workers = 1});
  MysqlClient client = connect();
  // Find a session whose next read goes to replica 2 (round robin), then kill it mid-statement.
  std::string next;
  do next = client.query("SELECT @@server_id").at(0); while (next != "3");
  std::thread killer([&] {
    std::this_thread::sleep_for(500ms);
    backend().replica(0).kill();
  });
  try {
    client.query("SELECT SLEEP(5), @@server_id");
    ADD_FAILURE() << "a read on a killed replica succeeded";
  } catch (const MysqlException& e) {
    EXPECT_TRUE(e.code() == 1158u || e.code() == 2013u) << e.code() << " " << e.what();
  }
  killer.join();
  // The session goes on; its next reads go to the live replica once the dead one is ejected.
  wait_ejected(0, 1, "");
  EXPECT_EQ(servers_of(client, "SELECT @@server_id"), std::set<std::string>{"3"});
}

TEST_F(Replicas, TheDeadPrimaryFailsStatementsWithAClearError) {
  start();
  MysqlClient client = connect();
  MysqlClient other = connect();  // logged in while the primary runs (a login proves the schema there)
  client.execute("BEGIN");
  client.execute("INSERT INTO t (server) VALUES (1)");
  backend().primary().kill();
  try {
    client.query("INSERT INTO t (server) VALUES (2)");
    ADD_FAILURE() << "a write succeeded on a killed primary";
  } catch (const MysqlException& e) {
    EXPECT_TRUE(e.code() == 1158u || e.code() == 2013u) << e.code() << " " << e.what();
  }
  // Another session's write gets corral's error naming the primary, not a replica's answer.
  try {
    other.execute("INSERT INTO t (server) VALUES (3)");
    ADD_FAILURE() << "a write succeeded with the primary down";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1105u) << e.what();
    EXPECT_THAT(std::string(e.what()), HasSubstr(std::to_string(backend().primary().port())));
  }
  // Nothing was re-sent anywhere: no replica got the rows.
  for (std::size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(backend().replica(i).query("SELECT COUNT(*) FROM app.t").at(0), "0");
  }
  EXPECT_TRUE(proxy().running());
}

}  // namespace
}  // namespace corral::testing
