// Pub/sub and MONITOR: the client's dedicated backend connection streams messages to it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "redis_path.h"

namespace corral::testing::redis_it {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class PubSub : public RedisPathTest {
 protected:
  void SetUp() override { start_proxy(); }
};

std::string message(std::string_view channel, std::string_view payload, char type = '*') {
  return std::string(1, type) + "3\r\n$7\r\nmessage\r\n$" + std::to_string(channel.size()) + "\r\n" +
         std::string(channel) + "\r\n$" + std::to_string(payload.size()) + "\r\n" + std::string(payload) + "\r\n";
}

TEST_F(PubSub, SubscriberReceivesPublishedMessages) {
  RedisClient subscriber = connect();
  RedisClient publisher = connect();
  EXPECT_EQ(subscriber.command({"SUBSCRIBE", "a", "b"}), "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
  EXPECT_EQ(subscriber.read_reply(), "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
  EXPECT_EQ(publisher.command({"PUBLISH", "a", "one"}), ":1\r\n");
  EXPECT_EQ(publisher.command({"PUBLISH", "b", "two"}), ":1\r\n");
  EXPECT_EQ(publisher.command({"PUBLISH", "c", "nobody"}), ":0\r\n");
  EXPECT_EQ(subscriber.read_reply(), message("a", "one"));
  EXPECT_EQ(subscriber.read_reply(), message("b", "two"));
  // PING in subscribed RESP2 mode answers as redis-server does there.
  EXPECT_EQ(subscriber.command({"PING"}), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
  // After unsubscribing from everything the connection takes ordinary commands again.
  EXPECT_EQ(subscriber.command({"UNSUBSCRIBE", "a"}), "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n");
  EXPECT_EQ(subscriber.command({"UNSUBSCRIBE"}), "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n");
  EXPECT_EQ(subscriber.command({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(subscriber.command({"GET", "k"}), "$1\r\nv\r\n");
  EXPECT_EQ(publisher.command({"PUBLISH", "a", "late"}), ":0\r\n");
}

TEST_F(PubSub, Resp3SubscriberGetsPushMessages) {
  RedisClient subscriber = connect();
  ASSERT_THAT(subscriber.command({"HELLO", "3"}), StartsWith("%7\r\n"));
  RedisClient publisher = connect();
  EXPECT_EQ(subscriber.command({"SUBSCRIBE", "a"}), ">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
  EXPECT_EQ(publisher.command({"PUBLISH", "a", "one"}), ":1\r\n");
  EXPECT_EQ(subscriber.read_reply(), message("a", "one", '>'));
  EXPECT_EQ(subscriber.command({"PING"}), "+PONG\r\n");
}

TEST_F(PubSub, PatternSubscriberReceivesMatchingChannels) {
  RedisClient subscriber = connect();
  RedisClient publisher = connect();
  EXPECT_EQ(subscriber.command({"PSUBSCRIBE", "news.*"}), "*3\r\n$10\r\npsubscribe\r\n$6\r\nnews.*\r\n:1\r\n");
  EXPECT_EQ(publisher.command({"PUBLISH", "news.tech", "chips"}), ":1\r\n");
  EXPECT_EQ(publisher.command({"PUBLISH", "sport", "goal"}), ":0\r\n");
  EXPECT_EQ(subscriber.read_reply(),
            "*4\r\n$8\r\npmessage\r\n$6\r\nnews.*\r\n$9\r\nnews.tech\r\n$5\r\nchips\r\n");
  EXPECT_EQ(subscriber.command({"PUNSUBSCRIBE"}), "*3\r\n$12\r\npunsubscribe\r\n$6\r\nnews.*\r\n:0\r\n");
}

TEST_F(PubSub, ManySubscribersAllReceiveEveryMessage) {
  constexpr int kSubscribers = 50;
  std::vector<RedisClient> subscribers;
  for (int i = 0; i < kSubscribers; ++i) {
    subscribers.push_back(connect());
    ASSERT_EQ(subscribers.back().command({"SUBSCRIBE", "all"}), "*3\r\n$9\r\nsubscribe\r\n$3\r\nall\r\n:1\r\n");
  }
  RedisClient publisher = connect();
  for (int m = 0; m < 10; ++m) {
    EXPECT_EQ(publisher.command({"PUBLISH", "all", "m" + std::to_string(m)}),
              ":" + std::to_string(kSubscribers) + "\r\n");
  }
  for (auto& s : subscribers) {
    for (int m = 0; m < 10; ++m) EXPECT_EQ(s.read_reply(), message("all", "m" + std::to_string(m)));
  }
}

TEST_F(PubSub, MonitorStreamsCommandsOfOtherClients) {
  RedisClient monitor = connect();
  EXPECT_EQ(monitor.command({"MONITOR"}), "+OK\r\n");
  RedisClient other = connect();
  EXPECT_EQ(other.command({"SET", "watched-key", "watched-value"}), "+OK\r\n");
  // Other backend traffic (corral's handshakes) may come first; the SET line must arrive.
  bool seen = false;
  for (int i = 0; i < 20 && !seen; ++i) {
    const std::string line = monitor.read_reply();
    ASSERT_THAT(line, StartsWith("+"));
    seen = line.find("\"SET\" \"watched-key\" \"watched-value\"") != std::string::npos;
  }
  EXPECT_TRUE(seen);
  // QUIT ends the stream with +OK, as on redis-server.
  monitor.send(encode_command({"QUIT"}));
  std::string rest;
  EXPECT_TRUE(monitor.wait_closed(5s, &rest));
  EXPECT_THAT(rest, HasSubstr("+OK\r\n"));
}

}  // namespace
}  // namespace corral::testing::redis_it
