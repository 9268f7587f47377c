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

TEST(RefusedClientCharset, TheFourTheServerCannotParse) {
  EXPECT_EQ(refused_client_charset(35), "ucs2");      // ucs2_general_ci, mariadb-client-test test_bug58036
  EXPECT_EQ(refused_client_charset(159), "ucs2");
  EXPECT_EQ(refused_client_charset(1174), "ucs2");    // two-byte ids come in COM_CHANGE_USER
  EXPECT_EQ(refused_client_charset(54), "utf16");
  EXPECT_EQ(refused_client_charset(124), "utf16");
  EXPECT_EQ(refused_client_charset(56), "utf16le");
  EXPECT_EQ(refused_client_charset(60), "utf32");
  EXPECT_EQ(refused_client_charset(183), "utf32");
  for (const int accepted : {8, 33, 45, 63, 125, 184, 224, 255, 0, 65535}) {
    EXPECT_EQ(refused_client_charset(static_cast<std::uint16_t>(accepted)), "") << accepted;
  }
}

TEST(IsDefaultCollation, WhatSetNamesAloneGives) {
  EXPECT_TRUE(is_default_collation("utf8mb4", "utf8mb4_general_ci"));
  EXPECT_TRUE(is_default_collation("latin1", "latin1_swedish_ci"));
  EXPECT_TRUE(is_default_collation("binary", "binary"));
  EXPECT_TRUE(is_default_collation("sjis", "sjis_japanese_ci"));
  EXPECT_FALSE(is_default_collation("utf8mb4", "utf8mb4_unicode_520_ci"));
  EXPECT_FALSE(is_default_collation("latin1", "latin1_general_ci"));
  EXPECT_FALSE(is_default_collation("utf8mb4", "utf8mb4_bin"));
  EXPECT_FALSE(is_default_collation("latin1", "utf8mb4_general_ci"));
}

TEST(CollationBelongsTo, ByNameAndBinary) {
  EXPECT_TRUE(collation_belongs_to("utf8mb4", "utf8mb4_unicode_520_ci"));
  EXPECT_TRUE(collation_belongs_to("utf8mb3", "utf8mb3_general_ci"));
  EXPECT_TRUE(collation_belongs_to("binary", "binary"));
  EXPECT_FALSE(collation_belongs_to("utf8mb3", "ucs2_general_ci"));
  EXPECT_FALSE(collation_belongs_to("utf8", "utf8mb4_bin"));  // another charset that starts alike
  EXPECT_FALSE(collation_belongs_to("latin1", "binary"));
  EXPECT_FALSE(collation_belongs_to("binary", "binary_ci"));
  EXPECT_FALSE(collation_belongs_to("latin1", "latin1"));
}

}  // namespace
}  // namespace corral::mysql
