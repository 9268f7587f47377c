// RedisServerPauses: which backend may still be paused by a CLIENT PAUSE corral forwarded.
#include "proxy/redis/server_pauses.h"

#include <gtest/gtest.h>

#include <chrono>

namespace corral::proxy {
namespace {

using Clock = RedisServerPauses::Clock;
using std::chrono::seconds;

TEST(RedisServerPauses, NothingPausedByDefault) {
  RedisServerPauses pauses;
  EXPECT_FALSE(pauses.any());
  EXPECT_FALSE(pauses.active("127.0.0.1:6379"));
}

TEST(RedisServerPauses, APauseHoldsItsBackendOnlyUntilUnpaused) {
  RedisServerPauses pauses;
  pauses.paused("127.0.0.1:6379", Clock::now() + seconds(60));
  EXPECT_TRUE(pauses.any());
  EXPECT_TRUE(pauses.active("127.0.0.1:6379"));
  EXPECT_FALSE(pauses.active("127.0.0.1:6380"));
  pauses.unpaused("127.0.0.1:6379");
  EXPECT_FALSE(pauses.active("127.0.0.1:6379"));
}

TEST(RedisServerPauses, AShorterPauseDoesNotEndALongerOne) {
  RedisServerPauses pauses;
  pauses.paused("b", Clock::now() + seconds(60));
  pauses.paused("b", Clock::now() - seconds(1));
  EXPECT_TRUE(pauses.active("b"));
}

TEST(RedisServerPauses, AnEndedPauseIsForgottenAndTheFastPathIsBack) {
  RedisServerPauses pauses;
  pauses.paused("b", Clock::now() - seconds(1));
  EXPECT_FALSE(pauses.active("b"));
  EXPECT_FALSE(pauses.any());
}

}  // namespace
}  // namespace corral::proxy
