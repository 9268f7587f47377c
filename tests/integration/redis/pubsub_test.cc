// Pub/sub and MONITOR: the client's dedicated backend connection streams messages to it.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

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

// ---- the dedicated connection after the subscription ends --------------------------------------

/// One worker, so every client of a test shares one set of pools and a returned connection is the
/// one the next subscriber gets.
class PubSubConnection : public RedisPathTest {
 protected:
  void SetUp() override { start_proxy({.workers = 1}); }

  /// Backend ids of corral's connections, with their "sub" and "psub" counts.
  std::map<std::string, std::string> corral_subscriptions() {
    std::map<std::string, std::string> out;
    for (const auto& c : client_list(backend())) {
      if (c.at("name") == "corral") out[c.at("id")] = c.at("sub") + "/" + c.at("psub");
    }
    return out;
  }
  /// The backend id of the one corral connection that is subscribed; "" when there is none.
  std::string subscribed_connection() {
    std::string found;
    for (const auto& [id, counts] : corral_subscriptions()) {
      if (counts != "0/0") {
        EXPECT_EQ(found, "") << "more than one subscribed backend connection";
        found = id;
      }
    }
    return found;
  }
  /// Waits until no corral connection on the backend is subscribed; false after 5 s.
  bool wait_no_subscribed_connection() {
    return poll_until([&] { return subscribed_connection().empty(); }, 5s);
  }
  /// Waits until the backend connection `id` is closed; false after 5 s.
  bool wait_connection_closed(const std::string& id) {
    return poll_until([&] { return corral_subscriptions().count(id) == 0; }, 5s);
  }
};

TEST_F(PubSubConnection, FullUnsubscribeReturnsTheConnectionToThePool) {
  RedisClient first = connect();
  ASSERT_EQ(first.command({"SUBSCRIBE", "a", "b"}), "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
  ASSERT_EQ(first.read_reply(), "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n");
  const std::string dedicated = subscribed_connection();
  ASSERT_NE(dedicated, "");
  // Pipelined behind the UNSUBSCRIBE: a command that must be answered after it, in order.
  first.send(encode_command({"UNSUBSCRIBE"}) + encode_command({"SET", "k", "v"}));
  // redis-server unsubscribes in its dict's order: either channel may come first.
  const std::string one = first.read_reply();
  const std::string two = first.read_reply();
  EXPECT_THAT(one, ::testing::AnyOf("*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n",
                                    "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:1\r\n"));
  EXPECT_THAT(two, ::testing::AnyOf("*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n",
                                    "*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n"));
  EXPECT_NE(one.substr(0, 27), two.substr(0, 27)) << "the same channel twice";
  EXPECT_EQ(first.read_reply(), "+OK\r\n");
  EXPECT_EQ(first.command({"GET", "k"}), "$1\r\nv\r\n");
  // Still open, unsubscribed, and the next subscriber gets that same connection back.
  EXPECT_EQ(corral_subscriptions()[dedicated], "0/0");
  RedisClient second = connect();
  ASSERT_EQ(second.command({"PSUBSCRIBE", "n*"}), "*3\r\n$10\r\npsubscribe\r\n$2\r\nn*\r\n:1\r\n");
  EXPECT_EQ(subscribed_connection(), dedicated);
  EXPECT_EQ(first.command({"PUBLISH", "news", "x"}), ":1\r\n");
  EXPECT_EQ(second.read_reply(), "*4\r\n$8\r\npmessage\r\n$2\r\nn*\r\n$4\r\nnews\r\n$1\r\nx\r\n");
}

TEST_F(PubSubConnection, Resp3FullUnsubscribeReturnsTheConnection) {
  RedisClient client = connect();
  ASSERT_THAT(client.command({"HELLO", "3"}), StartsWith("%7\r\n"));
  ASSERT_EQ(client.command({"SUBSCRIBE", "a"}), ">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
  const std::string dedicated = subscribed_connection();
  ASSERT_NE(dedicated, "");
  client.send(encode_command({"UNSUBSCRIBE", "a"}) + encode_command({"HSET", "h", "f", "v"}) +
              encode_command({"HGETALL", "h"}));
  EXPECT_EQ(client.read_reply(), ">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n");
  EXPECT_EQ(client.read_reply(), ":1\r\n");
  EXPECT_EQ(client.read_reply(), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
  EXPECT_EQ(corral_subscriptions()[dedicated], "0/0");
  RedisClient next = connect();  // RESP3 too: the pool key includes the RESP version
  ASSERT_THAT(next.command({"HELLO", "3"}), StartsWith("%7\r\n"));
  ASSERT_EQ(next.command({"SUBSCRIBE", "c"}), ">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n");
  EXPECT_EQ(subscribed_connection(), dedicated);
}

TEST_F(PubSubConnection, PartialUnsubscribeKeepsTheSubscription) {
  RedisClient subscriber = connect();
  RedisClient publisher = connect();
  ASSERT_EQ(subscriber.command({"SUBSCRIBE", "a"}), "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
  ASSERT_EQ(subscriber.command({"PSUBSCRIBE", "p*"}), "*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:2\r\n");
  EXPECT_EQ(subscriber.command({"UNSUBSCRIBE", "a"}), "*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n");
  // Not subscribed to "x": the count in its reply is 1, the pattern is left.
  EXPECT_EQ(subscriber.command({"UNSUBSCRIBE", "x"}), "*3\r\n$11\r\nunsubscribe\r\n$1\r\nx\r\n:1\r\n");
  EXPECT_EQ(publisher.command({"PUBLISH", "pq", "still"}), ":1\r\n");
  EXPECT_EQ(subscriber.read_reply(), "*4\r\n$8\r\npmessage\r\n$2\r\np*\r\n$2\r\npq\r\n$5\r\nstill\r\n");
  // RESP2 subscribe mode still applies, as on redis-server.
  EXPECT_EQ(subscriber.command({"PING"}), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
  EXPECT_NE(subscribed_connection(), "");
}

TEST_F(PubSubConnection, ResetEndsSubscribeModeAndResetsTheContext) {
  RedisClient client = connect();
  const std::string id = client.command({"CLIENT", "ID"});
  ASSERT_EQ(client.command({"SELECT", "3"}), "+OK\r\n");
  ASSERT_EQ(client.command({"SET", "in3", "v"}), "+OK\r\n");
  ASSERT_EQ(client.command({"SUBSCRIBE", "a"}), "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
  const std::string dedicated = subscribed_connection();
  ASSERT_NE(dedicated, "");
  client.send(encode_command({"RESET"}) + encode_command({"GET", "in3"}));
  EXPECT_EQ(client.read_reply(), "+RESET\r\n");
  EXPECT_EQ(client.read_reply(), "$-1\r\n") << "RESET selects db 0";
  EXPECT_EQ(client.command({"SELECT", "3"}), "+OK\r\n");
  EXPECT_EQ(client.command({"GET", "in3"}), "$1\r\nv\r\n");
  // corral answers for the client again (its own id, not the backend connection's).
  EXPECT_EQ(client.command({"CLIENT", "ID"}), id);
  // The connection RESET ran on no longer matches its pool key: it is closed, not reused.
  EXPECT_TRUE(wait_connection_closed(dedicated)) << "the connection RESET ran on was kept";
}

TEST_F(PubSubConnection, RefusedCommandWhileSubscribedIsRefusedInOrder) {
  RedisClient subscriber = connect();
  ASSERT_THAT(subscriber.command({"HELLO", "3"}), StartsWith("%7\r\n"));
  ASSERT_EQ(subscriber.command({"SUBSCRIBE", "a"}), ">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
  subscriber.send(encode_command({"ECHO", "before"}) + encode_command({"DEBUG", "SLEEP", "100"}) +
                  encode_command({"ECHO", "after"}));
  EXPECT_EQ(subscriber.read_reply(), "$6\r\nbefore\r\n");
  EXPECT_THAT(subscriber.read_reply(), StartsWith("-ERR command 'DEBUG' is not supported by corral"));
  EXPECT_EQ(subscriber.read_reply(), "$5\r\nafter\r\n");
  // The backend was never paused: others are served at once.
  RedisClient publisher = connect();
  EXPECT_EQ(publisher.command({"PUBLISH", "a", "m"}), ":1\r\n");
  EXPECT_EQ(subscriber.read_reply(), ">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nm\r\n");
}

TEST_F(PubSubConnection, ClientLeavingWhileSubscribedClosesTheConnection) {
  {
    RedisClient subscriber = connect();
    ASSERT_EQ(subscriber.command({"SUBSCRIBE", "a"}), "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n");
    ASSERT_NE(subscribed_connection(), "");
  }  // leaves while subscribed
  EXPECT_TRUE(wait_no_subscribed_connection()) << "the subscribed backend connection outlived its client";
  RedisClient publisher = connect();
  EXPECT_EQ(publisher.command({"PUBLISH", "a", "nobody"}), ":0\r\n");
}

TEST_F(PubSubConnection, MonitorIsNotReturnedEvenAfterUnsubscribe) {
  RedisClient monitor = connect();
  ASSERT_EQ(monitor.command({"MONITOR"}), "+OK\r\n");
  // Nothing a MONITOR connection does makes it reusable: the client leaving closes it.
  monitor.send(encode_command({"UNSUBSCRIBE"}));
  std::string id;
  for (const auto& c : client_list(backend())) {
    if (c.at("name") == "corral" && c.at("flags").find('O') != std::string::npos) id = c.at("id");
  }
  ASSERT_NE(id, "") << "no backend connection in MONITOR mode";
  monitor = RedisClient();
  EXPECT_TRUE(wait_connection_closed(id)) << "the MONITOR connection outlived its client";
}

}  // namespace
}  // namespace corral::testing::redis_it
