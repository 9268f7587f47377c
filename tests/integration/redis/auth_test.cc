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
    // The default user needs a password, so a client without AUTH gets NOAUTH (as it would direct).
    start_backend({.extra_args = {"--requirepass", "defaultpw"}});
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

// alice may SELECT: her connections in db 9 select as herself, even though the URL's identity (the
// default user, which needs a password here) could not.
TEST_F(BackendAuth, AnAclUserThatMaySelectWorksInEveryDb) {
  RedisClient client = connect();
  EXPECT_EQ(client.command({"AUTH", "alice", "pw"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SELECT", "9"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SET", "k", "nine"}), "+OK\r\n");
  EXPECT_EQ(client.command({"AUTH", "alice", "pw"}), "+OK\r\n");
  EXPECT_EQ(client.command({"GET", "k"}), "$4\r\nnine\r\n");
  EXPECT_EQ(client.command({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(client.command({"GET", "k"}), "$-1\r\n");
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

class BackendAuthPools : public RedisPathTest {
 protected:
  void SetUp() override {
    // The default user needs a password, so a client without AUTH gets NOAUTH (as it would direct).
    start_backend({.extra_args = {"--requirepass", "defaultpw"}});
    ASSERT_EQ(backend().command({"ACL", "SETUSER", "alice", "on", ">pw", "~*", "&*", "+@all"}), "+OK\r\n");
    admin_port_ = pick_free_port();
    start_proxy({.auth = "backend", .server_toml = "admin = \"127.0.0.1:" + std::to_string(admin_port_) + "\"\n"});
  }

  /// Sends `count` AUTH attempts with passwords never tried before, pipelined in batches.
  void guess_passwords(RedisClient& client, int count) {
    constexpr int kBatch = 100;
    for (int done = 0; done < count; done += kBatch) {
      std::string batch;
      for (int i = 0; i < kBatch; ++i) batch += encode_command({"AUTH", "alice", "guess-" + std::to_string(next_guess_++)});
      client.send(batch);
      for (int i = 0; i < kBatch; ++i) ASSERT_EQ(client.read_reply(), kWrongPass);
    }
  }

  uint16_t admin_port_ = 0;
  int next_guess_ = 0;
};

TEST_F(BackendAuthPools, ManyWrongPasswordsLeaveABoundedNumberOfPools) {
  // Each distinct password is a distinct pool key; a refused one must not stay behind.
  RedisClient guesser = connect();
  RedisClient user = connect();
  ASSERT_EQ(user.command({"AUTH", "alice", "pw"}), "+OK\r\n");
  ASSERT_EQ(user.command({"SET", "k", "v"}), "+OK\r\n");
  guess_passwords(guesser, 1000);
  const uint64_t rss_after_warm_up = rss_kib(proxy().pid());
  guess_passwords(guesser, 5000);
  // A leaked pool costs well over 1 KiB (object, map node, key strings): 5,000 would be > 5 MiB.
  // Not under AddressSanitizer: its quarantine keeps freed memory resident by design.
#if !defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(rss_kib(proxy().pid()), rss_after_warm_up + 2048);
#else
  static_cast<void>(rss_after_warm_up);
#endif
  // Pools alive: alice's (in use), the default one, and any not yet swept: far below 6,000.
  EXPECT_LE(admin_metric(admin_port_, "corral_redis_pools"), 2u * 70u);
  // The pool in use was never collected under the session: alice's connection still serves her.
  EXPECT_EQ(user.command({"GET", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(user.command({"ACL", "WHOAMI"}), "$5\r\nalice\r\n");
  EXPECT_EQ(guesser.command({"GET", "k"}), "-NOAUTH Authentication required.\r\n");
  EXPECT_EQ(guesser.command({"AUTH", "alice", "pw"}), "+OK\r\n");
  EXPECT_EQ(guesser.command({"GET", "k"}), "$1\r\nv\r\n");
}

TEST_F(BackendAuthPools, PoolsOfDepartedClientsAreFreed) {
  for (int i = 0; i < 200; ++i) {
    RedisClient client = connect();
    ASSERT_EQ(client.command({"AUTH", "alice", i % 2 == 0 ? "pw" : "wrong-" + std::to_string(i)}),
              i % 2 == 0 ? "+OK\r\n" : std::string(kWrongPass));
  }
  // Every client left. alice's pool keeps its idle connection (until pool.idle_timeout_ms), the
  // refused keys' pools are gone.
  EXPECT_LE(admin_metric(admin_port_, "corral_redis_pools"), 2u * 70u);
}

}  // namespace
}  // namespace corral::testing::redis_it
