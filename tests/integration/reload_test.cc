// Hot reload (SIGHUP and the admin's POST /reload) of a running corral, with real redis-server and
// mariadbd backends: listeners added and removed, a backend and users changed, limits changed, an invalid
// file refused. Clients connected before a reload keep what they had; new clients get the new settings.
// The exception: a MySQL listener's backend, which connected clients follow (a failover by reload).
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <mysql.h>
#include <signal.h>

#include <chrono>
#include <string>

#include "admin_client.h"
#include "harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string redis_listener(const std::string& name, uint16_t port, const std::string& backend) {
  return "\n[[listeners]]\nname = \"" + name + "\"\nprotocol = \"redis\"\naddress = \"127.0.0.1:" + std::to_string(port) +
         "\"\nbackend = \"" + backend + "\"\n";
}

/// Sends SIGHUP and waits for the log line of that reload (the n-th "reloaded"/"reload refused").
void reload_and_wait(CorralProcess& corral, std::size_t nth) {
  corral.signal(SIGHUP);
  wait_until(
      [&] {
        const std::string log = corral.log();
        std::size_t count = 0;
        for (const char* what : {"reloaded ", "reload refused: "}) {
          for (std::size_t at = log.find(what); at != std::string::npos; at = log.find(what, at + 1)) ++count;
        }
        return count >= nth;
      },
      10s, "the reload's log line");
}

class Reload : public ::testing::Test {
 protected:
  RedisServer first_;
  RedisServer second_;
  uint16_t admin_port_ = pick_free_port();
  uint16_t port_ = pick_free_port();
};

TEST_F(Reload, AnInvalidFileIsRefusedWithItsLineAndTheRunningConfigurationStays) {
  CorralProcess corral({.listeners = {{.name = "main", .protocol = "redis", .backend = first_.url(), .port = port_}}});
  RedisClient client = RedisClient::connect("127.0.0.1", port_, 5s);
  EXPECT_EQ(client.command({"SET", "k", "v"}), "+OK\r\n");
  const uint16_t new_port = pick_free_port();
  corral.write_config(corral.config_text() + redis_listener("added", new_port, second_.url()) +
                      "\n[pool]\nmax_connections = -1\n");
  reload_and_wait(corral, 1);
  EXPECT_THAT(corral.log(), HasSubstr("reload refused: "));
  EXPECT_THAT(corral.log(), ::testing::ContainsRegex("corral.toml:[0-9]+: pool.max_connections must be > 0"));
  EXPECT_THROW(RedisClient::connect("127.0.0.1", new_port, 1s), HarnessError);  // nothing of it applied
  EXPECT_EQ(client.command({"GET", "k"}), "$1\r\nv\r\n");                        // the client never noticed
  RedisClient fresh = RedisClient::connect("127.0.0.1", port_, 5s);
  EXPECT_EQ(fresh.command({"GET", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST_F(Reload, ListenersAddedAndRemovedWhileTheirOldClientsGoOn) {
  const uint16_t extra_port = pick_free_port();
  CorralProcess corral({.listeners = {{.name = "main", .protocol = "redis", .backend = first_.url(), .port = port_},
                                      {.name = "extra", .protocol = "redis", .backend = first_.url(), .port = extra_port}}});
  RedisClient on_main = RedisClient::connect("127.0.0.1", port_, 5s);
  RedisClient on_extra = RedisClient::connect("127.0.0.1", extra_port, 5s);
  EXPECT_EQ(on_extra.command({"SET", "k", "1"}), "+OK\r\n");

  const uint16_t added_port = pick_free_port();
  corral.write_config(redis_listener("main", port_, first_.url()) + redis_listener("added", added_port, first_.url()));
  reload_and_wait(corral, 1);
  EXPECT_THAT(corral.log(), HasSubstr("listeners added: added; removed: extra; kept (new clients use the new settings): main"));

  RedisClient on_added = RedisClient::connect("127.0.0.1", added_port, 5s);
  EXPECT_EQ(on_added.command({"GET", "k"}), "$1\r\n1\r\n");
  // The removed listener accepts no one new, but its client keeps its session.
  EXPECT_THROW(RedisClient::connect("127.0.0.1", extra_port, 1s), HarnessError);
  EXPECT_EQ(on_extra.command({"INCR", "k"}), ":2\r\n");
  EXPECT_EQ(on_main.command({"GET", "k"}), "$1\r\n2\r\n");
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST_F(Reload, ABackendChangeReachesNewClientsAndNotTheConnectedOnes) {
  first_.command({"SET", "who", "first"});
  second_.command({"SET", "who", "second"});
  CorralProcess corral({.listeners = {{.name = "main", .protocol = "redis", .backend = first_.url(), .port = port_}}});
  RedisClient before = RedisClient::connect("127.0.0.1", port_, 5s);
  EXPECT_EQ(before.command({"GET", "who"}), "$5\r\nfirst\r\n");

  corral.write_config(redis_listener("main", port_, second_.url()));
  reload_and_wait(corral, 1);
  RedisClient after = RedisClient::connect("127.0.0.1", port_, 5s);
  EXPECT_EQ(after.command({"GET", "who"}), "$6\r\nsecond\r\n");
  EXPECT_EQ(before.command({"GET", "who"}), "$5\r\nfirst\r\n");
  // Once the last client of the old configuration leaves, its pools go too; the new one keeps working.
  before.close();
  wait_until([&] { return first_.command({"INFO", "clients"}).find("connected_clients:1\r\n") != std::string::npos; },
             10s, "the old configuration's backend connections to close");
  EXPECT_EQ(after.command({"GET", "who"}), "$6\r\nsecond\r\n");
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST_F(Reload, LimitsChangeForNewClients) {
  CorralProcess corral({.listeners = {{.name = "main", .protocol = "redis", .backend = first_.url(), .port = port_}}});
  RedisClient one = RedisClient::connect("127.0.0.1", port_, 5s);
  EXPECT_EQ(one.command({"PING"}), "+PONG\r\n");
  corral.write_config("[client]\nmax_connections = 1\n" + redis_listener("main", port_, first_.url()));
  reload_and_wait(corral, 1);
  RedisClient two = RedisClient::connect("127.0.0.1", port_, 5s);
  EXPECT_EQ(two.read_reply(), "-ERR max number of clients reached\r\n");
  EXPECT_EQ(one.command({"PING"}), "+PONG\r\n");
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST_F(Reload, MysqlUsersChangeForNewLogins) {
  MariaDbServer mariadb;
  mariadb.create_user("app", "secret");
  const uint16_t mysql_port = pick_free_port();
  const std::string users_before = "[[users]]\nname = \"alice\"\npassword = \"a1\"\n";
  const std::string listener = "\n[[listeners]]\nname = \"db\"\nprotocol = \"mysql\"\naddress = \"127.0.0.1:" +
                               std::to_string(mysql_port) + "\"\nbackend = \"" + mariadb.url("app", "secret") +
                               "\"\nauth = \"users\"\n";
  CorralProcess corral({.listeners = {{.name = "db", .protocol = "mysql", .backend = mariadb.url("app", "secret"),
                                       .auth = "users", .port = mysql_port}},
                        .extra_toml = users_before});
  MysqlClient alice = MysqlClient::connect({.port = mysql_port, .user = "alice", .password = "a1"});
  EXPECT_EQ(alice.query("SELECT 1").at(0), "1");

  corral.write_config("[[users]]\nname = \"bob\"\npassword = \"b2\"\n" + listener);
  reload_and_wait(corral, 1);
  MysqlClient bob = MysqlClient::connect({.port = mysql_port, .user = "bob", .password = "b2"});
  EXPECT_EQ(bob.query("SELECT 2").at(0), "2");
  try {
    MysqlClient::connect({.port = mysql_port, .user = "alice", .password = "a1"});
    ADD_FAILURE() << "alice was removed from [[users]]";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1045u);
  }
  EXPECT_EQ(alice.query("SELECT 3").at(0), "3");  // her session started before: it goes on
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

// A failover by reload: the operator points a MySQL listener at a new primary. Clients already
// connected follow at their next statement that holds no backend connection (one in a transaction
// finishes it where it began), with their schema; the old primary may then go away.
TEST_F(Reload, AMysqlBackendChangeReachesConnectedClientsAtTheirNextStatement) {
  MariaDbServer old_primary;
  MariaDbServer new_primary;
  for (MariaDbServer* server : {&old_primary, &new_primary}) {
    server->create_user("app", "secret");
    server->create_database("shop");
    server->execute("GRANT ALL ON *.* TO 'app'@'%'");
  }
  const uint16_t mysql_port = pick_free_port();
  const std::string users = "[[users]]\nname = \"alice\"\npassword = \"a1\"\n";
  const auto listener = [&](const MariaDbServer& backend) {
    return "\n[[listeners]]\nname = \"db\"\nprotocol = \"mysql\"\naddress = \"127.0.0.1:" +
           std::to_string(mysql_port) + "\"\nbackend = \"" + backend.url("app", "secret") + "\"\nauth = \"users\"\n";
  };
  CorralProcess corral({.listeners = {{.name = "db", .protocol = "mysql", .backend = old_primary.url("app", "secret"),
                                       .auth = "users", .port = mysql_port}},
                        .extra_toml = users});
  const std::string old_port = std::to_string(old_primary.port());
  const std::string new_port = std::to_string(new_primary.port());
  MysqlClient idle = MysqlClient::connect({.port = mysql_port, .user = "alice", .password = "a1"});
  idle.execute("USE shop");
  ASSERT_EQ(idle.query("SELECT @@port").at(0), old_port);
  MysqlClient in_transaction = MysqlClient::connect({.port = mysql_port, .user = "alice", .password = "a1"});
  in_transaction.execute("START TRANSACTION");
  ASSERT_EQ(in_transaction.query("SELECT @@port").at(0), old_port);

  corral.write_config(users + listener(new_primary));
  reload_and_wait(corral, 1);
  EXPECT_EQ(in_transaction.query("SELECT @@port").at(0), old_port) << "a transaction ends where it began";
  in_transaction.execute("COMMIT");
  EXPECT_EQ(in_transaction.query("SELECT @@port").at(0), new_port);
  // A login keys the session to its listener's first backend again; its next statement follows anew.
  ASSERT_EQ(mysql_change_user(in_transaction.handle(), "alice", "a1", "shop"), 0);
  EXPECT_EQ(in_transaction.query("SELECT @@port").at(0), new_port);
  EXPECT_EQ(old_primary.stop(), 0);
  const QueryResult moved = idle.query("SELECT @@port, DATABASE()");
  EXPECT_EQ(moved.at(0, 0), new_port);
  EXPECT_EQ(moved.at(0, 1), "shop");
  MysqlClient fresh = MysqlClient::connect({.port = mysql_port, .user = "alice", .password = "a1"});
  EXPECT_EQ(fresh.query("SELECT @@port").at(0), new_port);
  EXPECT_THAT(corral.log(), HasSubstr("listener db: backend now"));
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST_F(Reload, AdminPostReloadAnswersWhatHappened) {
  CorralProcess corral({.listeners = {{.name = "main", .protocol = "redis", .backend = first_.url(), .port = port_}},
                        .extra_toml = "[server]\nadmin = \"127.0.0.1:" + std::to_string(admin_port_) + "\"\n"});
  const std::string text = corral.config_text();
  corral.write_config(text + "\n[pool]\nmax_connections = 0\n");
  const std::string refused = admin_request(admin_port_, "POST", "/reload");
  EXPECT_THAT(refused, HasSubstr("422 Unprocessable Entity"));
  EXPECT_THAT(refused, HasSubstr("pool.max_connections must be > 0"));
  corral.write_config(text);
  const std::string done = admin_request(admin_port_, "POST", "/reload");
  EXPECT_THAT(done, HasSubstr("200 OK"));
  EXPECT_THAT(done, HasSubstr("ok: listeners added: none; removed: none; kept"));
  EXPECT_THAT(admin_get(admin_port_, "/reload"), HasSubstr("405"));
  EXPECT_THAT(admin_get(admin_port_, "/metrics"), HasSubstr("corral_reloads_total{result=\"failed\"} 1"));
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

}  // namespace
}  // namespace corral::testing
