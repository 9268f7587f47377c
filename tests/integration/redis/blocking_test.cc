// Blocking commands: BLPOP wakes on a push, times out on its own timeout, and a client that leaves
// while blocked does not leave its dedicated backend connection blocked behind it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "redis_path.h"

namespace corral::testing::redis_it {
namespace {

/// Counts the backend's clients blocked in a command; the fixtures below differ in corral's config.
class BlockedClients : public RedisPathTest {
 protected:
  /// Backend clients whose last command is `command`; with `blocked_only`, those blocked in it
  /// (flag b) rather than done with it.
  std::size_t last_command_is(std::string_view command, bool blocked_only) {
    std::size_t n = 0;
    for (const auto& c : client_list(backend())) {
      if (c.at("cmd") != command) continue;
      if (!blocked_only || c.at("flags").find('b') != std::string::npos) ++n;
    }
    return n;
  }
  /// Waits up to `timeout` until `want` backend clients match; returns the last count.
  std::size_t wait_count(std::string_view command, std::size_t want, std::chrono::milliseconds timeout,
                         bool blocked_only = true) {
    std::size_t n = 0;
    poll_until([&] { return (n = last_command_is(command, blocked_only)) == want; }, timeout, 20ms);
    return n;
  }
};

class Blocking : public BlockedClients {
 protected:
  void SetUp() override { start_proxy(); }
};

TEST_F(Blocking, BlpopWakesWhenAnotherClientPushes) {
  RedisClient waiter = connect();
  RedisClient pusher = connect();
  waiter.send(encode_command({"BLPOP", "queue", "5"}));
  ASSERT_EQ(wait_count("blpop", 1, 2s), 1u);
  const auto pushed = std::chrono::steady_clock::now();
  EXPECT_EQ(pusher.command({"LPUSH", "queue", "job"}), ":1\r\n");
  EXPECT_EQ(waiter.read_reply(), "*2\r\n$5\r\nqueue\r\n$3\r\njob\r\n");
  EXPECT_LT(elapsed_ms(pushed), 1000.0);
  // The waiter goes on as usual, and the pusher was never held up.
  EXPECT_EQ(waiter.command({"LLEN", "queue"}), ":0\r\n");
}

TEST_F(Blocking, XreadgroupWithBlockWakesWhenAnotherClientAdds) {
  RedisClient waiter = connect();
  RedisClient producer = connect();
  ASSERT_EQ(producer.command({"XGROUP", "CREATE", "stream", "group", "$", "MKSTREAM"}), "+OK\r\n");
  waiter.send(encode_command({"XREADGROUP", "GROUP", "group", "c1", "COUNT", "1", "BLOCK", "0", "STREAMS", "stream", ">"}));
  ASSERT_EQ(wait_count("xreadgroup", 1, 2s), 1u) << "XREADGROUP BLOCK did not block on a dedicated connection";
  // The shared connections are not stuck behind it.
  EXPECT_EQ(producer.command({"XADD", "stream", "1-1", "field", "value"}), "$3\r\n1-1\r\n");
  EXPECT_EQ(waiter.read_reply(),
            "*1\r\n*2\r\n$6\r\nstream\r\n*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$5\r\nfield\r\n$5\r\nvalue\r\n");
  // Without BLOCK it is an ordinary shared command.
  EXPECT_EQ(waiter.command({"XREADGROUP", "GROUP", "group", "c1", "STREAMS", "stream", ">"}), "*-1\r\n");
}

TEST_F(Blocking, XreadAndWaitEndAfterTheirOwnMillisecondTimeouts) {
  RedisClient client = connect();
  EXPECT_EQ(client.command({"XREAD", "BLOCK", "300", "STREAMS", "nothing", "$"}), "*-1\r\n");
  // No replica will ever acknowledge: WAIT answers 0 once its 300 ms are over, as on redis-server.
  EXPECT_EQ(client.command({"WAIT", "1", "300"}), ":0\r\n");
  EXPECT_EQ(client.command({"SET", "after", "x"}), "+OK\r\n");
}

TEST_F(Blocking, BlpopOnAnEmptyListTimesOutAfterItsOwnTimeout) {
  RedisClient waiter = connect();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(waiter.command({"BLPOP", "empty", "1"}), "*-1\r\n");
  const double took = elapsed_ms(start);
  EXPECT_GE(took, 900.0);
  EXPECT_LT(took, 2500.0);
  // Fractional seconds as well.
  const auto again = std::chrono::steady_clock::now();
  EXPECT_EQ(waiter.command({"BLPOP", "empty", "0.2"}), "*-1\r\n");
  EXPECT_GE(elapsed_ms(again), 150.0);
  EXPECT_EQ(waiter.command({"SET", "k", "v"}), "+OK\r\n");
}

class BlockingWithShortOperationTimeout : public BlockedClients {
 protected:
  void SetUp() override { start_proxy({.pool_toml = "operation_timeout_ms = 300\n"}); }
};

TEST_F(BlockingWithShortOperationTimeout, BlockingCommandsKeepTheirOwnTimeout) {
  // The operation timeout bounds ordinary requests; a blocking command may wait longer by design.
  RedisClient waiter = connect();
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(waiter.command({"BLPOP", "empty", "1.5"}), "*-1\r\n");
  EXPECT_GE(elapsed_ms(start), 1400.0);
  // Inside a WATCH the dedicated connection stays, and so does the rule.
  EXPECT_EQ(waiter.command({"WATCH", "w"}), "+OK\r\n");
  EXPECT_EQ(waiter.command({"BLPOP", "empty", "1"}), "*-1\r\n");
  EXPECT_EQ(waiter.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(waiter.command({"SET", "w", "1"}), "+QUEUED\r\n");
  EXPECT_EQ(waiter.command({"EXEC"}), "*1\r\n+OK\r\n");
  // A push still wakes a waiter whose wait outlasts the operation timeout.
  RedisClient pusher = connect();
  waiter.send(encode_command({"BLPOP", "later", "5"}));
  ASSERT_EQ(wait_count("blpop", 1, 2s), 1u);
  // Not a wait for something to happen but for the 300 ms operation timeout to pass (three times over)
  // with the BLPOP blocked; that it is still blocked afterwards shows the timeout did not cut it short.
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(last_command_is("blpop", /*blocked_only=*/true), 1u) << "the operation timeout ended the BLPOP";
  EXPECT_EQ(pusher.command({"RPUSH", "later", "x"}), ":1\r\n");
  EXPECT_EQ(waiter.read_reply(), "*2\r\n$5\r\nlater\r\n$1\r\nx\r\n");
}

TEST_F(Blocking, ClientLeavingWhileBlockedFreesTheBackendConnection) {
  {
    RedisClient waiter = connect();
    waiter.send(encode_command({"BLPOP", "never", "0"}));  // blocks forever on the backend
    ASSERT_EQ(wait_count("blpop", 1, 2s), 1u);
  }  // the client disconnects while blocked
  const auto left = std::chrono::steady_clock::now();
  EXPECT_EQ(wait_count("blpop", 0, 1s, /*blocked_only=*/false), 0u) << "backend connection still blocked after the client left";
  EXPECT_LT(elapsed_ms(left), 1000.0);
  // A later push is not swallowed by an orphaned BLPOP.
  RedisClient client = connect();
  EXPECT_EQ(client.command({"LPUSH", "never", "x"}), ":1\r\n");
  EXPECT_EQ(client.command({"LLEN", "never"}), ":1\r\n");
}

TEST_F(Blocking, ManyBlockedClientsWakeInPushOrder) {
  constexpr int kWaiters = 20;
  std::vector<RedisClient> waiters;
  for (int i = 0; i < kWaiters; ++i) {
    waiters.push_back(connect());
    waiters.back().send(encode_command({"BRPOP", "fanout", "5"}));
    // One at a time, so the server queues them in this order.
    ASSERT_EQ(wait_count("brpop", static_cast<std::size_t>(i + 1), 2s), static_cast<std::size_t>(i + 1));
  }
  RedisClient pusher = connect();
  for (int i = 0; i < kWaiters; ++i) {
    EXPECT_EQ(pusher.command({"LPUSH", "fanout", "item" + std::to_string(i)}), ":1\r\n");
    const std::string item = "item" + std::to_string(i);
    EXPECT_EQ(waiters[static_cast<std::size_t>(i)].read_reply(),
              "*2\r\n$6\r\nfanout\r\n$" + std::to_string(item.size()) + "\r\n" + item + "\r\n");
  }
}

}  // namespace
}  // namespace corral::testing::redis_it
