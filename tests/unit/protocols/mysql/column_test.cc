#include "protocols/mysql/column.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace corral::mysql {
namespace {

using test::bytes;

constexpr CapabilityFlags kCaps = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS;

// ColumnDefinition41 for `SELECT @@version_comment` written by hand.
std::string hand_written_column() {
  std::string p;
  p += bytes({0x03}) + "def";
  p += bytes({0x00});                                // schema
  p += bytes({0x00});                                // table
  p += bytes({0x00});                                // org_table
  p += bytes({0x11}) + "@@version_comment";          // name
  p += bytes({0x00});                                // org_name
  p += bytes({0x0c});                                // length of fixed fields
  p += bytes({0x21, 0x00});                          // character set 33
  p += bytes({0x54, 0x00, 0x00, 0x00});              // column length 84
  p += bytes({0xfd});                                // MYSQL_TYPE_VAR_STRING
  p += bytes({0x00, 0x00});                          // flags
  p += bytes({0x27});                                // decimals 39
  p += bytes({0x00, 0x00});                          // filler
  return p;
}

TEST(MysqlColumnDefinition41, DecodesHandWritten) {
  const std::string payload = hand_written_column();  // decoded views point into it
  const Result<ColumnDefinition41> c = decode_column_definition(payload, kCaps);
  ASSERT_TRUE(c.ok()) << to_string(c.error());
  EXPECT_EQ(c->catalog, "def");
  EXPECT_EQ(c->schema, "");
  EXPECT_EQ(c->name, "@@version_comment");
  EXPECT_EQ(c->character_set, 33);
  EXPECT_EQ(c->column_length, 84u);
  EXPECT_EQ(c->type, ColumnType::MYSQL_TYPE_VAR_STRING);
  EXPECT_EQ(c->decimals, 39);
  EXPECT_FALSE(c->default_values.has_value());
  std::string out;
  encode_column_definition(out, *c, kCaps);
  EXPECT_EQ(test::hex(out), test::hex(hand_written_column()));
}

TEST(MysqlColumnDefinition41, RoundTripFieldListAndExtendedMetadata) {
  ColumnDefinition41 c;
  c.schema = "shop";
  c.table = "o";
  c.org_table = "orders";
  c.name = "id";
  c.org_name = "id";
  c.character_set = kCollationBinary;
  c.column_length = 20;
  c.type = ColumnType::MYSQL_TYPE_LONGLONG;
  c.flags = NOT_NULL_FLAG | PRI_KEY_FLAG | AUTO_INCREMENT_FLAG | UNSIGNED_FLAG;
  c.default_values = "0";
  c.extended_type_name = "json";
  c.extended_type_format = "fmt";
  const CapabilityFlags caps = kCaps | MARIADB_CLIENT_EXTENDED_METADATA;
  std::string out;
  encode_column_definition(out, c, caps, /*field_list=*/true);
  const Result<ColumnDefinition41> back = decode_column_definition(out, caps, true);
  ASSERT_TRUE(back.ok()) << to_string(back.error());
  EXPECT_EQ(back->org_table, "orders");
  EXPECT_EQ(back->flags, c.flags);
  EXPECT_EQ(back->type, ColumnType::MYSQL_TYPE_LONGLONG);
  EXPECT_EQ(back->default_values, "0");
  EXPECT_EQ(back->extended_type_name, "json");
  EXPECT_EQ(back->extended_type_format, "fmt");
}

TEST(MysqlColumnDefinition41, NegativeCases) {
  std::string bad_fixed = hand_written_column();
  bad_fixed[1 + 3 + 3 + 1 + 17 + 1] = 0x0b;
  EXPECT_EQ(decode_column_definition(bad_fixed, kCaps).error(), Errc::BadValue);
  const std::string full = hand_written_column();
  EXPECT_EQ(decode_column_definition(full.substr(0, full.size() - 3), kCaps).error(), Errc::Truncated);
  EXPECT_EQ(decode_column_definition(bytes({0x09, 'd'}), kCaps).error(), Errc::LengthPastPayload);
}

TEST(MysqlTextRow, EncodeDecodeWithNull) {
  const std::vector<TextValue> values{std::string_view("1"), std::nullopt, std::string_view(""),
                                      std::string_view("hello")};
  std::string out;
  encode_text_row(out, values);
  EXPECT_EQ(out, bytes({0x01, '1', 0xfb, 0x00, 0x05}) + "hello");
  std::vector<TextValue> back;
  EXPECT_EQ(decode_text_row(out, 4, back), Errc::Ok);
  EXPECT_EQ(back, values);
  EXPECT_EQ(decode_text_row(out, 5, back), Errc::Truncated);
}

TEST(MysqlTextResultSet, LocalResultParsesBackWithScanner) {
  const std::vector<ColumnDefinition41> columns{make_text_column("@@version_comment"), make_integer_column("n")};
  const std::vector<std::vector<TextValue>> rows{{std::string_view("corral"), std::string_view("1")},
                                                 {std::nullopt, std::string_view("2")}};
  for (const CapabilityFlags caps : {kCaps, kCaps | CLIENT_DEPRECATE_EOF}) {
    std::string wire;
    EXPECT_EQ(append_text_result_set(wire, 1, columns, rows, caps, SERVER_STATUS_AUTOCOMMIT),
              (caps & CLIENT_DEPRECATE_EOF) ? 7 : 8);
    ResponseScanner scanner(Command::COM_QUERY, caps);
    const test::Fed fed = test::feed_chunks(scanner, wire, 1);
    EXPECT_EQ(fed.error, Errc::Ok);
    EXPECT_TRUE(scanner.complete());
    EXPECT_EQ(scanner.summary().rows, 2u);
    EXPECT_EQ(scanner.summary().status_flags, SERVER_STATUS_AUTOCOMMIT);
    EXPECT_EQ(fed.leftover, 0u);
  }
}

}  // namespace
}  // namespace corral::mysql
