// subscription_count(): the counts in (un)subscribe confirmations, in RESP2 arrays and RESP3 pushes.
#include "protocols/redis/pubsub.h"

#include <gtest/gtest.h>

#include <string>

#include "protocols/redis/reply_scanner.h"

namespace corral::redis {
namespace {

/// Frames one complete reply; `wire` must outlive the result.
Reply framed(const std::string& wire) {
  ReplyScanner scanner;
  Reply reply;
  EXPECT_EQ(scanner.scan(wire, reply), ScanStatus::Frame) << wire;
  return reply;
}

TEST(RedisPubSub, ConfirmationKinds) {
  for (std::string_view word : {"subscribe", "psubscribe", "unsubscribe", "punsubscribe"}) {
    EXPECT_EQ(subscription_kind(word), SubscriptionKind::Channels) << word;
  }
  EXPECT_EQ(subscription_kind("ssubscribe"), SubscriptionKind::ShardChannels);
  EXPECT_EQ(subscription_kind("sunsubscribe"), SubscriptionKind::ShardChannels);
  for (std::string_view word : {"message", "pmessage", "smessage", "pong", "SUBSCRIBE", ""}) {
    EXPECT_FALSE(subscription_kind(word)) << word;
  }
}

TEST(RedisPubSub, CountsInResp2ArraysAndResp3Pushes) {
  const std::string resp2 = "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:2\r\n";
  const auto channels = subscription_count(framed(resp2));
  ASSERT_TRUE(channels);
  EXPECT_EQ(channels->kind, SubscriptionKind::Channels);
  EXPECT_EQ(channels->count, 2);

  const std::string resp3 = ">3\r\n$12\r\nsunsubscribe\r\n$2\r\nsh\r\n:0\r\n";
  const auto shards = subscription_count(framed(resp3));
  ASSERT_TRUE(shards);
  EXPECT_EQ(shards->kind, SubscriptionKind::ShardChannels);
  EXPECT_EQ(shards->count, 0);

  // UNSUBSCRIBE with nothing subscribed: the channel is a null.
  const std::string none = "*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n";
  const auto left = subscription_count(framed(none));
  ASSERT_TRUE(left);
  EXPECT_EQ(left->count, 0);
}

TEST(RedisPubSub, OtherRepliesCountNothing) {
  for (const std::string& wire : {
           std::string("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"),           // a message
           std::string("*4\r\n$8\r\npmessage\r\n$2\r\np*\r\n$2\r\nch\r\n$2\r\nhi\r\n"),  // a pattern message
           std::string("*2\r\n$4\r\npong\r\n$0\r\n\r\n"),                             // PING in subscribe mode
           std::string("*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n$1\r\n2\r\n"),           // count not an integer
           std::string(":3\r\n"), std::string("+OK\r\n"), std::string("$9\r\nsubscribe\r\n")}) {
    EXPECT_FALSE(subscription_count(framed(wire))) << wire;
  }
}

}  // namespace
}  // namespace corral::redis
