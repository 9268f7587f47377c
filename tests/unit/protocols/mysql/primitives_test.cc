#include "protocols/mysql/primitives.h"

#include <gtest/gtest.h>

#include <limits>

#include "test_util.h"

namespace corral::mysql {
namespace {

using test::bytes;

TEST(MysqlPrimitives, FixedIntegersAreLittleEndian) {
  const std::string wire =
      bytes({0x01, 0x02, 0x01, 0x03, 0x02, 0x01, 0x04, 0x03, 0x02, 0x01, 6, 5, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1});
  Reader r(wire);  // Reader views its payload: keep the bytes alive
  EXPECT_EQ(r.int1(), 0x01);
  EXPECT_EQ(r.int2(), 0x0102);
  EXPECT_EQ(r.int3(), 0x010203u);
  EXPECT_EQ(r.int4(), 0x01020304u);
  EXPECT_EQ(r.int6(), 0x010203040506ull);
  EXPECT_EQ(r.int8(), 0x0102030405060708ull);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.at_end());
}

TEST(MysqlPrimitives, LenencIntSpecExamples) {
  // Protocol::LengthEncodedInteger: 0xFA is 250; 0xFC 0xFB 0x00 is 251; 0xFD three bytes; 0xFE eight.
  EXPECT_EQ(Reader(bytes({0xfa})).lenenc_int(), 250u);
  EXPECT_EQ(Reader(bytes({0xfc, 0xfb, 0x00})).lenenc_int(), 251u);
  EXPECT_EQ(Reader(bytes({0xfd, 0x00, 0x00, 0x01})).lenenc_int(), 65536u);
  EXPECT_EQ(Reader(bytes({0xfe, 1, 0, 0, 0, 0, 0, 0, 0x80})).lenenc_int(), 0x8000000000000001ull);
}

TEST(MysqlPrimitives, LenencIntRoundTripAtEveryBoundary) {
  const std::uint64_t values[] = {0,        1,         250,        251,        0xffff, 0x10000, 0xffffff,
                                  0x1000000, 0xffffffff, 1ull << 40, std::numeric_limits<std::uint64_t>::max()};
  for (const std::uint64_t v : values) {
    std::string out;
    Writer(out).lenenc_int(v);
    EXPECT_EQ(out.size(), lenenc_int_size(v)) << v;
    Reader r(out);
    EXPECT_EQ(r.lenenc_int(), v);
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(r.at_end());
  }
}

TEST(MysqlPrimitives, TruncatedLenencIsTruncated) {
  for (const std::string& wire : {bytes({0xfc, 0x01}), bytes({0xfd, 1, 2}), bytes({0xfe, 1, 2, 3, 4, 5, 6, 7}),
                                  std::string()}) {
    Reader r(wire);
    EXPECT_EQ(r.lenenc_int(), 0u);
    EXPECT_EQ(r.error(), Errc::Truncated) << test::hex(wire);
  }
}

TEST(MysqlPrimitives, ErrMarkerAndNullAreNotIntegers) {
  const std::string ff_wire = bytes({0xff, 0x00});
  Reader ff(ff_wire);
  ff.lenenc_int();
  EXPECT_EQ(ff.error(), Errc::BadLenenc);
  const std::string null_wire = bytes({0xfb});
  Reader null(null_wire);
  null.lenenc_int();
  EXPECT_EQ(null.error(), Errc::BadLenenc);
  const std::string nullable_wire = bytes({0xfb, 0x05});
  Reader nullable(nullable_wire);
  EXPECT_FALSE(nullable.lenenc_int_or_null().has_value());
  EXPECT_EQ(nullable.lenenc_int_or_null().value_or(0), 5u);
  EXPECT_TRUE(nullable.ok());
}

TEST(MysqlPrimitives, LenencStringLengthPastPayload) {
  const std::string wire = bytes({0x05, 'a', 'b'});
  Reader r(wire);
  EXPECT_EQ(r.lenenc_string(), "");
  EXPECT_EQ(r.error(), Errc::LengthPastPayload);
}

TEST(MysqlPrimitives, HugeLenencLengthDoesNotWrap) {
  // 2^64-1 must not wrap into a small length on any platform.
  const std::string wire = bytes({0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'x'});
  Reader r(wire);
  r.lenenc_string();
  EXPECT_EQ(r.error(), Errc::LengthPastPayload);
}

TEST(MysqlPrimitives, LenencStringAndNull) {
  std::string out;
  Writer w(out);
  w.lenenc_string("abc");
  w.lenenc_null();
  w.lenenc_string(std::string(300, 'x'));
  Reader r(out);
  EXPECT_EQ(r.lenenc_string(), "abc");
  EXPECT_FALSE(r.lenenc_string_or_null().has_value());
  EXPECT_EQ(r.lenenc_string().size(), 300u);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.at_end());
}

TEST(MysqlPrimitives, NulString) {
  const std::string wire("root\0db\0", 8);
  Reader r(wire);
  EXPECT_EQ(r.nul_string(), "root");
  EXPECT_EQ(r.nul_string(), "db");
  EXPECT_TRUE(r.at_end());
  Reader missing("no terminator");
  EXPECT_EQ(missing.nul_string(), "");
  EXPECT_EQ(missing.error(), Errc::MissingNul);
}

TEST(MysqlPrimitives, ErrorsAreStickyAndFirstWins) {
  const std::string wire = bytes({0x01});
  Reader r(wire);
  r.int2();
  EXPECT_EQ(r.error(), Errc::Truncated);
  EXPECT_EQ(r.int1(), 0);  // would succeed on a fresh reader
  r.nul_string();
  EXPECT_EQ(r.error(), Errc::Truncated);
  EXPECT_EQ(r.rest(), "");
  EXPECT_EQ(r.remaining(), 0u);
}

TEST(MysqlPrimitives, FixedStringAndSkipAreBounded) {
  Reader r("abc");
  EXPECT_EQ(r.fixed_string(2), "ab");
  r.skip(2);
  EXPECT_EQ(r.error(), Errc::Truncated);
}

TEST(MysqlPrimitives, WriterFixedIntegers) {
  std::string out;
  Writer w(out);
  w.int2(0x0102);
  w.int3(0x010203);
  w.int4(0x01020304);
  w.int8(0x0102030405060708ull);
  EXPECT_EQ(out, bytes({2, 1, 3, 2, 1, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1}));
}

}  // namespace
}  // namespace corral::mysql
