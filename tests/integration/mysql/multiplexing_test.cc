// Multiplexing: many clients share few backend connections and each still sees only its own session
// (schema, charset, variables); transactions and unreplayable state pin a connection, and the pin
// ends with its state; LAST_INSERT_ID() stays right while connections are lent to others in between.
#include <gmock/gmock.h>

#include <mysql.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "mysql_path.h"

namespace corral::testing::mysql_it {
namespace {

using ::testing::HasSubstr;

/// Runs `body(i)` on `threads` threads and returns the first failure message ("" when none).
template <class Body>
std::string run_clients(int threads, Body body) {
  std::mutex mutex;
  std::string first_failure;
  std::vector<std::thread> running;
  for (int i = 0; i < threads; ++i) {
    running.emplace_back([&, i] {
      try {
        body(i);
      } catch (const std::exception& e) {
        std::lock_guard lock(mutex);
        if (first_failure.empty()) first_failure = "client " + std::to_string(i) + ": " + e.what();
      }
    });
  }
  for (auto& t : running) t.join();
  return first_failure;
}

/// Backend connections corral holds now (its account's threads in the server's process list).
int backend_connections(MariaDbServer& server) {
  return std::stoi(server.query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER = 'corral'").at(0));
}

class Multiplexing : public MysqlPathTest {};

TEST_F(Multiplexing, HundredClientsKeepTheirOwnSchemaAndCharsetOnEightConnections) {
  start_proxy({.workers = 2, .pool_toml = "max_connections = 4\nqueue_timeout_ms = 20000\n"});
  connect().close();  // initialises the client library before threads use it
  std::atomic<bool> done{false};
  int most_connections = 0;
  std::thread watcher([&] {
    while (!done.load()) {
      most_connections = std::max(most_connections, backend_connections(backend()));
      // The sampling pace, not a wait for a state: the count is a maximum over the whole run.
      std::this_thread::sleep_for(20ms);
    }
  });
  const std::string emoji = "\xF0\x9F\x98\x80";  // U+1F600, four bytes in utf8mb4
  const std::string failure = run_clients(100, [&](int i) {
    MysqlClient client = connect();
    for (int round = 0; round < 4; ++round) {
      const std::string schema = (i + round) % 2 == 0 ? "app" : "other";
      const std::string charset = (i / 2 + round) % 2 == 0 ? "utf8mb4" : "latin1";
      client.execute("USE " + schema);
      client.execute("SET NAMES " + charset);
      const QueryResult state = client.query("SELECT DATABASE(), @@character_set_client, @@character_set_results");
      if (state.at(0, 0) != schema || state.at(0, 1) != charset || state.at(0, 2) != charset) {
        throw HarnessError("saw " + state.at(0, 0) + "/" + state.at(0, 1) + "/" + state.at(0, 2) + ", expected " +
                           schema + "/" + charset);
      }
      if (charset == "utf8mb4") {
        const QueryResult echoed = client.query("SELECT '" + emoji + "', CHAR_LENGTH('" + emoji + "')");
        if (echoed.at(0, 0) != emoji || echoed.at(0, 1) != "1") {
          throw HarnessError("emoji came back as '" + echoed.at(0, 0) + "', length " + echoed.at(0, 1));
        }
      }
    }
  });
  done = true;
  watcher.join();
  EXPECT_EQ(failure, "");
  EXPECT_GT(most_connections, 0);
  EXPECT_LE(most_connections, 8) << "2 workers x pool.max_connections 4";
  std::printf("most backend connections seen in SHOW PROCESSLIST: %d\n", most_connections);
}

TEST_F(Multiplexing, TransactionKeepsOneConnectionUntilCommitOrRollback) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 1\nqueue_timeout_ms = 300\n"});
  backend().execute("CREATE TABLE app.t (id INT PRIMARY KEY, v INT)");
  MysqlClient in_tx = connect(kUser, kPassword, "app");
  MysqlClient other = connect(kUser, kPassword, "app");
  in_tx.execute("BEGIN");
  const std::string id = in_tx.query("SELECT CONNECTION_ID()").at(0);
  in_tx.execute("INSERT INTO t VALUES (1, 1)");
  // The only backend connection stays with the transaction: another client waits and times out.
  try {
    other.query("SELECT 1");
    FAIL() << "a second client got the connection held by a transaction";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1040u) << e.what();
  }
  EXPECT_EQ(in_tx.query("SELECT CONNECTION_ID()").at(0), id);
  EXPECT_EQ(in_tx.query("SELECT COUNT(*) FROM t").at(0), "1");
  in_tx.execute("COMMIT");
  // Released at COMMIT: the other client gets it and sees the committed row.
  EXPECT_EQ(other.query("SELECT COUNT(*) FROM t").at(0), "1");
  in_tx.execute("START TRANSACTION");
  in_tx.execute("INSERT INTO t VALUES (2, 2)");
  in_tx.execute("ROLLBACK");
  EXPECT_EQ(other.query("SELECT COUNT(*) FROM t").at(0), "1");
  // autocommit=0 pins too, until it is switched back on.
  in_tx.execute("SET autocommit = 0");
  in_tx.execute("INSERT INTO t VALUES (3, 3)");
  EXPECT_THROW(other.query("SELECT 1"), MysqlException);
  in_tx.execute("COMMIT");
  in_tx.execute("SET autocommit = 1");
  EXPECT_EQ(other.query("SELECT COUNT(*) FROM t").at(0), "2");
  const std::string m = metrics();
  EXPECT_THAT(m, HasSubstr("corral_mysql_pins_total{reason=\"transaction\"} 3"));
  EXPECT_THAT(m, HasSubstr("corral_mysql_pins_total{reason=\"autocommit_off\"} 1"));
  // BEGIN, COMMIT and SET autocommit are explained by the status flags: no unexplained state change.
  EXPECT_THAT(m, HasSubstr("corral_mysql_pins_total{reason=\"unknown_state_change\"} 0"));
}

TEST_F(Multiplexing, UserVariablesAndTemporaryTablesPinTheConnection) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 3\n"});
  MysqlClient pinned = connect(kUser, kPassword, "app");
  MysqlClient busy = connect(kUser, kPassword, "app");
  pinned.execute("SET @x := 1");
  const std::string id = pinned.query("SELECT CONNECTION_ID()").at(0);
  for (int i = 0; i < 5; ++i) busy.query("SELECT 1");
  EXPECT_EQ(pinned.query("SELECT @x").at(0), "1");
  EXPECT_EQ(pinned.query("SELECT CONNECTION_ID()").at(0), id);
  MysqlClient temp = connect(kUser, kPassword, "app");
  temp.execute("CREATE TEMPORARY TABLE scratch (v INT)");
  temp.execute("INSERT INTO scratch VALUES (5)");
  for (int i = 0; i < 5; ++i) busy.query("SELECT 1");
  EXPECT_EQ(temp.query("SELECT v FROM scratch").at(0), "5");
  const std::string m = metrics();
  EXPECT_THAT(m, HasSubstr("corral_mysql_pins_total{reason=\"user_variable\"} 1"));
  EXPECT_THAT(m, HasSubstr("corral_mysql_pins_total{reason=\"temporary_table\"} 1"));
  // COM_RESET_CONNECTION ends the pin and the state: the variable is gone, the connection closed.
  ASSERT_EQ(mysql_reset_connection(pinned.handle()), 0);
  EXPECT_EQ(pinned.query("SELECT @x").rows.at(0).at(0), std::nullopt);
  EXPECT_NE(pinned.query("SELECT CONNECTION_ID()").at(0), id);
}

TEST_F(Multiplexing, SessionVariablesAreReplayedOnEveryConnection) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 3\n"});
  MysqlClient strict = connect();
  strict.execute("SET SESSION sql_mode = 'ANSI_QUOTES', time_zone = '+05:00'");
  std::vector<MysqlClient> others;
  for (int i = 0; i < 3; ++i) others.push_back(connect());
  for (int round = 0; round < 10; ++round) {
    for (auto& o : others) {
      EXPECT_EQ(o.query("SELECT @@time_zone").at(0), "SYSTEM");
      EXPECT_THAT(o.query("SELECT @@sql_mode").at(0), ::testing::Not(HasSubstr("ANSI_QUOTES")));
    }
    EXPECT_EQ(strict.query("SELECT @@sql_mode, @@time_zone").at(0, 1), "+05:00");
    EXPECT_EQ(strict.query("SELECT @@sql_mode").at(0), "ANSI_QUOTES");
  }
  EXPECT_THAT(metrics(), HasSubstr("corral_mysql_pins_total{reason=\"unknown_state_change\"} 0"));
}

// MariaDB's tracker does not report SET @@name = value (no scope): corral cannot replay it, so the
// session keeps the connection that has it (mtr sets variables this way throughout).
TEST_F(Multiplexing, AnUnscopedAtAtAssignmentKeepsItsConnection) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 3\n"});
  MysqlClient zoned = connect();
  std::vector<MysqlClient> others;
  for (int i = 0; i < 2; ++i) others.push_back(connect());
  zoned.execute("SET @@time_zone = '+05:00'");
  for (int round = 0; round < 5; ++round) {
    for (auto& o : others) EXPECT_EQ(o.query("SELECT @@time_zone").at(0), "SYSTEM");
    EXPECT_EQ(zoned.query("SELECT @@time_zone").at(0), "+05:00");
  }
  EXPECT_THAT(metrics(), HasSubstr("corral_mysql_pins_total{reason=\"unknown_state_change\"} 1"));
}

TEST_F(Multiplexing, LastInsertIdIsRightUnderFiftyClients) {
  start_proxy({.workers = 2, .pool_toml = "max_connections = 4\nqueue_timeout_ms = 20000\n"});
  backend().execute("CREATE TABLE app.seq (id INT AUTO_INCREMENT PRIMARY KEY, owner INT NOT NULL)");
  connect().close();
  const std::string failure = run_clients(50, [&](int i) {
    MysqlClient client = connect(kUser, kPassword, "app");
    for (int round = 0; round < 10; ++round) {
      const QueryResult inserted = client.query("INSERT INTO seq (owner) VALUES (" + std::to_string(i) + ")");
      const std::string id = client.query("SELECT LAST_INSERT_ID()").at(0);
      if (id != std::to_string(inserted.insert_id)) {
        throw HarnessError("LAST_INSERT_ID() " + id + " but the OK packet said " + std::to_string(inserted.insert_id));
      }
      const std::string owner = client.query("SELECT owner FROM seq WHERE id = " + id).at(0);
      if (owner != std::to_string(i)) throw HarnessError("row " + id + " belongs to client " + owner);
      // Used inside another statement, too.
      client.execute("INSERT INTO seq (owner) SELECT owner FROM seq WHERE id = LAST_INSERT_ID()");
    }
  });
  EXPECT_EQ(failure, "");
}

TEST_F(Multiplexing, LastInsertIdSurvivesItsConnectionBeingHandedOnThroughTheQueue) {
  // The client's connection goes idle, another client takes it and inserts, then hands it straight
  // to the first client waiting in the queue: that is no longer the connection of its own insert.
  start_proxy({.workers = 1, .pool_toml = "max_connections = 1\nqueue_timeout_ms = 20000\n"});
  backend().execute("CREATE TABLE app.ids (id INT AUTO_INCREMENT PRIMARY KEY)");
  MysqlClient client = connect(kUser, kPassword, "app");
  MysqlClient other = connect(kUser, kPassword, "app");
  const std::uint64_t own = client.query("INSERT INTO ids VALUES (NULL)").insert_id;
  other.execute("BEGIN");  // takes the one connection from its idle stay
  auto asked = std::async(std::launch::async, [&] { return client.query("SELECT LAST_INSERT_ID()").at(0); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the client now waits in the queue
  const std::uint64_t others = other.query("INSERT INTO ids VALUES (NULL)").insert_id;
  ASSERT_NE(others, own);
  other.execute("COMMIT");  // hands the connection to the waiting client
  EXPECT_EQ(asked.get(), std::to_string(own));
}

TEST_F(Multiplexing, RowCountFoundRowsAndWarningsAnswerForThePreviousStatement) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  backend().execute("CREATE TABLE app.n (v INT); INSERT INTO app.n VALUES (1), (2), (3), (4)");
  MysqlClient client = connect(kUser, kPassword, "app");
  MysqlClient noise = connect(kUser, kPassword, "app");
  client.execute("UPDATE n SET v = v + 10 WHERE v > 2");
  noise.execute("UPDATE n SET v = v WHERE v < 0");
  EXPECT_EQ(client.query("SELECT ROW_COUNT()").at(0), "2");
  client.query("SELECT SQL_CALC_FOUND_ROWS v FROM n LIMIT 1");
  noise.query("SELECT SQL_CALC_FOUND_ROWS v FROM n LIMIT 0");
  EXPECT_EQ(client.query("SELECT FOUND_ROWS()").at(0), "4");
  client.query("SELECT v FROM n WHERE v > 10");
  EXPECT_EQ(client.query("SELECT FOUND_ROWS()").at(0), "2");
  client.query("SELECT CAST('abc' AS INT)");  // a warning
  noise.query("SELECT 1");
  const QueryResult warnings = client.query("SHOW WARNINGS");
  ASSERT_EQ(warnings.rows.size(), 1u);
  EXPECT_THAT(warnings.at(0, 2), HasSubstr("abc"));
  // As on the server: reading the warnings does not clear them; the next statement that uses a table does.
  EXPECT_EQ(client.query("SHOW WARNINGS").rows.size(), 1u);
  EXPECT_EQ(client.query("SELECT @@warning_count").at(0), "1");
  client.query("SELECT v FROM n WHERE v > 10");
  EXPECT_EQ(client.query("SHOW WARNINGS").rows.size(), 0u);
  EXPECT_EQ(client.query("SELECT @@warning_count").at(0), "0");
}

/// The server's count of answers served from its query cache.
int query_cache_hits(MariaDbServer& server) {
  return std::stoi(server.query("SHOW GLOBAL STATUS LIKE 'Qcache_hits'").at(0, 1));
}

// MariaDB neither stores into nor serves from its query cache for a session that tracks
// transaction info, which corral turned on for every backend connection: through corral the cache
// was never used (mtr: main.query_cache, cache_innodb, partition_cache and six more).
TEST_F(Multiplexing, TheServersQueryCacheAnswersRepeatedSelectsThroughCorral) {
  start_backend().execute("SET GLOBAL query_cache_type = ON");
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  client.execute("CREATE TABLE cached (v INT)");
  client.execute("INSERT INTO cached VALUES (1), (2)");
  const int before = query_cache_hits(backend());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client.query("SELECT SUM(v) FROM cached").at(0), "3");
  EXPECT_EQ(query_cache_hits(backend()), before + 2);
}

// The mtr way: the cache is switched on after corral's connections were opened (their sessions
// kept query_cache_type OFF), and the client turns it on for its own session.
TEST_F(Multiplexing, AClientsOwnQueryCacheTypeTurnsTheCacheOnForItsStatements) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  MysqlClient other = connect(kUser, kPassword, "app");
  client.execute("CREATE TABLE cached (v INT)");
  client.execute("INSERT INTO cached VALUES (4)");
  backend().execute("SET GLOBAL query_cache_type = ON");
  client.execute("SET SESSION query_cache_type = ON");
  client.execute("SET @pinned = 1");  // and on a connection held by a pin (mtr's tests keep @variables)
  int before = query_cache_hits(backend());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(client.query("SELECT v FROM cached").at(0), "4");
  EXPECT_EQ(query_cache_hits(backend()), before + 2);
  // A client whose session keeps the cache off still gets none from a connection lent to it.
  other.execute("SET SESSION query_cache_type = OFF");
  before = query_cache_hits(backend());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(other.query("SELECT v + 1 FROM cached").at(0), "5");
  EXPECT_EQ(query_cache_hits(backend()), before);
}

// Without transaction-info tracking corral cannot see when SET TRANSACTION's characteristics are used
// up; the session keeps its connection, so they never reach another client's transaction.
TEST_F(Multiplexing, SetTransactionWithTheQueryCacheOnStaysWithItsClient) {
  start_backend().execute("SET GLOBAL query_cache_type = ON");
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  MysqlClient once = connect(kUser, kPassword, "app");
  MysqlClient writer = connect(kUser, kPassword, "app");
  writer.execute("CREATE TABLE w (v INT)");
  once.execute("SET TRANSACTION READ ONLY");
  for (int i = 0; i < 4; ++i) writer.execute("INSERT INTO w VALUES (1)");
  try {
    once.execute("INSERT INTO w VALUES (2)");
    ADD_FAILURE() << "the read-only transaction took a write: its characteristics were lost";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1792u) << e.what();  // ER_CANT_EXECUTE_IN_READ_ONLY_TRANSACTION
  }
  // As on the server: a failed statement leaves them pending; a transaction uses them up.
  once.execute("START TRANSACTION");
  EXPECT_EQ(once.query("SELECT COUNT(*) FROM w").at(0), "4");
  once.execute("COMMIT");
  once.execute("INSERT INTO w VALUES (3)");
  for (int i = 0; i < 4; ++i) writer.execute("INSERT INTO w VALUES (1)");
  EXPECT_EQ(writer.query("SELECT COUNT(*) FROM w").at(0), "9");
  EXPECT_THAT(metrics(), HasSubstr("corral_mysql_pins_total{reason=\"transaction_characteristics\"} 1"));
}

}  // namespace
}  // namespace corral::testing::mysql_it
