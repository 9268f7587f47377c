// What an operator reads in corral's log and metrics: refused logins (user, address, reason, never the
// password), pool timeouts, and a backend lost and recovered: each once, with real servers and clients.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "admin_client.h"
#include "harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

std::size_t count_of(const std::string& text, std::string_view what) {
  std::size_t count = 0;
  for (std::size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++count;
  return count;
}

TEST(Observability, RedisRefusedLoginsAreLoggedAndCountedWithoutThePassword) {
  RedisServer redis;
  const uint16_t admin_port = pick_free_port();
  CorralProcess corral({.listeners = {{.name = "cache", .protocol = "redis", .backend = redis.url(), .auth = "users"}},
                        .extra_toml = "[server]\nadmin = \"127.0.0.1:" + std::to_string(admin_port) +
                                      "\"\n[[users]]\nname = \"app\"\npassword = \"right-secret\"\n"});
  RedisClient client = RedisClient::connect("127.0.0.1", corral.port("cache"), 5s);
  EXPECT_THAT(client.command({"AUTH", "app", "wrong-secret"}), HasSubstr("WRONGPASS"));
  EXPECT_THAT(client.command({"AUTH", "nobody", "x-secret"}), HasSubstr("WRONGPASS"));
  EXPECT_EQ(client.command({"AUTH", "app", "right-secret"}), "+OK\r\n");
  wait_until([&] { return count_of(corral.log(), "login failed") == 2; }, 5s, "two login-failure log lines");
  const std::string log = corral.log();
  EXPECT_THAT(log, ::testing::ContainsRegex("listener cache: login failed for user 'app' from 127\\.0\\.0\\.1:[0-9]+: "
                                            "wrong password"));
  EXPECT_THAT(log, HasSubstr("login failed for user 'nobody'"));
  EXPECT_THAT(log, Not(HasSubstr("secret")));
  EXPECT_EQ(admin_metric(admin_port, "corral_listener_logins_failed_total{listener=\"cache\"}"), 2u);
  EXPECT_EQ(admin_metric(admin_port, "corral_listener_logins_ok_total{listener=\"cache\"}"), 1u);
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST(Observability, MysqlRefusedLoginIsLoggedWithoutThePassword) {
  MariaDbServer mariadb;
  mariadb.create_user("svc", "svc-pass");
  const uint16_t admin_port = pick_free_port();
  CorralProcess corral({.listeners = {{.name = "db", .protocol = "mysql", .backend = mariadb.url("svc", "svc-pass"),
                                       .auth = "users"}},
                        .extra_toml = "[server]\nadmin = \"127.0.0.1:" + std::to_string(admin_port) +
                                      "\"\n[[users]]\nname = \"app\"\npassword = \"right-secret\"\n"});
  MysqlClient::connect({.port = corral.port("db"), .user = "app", .password = "right-secret"}).close();
  try {
    MysqlClient::connect({.port = corral.port("db"), .user = "app", .password = "wrong-secret"});
    ADD_FAILURE() << "a wrong password logged in";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1045u);
  }
  wait_until([&] { return corral.log().find("login failed") != std::string::npos; }, 5s, "the login-failure line");
  EXPECT_THAT(corral.log(), HasSubstr("listener db: login failed for user 'app' from 127.0.0.1: wrong password"));
  EXPECT_THAT(corral.log(), Not(HasSubstr("secret")));
  EXPECT_EQ(admin_metric(admin_port, "corral_listener_logins_ok_total{listener=\"db\"}"), 1u);
  EXPECT_EQ(admin_metric(admin_port, "corral_listener_logins_failed_total{listener=\"db\"}"), 1u);
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST(Observability, ABackendLostAndRecoveredIsLoggedOnceEach) {
  RedisServer redis;
  CorralProcess corral({.listeners = {{.name = "cache", .protocol = "redis", .backend = redis.url()}},
                        .extra_toml = "[server]\nworkers = 1\n[pool]\nreconnect_backoff_min_ms = 10\n"
                                      "reconnect_backoff_max_ms = 20\n"});
  RedisClient client = RedisClient::connect("127.0.0.1", corral.port("cache"), 5s);
  EXPECT_EQ(client.command({"SET", "k", "v"}), "+OK\r\n");
  redis.stop();
  // Several requests while it is down, each retrying the open after the short backoff: one "lost" line.
  for (int i = 0; i < 5; ++i) {
    EXPECT_THAT(client.command({"GET", "k"}), ::testing::StartsWith("-"));
    std::this_thread::sleep_for(30ms);
  }
  redis.restart();
  wait_until([&] { return client.command({"SET", "k", "v2"}) == "+OK\r\n"; }, 10s, "corral to reach the backend again");
  const std::string log = corral.log();
  EXPECT_EQ(count_of(log, ": lost: "), 1u) << log;
  EXPECT_THAT(log, ::testing::ContainsRegex("redis backend [^ ]+: reachable again after [0-9]+ failed opens"));
  EXPECT_EQ(count_of(log, "reachable again"), 1u) << log;
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST(Observability, MysqlPoolTimeoutsAreLoggedAndThrottled) {
  MariaDbServer mariadb;
  mariadb.create_user("svc", "svc-pass");
  CorralProcess corral({.listeners = {{.name = "db", .protocol = "mysql", .backend = mariadb.url("svc", "svc-pass"),
                                       .auth = "users"}},
                        .extra_toml = "[server]\nworkers = 1\n[pool]\nmax_connections = 1\nqueue_timeout_ms = 100\n"
                                      "[[users]]\nname = \"app\"\npassword = \"pw\"\n"});
  MysqlClient holder = MysqlClient::connect({.port = corral.port("db"), .user = "app", .password = "pw"});
  holder.execute("BEGIN");  // keeps the one backend connection
  MysqlClient waiter = MysqlClient::connect({.port = corral.port("db"), .user = "app", .password = "pw"});
  for (int i = 0; i < 3; ++i) {
    try {
      waiter.query("SELECT 1");
      ADD_FAILURE() << "the pool had no free connection";
    } catch (const MysqlException& e) {
      EXPECT_EQ(e.code(), 1040u);
    }
  }
  const std::string log = corral.log();
  // Three timeouts within a second: one line now, the next says how many were left out.
  EXPECT_EQ(count_of(log, "pool timeout: no connection to backend"), 1u) << log;
  holder.execute("ROLLBACK");
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST(Observability, RequestsAndTheirLatencyAreCountedPerListener) {
  RedisServer redis;
  const uint16_t admin_port = pick_free_port();
  CorralProcess corral({.listeners = {{.name = "cache", .protocol = "redis", .backend = redis.url()}},
                        .extra_toml = "[server]\nadmin = \"127.0.0.1:" + std::to_string(admin_port) + "\"\n"});
  RedisClient client = RedisClient::connect("127.0.0.1", corral.port("cache"), 5s);
  std::string pipeline;
  for (int i = 0; i < 10; ++i) pipeline += encode_command({"SET", "k" + std::to_string(i), "v"});
  client.send(pipeline);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(client.read_reply(), "+OK\r\n");
  EXPECT_EQ(client.command({"GET", "k1"}), "$1\r\nv\r\n");
  // A batch is counted once its replies are written, so a client that has them may ask a moment early.
  std::string metrics;
  wait_until(
      [&] {
        metrics = admin_get(admin_port, "/metrics");
        return metrics.find("corral_requests_total{listener=\"cache\",class=\"command\"} 11\n") != std::string::npos;
      },
      5s, "11 requests counted");
  EXPECT_THAT(metrics, HasSubstr("corral_request_duration_seconds_count{listener=\"cache\"} 11\n"));
  EXPECT_THAT(metrics, HasSubstr("corral_request_duration_seconds_bucket{listener=\"cache\",le=\"+Inf\"} 11\n"));
  EXPECT_THAT(metrics, HasSubstr("corral_request_duration_seconds_bucket{listener=\"cache\",le=\"0.0001\"} "));
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST(Observability, SlowRequestsAreLoggedWithoutArgumentsOrPasswords) {
  RedisServer redis;
  MariaDbServer mariadb;
  mariadb.create_user("svc", "svc-pass");
  CorralProcess corral(
      {.listeners = {{.name = "cache", .protocol = "redis", .backend = redis.url(), .auth = "none"},
                     {.name = "db", .protocol = "mysql", .backend = mariadb.url("svc", "svc-pass"), .auth = "users"}},
       .extra_toml = "[server]\nslow_request_ms = 150\n[[users]]\nname = \"app\"\npassword = \"pw\"\n"});
  RedisClient redis_client = RedisClient::connect("127.0.0.1", corral.port("cache"), 5s);
  EXPECT_EQ(redis_client.command({"BLPOP", "secret-list-name", "0.3"}), "*-1\r\n");
  EXPECT_EQ(redis_client.command({"GET", "fast"}), "$-1\r\n");
  MysqlClient mysql = MysqlClient::connect({.port = corral.port("db"), .user = "app", .password = "pw"});
  EXPECT_EQ(mysql.query("SELECT SLEEP(0.3)").at(0), "0");
  EXPECT_EQ(mysql.query("SELECT SLEEP(0.3) AS password_hint").at(0), "0");
  EXPECT_EQ(mysql.query("SELECT 1").at(0), "1");
  wait_until([&] { return count_of(corral.log(), "slow request") == 3; }, 5s, "three slow-request lines");
  const std::string log = corral.log();
  EXPECT_THAT(log, ::testing::ContainsRegex("listener cache: slow request: client [0-9]+ \\(user '[^']*'\\) took "
                                            "[0-9]+ ms for 1 command\\(s\\), the last blpop"));
  EXPECT_THAT(log, Not(HasSubstr("secret-list-name")));
  EXPECT_THAT(log, ::testing::ContainsRegex("listener db: slow request: client [0-9]+ \\(user 'app'\\) took [0-9]+ ms: "
                                            "SELECT SLEEP\\(0.3\\)\n"));
  EXPECT_THAT(log, HasSubstr("<a statement that may carry a password, not logged>"));
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

}  // namespace
}  // namespace corral::testing
