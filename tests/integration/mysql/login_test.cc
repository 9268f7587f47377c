// Login through corral: mysql_native_password and caching_sha2_password (fast and full path), auth
// switch, wrong credentials (ERR 1045 as MySQL words it), unknown database (ERR 1049), backend
// credentials per user, and an unreachable backend named in the error.
#include <gmock/gmock.h>

#include "mysql_path.h"

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

}  // namespace
}  // namespace corral::testing::mysql_it
