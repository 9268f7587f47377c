// ClusterMap without I/O: nodes by address, MOVED updates, masters, and the per-node pool keys.
// Reading the map from a real cluster (refresh()) is tested in tests/integration/redis/cluster_test.cc.
#include "pool/cluster_map.h"

#include <gtest/gtest.h>

#include <variant>

namespace corral::pool {
namespace {

class ClusterMapTest : public ::testing::Test {
 protected:
  config::BackendUrl url(std::string_view text) {
    auto parsed = config::parse_backend_url(text);
    EXPECT_TRUE(std::holds_alternative<config::BackendUrl>(parsed));
    return std::get<config::BackendUrl>(parsed);
  }
  config::PoolLimits limits_{};
  RedisPools pools_{limits_};
  rt::SocketAddress first_ = *rt::SocketAddress::parse("127.0.0.1", 7000);
};

TEST_F(ClusterMapTest, StartsWithoutAMap) {
  const config::BackendUrl u = url("redis-cluster://127.0.0.1:7000,127.0.0.1:7001");
  ClusterMap map(u, {first_}, pools_);
  EXPECT_FALSE(map.known());
  EXPECT_EQ(map.node_of(0), ClusterMap::kNoNode);
  EXPECT_EQ(map.node_of(16383), ClusterMap::kNoNode);
  EXPECT_EQ(map.any_master(), ClusterMap::kNoNode);
  EXPECT_TRUE(map.masters().empty());
}

TEST_F(ClusterMapTest, NodesAreKeptByAddressAndMustBeIpLiterals) {
  const config::BackendUrl u = url("redis-cluster://127.0.0.1:7000");
  ClusterMap map(u, {first_}, pools_);
  const int a = map.find_or_add({"127.0.0.1", 7001});
  const int b = map.find_or_add({"::1", 7002});
  EXPECT_NE(a, ClusterMap::kNoNode);
  EXPECT_NE(b, ClusterMap::kNoNode);
  EXPECT_NE(a, b);
  EXPECT_EQ(map.find_or_add({"127.0.0.1", 7001}), a);
  EXPECT_EQ(map.node_count(), 2u);
  EXPECT_EQ(map.find_or_add({"redis-node-1", 7003}), ClusterMap::kNoNode);  // no lookup on the loop
  EXPECT_EQ(map.node_count(), 2u);
}

TEST_F(ClusterMapTest, MovedPointsTheSlotAtTheNode) {
  const config::BackendUrl u = url("redis-cluster://127.0.0.1:7000");
  ClusterMap map(u, {first_}, pools_);
  const int a = map.find_or_add({"127.0.0.1", 7001});
  const int b = map.find_or_add({"127.0.0.1", 7002});
  map.moved(42, b);
  EXPECT_EQ(map.node_of(42), b);
  EXPECT_EQ(map.any_master(), b);
  map.moved(7, a);
  EXPECT_EQ(map.any_master(), a);  // the lowest served slot's master
  EXPECT_EQ(map.masters(), (std::vector<int>{a, b}));
}

TEST_F(ClusterMapTest, NodePoolsKeepTheClientsKeyAtTheNodesAddress) {
  const config::BackendUrl u = url("redis-cluster://127.0.0.1:7000");
  ClusterMap map(u, {first_}, pools_);
  const int node = map.find_or_add({"127.0.0.1", 7005});
  RedisKey base;
  base.host = "127.0.0.1";
  base.port = 7000;
  base.user = "app";
  base.password = "pw";
  base.resp = 3;
  RedisPoolRef pool = map.pool(node, base);
  EXPECT_EQ(pool->key().port, 7005);
  EXPECT_EQ(pool->key().user, "app");
  EXPECT_EQ(pool->key().password, "pw");
  EXPECT_EQ(pool->key().resp, 3);
  EXPECT_EQ(pool->address().port(), 7005);
  EXPECT_EQ(map.pool(node, base).get(), pool.get());  // one pool per node and key
}

}  // namespace
}  // namespace corral::pool
