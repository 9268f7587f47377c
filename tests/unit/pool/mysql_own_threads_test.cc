#include "pool/mysql_own_threads.h"

#include <gtest/gtest.h>

namespace corral::pool {
namespace {

TEST(MysqlOwnThreads, AThreadIsOwnFromItsAddUntilItsRemoveOnItsServerOnly) {
  MysqlOwnThreads threads;
  threads.add("127.0.0.1:3306", 7);
  EXPECT_TRUE(threads.contains("127.0.0.1:3306", 7));
  EXPECT_FALSE(threads.contains("127.0.0.1:3307", 7)) << "thread ids are per server";
  EXPECT_FALSE(threads.contains("127.0.0.1:3306", 8));
  threads.remove("127.0.0.1:3306", 7);
  EXPECT_FALSE(threads.contains("127.0.0.1:3306", 7));
  threads.remove("127.0.0.1:3306", 7);  // a second remove changes nothing
  EXPECT_FALSE(threads.contains("127.0.0.1:3306", 7));
}

TEST(MysqlOwnThreads, ClosingAConnectionFromBeforeARestartKeepsTheNewOneWithItsIdOwn) {
  MysqlOwnThreads threads;
  threads.add("127.0.0.1:3306", 5);  // before the server restarted; not closed yet
  threads.add("127.0.0.1:3306", 5);  // after it: the server numbers threads from 1 again
  threads.remove("127.0.0.1:3306", 5);
  EXPECT_TRUE(threads.contains("127.0.0.1:3306", 5));
  threads.remove("127.0.0.1:3306", 5);
  EXPECT_FALSE(threads.contains("127.0.0.1:3306", 5));
}

}  // namespace
}  // namespace corral::pool
