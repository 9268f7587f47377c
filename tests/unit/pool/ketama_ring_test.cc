// KetamaRing: twemproxy's key hash, the ring's points per weight, hash tags, and placement. The
// expected placements were computed by an independent model of twemproxy's nc_ketama.c/nc_fnv.c;
// tests/integration/redis/shards_test.cc checks the same against a real twemproxy.
#include "pool/ketama_ring.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

namespace corral::pool {
namespace {

std::vector<KetamaRing::Server> three_local_servers() {
  return {{"127.0.0.1:6379", 1}, {"127.0.0.1:6380", 1}, {"127.0.0.1:6381", 1}};
}

TEST(KetamaRingTest, HashIsTwemproxysThirtyTwoBitFnv1a64) {
  EXPECT_EQ(KetamaRing::fnv1a_64(""), 0u);  // twemproxy does not hash an empty key
  EXPECT_EQ(KetamaRing::fnv1a_64("a"), 0x8601ec8cu);
  EXPECT_EQ(KetamaRing::fnv1a_64("foo"), 0xfed9d577u);
  EXPECT_EQ(KetamaRing::fnv1a_64("hello world"), 0x023cd2e7u);
  // Bytes from 0x80 widen as signed chars.
  EXPECT_EQ(KetamaRing::fnv1a_64("\xc3\xa9t\xc3\xa9"), 0xea769c57u);
  EXPECT_EQ(KetamaRing::fnv1a_64("\xff"), 0x79fe466eu);
}

TEST(KetamaRingTest, PointsPerServerFollowTheWeights) {
  EXPECT_EQ(KetamaRing(three_local_servers(), "{}").point_count(), 480u);
  EXPECT_EQ(KetamaRing({{"alpha", 1}, {"beta", 3}, {"gamma", 2}}, "{}").point_count(), 80u + 240u + 160u);
  EXPECT_EQ(KetamaRing({{"a", 2}, {"b", 3}}, "{}").point_count(), 128u + 192u);
  EXPECT_EQ(KetamaRing({{"only", 5}}, "{}").point_count(), 160u);
}

TEST(KetamaRingTest, PlacesKeysAsTwemproxy) {
  const KetamaRing ring(three_local_servers(), "{}");
  const std::map<std::string, std::size_t> expected = {
      {"foo", 2}, {"bar", 0}, {"user:1", 0}, {"user:2", 0}, {"user:3", 0}, {"session:42", 1},
      {"\xc3\xa9t\xc3\xa9", 2}, {std::string(200, 'k'), 2}};
  for (const auto& [key, server] : expected) EXPECT_EQ(ring.server_of(key), server) << key;
  const KetamaRing weighted({{"alpha", 1}, {"beta", 3}, {"gamma", 2}}, "{}");
  for (const std::string key : {"foo", "bar", "user:1", "session:42"}) EXPECT_EQ(weighted.server_of(key), 2u) << key;
}

TEST(KetamaRingTest, HashTagsHashTheTagOnly) {
  const KetamaRing ring(three_local_servers(), "{}");
  EXPECT_EQ(ring.hashed_part("{user1000}.following"), "user1000");
  EXPECT_EQ(ring.hashed_part("foo{}{bar}"), "foo{}{bar}");  // an empty tag hashes the whole key
  EXPECT_EQ(ring.hashed_part("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(ring.hashed_part("foo{bar}{zap}"), "bar");
  EXPECT_EQ(ring.hashed_part("no tag"), "no tag");
  EXPECT_EQ(ring.hashed_part("{open"), "{open");
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(ring.server_of("{session:42}:" + std::to_string(i)), ring.server_of("session:42"));
  }
  // Another pair of characters, or none.
  const KetamaRing colons(three_local_servers(), "::");
  EXPECT_EQ(colons.hashed_part("a:b:c"), "b");
  const KetamaRing none(three_local_servers(), "");
  EXPECT_EQ(none.hashed_part("{user1000}.following"), "{user1000}.following");
}

TEST(KetamaRingTest, KeysSpreadInProportionToWeight) {
  const KetamaRing ring({{"a", 1}, {"b", 2}, {"c", 1}}, "{}");
  std::vector<int> counts(3);
  constexpr int kKeys = 40000;
  for (int i = 0; i < kKeys; ++i) ++counts[ring.server_of("key:" + std::to_string(i))];
  EXPECT_NEAR(counts[0], kKeys / 4, kKeys / 16);
  EXPECT_NEAR(counts[1], kKeys / 2, kKeys / 16);
  EXPECT_NEAR(counts[2], kKeys / 4, kKeys / 16);
}

TEST(KetamaRingTest, AddingAServerMovesOnlyTheKeysItTakes) {
  std::vector<KetamaRing::Server> servers = three_local_servers();
  const KetamaRing before(servers, "{}");
  servers.push_back({"127.0.0.1:6382", 1});
  const KetamaRing after(servers, "{}");
  int moved = 0;
  constexpr int kKeys = 20000;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "key:" + std::to_string(i);
    const std::size_t now = after.server_of(key);
    if (now != before.server_of(key)) {
      ++moved;
      EXPECT_EQ(now, 3u) << key;  // a key moves only to the new server
    }
  }
  EXPECT_NEAR(moved, kKeys / 4, kKeys / 16);
}

TEST(KetamaRingTest, OneServerTakesEveryKey) {
  const KetamaRing ring({{"only", 1}}, "{}");
  EXPECT_EQ(ring.server_of("anything"), 0u);
  EXPECT_EQ(ring.server_of(""), 0u);
}

}  // namespace
}  // namespace corral::pool
