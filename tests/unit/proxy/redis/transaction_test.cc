// RedisTransaction: the MULTI / WATCH state a session keeps for its pinned connection, driven by the
// steps the command table names.
#include "proxy/redis/transaction.h"

#include <gtest/gtest.h>

namespace corral::proxy {
namespace {

using redis::TransactionStep;

TEST(RedisTransaction, StartsWithNothingPinned) {
  const RedisTransaction transaction;
  EXPECT_FALSE(transaction.in_multi());
  EXPECT_FALSE(transaction.watching());
  EXPECT_FALSE(transaction.active());
  EXPECT_FALSE(transaction.exec_aborts(TransactionStep::Exec));
}

TEST(RedisTransaction, MultiUntilExecOrDiscard) {
  for (const TransactionStep end : {TransactionStep::Exec, TransactionStep::Discard}) {
    RedisTransaction transaction;
    transaction.forwarded(TransactionStep::Multi);
    EXPECT_TRUE(transaction.in_multi());
    EXPECT_TRUE(transaction.active());
    transaction.forwarded(TransactionStep::None);  // a queued command
    EXPECT_TRUE(transaction.in_multi());
    EXPECT_FALSE(transaction.exec_aborts(TransactionStep::Exec));
    transaction.forwarded(end);
    EXPECT_FALSE(transaction.in_multi());
    EXPECT_FALSE(transaction.active());
  }
}

TEST(RedisTransaction, ACommandCorralRejectsInsideMultiMakesExecAbort) {
  RedisTransaction transaction;
  transaction.forwarded(TransactionStep::Multi);
  transaction.rejected();
  EXPECT_TRUE(transaction.exec_aborts(TransactionStep::Exec));
  EXPECT_FALSE(transaction.exec_aborts(TransactionStep::Discard));  // DISCARD is forwarded as usual
  EXPECT_FALSE(transaction.exec_aborts(TransactionStep::None));
  EXPECT_TRUE(transaction.in_multi());
  transaction.end();  // EXECABORT closes the pinned connection
  EXPECT_FALSE(transaction.active());
  EXPECT_FALSE(transaction.exec_aborts(TransactionStep::Exec));
}

TEST(RedisTransaction, DiscardAfterARejectedCommandForgetsTheFailure) {
  RedisTransaction transaction;
  transaction.forwarded(TransactionStep::Multi);
  transaction.rejected();
  transaction.forwarded(TransactionStep::Discard);
  transaction.forwarded(TransactionStep::Multi);
  EXPECT_FALSE(transaction.exec_aborts(TransactionStep::Exec));
}

TEST(RedisTransaction, RejectionsOutsideMultiChangeNothing) {
  RedisTransaction transaction;
  transaction.rejected();
  transaction.forwarded(TransactionStep::Multi);
  EXPECT_FALSE(transaction.exec_aborts(TransactionStep::Exec));
  transaction.forwarded(TransactionStep::Exec);
  transaction.forwarded(TransactionStep::Watch);
  transaction.rejected();  // watching, not in MULTI
  transaction.forwarded(TransactionStep::Multi);
  EXPECT_FALSE(transaction.exec_aborts(TransactionStep::Exec));
}

TEST(RedisTransaction, WatchThenMultiExecEndsBoth) {
  RedisTransaction transaction;
  transaction.forwarded(TransactionStep::Watch);
  EXPECT_TRUE(transaction.watching());
  EXPECT_FALSE(transaction.in_multi());
  EXPECT_TRUE(transaction.active());
  transaction.forwarded(TransactionStep::Multi);
  EXPECT_TRUE(transaction.watching());
  EXPECT_TRUE(transaction.in_multi());
  transaction.forwarded(TransactionStep::Exec);
  EXPECT_FALSE(transaction.watching());
  EXPECT_FALSE(transaction.active());
}

TEST(RedisTransaction, UnwatchEndsWatchingOutsideMultiOnly) {
  RedisTransaction transaction;
  transaction.forwarded(TransactionStep::Watch);
  transaction.forwarded(TransactionStep::Unwatch);
  EXPECT_FALSE(transaction.watching());
  EXPECT_FALSE(transaction.active());

  transaction.forwarded(TransactionStep::Watch);
  transaction.forwarded(TransactionStep::Multi);
  transaction.forwarded(TransactionStep::Unwatch);  // queued: runs at EXEC
  EXPECT_TRUE(transaction.watching());
  transaction.forwarded(TransactionStep::Discard);
  EXPECT_FALSE(transaction.active());
}

TEST(RedisTransaction, WatchInsideMultiWatchesNothing) {
  // redis-server refuses WATCH inside MULTI ("WATCH inside MULTI is not allowed").
  RedisTransaction transaction;
  transaction.forwarded(TransactionStep::Multi);
  transaction.forwarded(TransactionStep::Watch);
  EXPECT_FALSE(transaction.watching());
  transaction.forwarded(TransactionStep::Exec);
  EXPECT_FALSE(transaction.active());
}

}  // namespace
}  // namespace corral::proxy
