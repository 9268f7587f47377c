// Backend failures and big data: a backend killed mid-transaction (the client gets an error, corral
// stays up, new sessions work once the backend is back), a 64 MiB BLOB both ways, and a 1 GiB result
// set streamed with corral's memory bounded.
#include <mysql.h>

#include <gmock/gmock.h>

#include <cstdio>
#include <fstream>

#include "mysql_path.h"

namespace corral::testing::mysql_it {
namespace {

using ::testing::HasSubstr;

class Failure : public MysqlPathTest {};

/// corral's resident set size in bytes (VmRSS of /proc/PID/status).
std::size_t rss_bytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  throw HarnessError("no VmRSS for pid " + std::to_string(pid));
}

bool sanitizer_build() { return CorralProcess::binary_path().string().find("/asan/") != std::string::npos; }

/// A raw libmysqlclient connection with a large client-side max_allowed_packet.
MYSQL* connect_big(uint16_t port) {
  MYSQL* m = mysql_init(nullptr);
  const unsigned long max_packet = 1ul << 30;
  mysql_options(m, MYSQL_OPT_MAX_ALLOWED_PACKET, &max_packet);
  const unsigned timeout = 60;
  mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
  mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
  if (mysql_real_connect(m, "127.0.0.1", kUser, kPassword, "app", port, nullptr, 0) == nullptr) {
    const std::string error = mysql_error(m);
    mysql_close(m);
    throw HarnessError("connect: " + error);
  }
  return m;
}

TEST_F(Failure, BackendKilledMidTransaction) {
  start_backend();
  backend().execute("CREATE TABLE app.t (id INT PRIMARY KEY) ENGINE=InnoDB");
  start_proxy({.workers = 1});
  MysqlClient client = connect(kUser, kPassword, "app");
  MysqlClient bystander = connect(kUser, kPassword, "app");
  client.execute("BEGIN");
  client.execute("INSERT INTO t VALUES (1)");
  backend().kill();
  try {
    client.query("INSERT INTO t VALUES (2)");
    FAIL() << "a statement succeeded on a killed backend";
  } catch (const MysqlException& e) {
    // 1158 from corral, or 2013 when the client library sees the close first.
    EXPECT_TRUE(e.code() == 1158u || e.code() == 2013u) << e.code() << " " << e.what();
  }
  // The transaction is gone; corral closed that session rather than go on without it.
  EXPECT_THROW(client.query("SELECT 1"), MysqlException);
  // A session without state only gets an error for its statement.
  EXPECT_THROW(bystander.query("SELECT 1"), MysqlException);
  EXPECT_TRUE(proxy().running());
  backend().restart();
  std::string last_error;
  bool back = false;
  // Retried until corral reaches the restarted backend (its reconnect backoff).
  poll_until(
      [&] {
        try {
          MysqlClient fresh = connect(kUser, kPassword, "app");
          EXPECT_EQ(fresh.query("SELECT COUNT(*) FROM t").at(0), "0");  // the insert was rolled back
          back = true;
        } catch (const MysqlException& e) {
          last_error = e.what();
        }
        return back;
      },
      10s, 100ms);
  EXPECT_TRUE(back) << last_error;
  EXPECT_EQ(bystander.query("SELECT 2").at(0), "2");
}

// pool.operation_timeout bounds corral's own statements; a client's statement may run as long as it
// takes, as on a direct connection, unless mysql.statement_timeout_ms says otherwise.
TEST_F(Failure, ALongStatementOutlastsTheOperationTimeout) {
  start_proxy({.workers = 1, .pool_toml = "operation_timeout_ms = 300\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  EXPECT_EQ(client.query("SELECT SLEEP(1.5)").at(0), "0");
  EXPECT_EQ(client.query("SELECT 2").at(0), "2");  // the connection went back and is still usable
}

TEST_F(Failure, StatementTimeoutFailsASilentStatement) {
  start_proxy({.workers = 1, .mysql_toml = "statement_timeout_ms = 300\n"});
  MysqlClient client = connect(kUser, kPassword, "app");
  try {
    client.query("SELECT SLEEP(5)");
    FAIL() << "a statement outlived mysql.statement_timeout_ms";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1158u) << e.what();
    EXPECT_THAT(e.what(), HasSubstr("timed out after 300 ms"));
  }
  // The session held no state: only that statement failed, and the next one runs on a new connection.
  EXPECT_EQ(client.query("SELECT 3").at(0), "3");
}

TEST_F(Failure, SixtyFourMibBlobRoundTrips) {
  start_backend({.extra_args = {"--max-allowed-packet=256M"}});
  backend().execute("CREATE TABLE app.blobs (id INT PRIMARY KEY, b LONGBLOB)");
  start_proxy({.workers = 1, .mysql_toml = "max_packet_size = 134217728\n"});
  MYSQL* m = connect_big(proxy_port());
  std::string blob(64u << 20, '\0');
  for (std::size_t i = 0; i < blob.size(); ++i) blob[i] = static_cast<char>('a' + (i * 7919) % 26);
  const std::string insert = "INSERT INTO blobs VALUES (1, '" + blob + "')";
  ASSERT_EQ(mysql_real_query(m, insert.data(), insert.size()), 0) << mysql_error(m);
  const std::string select = "SELECT b FROM blobs WHERE id = 1";
  ASSERT_EQ(mysql_real_query(m, select.data(), select.size()), 0) << mysql_error(m);
  MYSQL_RES* result = mysql_store_result(m);
  ASSERT_NE(result, nullptr) << mysql_error(m);
  MYSQL_ROW row = mysql_fetch_row(result);
  ASSERT_NE(row, nullptr);
  const unsigned long* lengths = mysql_fetch_lengths(result);
  ASSERT_EQ(lengths[0], blob.size());
  EXPECT_TRUE(std::string_view(row[0], lengths[0]) == blob);
  mysql_free_result(result);
  mysql_close(m);
}

TEST_F(Failure, OneGibResultStreamsWithBoundedMemory) {
  if (sanitizer_build()) GTEST_SKIP() << "1 GiB through ASan takes minutes; the release build runs it";
  start_backend({.extra_args = {"--max-allowed-packet=64M"}});
  start_proxy({.workers = 1});
  MYSQL* m = connect_big(proxy_port());
  ASSERT_EQ(mysql_query(m, "SELECT 1"), 0);
  mysql_free_result(mysql_store_result(m));
  const std::size_t before = rss_bytes(proxy().pid());
  const std::string sql = "SELECT REPEAT('x', 1000000) FROM seq_1_to_1024";
  ASSERT_EQ(mysql_real_query(m, sql.data(), sql.size()), 0) << mysql_error(m);
  MYSQL_RES* result = mysql_use_result(m);
  ASSERT_NE(result, nullptr) << mysql_error(m);
  std::size_t rows = 0;
  std::size_t bytes = 0;
  std::size_t peak = before;
  while (MYSQL_ROW row = mysql_fetch_row(result)) {
    bytes += mysql_fetch_lengths(result)[0];
    if (++rows % 64 == 0) peak = std::max(peak, rss_bytes(proxy().pid()));
    (void)row;
  }
  EXPECT_EQ(mysql_errno(m), 0u) << mysql_error(m);
  mysql_free_result(result);
  mysql_close(m);
  EXPECT_EQ(rows, 1024u);
  EXPECT_EQ(bytes, 1024u * 1000000u);
  RecordProperty("rss_growth_bytes", std::to_string(peak - before));
  std::printf("corral RSS before %zu bytes, peak while streaming 1 GiB %zu bytes\n", before, peak);
  EXPECT_LT(peak - before, std::size_t{64} << 20) << "RSS before " << before << ", peak " << peak;
}

}  // namespace
}  // namespace corral::testing::mysql_it
