// charset_of_collation: the collation ids clients send in their handshake, and unknown ones.
#include "protocols/mysql/collations.h"

#include <gtest/gtest.h>

namespace corral::mysql {
namespace {

TEST(CharsetOfCollation, CommonClientCollations) {
  EXPECT_EQ(charset_of_collation(8), "latin1");
  EXPECT_EQ(charset_of_collation(33), "utf8mb3");
  EXPECT_EQ(charset_of_collation(45), "utf8mb4");
  EXPECT_EQ(charset_of_collation(224), "utf8mb4");
  EXPECT_EQ(charset_of_collation(255), "utf8mb4");
  EXPECT_EQ(charset_of_collation(63), "binary");
  EXPECT_EQ(charset_of_collation(250), "");
}

}  // namespace
}  // namespace corral::mysql
