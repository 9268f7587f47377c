#include "protocols/redis/request_scanner.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocols/redis/encoder.h"
#include "scan_helpers.h"

namespace corral::redis {
namespace {

using testing::all_chunkings;
using testing::Outcome;
using testing::scan_in_chunks;
using testing::scan_requests;
using testing::ScannedRequest;

using Args = std::vector<std::string>;

// ---------------------------------------------------------------------------------------------
// Table of cases: each runs whole, split at every byte, one byte at a time and in random chunks,
// and must give the same frames (or the same error) every time.

struct RequestCase {
  std::string name;
  std::string wire;
  std::vector<Args> frames;                // expected arguments of each frame, in order
  std::optional<ErrorCode> error = {};     // expected error after those frames
  std::string message = {};                // its exact message
  bool inline_frames = false;              // every frame is inline
};

std::ostream& operator<<(std::ostream& os, const RequestCase& c) { return os << c.name; }

/// A string literal with embedded NUL bytes kept.
template <std::size_t N>
std::string lit(const char (&text)[N]) {
  return std::string(text, N - 1);
}

const std::vector<RequestCase>& request_cases() {
  static const std::vector<RequestCase> cases = {
      // RESP arrays of bulk strings.
      {"ping", "*1\r\n$4\r\nPING\r\n", {{"PING"}}},
      {"pipelined", "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n", {{"GET", "k"}, {"PING"}}},
      {"empty_arg", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n", {{"SET", "k", ""}}},
      {"binary_arg", "*2\r\n$4\r\nECHO\r\n$6\r\n\r\n*1\r\n\r\n", {{"ECHO", "\r\n*1\r\n"}}},
      {"nul_in_arg", lit("*2\r\n$4\r\nECHO\r\n$3\r\na\0b\r\n"), {{"ECHO", std::string("a\0b", 3)}}},
      {"zero_count", "*0\r\n*1\r\n$4\r\nPING\r\n", {{}, {"PING"}}},
      {"null_count", "*-1\r\n*1\r\n$4\r\nPING\r\n", {{}, {"PING"}}},
      {"negative_count", "*-5\r\n", {{}}},
      {"spills_past_eight",
       "*10\r\n$5\r\nRPUSH\r\n$1\r\nk\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\n5\r\n$1\r\n6\r\n"
       "$1\r\n7\r\n$2\r\n10\r\n",
       {{"RPUSH", "k", "1", "2", "3", "4", "5", "6", "7", "10"}}},
      {"partial_tail_is_kept", "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGE", {{"PING"}}},
      // Edges of the scanner's fast path (complete arrays of up to eight bulk strings): whole and
      // split inputs take different paths and must agree.
      {"eight_args_fast",
       "*8\r\n$4\r\nMSET\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n3\r\n$0\r\n\r\n",
       {{"MSET", "a", "1", "b", "2", "c", "3", ""}}},
      {"fast_then_error", "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPINGxx", {{"PING"}}, ErrorCode::ExpectedCrlfAfterBulk,
       "expected CRLF after bulk string"},
      {"two_digit_length", "*2\r\n$4\r\nECHO\r\n$12\r\nhello world!\r\n", {{"ECHO", "hello world!"}}},
      {"three_digit_length", "*2\r\n$4\r\nECHO\r\n$100\r\n" + std::string(100, 'v') + "\r\n",
       {{"ECHO", std::string(100, 'v')}}},
      {"bulk_two_digits_leading_zero", "*1\r\n$05\r\nhello\r\n", {}, ErrorCode::InvalidBulkLength,
       "invalid bulk length"},
      {"count_nineteen_digits", "*1000000000000000000\r\n", {}, ErrorCode::ArrayTooLong, "invalid multibulk length"},
      {"bulk_zero_leading_zero", "*1\r\n$00\r\n\r\n", {}, ErrorCode::InvalidBulkLength, "invalid bulk length"},
      {"bulk_length_past_frame", "*2\r\n$3\r\nGET\r\n$8\r\nk\r\n*1\r\n$4\r\nPING\r\n", {},
       ErrorCode::ExpectedCrlfAfterBulk, "expected CRLF after bulk string"},
      // Request errors, worded like redis-server's.
      {"count_not_number", "*x\r\n", {}, ErrorCode::InvalidMultibulkLength, "invalid multibulk length"},
      {"count_leading_zero", "*01\r\n", {}, ErrorCode::InvalidMultibulkLength, "invalid multibulk length"},
      {"count_plus", "*+1\r\n", {}, ErrorCode::InvalidMultibulkLength, "invalid multibulk length"},
      {"count_empty", "*\r\n", {}, ErrorCode::InvalidMultibulkLength, "invalid multibulk length"},
      {"count_minus_zero", "*-0\r\n", {}, ErrorCode::InvalidMultibulkLength, "invalid multibulk length"},
      {"count_overflow", "*99999999999999999999\r\n", {}, ErrorCode::InvalidMultibulkLength,
       "invalid multibulk length"},
      {"count_int64_min_overflow", "*-9223372036854775809\r\n", {}, ErrorCode::InvalidMultibulkLength,
       "invalid multibulk length"},
      {"count_above_limit", "*1048577\r\n", {}, ErrorCode::ArrayTooLong, "invalid multibulk length"},
      {"not_a_bulk", "*1\r\nx\r\n", {}, ErrorCode::ExpectedDollar, "expected '$', got 'x'"},
      {"cr_instead_of_bulk", "*1\r\n\r\n", {}, ErrorCode::ExpectedDollar, "expected '$', got ' '"},
      {"bulk_negative", "*1\r\n$-1\r\n", {}, ErrorCode::InvalidBulkLength, "invalid bulk length"},
      {"bulk_leading_zero", "*1\r\n$01\r\n", {}, ErrorCode::InvalidBulkLength, "invalid bulk length"},
      {"bulk_plus", "*1\r\n$+4\r\n", {}, ErrorCode::InvalidBulkLength, "invalid bulk length"},
      {"bulk_overflow", "*1\r\n$99999999999999999999\r\n", {}, ErrorCode::InvalidBulkLength,
       "invalid bulk length"},
      {"bulk_above_limit", "*1\r\n$600000000\r\n", {}, ErrorCode::BulkTooLong, "invalid bulk length"},
      {"bulk_without_crlf", "*1\r\n$4\r\nPINGxx", {}, ErrorCode::ExpectedCrlfAfterBulk,
       "expected CRLF after bulk string"},
      {"cr_without_lf", "*1\rX$4\r\nPING\r\n", {}, ErrorCode::ExpectedLineFeed, "expected LF after CR"},
      {"error_after_good_frame", "*1\r\n$4\r\nPING\r\n*1\r\n:1\r\n", {{"PING"}}, ErrorCode::ExpectedDollar,
       "expected '$', got ':'"},
  };
  return cases;
}

const std::vector<RequestCase>& inline_cases() {
  // Expected splits checked against redis-server 7.0 (sdssplitargs) by echoing them back.
  static const std::vector<RequestCase> cases = {
      {"crlf", "PING\r\n", {{"PING"}}, {}, {}, true},
      {"lf_only", "GET k\n", {{"GET", "k"}}, {}, {}, true},
      {"extra_spaces", "  SET   a  b \r\n", {{"SET", "a", "b"}}, {}, {}, true},
      {"tabs", "SET\ta\tb\r\n", {{"SET", "a", "b"}}, {}, {}, true},
      {"empty_lines", "\r\n\n   \r\nPING\n", {{}, {}, {}, {"PING"}}, {}, {}, true},
      {"double_quotes", "SET k \"a b\"\r\n", {{"SET", "k", "a b"}}, {}, {}, true},
      {"escapes", "ECHO \"\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n", {{"ECHO", "AJ\n\r\t\b\a\\\"q"}}, {}, {}, true},
      {"hex_needs_two_digits", "ECHO \"\\x4\" \"\\xZZ\"\r\n", {{"ECHO", "x4", "xZZ"}}, {}, {}, true},
      {"single_quotes", "ECHO 'it\\'s' 'a\\nb'\r\n", {{"ECHO", "it's", "a\\nb"}}, {}, {}, true},
      {"single_keeps_backslashes", "ECHO 'a\\\\b'\r\n", {{"ECHO", "a\\\\b"}}, {}, {}, true},
      {"quote_mid_argument", "ECHO ab\"cd\" a'b c'\r\n", {{"ECHO", "abcd", "ab c"}}, {}, {}, true},
      {"empty_quoted", "ECHO \"\" ''\r\n", {{"ECHO", "", ""}}, {}, {}, true},
      {"cr_splits_plain_arg", "ECHO x\rY\r\n", {{"ECHO", "x", "Y"}}, {}, {}, true},
      {"vtab_skipped_before_arg", "ECHO \vx\r\n", {{"ECHO", "x"}}, {}, {}, true},
      {"formfeed_kept_inside_arg", "ECHO x\f\r\n", {{"ECHO", "x\f"}}, {}, {}, true},
      {"vtab_may_follow_quote", "ECHO \"x\"\v\r\n", {{"ECHO", "x"}}, {}, {}, true},
      {"nul_ends_arguments", lit("ECHO a\0b c\r\n"), {{"ECHO", "a"}}, {}, {}, true},
      {"mixed_with_resp", "PING\r\n*2\r\n$4\r\nECHO\r\n$1\r\nx\r\nGET \"k\"\n", {{"PING"}, {"ECHO", "x"}, {"GET", "k"}}},
      {"unterminated_quote", "ECHO \"abc\r\n", {}, ErrorCode::UnbalancedQuotes, "unbalanced quotes in request"},
      {"text_after_close_quote", "ECHO \"a\"b\r\n", {}, ErrorCode::UnbalancedQuotes, "unbalanced quotes in request"},
      {"text_after_close_single", "ECHO a'b'c\r\n", {}, ErrorCode::UnbalancedQuotes, "unbalanced quotes in request"},
      {"backslash_before_end", "ECHO \"a\\\r\n", {}, ErrorCode::UnbalancedQuotes, "unbalanced quotes in request"},
      {"nul_inside_quotes", lit("ECHO \"a\0\"\r\n"), {}, ErrorCode::UnbalancedQuotes,
       "unbalanced quotes in request"},
  };
  return cases;
}

void expect_outcome(const RequestCase& c, const Outcome<ScannedRequest>& outcome) {
  ASSERT_EQ(outcome.frames.size(), c.frames.size());
  for (std::size_t i = 0; i < c.frames.size(); ++i) {
    EXPECT_EQ(outcome.frames[i].args, c.frames[i]) << "frame " << i;
    if (c.inline_frames) {
      EXPECT_TRUE(outcome.frames[i].is_inline) << "frame " << i;
    }
  }
  ASSERT_EQ(outcome.error.has_value(), c.error.has_value());
  if (c.error) {
    EXPECT_EQ(outcome.error->code, *c.error) << to_string(outcome.error->code);
    EXPECT_EQ(outcome.error->message, c.message);
  }
}

class RedisRequestCases : public ::testing::TestWithParam<RequestCase> {};

TEST_P(RedisRequestCases, Whole) {
  expect_outcome(GetParam(), scan_requests(GetParam().wire, {GetParam().wire.size()}));
}

TEST_P(RedisRequestCases, SameUnderEveryChunking) {
  const RequestCase& c = GetParam();
  const auto whole = scan_requests(c.wire, {c.wire.size()});
  for (const auto& plan : all_chunkings(c.wire.size())) {
    const auto outcome = scan_requests(c.wire, plan);
    ASSERT_TRUE(outcome.same_as(whole)) << "first chunk " << plan.front() << " of " << plan.size();
  }
}

TEST_P(RedisRequestCases, FramesCoverTheirOriginalBytes) {
  const RequestCase& c = GetParam();
  const auto outcome = scan_requests(c.wire, {c.wire.size()});
  std::string joined;
  for (const auto& frame : outcome.frames) joined += frame.bytes;
  EXPECT_EQ(c.wire.substr(0, joined.size()), joined);
}

std::string case_name(const ::testing::TestParamInfo<RequestCase>& info) { return info.param.name; }

INSTANTIATE_TEST_SUITE_P(Resp, RedisRequestCases, ::testing::ValuesIn(request_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Inline, RedisRequestCases, ::testing::ValuesIn(inline_cases()), case_name);

// The style guide's example: pipelined requests survive any fixed chunk size.
class RedisRequestScannerSplit : public ::testing::TestWithParam<std::size_t> {};

TEST_P(RedisRequestScannerSplit, PipelinedRequestsSurviveAnyChunking) {
  const std::string wire = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n";
  const auto frames = scan_in_chunks(wire, GetParam());
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0].command(), "GET");
  EXPECT_EQ(frames[1].command(), "PING");
}
INSTANTIATE_TEST_SUITE_P(Chunks, RedisRequestScannerSplit, ::testing::Values(1, 2, 3, 7, 64, 4096));

// ---------------------------------------------------------------------------------------------
// Frame accessors.

TEST(RedisRequestScanner, FrameExposesViewsIntoTheBuffer) {
  const std::string wire = "*3\r\n$3\r\nset\r\n$1\r\nk\r\n$2\r\nvv\r\n";
  RequestScanner scanner;
  Request request;
  ASSERT_EQ(scanner.scan(wire, request), ScanStatus::Frame);
  EXPECT_EQ(request.size(), wire.size());
  EXPECT_EQ(request.bytes().data(), wire.data());
  EXPECT_EQ(request.arg_count(), 3u);
  EXPECT_EQ(request.command(), "set");
  EXPECT_TRUE(request.is_command("SET"));
  EXPECT_FALSE(request.is_command("GET"));
  EXPECT_FALSE(request.is_inline());
  EXPECT_EQ(request.arg(2).data(), wire.data() + wire.find("vv"));  // zero copy
}

TEST(RedisRequestScanner, PlainInlineArgumentsAreViewsToo) {
  const std::string wire = "GET key\r\n";
  RequestScanner scanner;
  Request request;
  ASSERT_EQ(scanner.scan(wire, request), ScanStatus::Frame);
  EXPECT_TRUE(request.is_inline());
  EXPECT_EQ(request.arg(1).data(), wire.data() + 4);
}

TEST(RedisRequestScanner, DecodedInlineArgumentsSurviveMovingTheRequest) {
  const std::string wire = "SET \"a b\" \"\\x41\"\r\n";
  RequestScanner scanner;
  Request request;
  ASSERT_EQ(scanner.scan(wire, request), ScanStatus::Frame);
  const Request moved = std::move(request);
  EXPECT_EQ(moved.arg(1), "a b");
  EXPECT_EQ(moved.arg(2), "A");
}

TEST(RedisRequestScanner, InlineIsReencodedAsResp) {
  const std::string wire = "SET k \"a b\"\r\n";
  RequestScanner scanner;
  Request request;
  ASSERT_EQ(scanner.scan(wire, request), ScanStatus::Frame);
  std::string out;
  encode_request(out, request);
  EXPECT_EQ(out, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na b\r\n");
}

TEST(RedisRequestScanner, EmptyFramesHaveNoCommand) {
  RequestScanner scanner;
  Request request;
  ASSERT_EQ(scanner.scan("*0\r\n", request), ScanStatus::Frame);
  EXPECT_TRUE(request.empty());
  EXPECT_EQ(request.command(), "");
  EXPECT_FALSE(request.is_command("PING"));
  EXPECT_EQ(request.size(), 4u);
}

TEST(RedisRequestScanner, ErrorIsStickyUntilReset) {
  RequestScanner scanner;
  Request request;
  ASSERT_EQ(scanner.scan("*x\r\n", request), ScanStatus::Error);
  EXPECT_EQ(scanner.error().reply(), "-ERR Protocol error: invalid multibulk length\r\n");
  EXPECT_EQ(scanner.scan("*1\r\n$4\r\nPING\r\n", request), ScanStatus::Error);
  scanner.reset();
  EXPECT_EQ(scanner.scan("*1\r\n$4\r\nPING\r\n", request), ScanStatus::Frame);
}

TEST(RedisRequestScanner, EmptyBufferNeedsMore) {
  RequestScanner scanner;
  Request request;
  EXPECT_EQ(scanner.scan("", request), ScanStatus::NeedMore);
}

TEST(RedisRequestScanner, ReusedRequestDropsPreviousArguments) {
  RequestScanner scanner;
  Request request;
  std::string many = "*12\r\n";
  for (int i = 0; i < 12; ++i) many += "$1\r\nx\r\n";
  ASSERT_EQ(scanner.scan(many, request), ScanStatus::Frame);
  EXPECT_EQ(request.arg_count(), 12u);
  ASSERT_EQ(scanner.scan("*1\r\n$4\r\nPING\r\n", request), ScanStatus::Frame);
  EXPECT_EQ(request.arg_count(), 1u);
  EXPECT_EQ(request.command(), "PING");
}

// ---------------------------------------------------------------------------------------------
// Limits: reported as soon as the offending header is read, without buffering the payload.

Outcome<ScannedRequest> one_byte_at_a_time(std::string_view wire, Limits limits) {
  return scan_requests(wire, std::vector<std::size_t>(wire.size(), 1), limits);
}

TEST(RedisRequestLimits, BulkTooLongIsRejectedAtItsHeader) {
  Limits limits;
  limits.max_bulk_length = 10;
  const std::string header = "*2\r\n$3\r\nGET\r\n$11\r\n";
  const auto outcome = one_byte_at_a_time(header + std::string(11, 'x') + "\r\n", limits);
  ASSERT_TRUE(outcome.error);
  EXPECT_EQ(outcome.error->code, ErrorCode::BulkTooLong);
  EXPECT_EQ(outcome.error->message, "invalid bulk length");
  EXPECT_EQ(outcome.bytes_fed_at_error, header.size());
  EXPECT_TRUE(scan_requests("*1\r\n$10\r\n0123456789\r\n", {64}, limits).frames.size() == 1);
}

TEST(RedisRequestLimits, TooManyElementsIsRejectedAtTheHeader) {
  Limits limits;
  limits.max_array_length = 3;
  const auto outcome = one_byte_at_a_time("*4\r\n$1\r\na\r\n", limits);
  ASSERT_TRUE(outcome.error);
  EXPECT_EQ(outcome.error->code, ErrorCode::ArrayTooLong);
  EXPECT_EQ(outcome.bytes_fed_at_error, 4u);
  EXPECT_EQ(scan_requests("*3\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", {64}, limits).frames.size(), 1u);
}

TEST(RedisRequestLimits, InlineTooLongWithoutWaitingForTheNewline) {
  Limits limits;
  limits.max_inline_length = 16;
  const auto outcome = one_byte_at_a_time(std::string(100, 'a') + "\r\n", limits);
  ASSERT_TRUE(outcome.error);
  EXPECT_EQ(outcome.error->code, ErrorCode::TooBigInlineRequest);
  EXPECT_EQ(outcome.error->message, "too big inline request");
  EXPECT_EQ(outcome.bytes_fed_at_error, 17u);
}

TEST(RedisRequestLimits, InlineAtTheLimitIsAccepted) {
  Limits limits;
  limits.max_inline_length = 16;
  const std::string line = "ECHO " + std::string(11, 'a');  // 16 bytes before the LF
  for (const auto& plan : all_chunkings(line.size() + 1)) {
    const auto outcome = scan_requests(line + "\n", plan, limits);
    ASSERT_EQ(outcome.frames.size(), 1u);
  }
  const auto over = scan_requests(line + "a\n", {64}, limits);
  ASSERT_TRUE(over.error);
  EXPECT_EQ(over.error->code, ErrorCode::TooBigInlineRequest);
}

TEST(RedisRequestLimits, DefaultInlineLimitIs64KiB) {
  const std::string at_limit = "ECHO " + std::string(64 * 1024 - 5, 'a') + "\n";
  EXPECT_EQ(scan_requests(at_limit, {at_limit.size()}).frames.size(), 1u);
  const std::string over = std::string(64 * 1024 + 1, 'a');
  const auto outcome = scan_requests(over, {over.size()});
  ASSERT_TRUE(outcome.error);
  EXPECT_EQ(outcome.error->code, ErrorCode::TooBigInlineRequest);
}

TEST(RedisRequestLimits, LongCountLinesAreCapped) {
  Limits limits;
  limits.max_inline_length = 8;
  auto outcome = one_byte_at_a_time("*" + std::string(40, '1') + "\r\n", limits);
  ASSERT_TRUE(outcome.error);
  EXPECT_EQ(outcome.error->code, ErrorCode::TooBigMultibulkCount);
  EXPECT_EQ(outcome.error->message, "too big mbulk count string");
  EXPECT_EQ(outcome.bytes_fed_at_error, 10u);
  outcome = one_byte_at_a_time("*1\r\n$" + std::string(40, '1') + "\r\n", limits);
  ASSERT_TRUE(outcome.error);
  EXPECT_EQ(outcome.error->code, ErrorCode::TooBigBulkCount);
  EXPECT_EQ(outcome.error->message, "too big bulk count string");
}

TEST(RedisRequestLimits, DefaultsMatchRedisServer) {
  const Limits limits = Limits::requests();
  EXPECT_EQ(limits.max_bulk_length, 512u * 1024 * 1024);
  EXPECT_EQ(limits.max_array_length, 1024u * 1024);
  EXPECT_EQ(limits.max_nesting_depth, 64u);
  EXPECT_EQ(limits.max_inline_length, 64u * 1024);
}

// ---------------------------------------------------------------------------------------------
// Resumability: feeding a big request one byte at a time stays linear. A scanner that rescanned
// from the frame start on every call would need ~10^12 steps here and time out.

TEST(RedisRequestScannerResume, HugeBulkOneByteAtATimeIsLinear) {
  const std::size_t payload = 2 * 1024 * 1024;
  std::string wire = "*2\r\n$4\r\nECHO\r\n$" + std::to_string(payload) + "\r\n";
  wire.append(payload, 'z');
  wire += "\r\n";
  RequestScanner scanner;
  Request request;
  std::size_t frames = 0;
  for (std::size_t end = 1; end <= wire.size(); ++end) {
    const ScanStatus status = scanner.scan(std::string_view(wire).substr(0, end), request);
    ASSERT_NE(status, ScanStatus::Error);
    if (status == ScanStatus::Frame) ++frames;
  }
  EXPECT_EQ(frames, 1u);
  EXPECT_EQ(request.arg(1).size(), payload);
}

TEST(RedisRequestScannerResume, LongInlineLineOneByteAtATimeIsLinear) {
  const std::string wire = "ECHO " + std::string(60 * 1024, 'q') + "\r\n";
  RequestScanner scanner;
  Request request;
  ScanStatus status = ScanStatus::NeedMore;
  for (std::size_t end = 1; end <= wire.size(); ++end) {
    status = scanner.scan(std::string_view(wire).substr(0, end), request);
    if (end < wire.size()) {
      ASSERT_EQ(status, ScanStatus::NeedMore);
    }
  }
  ASSERT_EQ(status, ScanStatus::Frame);
  EXPECT_EQ(request.arg(1).size(), 60u * 1024);
}

TEST(RedisRequestScannerResume, BufferMayMoveBetweenCalls) {
  const std::string wire = "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n";
  RequestScanner scanner;
  Request request;
  std::string first(wire.substr(0, 10));
  ASSERT_EQ(scanner.scan(first, request), ScanStatus::NeedMore);
  const std::string second = wire;  // a different allocation holding the same prefix and more
  ASSERT_EQ(scanner.scan(second, request), ScanStatus::Frame);
  EXPECT_EQ(request.arg(1), "key");
  EXPECT_EQ(request.arg(1).data(), second.data() + second.size() - 5);
}

// Randomized pipelines: generated requests of random shapes, encoded, then framed in random chunks.
TEST(RedisRequestScannerRandom, RandomPipelinesRoundTrip) {
  std::mt19937 rng(7);
  for (int round = 0; round < 200; ++round) {
    std::vector<Args> expected;
    std::string wire;
    const int count = std::uniform_int_distribution<int>(1, 6)(rng);
    for (int r = 0; r < count; ++r) {
      Args args;
      const int argc = std::uniform_int_distribution<int>(1, 12)(rng);
      for (int a = 0; a < argc; ++a) {
        std::string arg(std::uniform_int_distribution<std::size_t>(0, 20)(rng), '\0');
        for (char& ch : arg) ch = static_cast<char>(std::uniform_int_distribution<int>(0, 255)(rng));
        args.push_back(arg);
      }
      std::vector<std::string_view> views(args.begin(), args.end());
      encode_command(wire, std::span<const std::string_view>(views));
      expected.push_back(args);
    }
    std::vector<std::size_t> plan;
    for (std::size_t total = 0; total < wire.size();) {
      total += plan.emplace_back(std::uniform_int_distribution<std::size_t>(1, 40)(rng));
    }
    const auto outcome = scan_requests(wire, plan);
    ASSERT_FALSE(outcome.error);
    ASSERT_EQ(outcome.frames.size(), expected.size());
    for (std::size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(outcome.frames[i].args, expected[i]);
    EXPECT_EQ(outcome.leftover, 0u);
  }
}

TEST(RedisErrorCodes, HaveNames) {
  EXPECT_EQ(to_string(ErrorCode::InvalidBulkLength), "InvalidBulkLength");
  EXPECT_EQ(to_string(ErrorCode::StreamedNotSupported), "StreamedNotSupported");
  EXPECT_EQ(to_string(ScanStatus::NeedMore), "NeedMore");
}

}  // namespace
}  // namespace corral::redis
