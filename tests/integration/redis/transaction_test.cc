// MULTI/EXEC/DISCARD/WATCH through corral behave exactly as on a direct connection: every script
// runs once against redis-server directly and once through corral, and the transcripts must match.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "redis_path.h"

namespace corral::testing::redis_it {
namespace {

class Transactions : public RedisPathTest {
 protected:
  void SetUp() override { start_proxy(); }
  void flush() { ASSERT_EQ(backend().command({"FLUSHALL"}), "+OK\r\n"); }
};

/// Client A watches k and queues SET k 2; client B changes k before A's EXEC.
std::vector<std::string> watch_conflict(RedisClient& a, RedisClient& b) {
  std::vector<std::string> t;
  t.push_back(a.command({"SET", "k", "1"}));
  t.push_back(a.command({"WATCH", "k"}));
  t.push_back(a.command({"GET", "k"}));
  t.push_back(a.command({"MULTI"}));
  t.push_back(a.command({"SET", "k", "2"}));
  t.push_back(b.command({"SET", "k", "3"}));
  t.push_back(a.command({"EXEC"}));
  t.push_back(a.command({"GET", "k"}));
  // The aborted EXEC ended the watch: the next transaction goes through despite B's writes.
  t.push_back(b.command({"SET", "k", "4"}));
  t.push_back(a.command({"MULTI"}));
  t.push_back(a.command({"INCR", "k"}));
  t.push_back(a.command({"EXEC"}));
  return t;
}

TEST_F(Transactions, WatchConflictAbortsExactlyAsOnADirectConnection) {
  flush();
  RedisClient da = connect_direct();
  RedisClient db = connect_direct();
  const std::vector<std::string> direct = watch_conflict(da, db);
  flush();
  RedisClient pa = connect();
  RedisClient pb = connect();
  const std::vector<std::string> proxied = watch_conflict(pa, pb);
  EXPECT_EQ(proxied, direct);
  ASSERT_EQ(proxied.size(), 12u);
  EXPECT_EQ(proxied[6], "*-1\r\n");
  EXPECT_EQ(proxied[7], "$1\r\n3\r\n");
  EXPECT_EQ(proxied[11], "*1\r\n:5\r\n");
}

const std::vector<std::vector<std::vector<std::string>>> kScripts = {
    // Success.
    {{"MULTI"}, {"SET", "k", "1"}, {"INCR", "k"}, {"GET", "k"}, {"EXEC"}, {"GET", "k"}},
    // DISCARD drops the queued commands.
    {{"SET", "k", "keep"}, {"MULTI"}, {"SET", "k", "lost"}, {"DISCARD"}, {"GET", "k"}},
    // Errors outside and inside a transaction.
    {{"EXEC"}, {"DISCARD"}, {"MULTI"}, {"MULTI"}, {"SET", "k"}, {"EXEC"}, {"GET", "k"}},
    // A runtime error inside EXEC does not stop the other commands.
    {{"SET", "s", "text"}, {"MULTI"}, {"INCR", "s"}, {"SET", "k", "after"}, {"EXEC"}, {"GET", "k"}},
    // WATCH/UNWATCH, and a watch that is not violated.
    {{"WATCH", "k"}, {"UNWATCH"}, {"WATCH", "k"}, {"MULTI"}, {"PING"}, {"ECHO", "e"}, {"SET", "k", "w"}, {"EXEC"}},
    // WATCH inside MULTI is an error the server words.
    {{"MULTI"}, {"WATCH", "k"}, {"SET", "k", "1"}, {"EXEC"}},
};

// SHUTDOWN is refused by corral, but inside MULTI redis-server rejects it first (unit/multi).
TEST_F(Transactions, ShutdownInsideMultiGetsTheServersRejection) {
  RedisClient direct = connect_direct();
  RedisClient client = connect();
  for (const std::vector<std::string>& request :
       {std::vector<std::string>{"MULTI"}, {"SET", "k", "v"}, {"SHUTDOWN"}, {"EXEC"}, {"EXISTS", "k"}}) {
    EXPECT_EQ(client.command(request), direct.command(request)) << request[0];
  }
}

TEST_F(Transactions, ScriptsMatchADirectConnection) {
  for (const auto& script : kScripts) {
    flush();
    RedisClient direct = connect_direct();
    const std::vector<std::string> expected = run_script(direct, script);
    flush();
    RedisClient client = connect();
    EXPECT_EQ(run_script(client, script), expected) << ::testing::PrintToString(script);
    // The client's connection is in a normal state afterwards.
    EXPECT_EQ(client.command({"SET", "after", "1"}), "+OK\r\n");
  }
  // Spot checks of what the direct server says, so a match above means the right thing.
  flush();
  RedisClient client = connect();
  EXPECT_EQ(run_script(client, kScripts[0]),
            (std::vector<std::string>{"+OK\r\n", "+QUEUED\r\n", "+QUEUED\r\n", "+QUEUED\r\n",
                                      "*3\r\n+OK\r\n:2\r\n$1\r\n2\r\n", "$1\r\n2\r\n"}));
  EXPECT_EQ(run_script(client, kScripts[1]),
            (std::vector<std::string>{"+OK\r\n", "+OK\r\n", "+QUEUED\r\n", "+OK\r\n", "$4\r\nkeep\r\n"}));
}

TEST_F(Transactions, PipelinedTransactionsMatchADirectConnection) {
  std::string pipeline;
  for (const auto& command : std::vector<std::vector<std::string>>{{"SET", "k", "1"},
                                                                   {"MULTI"},
                                                                   {"INCR", "k"},
                                                                   {"GET", "k"},
                                                                   {"EXEC"},
                                                                   {"GET", "k"},
                                                                   {"MULTI"},
                                                                   {"SET", "k", "x"},
                                                                   {"DISCARD"},
                                                                   {"GET", "k"}}) {
    pipeline += encode_command(command);
  }
  auto run = [&](RedisClient& client) {
    client.send(pipeline);
    std::vector<std::string> replies;
    for (int i = 0; i < 10; ++i) replies.push_back(client.read_reply());
    return replies;
  };
  flush();
  RedisClient direct = connect_direct();
  const auto expected = run(direct);
  flush();
  RedisClient client = connect();
  EXPECT_EQ(run(client), expected);
  EXPECT_EQ(expected[4], "*2\r\n:2\r\n$1\r\n2\r\n");
}

}  // namespace
}  // namespace corral::testing::redis_it
