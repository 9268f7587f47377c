#include "protocols/redis/reply_scanner.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <utility>
#include <vector>

#include "scan_helpers.h"

namespace corral::redis {
namespace {

using testing::all_chunkings;
using testing::Outcome;
using testing::scan_replies;
using testing::ScannedReply;

struct ReplyCase {
  std::string name;
  std::string wire;
  std::vector<ReplyType> types;        // expected top-level type of each frame
  std::optional<ErrorCode> error = {};
  std::string message = {};
};

std::ostream& operator<<(std::ostream& os, const ReplyCase& c) { return os << c.name; }

const std::vector<ReplyCase>& reply_cases() {
  using T = ReplyType;
  static const std::vector<ReplyCase> cases = {
      // RESP2.
      {"simple_string", "+OK\r\n", {T::SimpleString}},
      {"empty_simple_string", "+\r\n", {T::SimpleString}},
      {"error", "-ERR unknown command 'x'\r\n", {T::Error}},
      {"integer", ":1000\r\n", {T::Integer}},
      {"negative_integer", ":-9223372036854775808\r\n", {T::Integer}},
      {"plus_integer", ":+5\r\n", {T::Integer}},
      {"bulk", "$5\r\nhello\r\n", {T::BulkString}},
      {"empty_bulk", "$0\r\n\r\n", {T::BulkString}},
      {"binary_bulk", "$4\r\n\r\n\r\n\r\n", {T::BulkString}},
      {"null_bulk", "$-1\r\n", {T::BulkString}},
      {"null_array", "*-1\r\n", {T::Array}},
      {"empty_array", "*0\r\n", {T::Array}},
      {"array", "*3\r\n$3\r\nfoo\r\n:1\r\n$-1\r\n", {T::Array}},
      {"nested", "*2\r\n*2\r\n:1\r\n:2\r\n*1\r\n*0\r\n", {T::Array}},
      {"array_with_null_array", "*2\r\n*-1\r\n+x\r\n", {T::Array}},
      {"pipelined", "+OK\r\n:1\r\n$1\r\nx\r\n*1\r\n+y\r\n-ERR e\r\n",
       {T::SimpleString, T::Integer, T::BulkString, T::Array, T::Error}},
      {"partial_tail_is_kept", "+OK\r\n*2\r\n:1\r\n", {T::SimpleString}},
      // Edges of the scanner's fast path (complete bulk string, simple string, error, integer):
      // whole and split inputs take different paths and must agree.
      {"bulk_leading_zero", "$05\r\nhello\r\n", {T::BulkString}},
      {"bulk_eighteen_digits_over_limit", "$100000000000000000\r\n", {}, ErrorCode::BulkTooLong, "blob length above limit"},
      {"fast_bulk_then_error", "$1\r\nx\r\n$1\r\nxy\r\n", {T::BulkString}, ErrorCode::ExpectedCrlfAfterBulk,
       "expected CRLF after blob"},
      {"lf_in_error", "-a\nb\r\n", {}, ErrorCode::InvalidSimpleString, "simple string contains LF"},
      {"integer_then_bad_integer", ":1\r\n:1x\r\n", {T::Integer}, ErrorCode::InvalidInteger, "invalid integer"},
      // RESP3.
      {"null", "_\r\n", {T::Null}},
      {"double", ",3.14\r\n", {T::Double}},
      {"double_exponent", ",-1.5E-3\r\n", {T::Double}},
      {"double_integral", ",10\r\n", {T::Double}},
      {"double_inf", ",inf\r\n,-inf\r\n,nan\r\n", {T::Double, T::Double, T::Double}},
      {"boolean", "#t\r\n#f\r\n", {T::Boolean, T::Boolean}},
      {"blob_error", "!21\r\nSYNTAX invalid syntax\r\n", {T::BlobError}},
      {"verbatim", "=15\r\ntxt:Some string\r\n", {T::VerbatimString}},
      {"verbatim_empty_text", "=4\r\ntxt:\r\n", {T::VerbatimString}},
      {"big_number", "(3492890328409238509324850943850943825024385\r\n", {T::BigNumber}},
      {"negative_big_number", "(-3492890328409238509324850943850943825024385\r\n", {T::BigNumber}},
      {"map", "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n", {T::Map}},
      {"empty_map", "%0\r\n", {T::Map}},
      {"set", "~3\r\n+a\r\n+b\r\n#t\r\n", {T::Set}},
      {"push", ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n", {T::Push}},
      {"attribute_before_array",
       "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n",
       {T::Array}},
      {"attribute_inside_array", "*2\r\n|1\r\n+ttl\r\n:3600\r\n:1\r\n:2\r\n", {T::Array}},
      {"empty_attribute", "|0\r\n+OK\r\n", {T::SimpleString}},
      {"two_attributes", "|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n:7\r\n", {T::Integer}},
      {"attribute_then_null", "|1\r\n+a\r\n+b\r\n_\r\n+next\r\n", {T::Null, T::SimpleString}},
      {"map_of_aggregates", "%1\r\n~1\r\n:1\r\n%1\r\n+k\r\n*1\r\n_\r\n", {T::Map}},
      {"hello_reply",
       "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.4\r\n$5\r\nproto\r\n:3\r\n$2\r\nid\r\n:5\r\n"
       "$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n",
       {T::Map}},
      // Errors.
      {"unknown_type", "?x\r\n", {}, ErrorCode::UnknownType, "unknown reply type byte '?'"},
      {"lf_type", "\n", {}, ErrorCode::UnknownType, "unknown reply type byte ' '"},
      {"bad_integer", ":12a\r\n", {}, ErrorCode::InvalidInteger, "invalid integer"},
      {"empty_integer", ":\r\n", {}, ErrorCode::InvalidInteger, "invalid integer"},
      {"integer_overflow", ":9223372036854775808\r\n", {}, ErrorCode::InvalidInteger, "invalid integer"},
      {"bad_double", ",1.2.3\r\n", {}, ErrorCode::InvalidDouble, "invalid double"},
      {"empty_double", ",\r\n", {}, ErrorCode::InvalidDouble, "invalid double"},
      {"bad_boolean", "#x\r\n", {}, ErrorCode::InvalidBoolean, "invalid boolean"},
      {"bad_big_number", "(12a\r\n", {}, ErrorCode::InvalidBigNumber, "invalid big number"},
      {"bad_null", "_x\r\n", {}, ErrorCode::InvalidNull, "invalid null"},
      {"verbatim_too_short", "=3\r\ntxt\r\n", {}, ErrorCode::InvalidVerbatim, "invalid verbatim string"},
      {"verbatim_no_colon", "=5\r\ntxt-x\r\n", {}, ErrorCode::InvalidVerbatim, "invalid verbatim string"},
      {"bulk_without_crlf", "$3\r\nabcd\r\n", {}, ErrorCode::ExpectedCrlfAfterBulk, "expected CRLF after blob"},
      {"bulk_negative", "$-2\r\n", {}, ErrorCode::InvalidLength, "invalid blob length"},
      {"bulk_overflow", "$99999999999999999999\r\n", {}, ErrorCode::InvalidLength, "invalid blob length"},
      {"blob_error_null", "!-1\r\n", {}, ErrorCode::InvalidLength, "invalid blob length"},
      {"set_null", "~-1\r\n", {}, ErrorCode::InvalidLength, "invalid aggregate length"},
      {"map_negative", "%-1\r\n", {}, ErrorCode::InvalidLength, "invalid aggregate length"},
      {"array_overflow", "*99999999999999999999\r\n", {}, ErrorCode::InvalidLength, "invalid aggregate length"},
      {"streamed_aggregate", "*?\r\n", {}, ErrorCode::StreamedNotSupported, "streamed aggregates are not supported"},
      {"streamed_string", "$?\r\n", {}, ErrorCode::StreamedNotSupported, "streamed strings are not supported"},
      {"cr_without_lf", "+a\rb\r\n", {}, ErrorCode::ExpectedLineFeed, "expected LF after CR"},
      {"lf_in_simple_string", "+a\nb\r\n", {}, ErrorCode::InvalidSimpleString, "simple string contains LF"},
      {"bulk_above_limit", "$600000000\r\n", {}, ErrorCode::BulkTooLong, "blob length above limit"},
      {"error_inside_array", "*2\r\n:1\r\n:x\r\n", {}, ErrorCode::InvalidInteger, "invalid integer"},
      {"error_after_frame", "+OK\r\n#maybe\r\n", {T::SimpleString}, ErrorCode::InvalidBoolean, "invalid boolean"},
  };
  return cases;
}

void expect_outcome(const ReplyCase& c, const Outcome<ScannedReply>& outcome) {
  ASSERT_EQ(outcome.frames.size(), c.types.size());
  for (std::size_t i = 0; i < c.types.size(); ++i) {
    EXPECT_EQ(outcome.frames[i].type, c.types[i]) << "frame " << i << ": " << to_string(outcome.frames[i].type);
  }
  ASSERT_EQ(outcome.error.has_value(), c.error.has_value());
  if (c.error) {
    EXPECT_EQ(outcome.error->code, *c.error) << to_string(outcome.error->code);
    EXPECT_EQ(outcome.error->message, c.message);
  }
}

class RedisReplyCases : public ::testing::TestWithParam<ReplyCase> {};

TEST_P(RedisReplyCases, Whole) { expect_outcome(GetParam(), scan_replies(GetParam().wire, {GetParam().wire.size()})); }

TEST_P(RedisReplyCases, SameUnderEveryChunking) {
  const ReplyCase& c = GetParam();
  const auto whole = scan_replies(c.wire, {c.wire.size()});
  for (const auto& plan : all_chunkings(c.wire.size())) {
    const auto outcome = scan_replies(c.wire, plan);
    ASSERT_TRUE(outcome.same_as(whole)) << "first chunk " << plan.front() << " of " << plan.size();
  }
}

TEST_P(RedisReplyCases, FramesTileTheInput) {
  const ReplyCase& c = GetParam();
  const auto outcome = scan_replies(c.wire, {c.wire.size()});
  std::string joined;
  for (const auto& frame : outcome.frames) joined += frame.bytes;
  EXPECT_EQ(c.wire.substr(0, joined.size()), joined);
  if (!outcome.error) {
    EXPECT_EQ(joined.size() + outcome.leftover, c.wire.size());
  }
}

/// Scans `wire` fed in `plan`'s chunks the way a streaming backend connection does: whenever the
/// scanner needs more, the settled bytes at the front are handed on and dropped. Returns each
/// frame's bytes as handed on in pieces plus its final part, with its type; stops at an error.
std::vector<std::pair<ReplyType, std::string>> stream_replies(const std::string& wire,
                                                              const std::vector<std::size_t>& plan) {
  std::vector<std::pair<ReplyType, std::string>> frames;
  ReplyScanner scanner;
  std::string buffer;
  std::string handed;  // the current frame's bytes handed on so far
  std::size_t fed = 0;
  for (std::size_t i = 0; fed < wire.size(); ++i) {
    const std::size_t n = std::min(plan[i % plan.size()], wire.size() - fed);
    buffer.append(wire, fed, n);
    fed += n;
    for (;;) {
      Reply reply;
      const ScanStatus status = scanner.scan(buffer, reply);
      if (status == ScanStatus::Error) return frames;
      if (status == ScanStatus::NeedMore) {
        const std::size_t settled = scanner.settled(buffer.size());
        EXPECT_LE(settled, buffer.size());
        if (settled > 0) {
          EXPECT_TRUE(scanner.frame_type_known());
        }
        handed.append(buffer, 0, settled);
        buffer.erase(0, settled);
        scanner.discard(settled);
        break;
      }
      frames.emplace_back(reply.type, handed + std::string(reply.bytes));
      handed.clear();
      buffer.erase(0, reply.size);
    }
  }
  return frames;
}

TEST_P(RedisReplyCases, StreamedFramesAreTheWholeFramesUnderEveryChunking) {
  const ReplyCase& c = GetParam();
  const auto whole = scan_replies(c.wire, {c.wire.size()});
  std::vector<std::pair<ReplyType, std::string>> expected;
  for (const auto& frame : whole.frames) expected.emplace_back(frame.type, frame.bytes);
  for (const auto& plan : all_chunkings(c.wire.size())) {
    ASSERT_EQ(stream_replies(c.wire, plan), expected) << "first chunk " << plan.front() << " of " << plan.size();
  }
}

TEST(RedisReplyScannerStreaming, ABigBulkIsHandedOnAsItArrivesUpToItsCrlf) {
  const std::string payload(100000, 'x');
  const std::string wire = "$100000\r\n" + payload + "\r\n";
  ReplyScanner scanner;
  Reply reply;
  std::string buffer = wire.substr(0, 50000);
  ASSERT_EQ(scanner.scan(buffer, reply), ScanStatus::NeedMore);
  ASSERT_TRUE(scanner.frame_type_known());
  EXPECT_EQ(scanner.frame_type(), ReplyType::BulkString);
  EXPECT_EQ(scanner.settled(buffer.size()), buffer.size());
  scanner.discard(buffer.size());
  buffer = wire.substr(50000, wire.size() - 50000 - 1);  // all but the final LF
  ASSERT_EQ(scanner.scan(buffer, reply), ScanStatus::NeedMore);
  EXPECT_EQ(scanner.settled(buffer.size()), buffer.size() - 1);  // the CR stays for the check
  scanner.discard(buffer.size() - 1);
  buffer = "\r\n";
  ASSERT_EQ(scanner.scan(buffer, reply), ScanStatus::Frame);
  EXPECT_EQ(reply.bytes, "\r\n");
  EXPECT_EQ(reply.type, ReplyType::BulkString);
}

TEST(RedisReplyScannerStreaming, NothingIsSettledBeforeTheTypeIsKnownNorOfAVerbatimString) {
  ReplyScanner scanner;
  Reply reply;
  EXPECT_EQ(scanner.scan("|1\r\n+a\r\n", reply), ScanStatus::NeedMore);
  EXPECT_EQ(scanner.settled(9), 0u);  // an attribute only: the frame's own type is still unknown
  ReplyScanner verbatim;
  EXPECT_EQ(verbatim.scan("=10\r\ntxt:abc", reply), ScanStatus::NeedMore);
  EXPECT_EQ(verbatim.settled(13), 5u);  // the header only
}

std::string case_name(const ::testing::TestParamInfo<ReplyCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Resp, RedisReplyCases, ::testing::ValuesIn(reply_cases()), case_name);

// ---------------------------------------------------------------------------------------------
// Frame details.

Reply scan_one(std::string_view wire) {
  ReplyScanner scanner;
  Reply reply;
  EXPECT_EQ(scanner.scan(wire, reply), ScanStatus::Frame);
  return reply;
}

TEST(RedisReplyScanner, ErrorAndPushFlags) {
  EXPECT_TRUE(scan_one("-ERR x\r\n").is_error());
  EXPECT_TRUE(scan_one("!1\r\nx\r\n").is_error());
  EXPECT_FALSE(scan_one("+OK\r\n").is_error());
  EXPECT_TRUE(scan_one(">1\r\n+x\r\n").is_push());
  EXPECT_FALSE(scan_one("*1\r\n+x\r\n").is_push());
}

TEST(RedisReplyScanner, NullFlags) {
  EXPECT_TRUE(scan_one("$-1\r\n").is_null);
  EXPECT_TRUE(scan_one("*-1\r\n").is_null);
  EXPECT_TRUE(scan_one("_\r\n").is_null);
  EXPECT_FALSE(scan_one("$0\r\n\r\n").is_null);
  EXPECT_FALSE(scan_one("*1\r\n$-1\r\n").is_null);
}

TEST(RedisReplyScanner, AttributeBelongsToTheFrame) {
  const std::string wire = "|1\r\n+a\r\n+b\r\n:7\r\n";
  const Reply reply = scan_one(wire);
  EXPECT_EQ(reply.size, wire.size());
  EXPECT_TRUE(reply.has_attribute);
  EXPECT_EQ(reply.type, ReplyType::Integer);
  EXPECT_EQ(reply.value_offset, wire.find(':'));
  EXPECT_EQ(reply.bytes, wire);
}

TEST(RedisReplyScanner, ErrorIsStickyUntilReset) {
  ReplyScanner scanner;
  Reply reply;
  ASSERT_EQ(scanner.scan("?\r\n", reply), ScanStatus::Error);
  EXPECT_EQ(scanner.scan("+OK\r\n", reply), ScanStatus::Error);
  scanner.reset();
  EXPECT_EQ(scanner.scan("+OK\r\n", reply), ScanStatus::Frame);
}

TEST(RedisReplyScanner, EmptyBufferNeedsMore) {
  ReplyScanner scanner;
  Reply reply;
  EXPECT_EQ(scanner.scan("", reply), ScanStatus::NeedMore);
}

// ---------------------------------------------------------------------------------------------
// Limits, reported at the offending header without buffering what it announces.

Outcome<ScannedReply> one_byte_at_a_time(std::string_view wire, Limits limits) {
  return scan_replies(wire, std::vector<std::size_t>(wire.size(), 1), limits);
}

TEST(RedisReplyLimits, NestingDepth) {
  Limits limits;
  limits.max_nesting_depth = 4;
  std::string ok;
  for (int i = 0; i < 4; ++i) ok += "*1\r\n";
  ok += ":1\r\n";
  EXPECT_EQ(one_byte_at_a_time(ok, limits).frames.size(), 1u);
  const std::string deep = "*1\r\n" + ok;
  const auto outcome = one_byte_at_a_time(deep, limits);
  ASSERT_TRUE(outcome.error);
  EXPECT_EQ(outcome.error->code, ErrorCode::NestingTooDeep);
  EXPECT_EQ(outcome.error->message, "aggregates nested too deep");
  EXPECT_EQ(outcome.bytes_fed_at_error, 20u);
}

TEST(RedisReplyLimits, DepthLimitCountsAttributes) {
  Limits limits;
  limits.max_nesting_depth = 64;
  std::string wire;
  for (int i = 0; i < 64; ++i) wire += (i % 2 == 0) ? ">1\r\n" : "%1\r\n+k\r\n";
  wire += "_\r\n";
  EXPECT_EQ(scan_replies(wire, {wire.size()}, limits).frames.size(), 1u);
  const auto outcome = scan_replies("|1\r\n" + wire, {wire.size() + 4}, limits);
  ASSERT_TRUE(outcome.error);
  EXPECT_EQ(outcome.error->code, ErrorCode::NestingTooDeep);
}

TEST(RedisReplyLimits, RepliesNestedAsDeepAsAScriptMakesThemAreFramed) {
  // EVAL of a Lua table that contains itself: redis-server nests "*1" until Lua's stack limit.
  std::string wire;
  for (int i = 0; i < 10000; ++i) wire += "*1\r\n";
  wire += "-ERR reached lua stack limit\r\n";
  const auto outcome = scan_replies(wire, {wire.size()});
  ASSERT_FALSE(outcome.error);
  ASSERT_EQ(outcome.frames.size(), 1u);
  EXPECT_EQ(outcome.frames[0].bytes, wire);
}

TEST(RedisReplyLimits, BulkLength) {
  Limits limits;
  limits.max_bulk_length = 3;
  for (std::string_view type : {"$", "!", "="}) {
    const std::string header = std::string(type) + "4\r\n";
    const auto outcome = one_byte_at_a_time(header + "abcd\r\n", limits);
    ASSERT_TRUE(outcome.error) << type;
    EXPECT_EQ(outcome.error->code, ErrorCode::BulkTooLong);
    EXPECT_EQ(outcome.bytes_fed_at_error, header.size());
  }
}

TEST(RedisReplyLimits, AggregateLength) {
  Limits limits;
  limits.max_array_length = 2;
  for (std::string_view type : {"*", "~", "%", ">", "|"}) {
    const auto outcome = one_byte_at_a_time(std::string(type) + "3\r\n", limits);
    ASSERT_TRUE(outcome.error) << type;
    EXPECT_EQ(outcome.error->code, ErrorCode::ArrayTooLong);
    EXPECT_EQ(outcome.error->message, "aggregate length above limit");
  }
  EXPECT_EQ(scan_replies("%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n", {64}, limits).frames.size(), 1u);
}

TEST(RedisReplyLimits, LineLength) {
  Limits limits;
  limits.max_inline_length = 8;
  const auto outcome = one_byte_at_a_time("+" + std::string(30, 'a') + "\r\n", limits);
  ASSERT_TRUE(outcome.error);
  EXPECT_EQ(outcome.error->code, ErrorCode::LineTooLong);
  EXPECT_EQ(outcome.bytes_fed_at_error, 10u);
  EXPECT_EQ(scan_replies("+" + std::string(8, 'a') + "\r\n", {3}, limits).frames.size(), 1u);
}

TEST(RedisReplyLimits, RepliesAllowHugeAggregates) {
  EXPECT_GT(Limits::replies().max_array_length, 1000u * 1000 * 1000);
  EXPECT_EQ(Limits::replies().max_nesting_depth, SIZE_MAX);
}

// ---------------------------------------------------------------------------------------------
// Resumability: linear in the bytes however they are chunked.

TEST(RedisReplyScannerResume, HugeBulkOneByteAtATimeIsLinear) {
  const std::size_t payload = 2 * 1024 * 1024;
  std::string wire = "*2\r\n:1\r\n$" + std::to_string(payload) + "\r\n";
  wire.append(payload, 'z');
  wire += "\r\n";
  ReplyScanner scanner;
  Reply reply;
  std::size_t frames = 0;
  for (std::size_t end = 1; end <= wire.size(); ++end) {
    const ScanStatus status = scanner.scan(std::string_view(wire).substr(0, end), reply);
    ASSERT_NE(status, ScanStatus::Error);
    if (status == ScanStatus::Frame) ++frames;
  }
  EXPECT_EQ(frames, 1u);
  EXPECT_EQ(reply.size, wire.size());
}

TEST(RedisReplyScannerResume, ManyElementsOneByteAtATimeIsLinear) {
  const int count = 100000;
  std::string wire = "*" + std::to_string(count) + "\r\n";
  for (int i = 0; i < count; ++i) wire += ":" + std::to_string(i) + "\r\n";
  ReplyScanner scanner;
  Reply reply;
  ScanStatus status = ScanStatus::NeedMore;
  for (std::size_t end = 1; end <= wire.size() && status == ScanStatus::NeedMore; ++end) {
    status = scanner.scan(std::string_view(wire).substr(0, end), reply);
  }
  ASSERT_EQ(status, ScanStatus::Frame);
  EXPECT_EQ(reply.size, wire.size());
}

// ---------------------------------------------------------------------------------------------
// peek_elements: the first elements of aggregate replies, for subscribe mode and friends.

TEST(RedisPeekElements, PushMessage) {
  const std::string wire = ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n";
  std::array<ReplyElement, 3> out{};
  ASSERT_EQ(peek_elements(scan_one(wire).bytes, out), 3u);
  EXPECT_EQ(out[0].value, "message");
  EXPECT_EQ(out[0].type, ReplyType::BulkString);
  EXPECT_EQ(out[0].bytes, "$7\r\nmessage\r\n");
  EXPECT_EQ(out[1].value, "ch");
  EXPECT_EQ(out[2].value, "hello");
}

TEST(RedisPeekElements, Resp2SubscribeConfirmation) {
  const std::string wire = "*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n";
  std::array<ReplyElement, 2> out{};
  ASSERT_EQ(peek_elements(wire, out), 2u);  // only as many as asked for
  EXPECT_EQ(out[0].value, "subscribe");
  EXPECT_EQ(out[1].value, "ch");
  std::array<ReplyElement, 4> all{};
  ASSERT_EQ(peek_elements(wire, all), 3u);
  EXPECT_EQ(all[2].type, ReplyType::Integer);
  EXPECT_EQ(all[2].value, "1");
}

TEST(RedisPeekElements, SkipsAttributesAndNestedElements) {
  const std::string wire = "|1\r\n+a\r\n+b\r\n*4\r\n*2\r\n:1\r\n:2\r\n|1\r\n+x\r\n+y\r\n+z\r\n=7\r\ntxt:abc\r\n_\r\n";
  std::array<ReplyElement, 4> out{};
  ASSERT_EQ(peek_elements(wire, out), 4u);
  EXPECT_EQ(out[0].type, ReplyType::Array);
  EXPECT_EQ(out[0].bytes, "*2\r\n:1\r\n:2\r\n");
  EXPECT_EQ(out[0].value, "");
  EXPECT_EQ(out[1].type, ReplyType::SimpleString);
  EXPECT_EQ(out[1].value, "z");
  EXPECT_EQ(out[1].bytes, "|1\r\n+x\r\n+y\r\n+z\r\n");
  EXPECT_EQ(out[2].type, ReplyType::VerbatimString);
  EXPECT_EQ(out[2].value, "abc");
  EXPECT_TRUE(out[3].is_null);
}

TEST(RedisPeekElements, MapsGiveKeysAndValues) {
  std::array<ReplyElement, 3> out{};
  ASSERT_EQ(peek_elements("%1\r\n+k\r\n:5\r\n", out), 2u);
  EXPECT_EQ(out[0].value, "k");
  EXPECT_EQ(out[1].value, "5");
}

TEST(RedisPeekElements, NonAggregatesGiveNothing) {
  std::array<ReplyElement, 2> out{};
  EXPECT_EQ(peek_elements("+OK\r\n", out), 0u);
  EXPECT_EQ(peek_elements("*-1\r\n", out), 0u);
  EXPECT_EQ(peek_elements("*0\r\n", out), 0u);
  EXPECT_EQ(peek_elements("", out), 0u);
  EXPECT_EQ(peek_elements("$-1\r\n", out), 0u);
}

TEST(RedisReplyTypeNames, HaveSpecNames) {
  EXPECT_EQ(to_string(ReplyType::BulkString), "bulk string");
  EXPECT_EQ(to_string(ReplyType::Push), "push");
}

}  // namespace
}  // namespace corral::redis
