// Backend figures (pool/backend_metrics.h): labels without credentials, histogram buckets, up/down
// from the latest open attempt over workers, gauges counted from registered pools, and the pools of
// many keys of one server adding up under one label. No connection is opened: pools dial on demand.
#include "pool/backend_metrics.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "pool/mysql_pool.h"
#include "pool/redis_pool.h"

namespace corral::pool {
namespace {

using namespace std::chrono_literals;

TEST(BackendLabel, NamesSchemeHostAndPortOnly) {
  EXPECT_EQ(redis_backend_label("127.0.0.1", 6379, false), "redis://127.0.0.1:6379");
  EXPECT_EQ(redis_backend_label("cache.internal", 6380, true), "rediss://cache.internal:6380");
  EXPECT_EQ(redis_backend_label("::1", 6379, false), "redis://[::1]:6379");
  EXPECT_EQ(mysql_backend_label("db", 3306), "mysql://db:3306");
}

TEST(LatencyHistogram, BucketsAreUpperBoundsInclusiveAndTheLastIsInfinite) {
  rt::LatencyHistogram histogram;
  histogram.observe(100us);       // exactly the first bound: bucket 0 (le="0.0001")
  histogram.observe(101us, 3);    // just above: bucket 1
  histogram.observe(-5ms);        // a clock step backwards counts as zero
  histogram.observe(60s);         // past 10 s: +Inf
  EXPECT_EQ(histogram.buckets[0], 2u);
  EXPECT_EQ(histogram.buckets[1], 3u);
  EXPECT_EQ(histogram.buckets[rt::kLatencyBuckets - 1], 1u);
  EXPECT_EQ(histogram.count(), 6u);
  EXPECT_EQ(histogram.sum_ns, 100'000u + 3 * 101'000u + 60'000'000'000u);
  rt::LatencyHistogram other;
  other.observe(1ms);
  histogram.add(other);
  EXPECT_EQ(histogram.count(), 7u);
}

TEST(BackendCounters, OpensCountAndAFailedOpenIsAConnectError) {
  BackendCounters counters;
  counters.opened(true, true);
  counters.opened(false, false);
  EXPECT_EQ(counters.figures.connects_ok, 1u);
  EXPECT_EQ(counters.figures.connects_failed, 1u);
  EXPECT_EQ(counters.figures.errors[static_cast<std::size_t>(BackendError::ConnectFailed)], 1u);
  EXPECT_TRUE(counters.figures.opened_ever);
  EXPECT_FALSE(counters.figures.last_open_answered);
  counters.opened(false, true);  // refused (a wrong password): the server is up
  EXPECT_TRUE(counters.figures.last_open_answered);
}

TEST(BackendSnapshot, SumsWorkersAndTheNewestAttemptSaysUp) {
  BackendSnapshot older;
  older.label = "redis://h:1";
  older.figures.connects_ok = 2;
  older.figures.opened_ever = true;
  older.figures.last_open_answered = true;
  older.figures.last_open_at = rt::Clock::now();
  older.gauges.idle = 1;
  older.tls_ok = 1;
  BackendSnapshot newer = older;
  newer.figures.last_open_answered = false;
  newer.figures.last_open_at = older.figures.last_open_at + 1s;
  newer.figures.errors[static_cast<std::size_t>(BackendError::Timeout)] = 4;
  BackendSnapshot untried;
  untried.label = "mysql://h:2";

  const auto sums = sum_by_backend({{newer, untried}, {older}});
  ASSERT_EQ(sums.size(), 2u);
  EXPECT_EQ(sums[0].label, "mysql://h:2");
  EXPECT_FALSE(sums[0].figures.opened_ever);
  const BackendSnapshot& redis = sums[1];
  EXPECT_EQ(redis.figures.connects_ok, 4u);
  EXPECT_EQ(redis.gauges.idle, 2u);
  EXPECT_EQ(redis.tls_ok, 2u);
  EXPECT_EQ(redis.figures.errors[static_cast<std::size_t>(BackendError::Timeout)], 4u);
  EXPECT_FALSE(redis.figures.last_open_answered) << "the newer attempt failed";
  // The other order gives the same answer.
  EXPECT_FALSE(sum_by_backend({{older}, {newer}})[0].figures.last_open_answered);
}

RedisKey redis_key(std::string user, int db) {
  RedisKey key;
  key.host = "127.0.0.1";
  key.port = 6379;
  key.user = std::move(user);
  key.password = "secret-password";
  key.db = db;
  return key;
}

TEST(BackendMetrics, PoolsOfManyKeysAddUpUnderOneLabelAndLeaveWithTheirPool) {
  BackendMetrics metrics;
  config::PoolLimits limits{};
  const rt::SocketAddress address = *rt::SocketAddress::resolve("127.0.0.1", 6379);
  RedisPools redis(limits, nullptr, &metrics);
  {
    RedisPoolRef alice = redis.get(redis_key("alice", 0), address);
    RedisPoolRef bob = redis.get(redis_key("bob", 3), address);
    ++alice->counters().figures.pool_timeouts;
    ++bob->counters().figures.pool_timeouts;
    EXPECT_EQ(&alice->counters(), &bob->counters()) << "one server, one set of counters";
    const std::vector<BackendSnapshot> shots = metrics.snapshot();
    ASSERT_EQ(shots.size(), 1u);
    EXPECT_EQ(shots[0].label, "redis://127.0.0.1:6379");
    EXPECT_EQ(shots[0].gauges.pools, 2u);
    EXPECT_EQ(shots[0].gauges.open(), 0u);
    EXPECT_EQ(shots[0].figures.pool_timeouts, 2u);
  }
  // Unused pools are freed; the counters stay (Prometheus counters never go back).
  const std::vector<BackendSnapshot> after = metrics.snapshot();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].gauges.pools, 0u);
  EXPECT_EQ(after[0].figures.pool_timeouts, 2u);
}

TEST(BackendMetrics, MysqlPoolsCountUnderTheirServer) {
  BackendMetrics metrics;
  config::PoolLimits limits{};
  const rt::SocketAddress address = *rt::SocketAddress::resolve("127.0.0.1", 3306);
  MysqlPools mysql(limits, backend_codec_limits(), &metrics);
  MysqlKey key;
  key.host = "127.0.0.1";
  key.port = 3306;
  key.user = "app";
  key.password = "pw";
  key.schema = "shop";
  mysql.get(key, address);
  key.schema = "other";
  mysql.get(key, address);
  const std::vector<BackendSnapshot> shots = metrics.snapshot();
  ASSERT_EQ(shots.size(), 1u);
  EXPECT_EQ(shots[0].label, "mysql://127.0.0.1:3306");
  EXPECT_EQ(shots[0].gauges.pools, 2u);
}

TEST(BackendMetrics, APoolWithoutAWorkersMetricsKeepsItsOwnCounters) {
  config::PoolLimits limits{};
  RedisServerInfo info;
  RedisPool pool(redis_key("alice", 0), *rt::SocketAddress::resolve("127.0.0.1", 6379), limits, info);
  ++pool.counters().figures.connects_ok;
  BackendGauges gauges;
  pool.add_gauges(gauges);
  EXPECT_EQ(gauges.open() + gauges.connecting + gauges.waiters, 0u);
}

}  // namespace
}  // namespace corral::pool
