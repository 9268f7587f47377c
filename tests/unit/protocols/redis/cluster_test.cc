// Redis Cluster wire facts: CRC16 and key slots (with hash tags), MOVED/ASK lines, CLUSTER SLOTS.
// The slot vectors are what redis-server's CLUSTER KEYSLOT answers (the integration test
// ClusterBasics.KeySlotsMatchTheServer asks a real cluster for many more).

#include "protocols/redis/cluster.h"

#include <gtest/gtest.h>

#include <string>

namespace corral::redis {
namespace {

TEST(RedisCluster, Crc16CheckValue) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);  // the XMODEM check value the Cluster spec gives
  EXPECT_EQ(crc16(""), 0);
}

TEST(RedisCluster, KeySlotsOfPlainKeys) {
  EXPECT_EQ(key_slot("foo"), 12182);
  EXPECT_EQ(key_slot("bar"), 5061);
  EXPECT_EQ(key_slot("somekey"), 11058);
  EXPECT_EQ(key_slot(""), 0);
}

TEST(RedisCluster, HashTagsFollowTheSpec) {
  EXPECT_EQ(key_slot("foo{hash_tag}"), 2515);
  EXPECT_EQ(key_slot("bar{hash_tag}"), key_slot("hash_tag"));
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("user1000"));
  EXPECT_EQ(key_slot("{user1000}.followers"), key_slot("user1000"));
  // The first '{' and the first '}' after it; an empty tag hashes the whole key.
  EXPECT_EQ(key_slot("foo{}{bar}"), crc16("foo{}{bar}") % kClusterSlots);
  EXPECT_EQ(key_slot("foo{{bar}}zap"), key_slot("{bar"));
  EXPECT_EQ(key_slot("foo{bar}{zap}"), key_slot("bar"));
  EXPECT_EQ(key_slot("{"), crc16("{") % kClusterSlots);
  EXPECT_EQ(key_slot("a}b{"), crc16("a}b{") % kClusterSlots);
  // Binary keys hash byte by byte.
  const std::string binary("\x00\xff{\x01}", 5);
  EXPECT_EQ(key_slot(binary), key_slot(std::string("\x01", 1)));
}

TEST(RedisCluster, ParsesMovedAndAsk) {
  const auto moved = parse_redirect("-MOVED 3999 127.0.0.1:6381\r\n");
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->kind, Redirect::Kind::Moved);
  EXPECT_EQ(moved->slot, 3999);
  EXPECT_EQ(moved->node, (NodeAddress{"127.0.0.1", 6381}));
  const auto ask = parse_redirect("-ASK 16383 ::1:7000\r\n");
  ASSERT_TRUE(ask);
  EXPECT_EQ(ask->kind, Redirect::Kind::Ask);
  EXPECT_EQ(ask->slot, 16383);
  EXPECT_EQ(ask->node, (NodeAddress{"::1", 7000}));
  // A node that does not know its own address announces none: the asker's host applies.
  const auto hostless = parse_redirect("-MOVED 0 :7001\r\n");
  ASSERT_TRUE(hostless);
  EXPECT_EQ(hostless->node, (NodeAddress{"", 7001}));
}

TEST(RedisCluster, OtherRepliesAreNoRedirect) {
  EXPECT_FALSE(parse_redirect("+OK\r\n"));
  EXPECT_FALSE(parse_redirect("-ERR MOVED 1 h:1\r\n"));
  EXPECT_FALSE(parse_redirect("-MOVED 16384 h:1\r\n"));
  EXPECT_FALSE(parse_redirect("-MOVED 1 h:0\r\n"));
  EXPECT_FALSE(parse_redirect("-MOVED 1 h:65536\r\n"));
  EXPECT_FALSE(parse_redirect("-MOVED 1 h\r\n"));
  EXPECT_FALSE(parse_redirect("-MOVED x h:1\r\n"));
  EXPECT_FALSE(parse_redirect("-MOVED 1 h:1"));
  EXPECT_FALSE(parse_redirect("-MOVED 1\r\n"));
  EXPECT_FALSE(parse_redirect("-TRYAGAIN Multiple keys request during rehashing of slot\r\n"));
}

// Three masters, one replica each, as redis-server 7.0 answers CLUSTER SLOTS (RESP2).
std::string node(std::string_view ip, int port, std::string_view id) {
  return "*4\r\n$" + std::to_string(ip.size()) + "\r\n" + std::string(ip) + "\r\n:" + std::to_string(port) + "\r\n$" +
         std::to_string(id.size()) + "\r\n" + std::string(id) + "\r\n*0\r\n";
}

TEST(RedisCluster, ParsesClusterSlots) {
  const std::string reply = "*3\r\n"
                            "*4\r\n:0\r\n:5460\r\n" + node("127.0.0.1", 7000, "a") + node("127.0.0.1", 7004, "b") +
                            "*4\r\n:5461\r\n:10922\r\n" + node("127.0.0.1", 7001, "c") + node("127.0.0.1", 7005, "d") +
                            "*3\r\n:10923\r\n:16383\r\n" + node("127.0.0.1", 7002, "e");
  const auto ranges = parse_cluster_slots(reply);
  ASSERT_TRUE(ranges);
  ASSERT_EQ(ranges->size(), 3u);
  EXPECT_EQ((*ranges)[0].first, 0);
  EXPECT_EQ((*ranges)[0].last, 5460);
  EXPECT_EQ((*ranges)[0].master, (NodeAddress{"127.0.0.1", 7000}));
  ASSERT_EQ((*ranges)[0].replicas.size(), 1u);
  EXPECT_EQ((*ranges)[0].replicas[0], (NodeAddress{"127.0.0.1", 7004}));
  EXPECT_EQ((*ranges)[2].first, 10923);
  EXPECT_EQ((*ranges)[2].last, 16383);
  EXPECT_TRUE((*ranges)[2].replicas.empty());
}

TEST(RedisCluster, ParsesClusterSlotsWithHostnameMetadataInResp3) {
  const std::string reply = "*1\r\n*3\r\n:0\r\n:16383\r\n*4\r\n$9\r\n127.0.0.1\r\n:7000\r\n$1\r\na\r\n"
                            "%1\r\n$8\r\nhostname\r\n$5\r\nnode1\r\n";
  const auto ranges = parse_cluster_slots(reply);
  ASSERT_TRUE(ranges);
  ASSERT_EQ(ranges->size(), 1u);
  EXPECT_EQ((*ranges)[0].master, (NodeAddress{"127.0.0.1", 7000}));
}

TEST(RedisCluster, ClusterSlotsOfAnEmptyCluster) {
  const auto ranges = parse_cluster_slots("*0\r\n");
  ASSERT_TRUE(ranges);
  EXPECT_TRUE(ranges->empty());
}

TEST(RedisCluster, RefusesMalformedClusterSlots) {
  EXPECT_FALSE(parse_cluster_slots("-ERR This instance has cluster support disabled\r\n"));
  EXPECT_FALSE(parse_cluster_slots("*1\r\n*2\r\n:0\r\n:1\r\n"));  // no master
  EXPECT_FALSE(parse_cluster_slots("*1\r\n*3\r\n:5\r\n:1\r\n" + node("h", 1, "a")));      // first > last
  EXPECT_FALSE(parse_cluster_slots("*1\r\n*3\r\n:0\r\n:16384\r\n" + node("h", 1, "a")));  // beyond the slots
  EXPECT_FALSE(parse_cluster_slots("*1\r\n*3\r\n:0\r\n:1\r\n*1\r\n$1\r\nh\r\n"));          // node without port
  EXPECT_FALSE(parse_cluster_slots("*1\r\n*3\r\n:0\r\n:1\r\n" + node("h", 0, "a")));      // port 0
  EXPECT_FALSE(parse_cluster_slots("*2\r\n*3\r\n:0\r\n:1\r\n" + node("h", 1, "a")));      // cut short
}

}  // namespace
}  // namespace corral::redis
