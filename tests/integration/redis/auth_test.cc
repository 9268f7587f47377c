// auth = "backend": clients log in with the backend's own ACL users, and run their commands as them.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "redis_path.h"

namespace corral::testing::redis_it {
namespace {

using ::testing::HasSubstr;

constexpr std::string_view kWrongPass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";

class BackendAuth : public RedisPathTest {
 protected:
  void SetUp() override {
    start_backend();
    ASSERT_EQ(backend().command({"ACL", "SETUSER", "alice", "on", ">pw", "~*", "&*", "+@all"}), "+OK\r\n");
    start_proxy({.auth = "backend"});
  }
};

TEST_F(BackendAuth, AuthAsAnAclUserRunsCommandsAsThatUser) {
  RedisClient client = connect();
  EXPECT_EQ(client.command({"GET", "k"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(client.command({"AUTH", "alice", "pw"}), "+OK\r\n");
  EXPECT_EQ(client.command({"ACL", "WHOAMI"}), "$5\r\nalice\r\n");
  EXPECT_EQ(client.command({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(client.command({"GET", "k"}), "$1\r\nv\r\n");
  // The backend connection that ran them is alice's.
  bool alice_connection = false;
  for (const auto& c : client_list(backend())) {
    if (c.at("name") == "corral" && c.at("user") == "alice") alice_connection = true;
  }
  EXPECT_TRUE(alice_connection);
}

TEST_F(BackendAuth, HelloThreeWithAuthLogsInAndSwitchesToResp3) {
  RedisClient client = connect();
  const std::string hello = client.command({"HELLO", "3", "AUTH", "alice", "pw"});
  EXPECT_THAT(hello, ::testing::StartsWith("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n"));
  EXPECT_THAT(hello, HasSubstr("$5\r\nproto\r\n:3\r\n"));
  EXPECT_THAT(hello, HasSubstr("$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n"
                               "$7\r\nmodules\r\n*0\r\n"));
  EXPECT_EQ(client.command({"ACL", "WHOAMI"}), "$5\r\nalice\r\n");
  // RESP3 from here on: a map for HGETALL, as alice.
  EXPECT_EQ(client.command({"HSET", "h", "f", "v"}), ":1\r\n");
  EXPECT_EQ(client.command({"HGETALL", "h"}), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
}

TEST_F(BackendAuth, WrongPasswordGetsTheServersOwnError) {
  RedisClient direct = connect_direct();
  ASSERT_EQ(direct.command({"AUTH", "alice", "nope"}), kWrongPass);  // what redis-server itself says

  RedisClient client = connect();
  EXPECT_EQ(client.command({"AUTH", "alice", "nope"}), kWrongPass);
  EXPECT_EQ(client.command({"GET", "k"}), "-NOAUTH Authentication required.\r\n");
  // Again right away (the pool for these credentials may be backing off now): the same answer.
  EXPECT_EQ(client.command({"AUTH", "alice", "nope"}), kWrongPass);
  EXPECT_EQ(client.command({"AUTH", "nobody", "pw"}), kWrongPass);
  EXPECT_EQ(client.command({"HELLO", "3", "AUTH", "alice", "nope"}), kWrongPass);
  // The right password still works after the wrong ones.
  EXPECT_EQ(client.command({"AUTH", "alice", "pw"}), "+OK\r\n");
  EXPECT_EQ(client.command({"ACL", "WHOAMI"}), "$5\r\nalice\r\n");
  EXPECT_THAT(proxy().log(), ::testing::Not(HasSubstr("nope")));
}

}  // namespace
}  // namespace corral::testing::redis_it
