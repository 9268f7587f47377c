// Prepared statements through corral with libmysqlclient's mysql_stmt_* API against a real mariadbd:
// 100 concurrent clients over 4 backend connections (the server prepares far less often than the
// clients do), types bound once and re-executed on another backend connection, long data, a
// READ_ONLY cursor and its pin, re-execution after ALTER TABLE, LRU eviction at a small cap, statement
// ids unknown to corral, and sysbench oltp_read_write with --db-ps-mode=auto.
#include <mysql.h>

#include <atomic>
#include <cstring>
#include <iostream>
#include <mutex>
#include <set>
#include <optional>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <gmock/gmock.h>

#include "mysql_path.h"

namespace corral::testing::mysql_it {
namespace {

using ::testing::HasSubstr;
using Row = std::vector<std::optional<std::string>>;
using Param = std::variant<long long, std::string>;

/// One libmysqlclient prepared statement with its parameter buffers (kept in place so that values can
/// change without re-binding: the next execute then goes out with new_params_bound = 0).
class Statement {
 public:
  Statement(MYSQL* mysql, std::string_view sql) : stmt_(mysql_stmt_init(mysql)) {
    if (stmt_ == nullptr) throw HarnessError("mysql_stmt_init failed");
    if (mysql_stmt_prepare(stmt_, sql.data(), sql.size()) != 0) fail("mysql_stmt_prepare");
  }
  ~Statement() {
    if (stmt_ != nullptr) mysql_stmt_close(stmt_);
  }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  MYSQL_STMT* handle() { return stmt_; }
  unsigned long param_count() { return mysql_stmt_param_count(stmt_); }

  /// Binds `params` (types and values): the next execute sends the types.
  void bind(const std::vector<Param>& params) {
    set(params);
    binds_.assign(params.size(), MYSQL_BIND{});
    for (std::size_t i = 0; i < params.size(); ++i) {
      MYSQL_BIND& b = binds_[i];
      if (std::holds_alternative<long long>(params[i])) {
        b.buffer_type = MYSQL_TYPE_LONGLONG;
        b.buffer = &ints_[i];
      } else {
        b.buffer_type = MYSQL_TYPE_STRING;
        b.buffer = strings_[i].data();
        b.buffer_length = strings_[i].size();
        b.length = &lengths_[i];
      }
    }
    if (mysql_stmt_bind_param(stmt_, binds_.data()) != 0) fail("mysql_stmt_bind_param");
  }
  /// Changes the bound values in place (same types, strings up to 256 bytes).
  void set(const std::vector<Param>& params) {
    ints_.resize(params.size());
    strings_.resize(params.size(), std::string(256, '\0'));
    lengths_.resize(params.size());
    for (std::size_t i = 0; i < params.size(); ++i) {
      if (const auto* n = std::get_if<long long>(&params[i])) {
        ints_[i] = *n;
      } else {
        const std::string& s = std::get<std::string>(params[i]);
        std::memcpy(strings_[i].data(), s.data(), std::min(s.size(), strings_[i].size()));
        lengths_[i] = static_cast<unsigned long>(std::min(s.size(), strings_[i].size()));
      }
    }
  }
  /// Executes and fetches every row, each column as text.
  std::vector<Row> execute() {
    if (mysql_stmt_execute(stmt_) != 0) fail("mysql_stmt_execute");
    return fetch_all();
  }
  std::vector<Row> fetch_all() {
    std::vector<Row> rows;
    MYSQL_RES* meta = mysql_stmt_result_metadata(stmt_);
    if (meta == nullptr) return rows;
    const unsigned columns = mysql_num_fields(meta);
    mysql_free_result(meta);
    std::vector<MYSQL_BIND> out(columns);
    std::vector<std::string> buffers(columns, std::string(200'000, '\0'));
    std::vector<unsigned long> lengths(columns);
    std::vector<my_bool> nulls(columns);
    for (unsigned i = 0; i < columns; ++i) {
      out[i].buffer_type = MYSQL_TYPE_STRING;
      out[i].buffer = buffers[i].data();
      out[i].buffer_length = buffers[i].size();
      out[i].length = &lengths[i];
      out[i].is_null = &nulls[i];
    }
    if (mysql_stmt_bind_result(stmt_, out.data()) != 0) fail("mysql_stmt_bind_result");
    for (;;) {
      const int status = mysql_stmt_fetch(stmt_);
      if (status == MYSQL_NO_DATA) break;
      if (status != 0 && status != MYSQL_DATA_TRUNCATED) fail("mysql_stmt_fetch");
      Row row;
      for (unsigned i = 0; i < columns; ++i) {
        row.push_back(nulls[i] ? std::nullopt : std::optional<std::string>(buffers[i].substr(0, lengths[i])));
      }
      rows.push_back(std::move(row));
    }
    mysql_stmt_free_result(stmt_);
    return rows;
  }

  [[noreturn]] void fail(std::string_view what) {
    throw MysqlException(mysql_stmt_errno(stmt_), mysql_stmt_sqlstate(stmt_),
                         std::string(what) + ": " + mysql_stmt_error(stmt_));
  }

 private:
  MYSQL_STMT* stmt_;
  std::vector<MYSQL_BIND> binds_;
  std::vector<long long> ints_;
  std::vector<std::string> strings_;
  std::vector<unsigned long> lengths_;
};

class PreparedThroughCorral : public MysqlPathTest {
 protected:
  std::uint64_t server_status(const std::string& name) {
    return std::stoull(backend().query("SHOW GLOBAL STATUS LIKE '" + name + "'").at(0, 1));
  }

  /// app.t1 with two rows, behind a corral with one backend connection and `mysql_toml`.
  void start_with_names_table(std::string mysql_toml) {
    start_backend();
    backend().execute("CREATE TABLE app.t1 (nm VARCHAR(32), a INT); INSERT INTO app.t1 VALUES ('1', 1), ('2', 2)");
    start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 1\n",
                 .mysql_toml = std::move(mysql_toml)});
  }

  /// mtr main.show --ps-protocol's statement, a SHOW with a derived table that MariaDB cannot execute
  /// twice (ERR 1054 the second time): `rounds` times prepared, run and closed by `client`, then a row
  /// naming the column nm added (so it is listed from the second round on). Returns the server's
  /// COM_STMT_PREPAREs meanwhile.
  std::uint64_t prepare_show_anew_each_round(MysqlClient& client, int rounds) {
    const std::string show =
        "SHOW FIELDS FROM app.t1 WHERE field IN (SELECT * FROM (SELECT nm FROM app.t1 GROUP BY nm) dt)";
    const std::uint64_t prepares_before = server_status("Com_stmt_prepare");
    for (int round = 0; round < rounds; ++round) {
      Statement statement(client.handle(), show);
      EXPECT_EQ(statement.execute().size(), round == 0 ? 0u : 1u) << "round " << round;
      client.execute("INSERT INTO t1 VALUES ('nm', 0)");
    }
    return server_status("Com_stmt_prepare") - prepares_before;
  }
};

TEST_F(PreparedThroughCorral, HundredClientsOnFourBackendConnectionsPrepareFarLessOftenThanTheClients) {
  start_backend();
  backend().execute("CREATE TABLE app.items (id INT PRIMARY KEY, owner VARCHAR(40))");
  start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 4\nqueue_timeout_ms = 30000\n"});
  const std::uint64_t prepares_before = server_status("Com_stmt_prepare");

  constexpr int kClients = 100;
  constexpr int kRounds = 5;
  std::mutex failures_mutex;
  std::vector<std::string> failures;
  std::set<std::string> backend_ids;  // CONNECTION_ID() of every connection that ran a SELECT
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      try {
        MysqlClient client = connect(kUser, kPassword, "app");
        Statement insert(client.handle(), "INSERT INTO items (id, owner) VALUES (?, ?)");
        Statement select(client.handle(), "SELECT owner, id * 2, CONNECTION_ID() FROM items WHERE id = ?");
        ready.fetch_add(1);
        // Everyone prepared before anyone executes: 200 prepares are in flight together.
        while (ready.load() < kClients) std::this_thread::yield();
        for (int round = 0; round < kRounds; ++round) {
          const long long id = c * 100 + round;
          const std::string owner = "client-" + std::to_string(c) + "-" + std::to_string(round);
          if (round == 0) {
            insert.bind({id, owner});
            select.bind({id});
          } else {
            insert.set({id, owner});  // no re-bind: new_params_bound = 0, maybe on another connection
            select.set({id});
          }
          insert.execute();
          const std::vector<Row> rows = select.execute();
          if (rows.size() != 1 || rows[0][0] != owner || rows[0][1] != std::to_string(id * 2)) {
            throw HarnessError("client " + std::to_string(c) + " round " + std::to_string(round) +
                               " read someone else's answer");
          }
          std::lock_guard lock(failures_mutex);
          backend_ids.insert(*rows[0][2]);
        }
      } catch (const std::exception& e) {
        std::lock_guard lock(failures_mutex);
        failures.push_back(e.what());
        ready.fetch_add(kClients);  // release the others
      }
    });
  }
  for (auto& t : threads) t.join();
  ASSERT_TRUE(failures.empty()) << failures.size() << " clients failed, first: " << failures.front();

  EXPECT_EQ(backend().query("SELECT COUNT(*) FROM app.items").at(0), std::to_string(kClients * kRounds));
  const std::uint64_t prepares = server_status("Com_stmt_prepare") - prepares_before;
  // Two texts on at most four connections: 8 backend prepares at most, against the clients' 200.
  EXPECT_LE(prepares, 8u);
  EXPECT_GE(prepares, 2u);
  EXPECT_LE(backend_ids.size(), 4u);
  std::cout << "backend COM_STMT_PREPAREs for 200 client prepares: " << prepares << " on " << backend_ids.size()
            << " backend connections\n";
}

TEST_F(PreparedThroughCorral, TypesBoundOnceAreRightOnAnotherBackendConnection) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  MysqlClient client = connect();
  Statement statement(client.handle(), "SELECT CONNECTION_ID(), CONCAT(?, '|', ?)");
  statement.bind({41LL, std::string("first")});
  const std::vector<Row> first = statement.execute();
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0][1], "41|first");

  // Another client takes the idle connection the statement ran on and keeps it (a transaction).
  MysqlClient other = connect();
  other.execute("BEGIN");
  EXPECT_EQ(other.query("SELECT CONNECTION_ID()").at(0), *first[0][0]);

  statement.set({42LL, std::string("second")});  // no types on the wire this time
  const std::vector<Row> second = statement.execute();
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(second[0][0], first[0][0]) << "the execute should have run on the other backend connection";
  EXPECT_EQ(second[0][1], "42|second");
  other.execute("COMMIT");
}

/// Binds `ids` and `values` column-wise for MariaDB array binding (STMT_ATTR_ARRAY_SIZE): one
/// COM_STMT_BULK_EXECUTE carries every row; `indicators` mark the rows whose value is NULL.
void bind_arrays(MYSQL_STMT* stmt, std::vector<int>& ids, std::vector<int>& values, std::vector<char>& indicators,
                 std::vector<MYSQL_BIND>& binds) {
  unsigned int rows = static_cast<unsigned int>(ids.size());
  ASSERT_EQ(mysql_stmt_attr_set(stmt, STMT_ATTR_ARRAY_SIZE, &rows), 0) << mysql_stmt_error(stmt);
  binds.assign(2, MYSQL_BIND{});
  binds[0].buffer_type = MYSQL_TYPE_LONG;
  binds[0].buffer = ids.data();
  binds[1].buffer_type = MYSQL_TYPE_LONG;
  binds[1].buffer = values.data();
  binds[1].u.indicator = indicators.data();
  ASSERT_EQ(mysql_stmt_bind_param(stmt, binds.data()), 0) << mysql_stmt_error(stmt);
}

TEST_F(PreparedThroughCorral, ArrayBindingSendsEveryRowInOneBulkExecuteOnAnyBackendConnection) {
  // MariaDB Connector/C sends COM_STMT_BULK_EXECUTE only to a server that offers bulk operations.
  start_backend();
  backend().execute("CREATE TABLE app.bulk (id INT PRIMARY KEY, v INT)");
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  const std::uint64_t bulks_before = server_status("Com_stmt_execute");
  Statement insert(client.handle(), "INSERT INTO bulk (id, v) VALUES (?, ?)");
  std::vector<int> ids = {1, 2, 3};
  std::vector<int> values = {10, 0, 30};
  std::vector<char> indicators = {STMT_INDICATOR_NONE, STMT_INDICATOR_NULL, STMT_INDICATOR_NONE};
  std::vector<MYSQL_BIND> binds;
  bind_arrays(insert.handle(), ids, values, indicators, binds);
  ASSERT_EQ(mysql_stmt_execute(insert.handle()), 0) << mysql_stmt_error(insert.handle());
  EXPECT_EQ(mysql_stmt_affected_rows(insert.handle()), 3u);

  // Another client takes the idle connection the bulk ran on and keeps it: the next bulk (types not
  // bound again) runs on the other connection, where corral prepares the statement first.
  MysqlClient other = connect();
  other.execute("BEGIN");
  other.query("SELECT 1");
  ids = {4, 5, 6};
  values = {40, 50, 0};
  indicators = {STMT_INDICATOR_NONE, STMT_INDICATOR_NONE, STMT_INDICATOR_NULL};
  ASSERT_EQ(mysql_stmt_execute(insert.handle()), 0) << mysql_stmt_error(insert.handle());
  EXPECT_EQ(mysql_stmt_affected_rows(insert.handle()), 3u);
  other.execute("COMMIT");

  const QueryResult rows = backend().query("SELECT id, COALESCE(v, 'null') FROM app.bulk ORDER BY id");
  ASSERT_EQ(rows.rows.size(), 6u);
  const std::vector<std::string> expected = {"10", "null", "30", "40", "50", "null"};
  for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(rows.at(i, 1), expected[i]) << "row " << i + 1;
  // Two bulk executes, each one statement on the server (the rows are not split into executes).
  EXPECT_EQ(server_status("Com_stmt_execute") - bulks_before, 2u);

  // A duplicate key fails the bulk with the server's error; the session goes on.
  ids = {7, 1, 8};
  EXPECT_NE(mysql_stmt_execute(insert.handle()), 0);
  EXPECT_EQ(mysql_stmt_errno(insert.handle()), 1062u) << mysql_stmt_error(insert.handle());
  EXPECT_EQ(client.query("SELECT 'still here'").at(0), "still here");
}

TEST_F(PreparedThroughCorral, ExecuteDirectNamesTheLastPreparedStatement) {
  // mariadb_stmt_execute_direct() sends PREPARE and, without waiting, EXECUTE of statement id
  // 0xffffffff ("the last one prepared") to a server that offers bulk operations, as corral does.
  start_proxy({.workers = 1});
  MysqlClient client = connect();
  MYSQL_STMT* stmt = mysql_stmt_init(client.handle());
  const std::string sql = "SELECT 41 + 1";
  ASSERT_EQ(mariadb_stmt_execute_direct(stmt, sql.data(), sql.size()), 0) << mysql_stmt_error(stmt);
  long long value = 0;
  MYSQL_BIND out{};
  out.buffer_type = MYSQL_TYPE_LONGLONG;
  out.buffer = &value;
  ASSERT_EQ(mysql_stmt_bind_result(stmt, &out), 0) << mysql_stmt_error(stmt);
  ASSERT_EQ(mysql_stmt_fetch(stmt), 0) << mysql_stmt_error(stmt);
  EXPECT_EQ(value, 42);
  mysql_stmt_close(stmt);
  // A PREPARE the server refuses leaves no "last" statement: the execute behind it fails too.
  MYSQL_STMT* bad = mysql_stmt_init(client.handle());
  const std::string wrong = "SELECT FROM nowhere";
  EXPECT_NE(mariadb_stmt_execute_direct(bad, wrong.data(), wrong.size()), 0);
  EXPECT_EQ(mysql_stmt_errno(bad), 1064u) << mysql_stmt_error(bad);
  mysql_stmt_close(bad);
  EXPECT_EQ(client.query("SELECT 'still here'").at(0), "still here");
}

TEST_F(PreparedThroughCorral, StateAnExecuteLeavesPinsItsConnectionAsAQueryDoes) {
  // GET_LOCK() lives on the backend connection that ran the execute (and the server's trackers do not
  // report it): that connection must stay the client's, never go back to the pool for another client
  // to find the lock there (mtr main.dirty_close with --ps-protocol).
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  MysqlClient client = connect();
  {
    Statement lock(client.handle(), "SELECT GET_LOCK('corral_ps_lock', 0)");
    EXPECT_EQ(lock.execute().at(0).at(0), "1");
  }  // closed, as mysqltest --ps-protocol closes each statement
  MysqlClient other = connect();
  other.execute("BEGIN");
  EXPECT_EQ(other.query("SELECT GET_LOCK('corral_ps_lock', 0)").at(0), "0")
      << "the lock's connection was lent to another client, which now holds the lock";
  Statement mine(client.handle(), "SELECT IS_USED_LOCK('corral_ps_lock') = CONNECTION_ID()");
  EXPECT_EQ(mine.execute().at(0).at(0), "1") << "the client's executes go on on the connection holding its lock";
  other.execute("COMMIT");
}

TEST_F(PreparedThroughCorral, APreparedSetNamesCollateFollowsTheSessionToEveryConnection) {
  // mysqltest --ps-protocol sends SET NAMES ... COLLATE as a prepared statement; the tracker reports
  // the charsets only, so the collation must come from the statement's text.
  start_proxy({.workers = 1, .pool_toml = "max_connections = 3\n"});
  MysqlClient client = connect();
  MysqlClient other = connect();
  Statement names(client.handle(), "SET NAMES utf8mb4 COLLATE utf8mb4_bin");
  names.execute();
  for (int round = 0; round < 3; ++round) {
    other.execute("BEGIN");
    other.query("SELECT 1");  // holds the connection `client` used last
    EXPECT_EQ(client.query("SELECT @@collation_connection").at(0), "utf8mb4_bin");
    other.execute("COMMIT");
  }
}

TEST_F(PreparedThroughCorral, LongDataIsBufferedAndSentBeforeTheExecute) {
  start_backend();
  backend().execute("CREATE TABLE app.docs (id INT PRIMARY KEY, body MEDIUMTEXT)");
  start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 2\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  Statement insert(client.handle(), "INSERT INTO docs VALUES (?, ?)");
  insert.bind({7LL, std::string()});
  std::string body;
  for (int chunk = 0; chunk < 3; ++chunk) {
    const std::string part(50'000, static_cast<char>('a' + chunk));
    ASSERT_EQ(mysql_stmt_send_long_data(insert.handle(), 1, part.data(), part.size()), 0);
    body += part;
  }
  insert.execute();
  EXPECT_EQ(backend().query("SELECT LENGTH(body), MD5(body) = MD5('" + body + "') FROM app.docs WHERE id = 7").at(0, 0),
            "150000");
  Statement select(client.handle(), "SELECT body FROM docs WHERE id = ?");
  select.bind({7LL});
  const std::vector<Row> rows = select.execute();
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], body);
  // Long data is gone after the execute: the same statement with a plain value inserts that value.
  ASSERT_EQ(mysql_stmt_reset(insert.handle()), 0);
  insert.bind({8LL, std::string("short")});
  insert.execute();
  EXPECT_EQ(backend().query("SELECT body FROM app.docs WHERE id = 8").at(0), "short");
}

// mariadb-client-test test_bug56976: long data beyond the server's max_allowed_packet, sent in pieces
// within it, gets the server's ERR 1105 at the execute, and the connection goes on. Before, corral
// sent the whole value as one packet, which the server refused as too large and closed.
TEST_F(PreparedThroughCorral, LongDataBeyondTheServersPacketLimitGetsTheServersErrorAtTheExecute) {
  start_backend();
  for (const bool corrals_limit : {false, true}) {
    // 1 MiB: once the backend's max_allowed_packet (for corral's connections, opened later), once
    // corral's own mysql.max_packet_size.
    backend().execute(corrals_limit ? "SET GLOBAL max_allowed_packet = DEFAULT" : "SET GLOBAL max_allowed_packet = 1048576");
    start_proxy({.workers = 1, .schema = "app", .mysql_toml = corrals_limit ? "max_packet_size = 1048576\n" : ""});
    {
      MysqlClient client = connect(kUser, kPassword, "app");
      Statement length(client.handle(), "SELECT LENGTH(?)");
      length.bind({std::string()});
      const std::string part(300'000, 'x');
      for (int piece = 0; piece < 4; ++piece) {
        ASSERT_EQ(mysql_stmt_send_long_data(length.handle(), 0, part.data(), part.size()), 0);
      }
      EXPECT_NE(mysql_stmt_execute(length.handle()), 0);
      EXPECT_EQ(mysql_stmt_errno(length.handle()), 1105u) << mysql_stmt_error(length.handle());
      EXPECT_THAT(mysql_stmt_error(length.handle()), HasSubstr("max_allowed_packet"));
      // The connection goes on, and within the limit, in the same pieces, the value arrives whole
      // (a new statement: the server keeps a parameter that overflowed so until a reset).
      EXPECT_EQ(client.query("SELECT 1").at(0), "1");
      Statement within(client.handle(), "SELECT LENGTH(?)");
      within.bind({std::string()});
      for (int piece = 0; piece < 3; ++piece) {
        ASSERT_EQ(mysql_stmt_send_long_data(within.handle(), 0, part.data(), part.size()), 0);
      }
      const std::vector<Row> rows = within.execute();
      ASSERT_EQ(rows.size(), 1u);
      EXPECT_EQ(rows[0][0], "900000");
    }
    const std::string problem = stop_and_check(*proxy_);
    EXPECT_TRUE(problem.empty()) << problem;
    proxy_.reset();
  }
}

// mariadb-client-test test_bug36004: the server clears the previous statement's warnings only for a
// statement that uses a table; SELECT 1, its PREPARE and its execute leave them, and @@warning_count
// says so. Before, corral let the warnings' connection go after SELECT 1 and answered 0.
TEST_F(PreparedThroughCorral, AStatementThatNamesNoTableKeepsThePreviousWarnings) {
  start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 2\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  MysqlClient noise = connect(kUser, kPassword, "app");
  client.execute("DROP TABLE IF EXISTS missing");  // Note 1051
  ASSERT_EQ(mysql_warning_count(client.handle()), 1u);
  client.query("SELECT 1");
  noise.query("SELECT 2");  // another client's statement, on a connection of the pool
  EXPECT_EQ(client.query("SELECT @@warning_count").at(0), "1");
  Statement one(client.handle(), "SELECT 1");
  EXPECT_EQ(client.query("SELECT @@warning_count").at(0), "1");
  one.execute();
  noise.query("SELECT 3");
  EXPECT_EQ(client.query("SELECT @@warning_count").at(0), "1");
  EXPECT_EQ(client.query("SHOW WARNINGS").rows.size(), 1u);
  // A statement that names a table clears them, prepared or not.
  Statement drop(client.handle(), "DROP TABLE IF EXISTS missing");
  EXPECT_EQ(client.query("SELECT @@warning_count").at(0), "0");
  client.execute("DROP TABLE IF EXISTS missing");
  client.query("SELECT COUNT(*) FROM information_schema.tables WHERE 1 = 0");
  EXPECT_EQ(client.query("SELECT @@warning_count").at(0), "0");
}

TEST_F(PreparedThroughCorral, ACursorIsFetchedRowByRowAndItsPinEndsWithTheLastRow) {
  start_backend();
  backend().execute("CREATE TABLE app.numbers (n INT PRIMARY KEY); INSERT INTO app.numbers VALUES (1),(2),(3),(4),(5)");
  // One backend connection: a cursor that kept it after its last row would starve the next client.
  start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 1\nqueue_timeout_ms = 2000\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  Statement statement(client.handle(), "SELECT n FROM numbers ORDER BY n");
  unsigned long cursor = CURSOR_TYPE_READ_ONLY;
  unsigned long prefetch = 2;
  ASSERT_EQ(mysql_stmt_attr_set(statement.handle(), STMT_ATTR_CURSOR_TYPE, &cursor), 0);
  ASSERT_EQ(mysql_stmt_attr_set(statement.handle(), STMT_ATTR_PREFETCH_ROWS, &prefetch), 0);
  const std::vector<Row> rows = statement.execute();  // 3 COM_STMT_FETCHes of 2 rows
  ASSERT_EQ(rows.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(rows[i][0], std::to_string(i + 1));

  MysqlClient other = connect(kUser, kPassword, "app");
  EXPECT_EQ(other.query("SELECT COUNT(*) FROM numbers").at(0), "5");

  // A cursor closed early (COM_STMT_RESET while rows remain) ends its pin too.
  if (mysql_stmt_execute(statement.handle()) != 0) statement.fail("mysql_stmt_execute");
  ASSERT_EQ(mysql_stmt_reset(statement.handle()), 0);
  EXPECT_EQ(other.query("SELECT COUNT(*) FROM numbers").at(0), "5");

  // A statement closed while its cursor still has rows ends the pin too.
  MYSQL_STMT* closing = mysql_stmt_init(client.handle());
  const std::string sql = "SELECT n FROM numbers ORDER BY n";
  ASSERT_EQ(mysql_stmt_prepare(closing, sql.data(), sql.size()), 0);
  unsigned long one = 1;
  ASSERT_EQ(mysql_stmt_attr_set(closing, STMT_ATTR_CURSOR_TYPE, &cursor), 0);
  ASSERT_EQ(mysql_stmt_attr_set(closing, STMT_ATTR_PREFETCH_ROWS, &one), 0);
  ASSERT_EQ(mysql_stmt_execute(closing), 0) << mysql_stmt_error(closing);
  long long n = 0;
  MYSQL_BIND out{};
  out.buffer_type = MYSQL_TYPE_LONGLONG;
  out.buffer = &n;
  ASSERT_EQ(mysql_stmt_bind_result(closing, &out), 0);
  ASSERT_EQ(mysql_stmt_fetch(closing), 0) << mysql_stmt_error(closing);
  EXPECT_EQ(n, 1);
  mysql_stmt_close(closing);
  EXPECT_EQ(other.query("SELECT COUNT(*) FROM numbers").at(0), "5");
  EXPECT_THAT(metrics(), HasSubstr("corral_mysql_pins_total{reason=\"cursor\"} 3\n"));
}

TEST_F(PreparedThroughCorral, AStatementStillRunsAfterItsTableWasAltered) {
  start_backend();
  backend().execute("CREATE TABLE app.shapes (id INT PRIMARY KEY, name VARCHAR(10)); INSERT INTO app.shapes VALUES (1, 'circle')");
  start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 2\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  Statement statement(client.handle(), "SELECT name FROM shapes WHERE id = ?");
  statement.bind({1LL});
  EXPECT_EQ(statement.execute().at(0)[0], "circle");
  backend().execute("ALTER TABLE app.shapes MODIFY name VARCHAR(40), ADD COLUMN sides INT DEFAULT 0");
  backend().execute("UPDATE app.shapes SET name = 'round circle'");
  EXPECT_EQ(statement.execute().at(0)[0], "round circle");
  // A client preparing the same text now gets the new metadata from the server's re-prepare or its own.
  MysqlClient late = connect(kUser, kPassword, "app");
  Statement again(late.handle(), "SELECT name FROM shapes WHERE id = ?");
  again.bind({1LL});
  EXPECT_EQ(again.execute().at(0)[0], "round circle");
}

// mysqltest --ps-protocol prepares every statement anew: after a table was made again with other
// columns, a PREPARE answered from the cached response of the old table would announce the old
// columns and libmysqlclient would refuse the execute's result (CR_NEW_STMT_METADATA, 2057).
TEST_F(PreparedThroughCorral, APrepareAfterATableChangedDescribesItsNewColumns) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  client.execute("CREATE TABLE t1 (a INT, b INT)");
  client.execute("INSERT INTO t1 VALUES (1, 2)");
  {
    Statement select(client.handle(), "SELECT * FROM t1");
    EXPECT_EQ(mysql_stmt_field_count(select.handle()), 2u);
    EXPECT_EQ(select.execute().size(), 1u);
  }
  // Made again by a text statement, then by a prepared one (as mysqltest --ps-protocol sends it).
  client.execute("DROP TABLE t1");
  client.execute("CREATE TABLE t1 (a INT, b INT, c INT)");
  client.execute("INSERT INTO t1 VALUES (1, 2, 3)");
  {
    Statement select(client.handle(), "SELECT * FROM t1");
    EXPECT_EQ(mysql_stmt_field_count(select.handle()), 3u);
    EXPECT_EQ(select.execute().at(0), (Row{"1", "2", "3"}));
  }
  {
    Statement drop(client.handle(), "DROP TABLE t1");
    drop.execute();
    Statement create(client.handle(), "CREATE TABLE t1 (x VARCHAR(5))");
    create.execute();
  }
  client.execute("INSERT INTO t1 VALUES ('v')");
  MysqlClient other = connect(kUser, kPassword, "app");  // any session of the worker
  Statement select(other.handle(), "SELECT * FROM t1");
  EXPECT_EQ(mysql_stmt_field_count(select.handle()), 1u);
  EXPECT_EQ(select.execute().at(0), (Row{"v"}));
}

// A definition change by any route corral relays (text, a prepared statement, EXECUTE IMMEDIATE, a
// procedure): a PREPARE after it, from the same or another client, describes the columns as the
// server has them now, and the execute's result matches what the PREPARE said (else
// libmysqlclient refuses it with CR_NEW_STMT_METADATA, 2057).
TEST_F(PreparedThroughCorral, APrepareAfterAnAlterByAnyRouteHasTheServersColumns) {
  start_backend();
  backend().execute("CREATE TABLE app.t (a INT); INSERT INTO app.t VALUES (1)");
  backend().execute("CREATE PROCEDURE app.widen(n INT) "
                    "EXECUTE IMMEDIATE CONCAT('ALTER TABLE t ADD COLUMN p', n, ' INT DEFAULT ', n)");
  start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 2\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  MysqlClient other = connect(kUser, kPassword, "app");
  const auto server_columns = [&] {
    return std::stoul(backend().query("SELECT COUNT(*) FROM information_schema.columns WHERE table_schema = 'app' "
                                      "AND table_name = 't'").at(0));
  };
  const auto expect_server_shape = [&](MysqlClient& who, const std::string& after) {
    Statement select(who.handle(), "SELECT * FROM t");
    const unsigned long columns = server_columns();
    EXPECT_EQ(mysql_stmt_field_count(select.handle()), columns) << after;
    std::vector<Row> rows;
    ASSERT_NO_THROW(rows = select.execute()) << after;
    ASSERT_EQ(rows.size(), 1u) << after;
    EXPECT_EQ(rows[0].size(), columns) << after;
  };
  expect_server_shape(client, "before any change");
  expect_server_shape(other, "before any change");
  client.execute("ALTER TABLE t ADD COLUMN b INT DEFAULT 2");
  expect_server_shape(client, "a text ALTER");
  expect_server_shape(other, "a text ALTER");
  {
    Statement alter(client.handle(), "ALTER TABLE t ADD COLUMN c INT DEFAULT 3");
    alter.execute();
  }
  expect_server_shape(client, "a prepared ALTER");
  expect_server_shape(other, "a prepared ALTER");
  client.execute("EXECUTE IMMEDIATE 'ALTER TABLE t ADD COLUMN d INT DEFAULT 4'");
  expect_server_shape(other, "EXECUTE IMMEDIATE 'ALTER ...'");
  expect_server_shape(client, "EXECUTE IMMEDIATE 'ALTER ...'");
  client.execute("CALL widen(5)");
  expect_server_shape(other, "a procedure's ALTER");
  expect_server_shape(client, "a procedure's ALTER");
  {
    Statement call(client.handle(), "CALL widen(6)");
    call.execute();
  }
  expect_server_shape(other, "a prepared CALL of a procedure's ALTER");
  expect_server_shape(client, "a prepared CALL of a procedure's ALTER");
  EXPECT_EQ(server_columns(), 6u);
}

// An ALTER corral does not see (run directly on the server): the first execute of a statement
// prepared before it gets the server's new columns, which tells corral that its cached PREPARE
// answers are old: later PREPAREs ask the server again.
TEST_F(PreparedThroughCorral, AResultOfOtherColumnsThanPreparedRetiresTheCachedPrepareAnswers) {
  start_backend();
  backend().execute("CREATE TABLE app.t (a INT); INSERT INTO app.t VALUES (1)");
  start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 1\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  Statement before(client.handle(), "SELECT * FROM t");
  EXPECT_EQ(before.execute().at(0).size(), 1u);
  backend().execute("ALTER TABLE app.t ADD COLUMN b INT DEFAULT 2");
  // As direct: libmysqlclient refuses a result whose shape changed since its PREPARE.
  EXPECT_NE(mysql_stmt_execute(before.handle()), 0);
  EXPECT_EQ(mysql_stmt_errno(before.handle()), 2057u) << mysql_stmt_error(before.handle());
  MysqlClient other = connect(kUser, kPassword, "app");
  Statement after(other.handle(), "SELECT * FROM t");
  EXPECT_EQ(mysql_stmt_field_count(after.handle()), 2u);
  EXPECT_EQ(after.execute().at(0), (Row{"1", "2"}));
}

// mysqltest --ps-protocol prepares each statement anew, and so gets the server's plan for the data as
// it is: a PREPARE after TRUNCATE or ANALYZE TABLE (statistics) is not given the statement prepared
// before them, whose first execution fixed choices (split materialization...) for the old data.
TEST_F(PreparedThroughCorral, APrepareAfterStatisticsChangedIsPreparedOnTheServerAgain) {
  start_backend();
  backend().execute("CREATE TABLE app.t (a INT, KEY (a)); INSERT INTO app.t VALUES (1), (2)");
  start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 1\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  const std::string sql = "SELECT a FROM t WHERE a > ?";
  const auto prepare_and_run = [&] {
    Statement select(client.handle(), sql);
    select.bind({0LL});
    return select.execute().size();
  };
  MysqlClient holder = connect(kUser, kPassword, "app");
  const Statement held(holder.handle(), sql);  // keeps the text shared while the client's come and go
  EXPECT_EQ(prepare_and_run(), 2u);
  const std::uint64_t prepares = server_status("Com_stmt_prepare");
  EXPECT_EQ(prepare_and_run(), 2u);
  EXPECT_EQ(server_status("Com_stmt_prepare"), prepares) << "nothing changed: answered by corral";
  for (const char* change : {"TRUNCATE TABLE t", "ANALYZE TABLE t PERSISTENT FOR ALL", "OPTIMIZE TABLE t"}) {
    client.query(change);
    client.execute("INSERT INTO t VALUES (3)");
    const std::uint64_t before = server_status("Com_stmt_prepare");
    prepare_and_run();
    EXPECT_EQ(server_status("Com_stmt_prepare"), before + 1) << "after " << change;
  }
}

// A session's temporary table hides the table of the same name for that session only: another
// client preparing the same text is told the columns of the table it will read.
TEST_F(PreparedThroughCorral, ATemporaryTableOfOneSessionDoesNotShapeAnotherSessionsPrepare) {
  start_backend();
  backend().execute("CREATE TABLE app.t (a INT); INSERT INTO app.t VALUES (1)");
  start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 2\n"});
  MysqlClient shadowing = connect(kUser, kPassword, "app");
  shadowing.execute("CREATE TEMPORARY TABLE t (x INT, y INT, z INT)");
  shadowing.execute("INSERT INTO t VALUES (7, 8, 9)");
  Statement own(shadowing.handle(), "SELECT * FROM t");
  EXPECT_EQ(mysql_stmt_field_count(own.handle()), 3u);
  EXPECT_EQ(own.execute().at(0), (Row{"7", "8", "9"}));
  MysqlClient plain = connect(kUser, kPassword, "app");
  Statement base(plain.handle(), "SELECT * FROM t");
  EXPECT_EQ(mysql_stmt_field_count(base.handle()), 1u);
  EXPECT_EQ(base.execute().at(0), (Row{"1"}));
  Statement again(shadowing.handle(), "SELECT * FROM t");
  EXPECT_EQ(mysql_stmt_field_count(again.handle()), 3u);
}

// Locks a client takes by any route (text, a prepared statement as mysqltest --ps-protocol sends it,
// EXECUTE IMMEDIATE) keep its backend connection until the statement that releases them: on a pool of
// one connection the other client waits (and times out) instead of running on the locked connection
// (ERR 4145 "BACKUP STAGE active", 1100 "not locked with LOCK TABLES", 1223 "read lock"), and runs
// again once the lock is released, or once the holder went away (its connection is closed, not pooled).
TEST_F(PreparedThroughCorral, ALockTakenByAnyRouteKeepsItsConnectionFromOtherClientsUntilReleased) {
  start_backend();
  backend().execute("CREATE TABLE app.t1 (a INT)");
  start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 1\nqueue_timeout_ms = 300\n"});
  MysqlClient holder = connect(kUser, kPassword, "app");
  MysqlClient other = connect(kUser, kPassword, "app");
  enum class Route { Text, Prepared, ExecuteImmediate };
  const auto run = [](MysqlClient& who, Route route, const std::string& sql) {
    if (route == Route::Text) {
      who.execute(sql);
    } else if (route == Route::Prepared) {
      Statement statement(who.handle(), sql);
      statement.execute();
    } else {
      who.execute("EXECUTE IMMEDIATE '" + sql + "'");
    }
  };
  const auto other_waits = [&](const std::string& what) {
    try {
      other.execute("CREATE TABLE t2 (a INT)");
      other.execute("DROP TABLE t2");
      ADD_FAILURE() << "another client ran beside " << what;
    } catch (const MysqlException& e) {
      EXPECT_EQ(e.code(), 1040u) << what << ": " << e.what();
    }
  };
  const std::pair<std::string, std::string> kLocks[] = {
      {"LOCK TABLES t1 WRITE", "UNLOCK TABLES"},
      {"FLUSH TABLES WITH READ LOCK", "UNLOCK TABLES"},
      {"FLUSH TABLES t1 FOR EXPORT", "UNLOCK TABLES"},
      {"BACKUP STAGE START", "BACKUP STAGE END"},
      {"BACKUP LOCK t1", "BACKUP UNLOCK"},
  };
  for (const Route route : {Route::Text, Route::Prepared, Route::ExecuteImmediate}) {
    for (const auto& [take, release] : kLocks) {
      const std::string what = take + " (route " + std::to_string(static_cast<int>(route)) + ")";
      run(holder, route, take);
      other_waits(what);
      run(holder, route, "SELECT 1");
      other_waits(what + ", a statement later");
      run(holder, route, release);
      EXPECT_NO_THROW(other.execute("CREATE TABLE t2 (a INT)")) << "after " << release << " of " << what;
      other.execute("DROP TABLE IF EXISTS t2");
    }
    // A holder that goes away: its connection is closed with the lock, never lent on.
    run(holder, route, "BACKUP STAGE START");
    holder.close();
    EXPECT_NO_THROW(other.execute("CREATE TABLE t2 (a INT)")) << "after the holder of a backup stage left";
    other.execute("DROP TABLE IF EXISTS t2");
    holder = connect(kUser, kPassword, "app");
  }
  const std::string m = metrics();
  EXPECT_THAT(m, HasSubstr("corral_mysql_pins_total{reason=\"backup_stage\"} 6"));
  EXPECT_THAT(m, HasSubstr("corral_mysql_pins_total{reason=\"backup_lock\"} 3"));
  EXPECT_THAT(m, HasSubstr("corral_mysql_pins_total{reason=\"table_lock\"} 9"));
}

// HANDLER t OPEN keeps the table's metadata lock on the connection until HANDLER t CLOSE: the
// connection stays with the client (by text or prepared), and is closed when the client leaves, so
// nobody else's DROP TABLE waits for a handle left on a pooled connection (mtr main.partition_myisam).
TEST_F(PreparedThroughCorral, AnOpenHandlerKeepsItsConnectionAndLeavesWithTheClient) {
  start_backend();
  backend().execute("CREATE TABLE app.t1 (a INT); INSERT INTO app.t1 VALUES (1)");
  start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 1\nqueue_timeout_ms = 300\n"});
  MysqlClient other = connect(kUser, kPassword, "app");
  for (const bool prepared : {false, true}) {
    MysqlClient holder = connect(kUser, kPassword, "app");
    if (prepared) {
      Statement open(holder.handle(), "HANDLER t1 OPEN");
      open.execute();
    } else {
      holder.execute("HANDLER t1 OPEN");
    }
    try {
      other.query("SELECT 1");
      ADD_FAILURE() << "another client ran on the connection with the open handler";
    } catch (const MysqlException& e) {
      EXPECT_EQ(e.code(), 1040u) << e.what();
    }
    EXPECT_EQ(holder.query("HANDLER t1 READ FIRST").at(0), "1");
    holder.close();
    other.execute("SET SESSION lock_wait_timeout = 2");
    EXPECT_NO_THROW(other.execute("ALTER TABLE t1 ADD COLUMN b INT")) << (prepared ? "prepared" : "text");
    other.execute("ALTER TABLE t1 DROP COLUMN b");
  }
  EXPECT_THAT(metrics(), HasSubstr("corral_mysql_pins_total{reason=\"handler\"} 2"));
}

// LAST_INSERT_ID() in a prepared statement answers for the client, as the same text sent as a query
// does, although its connection ran another client's INSERT since (a pool of one connection).
TEST_F(PreparedThroughCorral, APreparedLastInsertIdAnswersForTheClientAfterItsConnectionWasLent) {
  start_backend();
  backend().execute("CREATE TABLE app.ids (id INT AUTO_INCREMENT PRIMARY KEY, who VARCHAR(8))");
  start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 1\n"});
  MysqlClient mine = connect(kUser, kPassword, "app");
  MysqlClient theirs = connect(kUser, kPassword, "app");
  Statement insert(mine.handle(), "INSERT INTO ids (who) VALUES ('mine')");
  insert.execute();
  theirs.execute("INSERT INTO ids (who) VALUES ('theirs')");
  Statement last(mine.handle(), "SELECT LAST_INSERT_ID()");
  EXPECT_EQ(last.execute().at(0)[0], "1");
  EXPECT_EQ(theirs.query("SELECT LAST_INSERT_ID()").at(0), "2");
  EXPECT_EQ(last.execute().at(0)[0], "1");
}

TEST_F(PreparedThroughCorral, StatementsStillRunWhenASmallCapEvictsThem) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 1\n", .mysql_toml = "max_prepared_per_connection = 2\n"});
  const std::uint64_t closes_before = server_status("Com_stmt_close");
  MysqlClient client = connect();
  std::vector<std::unique_ptr<Statement>> statements;
  for (int i = 0; i < 5; ++i) {
    statements.push_back(std::make_unique<Statement>(client.handle(), "SELECT ? + " + std::to_string(i)));
    statements.back()->bind({100LL});
  }
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 5; ++i) {
      statements[i]->set({100LL * (round + 1)});
      const std::vector<Row> rows = statements[i]->execute();
      ASSERT_EQ(rows.size(), 1u);
      EXPECT_EQ(rows[0][0], std::to_string(100 * (round + 1) + i));
    }
  }
  EXPECT_GE(server_status("Com_stmt_close") - closes_before, 10u);
  EXPECT_LE(std::stoull(backend().query("SHOW GLOBAL STATUS LIKE 'Prepared_stmt_count'").at(0, 1)), 2u);
}

TEST_F(PreparedThroughCorral, UnknownStatementIdsGetTheServersError) {
  start_proxy({.workers = 1});
  MysqlClient client = connect();
  Statement statement(client.handle(), "SELECT 1");
  EXPECT_EQ(statement.execute().size(), 1u);
  MYSQL_STMT* stale = mysql_stmt_init(client.handle());
  ASSERT_NE(stale, nullptr);
  ASSERT_EQ(mysql_stmt_prepare(stale, "SELECT 2", 8), 0);
  stale->stmt_id = 999;  // an id corral never gave out
  EXPECT_NE(mysql_stmt_execute(stale), 0);
  EXPECT_EQ(mysql_stmt_errno(stale), 1243u);
  EXPECT_THAT(mysql_stmt_error(stale), HasSubstr("Unknown prepared statement handler (999)"));
  mysql_stmt_close(stale);
  EXPECT_EQ(client.query("SELECT 3").at(0), "3");  // the session goes on
}

TEST_F(PreparedThroughCorral, TheSameTextUnderAnotherSqlModeIsAnotherStatement) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  MysqlClient ansi = connect();
  ansi.execute("SET SESSION sql_mode = 'ANSI_QUOTES'");
  MysqlClient plain = connect();
  const std::string sql = "SELECT \"a\" FROM (SELECT 7 AS a) AS t";
  Statement as_identifier(ansi.handle(), sql);
  EXPECT_EQ(as_identifier.execute().at(0)[0], "7");
  Statement as_string(plain.handle(), sql);  // must not reuse the ANSI_QUOTES parse
  EXPECT_EQ(as_string.execute().at(0)[0], "a");
  EXPECT_EQ(as_identifier.execute().at(0)[0], "7");
}

TEST_F(PreparedThroughCorral, TheSameTextAfterAnUnscopedSqlModeChangeIsParsedUnderTheNewMode) {
  // mtr main.sql_mode --ps-protocol: `SET @@SQL_MODE = 'NO_BACKSLASH_ESCAPES'`, which MariaDB's
  // tracker does not report, then a PREPARE of a text another session prepared before.
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  const std::string sql = "SELECT 'a\\\\b' AS v";  // 'a\\b': a\b, or a\\b without backslash escapes
  MysqlClient plain = connect();
  Statement first(plain.handle(), sql);
  EXPECT_EQ(first.execute().at(0)[0], "a\\b");
  MysqlClient unscoped = connect();
  Statement before(unscoped.handle(), sql);
  EXPECT_EQ(before.execute().at(0)[0], "a\\b");
  unscoped.execute("SET @@SQL_MODE = 'NO_BACKSLASH_ESCAPES'");
  Statement after(unscoped.handle(), sql);
  EXPECT_EQ(after.execute().at(0)[0], "a\\\\b");
  unscoped.execute("SET @@SQL_MODE = DEFAULT");
  Statement back(unscoped.handle(), sql);
  EXPECT_EQ(back.execute().at(0)[0], "a\\b");
  EXPECT_EQ(first.execute().at(0)[0], "a\\b") << "the other session's statement is untouched";
}

TEST_F(PreparedThroughCorral, APrepareAnswersWithColumnNamesInTheSessionsResultsCharset) {
  // mtr main.query_cache / ctype_recoding --ps-protocol: a column name is sent in
  // character_set_results, which a combination SET NAMES cannot say leaves out of the key.
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  const std::string sql = "SELECT 1 AS `\xC3\xA9`";  // é in utf8mb4
  MysqlClient utf8 = connect();
  utf8.execute("SET NAMES utf8mb4");
  Statement first(utf8.handle(), sql);
  MysqlClient latin1_results = connect();
  latin1_results.execute("SET NAMES utf8mb4");
  latin1_results.execute("SET character_set_results = latin1");
  const auto name_of = [](Statement& statement) {
    MYSQL_RES* meta = mysql_stmt_result_metadata(statement.handle());
    std::string name = mysql_fetch_field_direct(meta, 0)->name;
    mysql_free_result(meta);
    return name;
  };
  Statement latin1(latin1_results.handle(), sql);
  EXPECT_EQ(name_of(latin1), "\xE9");
  latin1_results.execute("SET character_set_results = utf8mb4");
  Statement utf8_again(latin1_results.handle(), sql);
  EXPECT_EQ(name_of(utf8_again), "\xC3\xA9");
  EXPECT_EQ(name_of(first), "\xC3\xA9");
}

TEST_F(PreparedThroughCorral, ATextIsSharedWhileAClientHoldsItAndPreparedAnewAfterItsLastClose) {
  // With sharing (the default) a text's server statement is shared while some client holds a
  // statement of it. After the last close the next PREPARE is the server's, as on a direct
  // connection: MariaDB keeps choices of a statement's first execution, and cannot re-execute this
  // SHOW with a derived table at all (ERR 1054; mtr main.show --ps-protocol).
  start_with_names_table("");
  MysqlClient a = connect(kUser, kPassword, "app");
  EXPECT_EQ(prepare_show_anew_each_round(a, 3), 3u) << "one server PREPARE per client PREPARE";

  const std::string count = "SELECT COUNT(*) FROM t1";
  Statement held(a.handle(), count);
  EXPECT_EQ(held.execute().at(0)[0], "5");
  const std::uint64_t prepares_shared = server_status("Com_stmt_prepare");
  MysqlClient b = connect(kUser, kPassword, "app");
  for (int round = 0; round < 3; ++round) {
    Statement shared(b.handle(), count);
    EXPECT_EQ(shared.execute().at(0)[0], "5");
  }
  EXPECT_EQ(server_status("Com_stmt_prepare"), prepares_shared) << "a holds the text: b's PREPAREs answered by corral";
}

TEST_F(PreparedThroughCorral, WithoutSharingEachPrepareIsTheServersAndAClosedOneIsClosedThereToo) {
  // mysql.share_prepared_statements = false: every client PREPARE reaches the server, as direct (mtr
  // main.show --ps-protocol re-prepares a SHOW with a derived table that MariaDB cannot re-execute),
  // and the statements of closed client statements are closed on the server at the connection's next
  // PREPARE.
  start_with_names_table("share_prepared_statements = false\n");
  const std::uint64_t prepares_before = server_status("Com_stmt_prepare");
  MysqlClient a = connect(kUser, kPassword, "app");
  EXPECT_EQ(prepare_show_anew_each_round(a, 5), 5u) << "one server PREPARE per client PREPARE";
  EXPECT_LE(server_status("Prepared_stmt_count"), 1u) << "only the last closed one waits for the next PREPARE";
  MysqlClient b = connect(kUser, kPassword, "app");
  Statement first(b.handle(), "SELECT COUNT(*) FROM t1");
  Statement second(b.handle(), "SELECT COUNT(*) FROM t1");
  EXPECT_EQ(first.execute().at(0)[0], "7");
  EXPECT_EQ(second.execute().at(0)[0], "7");
  EXPECT_EQ(server_status("Com_stmt_prepare") - prepares_before, 7u);
  EXPECT_EQ(server_status("Prepared_stmt_count"), 2u) << "b's two statements, a's closed at b's first PREPARE";
}

TEST_F(PreparedThroughCorral, ASessionHoldsAtMostMaxPreparedStmtCountStatements) {
  start_proxy({.workers = 1});
  MysqlClient client = connect();
  std::vector<MYSQL_STMT*> handles;
  for (int i = 0; i < 16382; ++i) {
    MYSQL_STMT* stmt = mysql_stmt_init(client.handle());
    ASSERT_NE(stmt, nullptr);
    ASSERT_EQ(mysql_stmt_prepare(stmt, "SELECT 1", 8), 0) << i << ": " << mysql_stmt_error(stmt);
    handles.push_back(stmt);
  }
  MYSQL_STMT* one_more = mysql_stmt_init(client.handle());
  EXPECT_NE(mysql_stmt_prepare(one_more, "SELECT 1", 8), 0);
  EXPECT_EQ(mysql_stmt_errno(one_more), 1461u);
  mysql_stmt_close(handles.back());  // closing one makes room again
  handles.pop_back();
  EXPECT_EQ(mysql_stmt_prepare(one_more, "SELECT 1", 8), 0) << mysql_stmt_error(one_more);
  handles.push_back(one_more);
  for (MYSQL_STMT* stmt : handles) mysql_stmt_close(stmt);
  EXPECT_EQ(client.query("SELECT 2").at(0), "2");
}

TEST_F(PreparedThroughCorral, AKilledBackendFailsTheExecuteAndTheStatementWorksAgainAfterARestart) {
  start_proxy({.workers = 1, .pool_toml = "max_connections = 2\n"});
  MysqlClient client = connect();
  Statement statement(client.handle(), "SELECT CONCAT('v', ?)");
  statement.bind({1LL});
  ASSERT_EQ(statement.execute().at(0)[0], "v1");
  backend().kill();
  statement.set({2LL});
  try {
    statement.execute();
    FAIL() << "an execute succeeded on a killed backend";
  } catch (const MysqlException& e) {
    // corral's error naming the backend (1158 lost, 1105 unavailable), or 2013 when the client sees
    // the close first.
    EXPECT_TRUE(e.code() == 1158u || e.code() == 1105u || e.code() == 2013u) << e.code() << " " << e.what();
  }
  EXPECT_TRUE(proxy().running());
  backend().restart();
  // The session had no state on the lost connection: its statement still exists in corral and is
  // prepared again on a new backend connection (types re-sent: none are on the wire this time).
  std::string last_error;
  bool back = false;
  int attempt = 0;
  // Retried until corral reaches the restarted backend (its reconnect backoff).
  poll_until(
      [&] {
        try {
          ++attempt;
          statement.set({2LL + attempt});
          back = statement.execute().at(0)[0] == "v" + std::to_string(2 + attempt);
          return back;
        } catch (const MysqlException& e) {
          last_error = e.what();
          return e.code() == 2013u || e.code() == 2006u;  // the client library gave up the connection
        }
      },
      10s, 100ms);
  EXPECT_TRUE(back) << last_error;
}

TEST_F(PreparedThroughCorral, SysbenchReadWriteWithPreparedStatementsFinishesWithoutErrors) {
  start_backend();
  start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 8\nqueue_timeout_ms = 30000\n"});
  const std::vector<std::string> common = {
      "--db-driver=mysql", "--mysql-host=127.0.0.1", "--mysql-db=app", "--tables=4", "--table-size=20000",
  };
  auto sysbench = [&](std::vector<std::string> args, uint16_t port, std::string user, std::string password) {
    std::vector<std::string> argv = {"/usr/bin/sysbench", "oltp_read_write"};
    argv.insert(argv.end(), common.begin(), common.end());
    argv.push_back("--mysql-port=" + std::to_string(port));
    argv.push_back("--mysql-user=" + user);
    argv.push_back("--mysql-password=" + password);
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, std::chrono::seconds(180));
  };
  // Tables are made directly on the server; the run goes through corral.
  const CommandResult prepared = sysbench({"prepare"}, backend().port(), kBackendUser, kBackendPassword);
  ASSERT_EQ(prepared.exit_code(), 0) << prepared.output;
  const std::uint64_t prepares_before = server_status("Com_stmt_prepare");
  // Uniform keys: sysbench's default skewed ones make InnoDB deadlocks (ERR 1213, counted as "ignored
  // errors") a matter of luck, direct or through corral, and this test wants zero errors of any kind.
  const CommandResult run = sysbench(
      {"--threads=64", "--time=8", "--db-ps-mode=auto", "--rand-type=uniform", "--report-interval=0", "run"},
      proxy_port(), kUser, kPassword);
  ASSERT_EQ(run.exit_code(), 0) << run.output;
  EXPECT_THAT(run.output, HasSubstr("ignored errors:                      0 "));
  EXPECT_THAT(run.output, HasSubstr("reconnects:                          0 "));
  EXPECT_THAT(run.output, ::testing::Not(HasSubstr("FATAL")));
  // Each sysbench thread prepares BEGIN, COMMIT and 9 statements per table: 64 x 38 = 2432 client
  // prepares. The server sees each of the 38 texts at most once per backend connection.
  const std::uint64_t prepares = server_status("Com_stmt_prepare") - prepares_before;
  EXPECT_LE(prepares, 8u * 38u) << run.output;
  std::cout << "sysbench: backend COM_STMT_PREPAREs for 2432 client prepares: " << prepares << "\n";
}

// Before corral sent errors under an execute at once, sysbench waited for good for the reply of
// the execute the dying backend was running (a session without state was not closed, and its ERR
// stayed queued until the next command, which never came).
TEST_F(PreparedThroughCorral, SysbenchWithPreparedStatementsEndsWhenTheBackendIsKilled) {
  start_backend();
  start_proxy({.workers = 1, .schema = "app", .pool_toml = "max_connections = 4\n"});
  const std::vector<std::string> common = {
      "/usr/bin/sysbench", "oltp_point_select", "--db-driver=mysql", "--mysql-host=127.0.0.1", "--mysql-db=app",
      "--tables=2", "--table-size=2000",
  };
  std::vector<std::string> prepare = common;
  prepare.insert(prepare.end(), {"--mysql-port=" + std::to_string(backend().port()),
                                 std::string("--mysql-user=") + kBackendUser,
                                 std::string("--mysql-password=") + kBackendPassword, "prepare"});
  const CommandResult prepared = run_command(prepare, std::chrono::seconds(120));
  ASSERT_EQ(prepared.exit_code(), 0) << prepared.output;
  std::vector<std::string> run = common;
  run.insert(run.end(), {"--mysql-port=" + std::to_string(proxy_port()), std::string("--mysql-user=") + kUser,
                         std::string("--mysql-password=") + kPassword, "--threads=1", "--time=60",
                         "--db-ps-mode=auto", "--rand-type=uniform", "--report-interval=0", "run"});
  std::thread killer([&] {
    std::this_thread::sleep_for(3s);
    backend().kill();
  });
  const auto started = std::chrono::steady_clock::now();
  CommandResult result;
  try {
    result = run_command(run, std::chrono::seconds(40));  // throws when sysbench has to be killed
  } catch (const HarnessError& e) {
    killer.join();
    FAIL() << "sysbench hung after the backend was killed: " << e.what();
  }
  killer.join();
  // Its thread (point selects outside a transaction: every command an execute, and no session state
  // that would make corral close the connection) got corral's error and sysbench stopped on it.
  EXPECT_NE(result.exit_code(), 0) << result.output;
  EXPECT_THAT(result.output, HasSubstr("FATAL"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
}

}  // namespace
}  // namespace corral::testing::mysql_it
