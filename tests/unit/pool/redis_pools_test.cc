// RedisPools collection: pools nobody refers to are freed, pools in use never are. No connection is
// opened here (a pool dials only when a session asks it for one), so no event loop is needed.
#include "pool/redis_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <vector>

namespace corral::pool {
namespace {

RedisKey key_with_password(std::string password) {
  RedisKey key;
  key.host = "127.0.0.1";
  key.port = 6379;
  key.user = "alice";
  key.password = std::move(password);
  return key;
}

class RedisPoolsCollection : public ::testing::Test {
 protected:
  config::PoolLimits limits_{};
  std::atomic<uint64_t> gauge_{0};
  RedisPools pools_{limits_, &gauge_};
  rt::SocketAddress address_ = *rt::SocketAddress::resolve("127.0.0.1", 6379);
};

TEST_F(RedisPoolsCollection, SameKeyGivesTheSamePool) {
  RedisPoolRef first = pools_.get(key_with_password("pw"), address_);
  RedisPoolRef second = pools_.get(key_with_password("pw"), address_);
  EXPECT_EQ(first.get(), second.get());
  EXPECT_EQ(first->users(), 2u);
  EXPECT_EQ(pools_.size(), 1u);
  EXPECT_EQ(gauge_.load(), 1u);
}

TEST_F(RedisPoolsCollection, PoolIsFreedWhenItsLastUnusedReferenceGoes) {
  RedisPoolRef first = pools_.get(key_with_password("pw"), address_);
  RedisPoolRef second = pools_.get(key_with_password("pw"), address_);
  first.reset();
  EXPECT_EQ(pools_.size(), 1u) << "freed while a reference remained";
  second.reset();
  EXPECT_EQ(pools_.size(), 0u);
  EXPECT_EQ(gauge_.load(), 0u);
}

TEST_F(RedisPoolsCollection, MovedReferenceKeepsThePoolAlive) {
  RedisPoolRef first = pools_.get(key_with_password("pw"), address_);
  RedisPool* pool = first.get();
  RedisPoolRef moved = std::move(first);
  EXPECT_FALSE(first);  // NOLINT(bugprone-use-after-move): moved-from is documented empty
  EXPECT_EQ(moved.get(), pool);
  EXPECT_EQ(pool->users(), 1u);
  moved = RedisPoolRef();
  EXPECT_EQ(pools_.size(), 0u);
}

TEST_F(RedisPoolsCollection, ManyDistinctPasswordsLeaveNothingBehind) {
  RedisPoolRef held = pools_.get(key_with_password("the right one"), address_);
  RedisPool* held_pool = held.get();
  for (int i = 0; i < 10'000; ++i) {
    RedisPoolRef guess = pools_.get(key_with_password("guess-" + std::to_string(i)), address_);
    ASSERT_NE(guess.get(), held_pool);
  }
  EXPECT_EQ(pools_.size(), 1u);
  EXPECT_EQ(gauge_.load(), 1u);
  EXPECT_EQ(pools_.get(key_with_password("the right one"), address_).get(), held_pool);
}

TEST_F(RedisPoolsCollection, HeldPoolsAreNeverSweptAndStayReachable) {
  // More held pools than the sweep threshold: every sweep must skip all of them.
  std::vector<RedisPoolRef> held;
  std::vector<RedisPool*> addresses;
  for (int i = 0; i < 300; ++i) {
    held.push_back(pools_.get(key_with_password("held-" + std::to_string(i)), address_));
    addresses.push_back(held.back().get());
  }
  EXPECT_EQ(pools_.size(), 300u);
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(pools_.get(key_with_password("held-" + std::to_string(i)), address_).get(), addresses[i]);
  }
  held.clear();
  EXPECT_EQ(pools_.size(), 0u);
}

}  // namespace
}  // namespace corral::pool

namespace corral::pool {
namespace {

// The id is the pools' map key: two keys that differ in what the backend sees must never share it,
// whatever bytes a client puts into its password.
TEST(RedisKeyId, TlsAndSelectFirstCannotBeSpelledByAPassword) {
  static const char marker = 0;  // never dereferenced: the id only asks whether there is a context
  const auto* some_context = reinterpret_cast<const rt::TlsContext*>(&marker);
  RedisKey plain;
  plain.host = "h";
  plain.port = 1;
  plain.user = "u";
  plain.password = "x/tls";
  RedisKey tls = plain;
  tls.password = "x";
  tls.tls = some_context;
  EXPECT_NE(plain.id(), tls.id());
  RedisKey both = tls;
  both.password = "x/tls";
  EXPECT_NE(both.id(), plain.id());
  EXPECT_NE(both.id(), tls.id());
}

// Two listeners may name the same rediss:// server with different CAs: a connection verified with one
// CA must never serve the other listener, whose CA would have refused the server.
TEST(RedisKeyId, ADifferentTlsContextIsADifferentPool) {
  static const char contexts[2] = {0, 0};  // never dereferenced: only their addresses matter
  RedisKey one;
  one.host = "h";
  one.port = 1;
  one.tls = reinterpret_cast<const rt::TlsContext*>(&contexts[0]);
  RedisKey other = one;
  other.tls = reinterpret_cast<const rt::TlsContext*>(&contexts[1]);
  EXPECT_NE(one.id(), other.id());
}

}  // namespace
}  // namespace corral::pool
