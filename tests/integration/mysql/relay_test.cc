// Response relaying through corral (proxy/mysql/session.cc relay_response, the scanner's scan_run):
// results far larger than one backend read, several results in one response, and binary rows of
// prepared statements arrive whole, in order and with every value intact.
#include <mysql.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <string>
#include <vector>

#include "mysql_path.h"

namespace corral::testing::mysql_it {
namespace {

class Relay : public MysqlPathTest {};

// Rows of `SELECT seq, REPEAT(CHAR(97 + seq % 26), seq % 300) FROM seq_1_to_N`: about 150 bytes on
// average, so 5,000 of them span many 16 KiB backend reads.
std::string expected_text(std::uint64_t seq) {
  return std::string(seq % 300, static_cast<char>('a' + seq % 26));
}

// Reads one text result of the query above and checks every row; returns the rows seen.
std::uint64_t check_sequence_result(MYSQL* m) {
  MYSQL_RES* result = mysql_use_result(m);
  EXPECT_NE(result, nullptr) << mysql_error(m);
  if (result == nullptr) return 0;
  std::uint64_t rows = 0;
  while (MYSQL_ROW row = mysql_fetch_row(result)) {
    ++rows;
    const unsigned long* lengths = mysql_fetch_lengths(result);
    EXPECT_EQ(std::stoull(row[0]), rows);
    EXPECT_EQ(std::string(row[1], lengths[1]), expected_text(rows)) << "row " << rows;
  }
  EXPECT_EQ(mysql_errno(m), 0u) << mysql_error(m);
  mysql_free_result(result);
  return rows;
}

TEST_F(Relay, ManyReadsAndSeveralResultsInOneResponseArriveWholeAndInOrder) {
  start_proxy({.workers = 1});
  MysqlClient client = connect(kUser, kPassword, "app");
  MYSQL* m = client.handle();
  const std::string rows_sql = "SELECT seq, REPEAT(CHAR(97 + seq % 26), seq % 300) FROM seq_1_to_5000";
  for (int round = 0; round < 3; ++round) {
    // One result set spanning many backend reads.
    ASSERT_EQ(mysql_query(m, rows_sql.c_str()), 0) << mysql_error(m);
    EXPECT_EQ(check_sequence_result(m), 5000u);
    // Several results in one response: a big result set, a small one, an empty one and an OK.
    const std::string multi = rows_sql + "; SELECT 'middle'; SELECT 1 FROM seq_1_to_3 WHERE seq > 5; DO 1";
    ASSERT_EQ(mysql_query(m, multi.c_str()), 0) << mysql_error(m);
    EXPECT_EQ(check_sequence_result(m), 5000u);
    ASSERT_EQ(mysql_next_result(m), 0) << mysql_error(m);
    MYSQL_RES* middle = mysql_store_result(m);
    ASSERT_NE(middle, nullptr) << mysql_error(m);
    MYSQL_ROW row = mysql_fetch_row(middle);
    ASSERT_NE(row, nullptr);
    EXPECT_STREQ(row[0], "middle");
    mysql_free_result(middle);
    ASSERT_EQ(mysql_next_result(m), 0) << mysql_error(m);
    MYSQL_RES* empty = mysql_store_result(m);
    ASSERT_NE(empty, nullptr) << mysql_error(m);
    EXPECT_EQ(mysql_num_rows(empty), 0u);
    mysql_free_result(empty);
    ASSERT_EQ(mysql_next_result(m), 0) << mysql_error(m);
    EXPECT_EQ(mysql_field_count(m), 0u);  // DO 1: an OK
    EXPECT_EQ(mysql_next_result(m), -1);  // no more results
    // The session goes on in step.
    EXPECT_EQ(client.query("SELECT 'after'").at(0), "after");
  }
}

TEST_F(Relay, AResultOfMoreColumnsThanA16BitCountHoldsIsRelayed) {
  // mtr main.mysql (bug #19216): a SELECT of 68,001 literals; the column count is a lenenc integer.
  start_proxy({.workers = 1});
  MysqlClient client = connect(kUser, kPassword, "app");
  std::string sql = "SELECT 'a'";
  for (int i = 1; i < 70000; ++i) sql += ",'a'";
  const QueryResult wide = client.query(sql);
  EXPECT_EQ(wide.columns.size(), 70000u);
  ASSERT_EQ(wide.rows.size(), 1u);
  EXPECT_EQ(wide.at(0, 69999), "a");
  EXPECT_EQ(client.query("SELECT 'after'").at(0), "after");
}

TEST_F(Relay, BinaryRowsOfAPreparedStatementArriveWhole) {
  start_proxy({.workers = 1});
  MysqlClient client = connect(kUser, kPassword, "app");
  MYSQL_STMT* stmt = mysql_stmt_init(client.handle());
  ASSERT_NE(stmt, nullptr);
  const std::string sql = "SELECT seq, REPEAT(CHAR(97 + seq % 26), seq % 300) FROM seq_1_to_5000 WHERE seq > ?";
  ASSERT_EQ(mysql_stmt_prepare(stmt, sql.data(), sql.size()), 0) << mysql_stmt_error(stmt);
  for (const long long after : {0LL, 4990LL, 0LL}) {
    long long parameter = after;
    MYSQL_BIND param{};
    param.buffer_type = MYSQL_TYPE_LONGLONG;
    param.buffer = &parameter;
    ASSERT_EQ(mysql_stmt_bind_param(stmt, &param), 0) << mysql_stmt_error(stmt);
    ASSERT_EQ(mysql_stmt_execute(stmt), 0) << mysql_stmt_error(stmt);
    unsigned long long seq = 0;
    std::vector<char> text(512);
    unsigned long text_length = 0;
    MYSQL_BIND columns[2]{};
    columns[0].buffer_type = MYSQL_TYPE_LONGLONG;
    columns[0].buffer = &seq;
    columns[0].is_unsigned = true;
    columns[1].buffer_type = MYSQL_TYPE_STRING;
    columns[1].buffer = text.data();
    columns[1].buffer_length = text.size();
    columns[1].length = &text_length;
    ASSERT_EQ(mysql_stmt_bind_result(stmt, columns), 0) << mysql_stmt_error(stmt);
    std::uint64_t rows = 0;
    int status = 0;
    while ((status = mysql_stmt_fetch(stmt)) == 0) {
      ++rows;
      ASSERT_EQ(seq, static_cast<unsigned long long>(after) + rows);
      ASSERT_EQ(std::string(text.data(), text_length), expected_text(seq)) << "row " << seq;
    }
    EXPECT_EQ(status, MYSQL_NO_DATA) << mysql_stmt_error(stmt);
    EXPECT_EQ(rows, 5000u - static_cast<std::uint64_t>(after));
    ASSERT_EQ(mysql_stmt_free_result(stmt), 0);
  }
  mysql_stmt_close(stmt);
  EXPECT_EQ(client.query("SELECT 'after'").at(0), "after");
}

// A COM_QUERY packet (sequence id 0) as a client sends it.
std::string com_query_packet(std::string_view sql) {
  const std::size_t length = sql.size() + 1;
  std::string packet{static_cast<char>(length & 0xff), static_cast<char>((length >> 8) & 0xff),
                     static_cast<char>((length >> 16) & 0xff), '\0', '\x03'};
  packet.append(sql);
  return packet;
}

// Waits (up to 10 s) until the bytes waiting in `fd`'s receive queue stop growing for half a
// second: corral's writes to this client then block. "Stopped growing" is a state seen only over
// time, hence ten unchanged polls 50 ms apart. A verdict that came too early would not let a broken
// corral pass: a session that holds the backend connection while it writes holds it for good, as
// this client never reads.
void wait_until_stalled(int fd) {
  int last = -1;
  int steady_polls = 0;
  int ioctl_errno = 0;
  const bool stalled = poll_until(
      [&] {
        int queued = 0;
        if (::ioctl(fd, FIONREAD, &queued) != 0) ioctl_errno = errno;
        steady_polls = queued == last && queued > 0 ? steady_polls + 1 : 0;
        last = queued;
        return steady_polls == 10 || ioctl_errno != 0;
      },
      10s, 50ms);
  ASSERT_EQ(ioctl_errno, 0) << "FIONREAD failed";
  ASSERT_TRUE(stalled) << "corral kept writing to a client that does not read";
}

TEST_F(Relay, AClientThatStopsReadingDoesNotHoldTheBackendConnection) {
  // One backend connection: while the stalled client's session waits to write its results, the
  // connection must be free for others, not held until the client reads (or the timeout).
  start_proxy({.workers = 1, .pool_toml = "max_connections = 1\nqueue_timeout_ms = 1000"});
  MysqlClient stalled = connect(kUser, kPassword, "app");
  const int fd = static_cast<int>(mysql_get_socket(stalled.handle()));
  const int small = 4096;
  ASSERT_EQ(::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
  // Statements sent behind libmysqlclient's back and never read: about 12 MB of small results (each
  // one backend read) fill the client's socket buffers long before corral has answered them all.
  std::string burst;
  for (int i = 0; i < 3000; ++i) burst += com_query_packet("SELECT REPEAT('x', 4000)");
  ASSERT_EQ(::send(fd, burst.data(), burst.size(), MSG_NOSIGNAL), static_cast<ssize_t>(burst.size()));
  wait_until_stalled(fd);
  for (int i = 0; i < 5; ++i) {
    MysqlClient other = connect(kUser, kPassword, "app");
    EXPECT_EQ(other.query("SELECT 'served'").at(0), "served") << mysql_error(other.handle());
  }
}

}  // namespace
}  // namespace corral::testing::mysql_it
