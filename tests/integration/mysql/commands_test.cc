// Commands besides COM_QUERY and the failures a client can provoke: COM_CHANGE_USER,
// COM_RESET_CONNECTION, COM_SET_OPTION, unsupported commands and prepared statements (clear ERR, the
// session goes on), LOAD DATA LOCAL INFILE (refused unless mysql.local_infile), packets over
// mysql.max_packet_size (ERR 1153, then closed).
#include <mysql.h>

#include <gmock/gmock.h>

#include <fstream>

#include "mysql_path.h"

namespace corral::testing::mysql_it {
namespace {

using ::testing::HasSubstr;

class Commands : public MysqlPathTest {};

TEST_F(Commands, ChangeUserStartsAFreshSessionForTheNewUser) {
  start_proxy();
  MysqlClient client = connect(kUser, kPassword, "app");
  client.execute("SET @mine := 'app'");
  ASSERT_EQ(mysql_change_user(client.handle(), "reader", "reader-pw", "other"), 0) << mysql_error(client.handle());
  const QueryResult who = client.query("SELECT CURRENT_USER(), DATABASE(), @mine");
  EXPECT_EQ(who.at(0, 0), "reader@%");
  EXPECT_EQ(who.at(0, 1), "other");
  EXPECT_EQ(who.rows.at(0).at(2), std::nullopt);
  // A refused COM_CHANGE_USER keeps the connection and the previous user and schema, as with mariadbd;
  // after three refusals every further one is ERR 1047 Unknown command.
  for (int attempt = 0; attempt < 3; ++attempt) {
    EXPECT_NE(mysql_change_user(client.handle(), "reader", "wrong", nullptr), 0);
    EXPECT_EQ(mysql_errno(client.handle()), 1045u) << mysql_error(client.handle());
    const QueryResult still = client.query("SELECT CURRENT_USER(), DATABASE()");
    EXPECT_EQ(still.at(0, 0), "reader@%");
    EXPECT_EQ(still.at(0, 1), "other");
  }
  EXPECT_NE(mysql_change_user(client.handle(), "reader", "reader-pw", nullptr), 0);
  EXPECT_EQ(mysql_errno(client.handle()), 1047u) << mysql_error(client.handle());
  EXPECT_EQ(client.query("SELECT CURRENT_USER()").at(0), "reader@%");
}

TEST_F(Commands, InitDbFieldListAndStatisticsAreRelayed) {
  start_backend();
  backend().execute("CREATE TABLE app.cols (id INT, name VARCHAR(20))");
  start_proxy();
  MysqlClient client = connect();
  ASSERT_EQ(mysql_select_db(client.handle(), "app"), 0) << mysql_error(client.handle());  // COM_INIT_DB
  EXPECT_EQ(client.query("SELECT DATABASE()").at(0), "app");
  EXPECT_NE(mysql_select_db(client.handle(), "missing_db"), 0);
  EXPECT_EQ(mysql_errno(client.handle()), 1049u);
  EXPECT_EQ(client.query("SELECT DATABASE()").at(0), "app");
  MYSQL_RES* fields = mysql_list_fields(client.handle(), "cols", nullptr);  // COM_FIELD_LIST
  ASSERT_NE(fields, nullptr) << mysql_error(client.handle());
  ASSERT_EQ(mysql_num_fields(fields), 2u);
  EXPECT_STREQ(mysql_fetch_field_direct(fields, 1)->name, "name");
  mysql_free_result(fields);
  const char* stat = mysql_stat(client.handle());  // COM_STATISTICS
  ASSERT_NE(stat, nullptr) << mysql_error(client.handle());
  EXPECT_THAT(stat, HasSubstr("Uptime"));
}

TEST_F(Commands, RefreshIsRelayedAsTheFlushStatementsAre) {
  // COM_REFRESH (mysql_refresh(), mysqladmin flush-*): the server does the flush and checks the RELOAD
  // privilege of the backend account, as for FLUSH TABLES sent as a query.
  start_backend();
  backend().execute("CREATE TABLE app.refreshed (id INT)");
  backend().execute("REVOKE RELOAD ON *.* FROM 'reader'@'%'");
  start_proxy();
  MysqlClient client = connect(kUser, kPassword, "app");
  client.query("SELECT * FROM refreshed");
  EXPECT_EQ(backend().query("SHOW OPEN TABLES FROM app LIKE 'refreshed'").rows.size(), 1u);
  ASSERT_EQ(mysql_refresh(client.handle(), REFRESH_TABLES | REFRESH_STATUS), 0) << mysql_error(client.handle());
  EXPECT_EQ(backend().query("SHOW OPEN TABLES FROM app LIKE 'refreshed'").rows.size(), 0u) << "the tables were closed";
  EXPECT_EQ(client.query("SELECT 'still here'").at(0), "still here");
  MysqlClient reader = connect("reader", "reader-pw");
  EXPECT_NE(mysql_refresh(reader.handle(), REFRESH_TABLES), 0);
  EXPECT_EQ(mysql_errno(reader.handle()), 1227u) << "the server's refusal: " << mysql_error(reader.handle());
  EXPECT_EQ(reader.query("SELECT 'still here'").at(0), "still here");
}

TEST_F(Commands, ShutdownClosesAClientIdleInATransactionAndExitsCleanly) {
  start_proxy();
  MysqlClient client = connect(kUser, kPassword, "app");
  client.execute("CREATE TABLE kept (id INT PRIMARY KEY)");
  client.execute("BEGIN");
  client.execute("INSERT INTO kept VALUES (1)");  // the session now holds a backend connection
  EXPECT_EQ(proxy().stop(10s), 0) << proxy().log();
  EXPECT_THROW(client.query("SELECT 1"), MysqlException);
  proxy_.reset();  // stopped already: nothing for TearDown to check
}

TEST_F(Commands, ResetConnectionKeepsTheSchemaAndDropsTheState) {
  start_proxy();
  MysqlClient client = connect(kUser, kPassword, "app");
  client.execute("SET @v := 3");
  client.execute("SET SESSION time_zone = '+02:00'");
  ASSERT_EQ(mysql_reset_connection(client.handle()), 0) << mysql_error(client.handle());
  const QueryResult after = client.query("SELECT DATABASE(), @v, @@time_zone");
  EXPECT_EQ(after.at(0, 0), "app");
  EXPECT_EQ(after.rows.at(0).at(1), std::nullopt);
  EXPECT_EQ(after.at(0, 2), "SYSTEM");
}

TEST_F(Commands, MultiStatementsCanBeSwitchedOff) {
  start_proxy();
  MysqlClient client = connect();
  EXPECT_EQ(client.query("SELECT 1; SELECT 2").at(0), "1");
  ASSERT_EQ(mysql_set_server_option(client.handle(), MYSQL_OPTION_MULTI_STATEMENTS_OFF), 0);
  try {
    client.query("SELECT 1; SELECT 2");
    FAIL() << "a multi-statement ran with multi-statements off";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1064u) << e.what();  // the server's syntax error, as without the option
  }
  ASSERT_EQ(mysql_set_server_option(client.handle(), MYSQL_OPTION_MULTI_STATEMENTS_ON), 0);
  EXPECT_EQ(client.query("SELECT 3; SELECT 4").at(0), "3");
}

// Prepared statements are tested in mysql_prepared_proxy_test.cc.
TEST_F(Commands, UnsupportedCommandsGetAClearErrorAndTheSessionGoesOn) {
  start_proxy();
  MysqlClient client = connect();
  EXPECT_EQ(mysql_list_processes(client.handle()), nullptr);  // COM_PROCESS_INFO
  EXPECT_EQ(mysql_errno(client.handle()), 1047u);
  EXPECT_THAT(mysql_error(client.handle()), HasSubstr("COM_PROCESS_INFO"));
  EXPECT_EQ(client.query("SELECT 'still here'").at(0), "still here");
  // COM_DEBUG (mariadb-client-test test_bug28075) is the server's: it writes its status to the
  // server's error log, for an account with SUPER (corral's backend account here has it).
  EXPECT_EQ(mysql_dump_debug_info(client.handle()), 0) << mysql_error(client.handle());
  EXPECT_EQ(mysql_ping(client.handle()), 0);
  try {
    client.query("KILL QUERY ID 1");  // query ids belong to backend threads (KILL <id>: session_test.cc)
    FAIL() << "KILL QUERY ID went through";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1235u);
    EXPECT_THAT(e.what(), HasSubstr("KILL QUERY ID is not supported"));
  }
  EXPECT_EQ(client.query("SELECT 'still here'").at(0), "still here");
}

/// A client with LOCAL INFILE enabled on its side (and the compressed protocol when `compress`).
MysqlClient connect_local_infile(uint16_t port, bool compress = false) {
  MysqlClient client = MysqlClient::connect(
      {.port = port, .user = kUser, .password = kPassword, .database = "app", .compress = compress});
  const unsigned on = 1;
  mysql_options(client.handle(), MYSQL_OPT_LOCAL_INFILE, &on);
  return client;
}

TEST_F(Commands, LoadDataLocalIsRefusedUnlessEnabled) {
  start_backend();
  backend().execute("CREATE TABLE app.loaded (id INT, name VARCHAR(20))");
  start_proxy();
  const std::filesystem::path file = proxy().dir() / "rows.csv";
  std::ofstream(file) << "1,a\n2,b\n";
  MysqlClient client = connect_local_infile(proxy_port());
  try {
    client.execute("LOAD DATA LOCAL INFILE '" + file.string() + "' INTO TABLE loaded FIELDS TERMINATED BY ','");
    FAIL() << "LOAD DATA LOCAL went through";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1148u);
    EXPECT_THAT(e.what(), HasSubstr("mysql.local_infile"));
  }
  EXPECT_EQ(client.query("SELECT COUNT(*) FROM loaded").at(0), "0");
}

TEST_F(Commands, LoadDataLocalIsRelayedWhenEnabled) {
  start_backend({.extra_args = {"--local-infile=1"}});
  backend().execute("CREATE TABLE app.loaded (id INT, name VARCHAR(20))");
  start_proxy({.mysql_toml = "local_infile = true\n"});
  const std::filesystem::path file = proxy().dir() / "rows.csv";
  {
    std::ofstream out(file);
    for (int i = 0; i < 20000; ++i) out << i << ",name" << i << "\n";  // several packets
  }
  MysqlClient client = connect_local_infile(proxy_port());
  client.execute("LOAD DATA LOCAL INFILE '" + file.string() + "' INTO TABLE loaded FIELDS TERMINATED BY ','");
  EXPECT_EQ(client.query("SELECT COUNT(*), MAX(id) FROM loaded").at(0, 0), "20000");
  EXPECT_EQ(client.query("SELECT name FROM loaded WHERE id = 19999").at(0), "name19999");
  // Prepared (mysqltest --ps-protocol, mtr main.loaddata): the server asks for the file in answer to
  // the execute, twice for two executes.
  MYSQL_STMT* stmt = mysql_stmt_init(client.handle());
  const std::string load = "LOAD DATA LOCAL INFILE '" + file.string() + "' INTO TABLE loaded FIELDS TERMINATED BY ','";
  ASSERT_EQ(mysql_stmt_prepare(stmt, load.data(), load.size()), 0) << mysql_stmt_error(stmt);
  for (int round = 0; round < 2; ++round) {
    ASSERT_EQ(mysql_stmt_execute(stmt), 0) << mysql_stmt_error(stmt);
    EXPECT_EQ(mysql_stmt_affected_rows(stmt), 20000u);
  }
  mysql_stmt_close(stmt);
  EXPECT_EQ(client.query("SELECT COUNT(*) FROM loaded").at(0), "60000");
}

// Compressed (CLIENT_COMPRESS on both of corral's sides): the file's packets travel in fewer
// compressed packets than there are packets, and the server numbers its answer after the compressed
// ones; corral follows it.
TEST_F(Commands, LoadDataLocalIsRelayedCompressed) {
  start_backend({.extra_args = {"--local-infile=1"}});
  backend().execute("CREATE TABLE app.loaded (id INT, name VARCHAR(20))");
  start_proxy({.mysql_toml = "local_infile = true\n"});
  const std::filesystem::path file = proxy().dir() / "rows.csv";
  {
    std::ofstream out(file);
    for (int i = 0; i < 200000; ++i) out << i << ",name" << i << "\n";
  }
  MysqlClient client = connect_local_infile(proxy_port(), true);
  client.execute("LOAD DATA LOCAL INFILE '" + file.string() + "' INTO TABLE loaded FIELDS TERMINATED BY ','");
  EXPECT_EQ(client.query("SELECT COUNT(*), MAX(id) FROM loaded").at(0, 0), "200000");
  EXPECT_EQ(client.query("SELECT name FROM loaded WHERE id = 199999").at(0), "name199999");
  EXPECT_EQ(client.query("SHOW STATUS LIKE 'Compression'").at(0, 1), "ON");
}

TEST_F(Commands, PacketOverMaxPacketSizeGets1153AndTheConnectionCloses) {
  start_proxy({.mysql_toml = "max_packet_size = 1048576\n"});
  MysqlClient client = connect();
  const std::string big = "SELECT '" + std::string(2 << 20, 'x') + "'";
  try {
    client.query(big);
    FAIL() << "a 2 MiB packet went through a 1 MiB limit";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1153u) << e.what();
  }
  EXPECT_FALSE(client.ping());
  MysqlClient fresh = connect();
  EXPECT_EQ(fresh.query("SELECT LENGTH('" + std::string(1000, 'y') + "')").at(0), "1000");
}

}  // namespace
}  // namespace corral::testing::mysql_it
