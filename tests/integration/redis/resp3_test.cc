// HELLO 3 gives a client RESP3 (maps, doubles, nulls, push messages) while RESP2 clients of the same
// corral keep getting RESP2 for the same commands, byte for byte what redis-server sends each.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "redis_path.h"

namespace corral::testing::redis_it {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class Resp3 : public RedisPathTest {};

const std::vector<std::vector<std::string>> kReads = {
    {"ZSCORE", "z", "m"},                    // RESP3 double ",1.5"
    {"ZMSCORE", "z", "m", "absent"},         // array of double and null
    {"ZRANGE", "z", "0", "-1", "WITHSCORES"},  // RESP3 pairs with doubles
    {"HGETALL", "h"},                        // RESP3 map
    {"SMEMBERS", "s"},                       // RESP3 set
    {"GET", "absent"},                       // RESP3 null "_"
    {"EXISTS", "z"},
    {"LRANGE", "absent", "0", "-1"},
    {"CONFIG", "GET", "maxmemory"},          // RESP3 map
    {"OBJECT", "ENCODING", "absent"},        // null
};

TEST_F(Resp3, HelloThreeSwitchesOnlyThatClient) {
  start_proxy();
  ASSERT_EQ(backend().command({"ZADD", "z", "1.5", "m"}), ":1\r\n");
  ASSERT_EQ(backend().command({"HSET", "h", "f", "v"}), ":1\r\n");
  ASSERT_EQ(backend().command({"SADD", "s", "only"}), ":1\r\n");

  RedisClient resp3 = connect();
  RedisClient resp2 = connect();
  const std::string id = resp3.command({"CLIENT", "ID"});
  const std::string hello = resp3.command({"HELLO", "3"});
  EXPECT_THAT(hello, StartsWith("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"));
  EXPECT_THAT(hello, HasSubstr("$5\r\nproto\r\n:3\r\n$2\r\nid\r\n" + id));
  // HELLO without a version reports the current one without changing it.
  EXPECT_THAT(resp2.command({"HELLO"}), ::testing::AllOf(StartsWith("*14\r\n"), HasSubstr("$5\r\nproto\r\n:2\r\n")));

  RedisClient direct3 = connect_direct();
  ASSERT_THAT(direct3.command({"HELLO", "3"}), StartsWith("%7\r\n"));
  RedisClient direct2 = connect_direct();

  // Interleaved on one corral: each client gets its own dialect for every command.
  for (const auto& command : kReads) {
    const std::string via3 = resp3.command(command);
    const std::string via2 = resp2.command(command);
    EXPECT_EQ(via3, direct3.command(command)) << ::testing::PrintToString(command);
    EXPECT_EQ(via2, direct2.command(command)) << ::testing::PrintToString(command);
  }
  EXPECT_EQ(resp3.command({"ZSCORE", "z", "m"}), ",1.5\r\n");
  EXPECT_EQ(resp2.command({"ZSCORE", "z", "m"}), "$3\r\n1.5\r\n");
  EXPECT_EQ(resp3.command({"HGETALL", "h"}), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
  EXPECT_EQ(resp2.command({"HGETALL", "h"}), "*2\r\n$1\r\nf\r\n$1\r\nv\r\n");
  EXPECT_EQ(resp3.command({"GET", "absent"}), "_\r\n");
  EXPECT_EQ(resp2.command({"GET", "absent"}), "$-1\r\n");
  // Local replies follow the dialect too.
  EXPECT_EQ(resp3.command({"CLIENT", "GETNAME"}), "_\r\n");
  EXPECT_EQ(resp2.command({"CLIENT", "GETNAME"}), "$-1\r\n");

  // Back to RESP2 with HELLO 2.
  EXPECT_THAT(resp3.command({"HELLO", "2"}), StartsWith("*14\r\n"));
  EXPECT_EQ(resp3.command({"ZSCORE", "z", "m"}), "$3\r\n1.5\r\n");
}

TEST_F(Resp3, PipelinedHelloAppliesFromTheNextCommandOn) {
  start_proxy();
  RedisClient client = connect();
  client.send(encode_command({"GET", "absent"}) + encode_command({"HELLO", "3"}) + encode_command({"GET", "absent"}) +
              encode_command({"HELLO", "2"}) + encode_command({"GET", "absent"}));
  EXPECT_EQ(client.read_reply(), "$-1\r\n");
  EXPECT_THAT(client.read_reply(), StartsWith("%7\r\n"));
  EXPECT_EQ(client.read_reply(), "_\r\n");
  EXPECT_THAT(client.read_reply(), StartsWith("*14\r\n"));
  EXPECT_EQ(client.read_reply(), "$-1\r\n");
}

TEST_F(Resp3, SubscribeDeliversPushMessagesToResp3AndArraysToResp2) {
  start_proxy();
  RedisClient resp3 = connect();
  ASSERT_THAT(resp3.command({"HELLO", "3"}), StartsWith("%7\r\n"));
  RedisClient resp2 = connect();
  EXPECT_EQ(resp3.command({"SUBSCRIBE", "news"}), ">3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
  EXPECT_EQ(resp2.command({"SUBSCRIBE", "news"}), "*3\r\n$9\r\nsubscribe\r\n$4\r\nnews\r\n:1\r\n");
  RedisClient publisher = connect();
  EXPECT_EQ(publisher.command({"PUBLISH", "news", "hello"}), ":2\r\n");
  EXPECT_EQ(resp3.read_reply(), ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
  EXPECT_EQ(resp2.read_reply(), "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n");
  // RESP3 allows ordinary commands on a subscribed connection; their replies are not pushes.
  EXPECT_EQ(resp3.command({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(resp3.command({"GET", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(publisher.command({"PUBLISH", "news", "again"}), ":2\r\n");
  EXPECT_EQ(resp3.read_reply(), ">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nagain\r\n");
  EXPECT_EQ(resp2.read_reply(), "*3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nagain\r\n");
}

}  // namespace
}  // namespace corral::testing::redis_it
