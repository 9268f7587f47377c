// A script that runs long on a shared backend connection: other clients see what they would see
// direct (BUSY, also when corral opens a connection whose SELECT gets BUSY), SCRIPT KILL and
// FUNCTION KILL reach the server on a connection that is not stuck behind the script, the
// operation timeout does not cut the script's own connection, and everything recovers after it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "redis_path.h"

namespace corral::testing::redis_it {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class BusyScript : public RedisPathTest {
 protected:
  void SetUp() override {
    start_backend();
    // The server answers BUSY 100 ms into a script (default: 5 s). The operation timeout is far
    // below how long the script runs here.
    ASSERT_EQ(backend().command({"CONFIG", "SET", "busy-reply-threshold", "100"}), "+OK\r\n");
    start_proxy({.workers = 1, .pool_toml = "operation_timeout_ms = 800\n"});
  }

  /// A corral client in `db`.
  RedisClient client_in(int db) {
    RedisClient client = connect();
    EXPECT_EQ(client.command({"SELECT", std::to_string(db)}), "+OK\r\n");
    return client;
  }
};

TEST_F(BusyScript, OthersGetBusyScriptKillReachesTheServerAndAllRecovers) {
  RedisClient runner = client_in(9);
  RedisClient other = client_in(9);       // same pool as the runner: its SELECT 9 would get BUSY
  RedisClient elsewhere = client_in(0);   // another pool of the same server
  ASSERT_EQ(other.command({"SET", "k", "v"}), "+OK\r\n");  // the pool has its shared connection
  runner.send(encode_command({"EVAL", "while true do end", "0"}));
  std::this_thread::sleep_for(300ms);
  EXPECT_THAT(other.command({"GET", "k"}), StartsWith("-BUSY "));
  EXPECT_THAT(elsewhere.command({"GET", "k"}), StartsWith("-BUSY "));
  EXPECT_THAT(other.command({"PING"}), StartsWith("-BUSY "));
  // Longer than pool.operation_timeout_ms: the script's connection is not cut, nothing backs off.
  std::this_thread::sleep_for(1200ms);
  EXPECT_THAT(other.command({"GET", "k"}), StartsWith("-BUSY "));
  EXPECT_EQ(other.command({"SCRIPT", "KILL"}), "+OK\r\n");
  const std::string killed = runner.read_reply();
  EXPECT_THAT(killed, StartsWith("-ERR "));
  EXPECT_THAT(killed, HasSubstr("Script killed by user"));
  EXPECT_EQ(runner.command({"GET", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(other.command({"GET", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(elsewhere.command({"PING"}), "+PONG\r\n");
  EXPECT_EQ(other.command({"SCRIPT", "KILL"}), backend().command({"SCRIPT", "KILL"}));  // NOTBUSY
}

TEST_F(BusyScript, FunctionKillAndStatsReachABusyServer) {
  RedisClient runner = client_in(9);
  RedisClient other = client_in(9);
  ASSERT_EQ(other.command({"FUNCTION", "LOAD", "REPLACE",
                           "#!lua name=spin\nredis.register_function('spin', function() while true do end end)"}),
            "$4\r\nspin\r\n");
  runner.send(encode_command({"FCALL", "spin", "0"}));
  std::this_thread::sleep_for(300ms);
  EXPECT_THAT(other.command({"PING"}), StartsWith("-BUSY "));
  // The running script is named, with the command as the runner sent it.
  EXPECT_THAT(other.command({"FUNCTION", "STATS"}), HasSubstr("$5\r\nFCALL\r\n$4\r\nspin\r\n"));
  EXPECT_EQ(other.command({"FUNCTION", "KILL"}), "+OK\r\n");
  EXPECT_THAT(runner.read_reply(), StartsWith("-ERR "));
  EXPECT_EQ(other.command({"PING"}), "+PONG\r\n");
  EXPECT_EQ(runner.command({"PING"}), "+PONG\r\n");
}

TEST_F(BusyScript, AScriptLongerThanTheOperationTimeoutGetsItsReply) {
  RedisClient runner = client_in(0);
  // About 1.5 s of work, twice the operation timeout: the reply comes, as it would direct.
  const std::string reply = runner.command(
      {"EVAL", "local t = redis.call('TIME') local s = t[1] * 1000000 + t[2] "
               "while true do local n = redis.call('TIME') if n[1] * 1000000 + n[2] - s > 1500000 then return 7 end end",
       "0"});
  EXPECT_EQ(reply, ":7\r\n");
}

}  // namespace
}  // namespace corral::testing::redis_it
