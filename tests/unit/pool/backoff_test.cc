// Backoff: fail fast until the delay after a failed open passed; the delay doubles up to its maximum
// and starts over once an open succeeded.
#include "pool/backoff.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace corral::pool {
namespace {

using namespace std::chrono_literals;

class BackoffTest : public ::testing::Test {
 protected:
  const rt::Clock::time_point t0_ = rt::Clock::now();
  Backoff<std::string> backoff_{50ms, 500ms};
};

TEST_F(BackoffTest, NotActiveBeforeAnyFailure) {
  EXPECT_FALSE(backoff_.active(t0_));
  EXPECT_EQ(backoff_.error(), "");
}

TEST_F(BackoffTest, ActiveUntilTheDelayExpires) {
  backoff_.failed("-ERR refused\r\n", t0_);
  EXPECT_TRUE(backoff_.active(t0_));
  EXPECT_TRUE(backoff_.active(t0_ + 49ms));
  EXPECT_FALSE(backoff_.active(t0_ + 50ms)) << "expired: the next acquire dials again";
  EXPECT_EQ(backoff_.error(), "-ERR refused\r\n") << "kept for the log and the refusal, also after expiry";
}

TEST_F(BackoffTest, DelayDoublesUpToTheMaximum) {
  rt::Clock::time_point now = t0_;
  for (const auto expected : {50ms, 100ms, 200ms, 400ms, 500ms, 500ms}) {
    backoff_.failed("e", now);
    EXPECT_EQ(backoff_.delay(), expected);
    EXPECT_TRUE(backoff_.active(now + expected - 1ms));
    EXPECT_FALSE(backoff_.active(now + expected));
    now += expected;
  }
}

TEST_F(BackoffTest, SuccessForgetsTheErrorAndStartsOver) {
  backoff_.failed("first", t0_);
  backoff_.failed("second", t0_);
  backoff_.succeeded();
  EXPECT_FALSE(backoff_.active(t0_));
  EXPECT_EQ(backoff_.error(), "");
  backoff_.failed("third", t0_);
  EXPECT_EQ(backoff_.delay(), 50ms);
  EXPECT_EQ(backoff_.error(), "third");
}

TEST_F(BackoffTest, UsesTheClockWhenNoTimeIsGiven) {
  Backoff<int> real{10s, 10s};
  real.failed(1);
  EXPECT_TRUE(real.active());
}

}  // namespace
}  // namespace corral::pool
