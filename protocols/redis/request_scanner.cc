#include "protocols/redis/request_scanner.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "protocols/redis/wire.h"

namespace corral::redis {

namespace {

const char* find_byte(std::string_view buffer, std::size_t from, char byte) {
  if (from >= buffer.size()) return nullptr;
  return static_cast<const char*>(std::memchr(buffer.data() + from, byte, buffer.size() - from));
}

/// redis-server formats the offending byte with %c and then maps CR/LF to spaces so the error
/// line stays one line; do the same.
std::string expected_dollar_message(char got) {
  std::string message = "expected '$', got '";
  message += (got == '\r' || got == '\n') ? ' ' : got;
  message += "'";
  return message;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char unescape(char c) {
  switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;  // \\ and \" and any other escaped byte stand for themselves
  }
}

/// Bytes that end an unquoted inline argument in sdssplitargs (not \v or \f, which only count
/// as separators before an argument starts).
bool ends_plain_arg(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

/// Reads a canonical length at `p` ("0", or no leading zero and at most `max_digits` digits)
/// followed by CR LF, as the fast path accepts it; returns the byte after the LF. nullptr for
/// anything else, including a line not complete yet: the general scanner then handles it.
const char* read_fast_length(const char* p, const char* end, std::size_t max_digits, std::uint64_t& value) {
  const auto digit_at = [](const char* at) { return static_cast<unsigned>(static_cast<unsigned char>(*at) - '0'); };
  // One- and two-digit lengths (nearly every argument of a request) without the loop.
  const std::ptrdiff_t available = end - p;
  if (available >= 3 && max_digits >= 1) {
    const unsigned first = digit_at(p);
    if (first <= 9 && p[1] == '\r' && p[2] == '\n') {
      value = first;
      return p + 3;
    }
    if (available >= 4 && max_digits >= 2 && first - 1 <= 8 && digit_at(p + 1) <= 9 && p[2] == '\r' &&
        p[3] == '\n') {
      value = first * 10 + digit_at(p + 1);
      return p + 4;
    }
  }
  const auto most_digits = static_cast<std::ptrdiff_t>(max_digits);  // max_digits <= wire::kMaxShortDigits
  const char* const limit = available > most_digits ? p + most_digits : end;
  const char* at = p;
  std::uint64_t v = 0;
  for (; at < limit && digit_at(at) <= 9; ++at) v = v * 10 + digit_at(at);
  const auto digits = at - p;
  if (digits == 0 || (digits > 1 && *p == '0')) return nullptr;
  if (end - at < 2 || at[0] != '\r' || at[1] != '\n') return nullptr;
  value = v;
  return at + 2;
}

}  // namespace

void RequestScanner::reset() {
  phase_ = Phase::Start;
  pos_ = 0;
  search_from_ = 0;
  args_left_ = 0;
  bulk_length_ = 0;
  pending_.clear();
  error_ = {};
}

ScanStatus RequestScanner::scan(std::string_view buffer, Request& request) {
  if (phase_ == Phase::Failed) return ScanStatus::Error;
  if (phase_ == Phase::Start) {
    if (buffer.empty()) return ScanStatus::NeedMore;
    if (buffer.front() == '*' && scan_simple_array(buffer, request)) return ScanStatus::Frame;
    pending_.clear();
    // redis-server picks the request type from the first byte: '*' is multibulk, all else inline.
    phase_ = buffer.front() == '*' ? Phase::ArrayHeader : Phase::Inline;
    pos_ = 0;
    search_from_ = 0;
  }
  const ScanStatus status = phase_ == Phase::Inline ? scan_inline(buffer) : scan_multibulk(buffer);
  if (status == ScanStatus::Frame) return finish(buffer, request);
  return status;
}

ScanStatus RequestScanner::finish(std::string_view buffer, Request& request) {
  pending_.bytes_ = buffer.substr(0, pos_);
  std::swap(request, pending_);
  pending_.clear();
  phase_ = Phase::Start;
  pos_ = 0;
  search_from_ = 0;
  return ScanStatus::Frame;
}

ScanStatus RequestScanner::fail(ErrorCode code, std::string message) {
  phase_ = Phase::Failed;
  error_ = ProtocolError{code, std::move(message)};
  return ScanStatus::Error;
}

// The common request, e.g. "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", framed without the state machine:
// no memchr per line, no resume bookkeeping, spans written once. It accepts only input the general
// path would frame identically, so the scanner's verdict never depends on which path ran.
bool RequestScanner::scan_simple_array(std::string_view buffer, Request& request) const {
  const std::size_t max_digits = std::min(wire::kMaxShortDigits, limits_.max_inline_length);
  const char* const begin = buffer.data();
  const char* const end = begin + buffer.size();
  std::uint64_t count = 0;
  const char* p = read_fast_length(begin + 1, end, max_digits, count);
  if (p == nullptr || count == 0 || count > Request::kInlineArgs || count > limits_.max_array_length) return false;
  // Spans go straight into the request: on a false return the general path overwrites it anyway.
  for (std::size_t i = 0; i < count; ++i) {
    if (p == end || *p != '$') return false;
    std::uint64_t length = 0;
    p = read_fast_length(p + 1, end, max_digits, length);
    if (p == nullptr || length > limits_.max_bulk_length) return false;
    const auto size = static_cast<std::size_t>(length);
    if (static_cast<std::size_t>(end - p) < size + 2 || p[size] != '\r' || p[size + 1] != '\n') return false;
    request.local_[i] = {static_cast<std::size_t>(p - begin), size};
    p += size + 2;
  }
  request.set_local(buffer.substr(0, static_cast<std::size_t>(p - begin)), static_cast<std::size_t>(count));
  return true;
}

RequestScanner::Line RequestScanner::find_line(std::string_view buffer, std::size_t start,
                                               ErrorCode too_big, std::string_view message) {
  const wire::LineEnd end = wire::find_line_end(buffer, start, search_from_, limits_.max_inline_length);
  switch (end.kind) {
    case wire::LineEnd::Kind::NeedMore: return {ScanStatus::NeedMore, {}, 0};
    case wire::LineEnd::Kind::TooLong: return {fail(too_big, std::string(message)), {}, 0};
    case wire::LineEnd::Kind::MissingLineFeed:
      // redis-server skips the byte after CR unchecked; we insist on LF so that corral and any
      // backend can never disagree about where the request ends.
      return {fail(ErrorCode::ExpectedLineFeed, "expected LF after CR"), {}, 0};
    case wire::LineEnd::Kind::Found: break;
  }
  return {ScanStatus::Frame, buffer.substr(start, end.cr - start), end.cr + 2};
}

ScanStatus RequestScanner::scan_multibulk(std::string_view buffer) {
  for (;;) {
    ScanStatus status = ScanStatus::NeedMore;
    switch (phase_) {
      case Phase::ArrayHeader: status = scan_array_header(buffer); break;
      case Phase::BulkHeader: status = scan_bulk_header(buffer); break;
      case Phase::BulkBody: status = scan_bulk_body(buffer); break;
      default: return fail(ErrorCode::InvalidMultibulkLength, "invalid multibulk length");  // unreachable
    }
    if (status != ScanStatus::Frame) return status;  // NeedMore or Error
    if (args_left_ == 0) return ScanStatus::Frame;
  }
}

// "*<count>\r\n". Like redis-server (processMultibulkBuffer), a count <= 0 is a frame with no
// command that is consumed silently.
ScanStatus RequestScanner::scan_array_header(std::string_view buffer) {
  const Line line = find_line(buffer, 1, ErrorCode::TooBigMultibulkCount, "too big mbulk count string");
  if (line.status != ScanStatus::Frame) return line.status;
  const auto count = wire::parse_request_int(line.text);
  if (!count) return fail(ErrorCode::InvalidMultibulkLength, "invalid multibulk length");
  if (*count > 0 && static_cast<std::uint64_t>(*count) > limits_.max_array_length) {
    return fail(ErrorCode::ArrayTooLong, "invalid multibulk length");
  }
  pos_ = line.next;
  args_left_ = std::max<std::int64_t>(*count, 0);
  pending_.reserve(static_cast<std::size_t>(args_left_));
  phase_ = Phase::BulkHeader;
  return ScanStatus::Frame;
}

// "$<length>\r\n" for the next argument.
ScanStatus RequestScanner::scan_bulk_header(std::string_view buffer) {
  if (pos_ >= buffer.size()) return ScanStatus::NeedMore;
  if (buffer[pos_] != '$') return fail(ErrorCode::ExpectedDollar, expected_dollar_message(buffer[pos_]));
  const Line line = find_line(buffer, pos_ + 1, ErrorCode::TooBigBulkCount, "too big bulk count string");
  if (line.status != ScanStatus::Frame) return line.status;
  const auto length = wire::parse_request_int(line.text);
  if (!length || *length < 0) return fail(ErrorCode::InvalidBulkLength, "invalid bulk length");
  if (static_cast<std::uint64_t>(*length) > limits_.max_bulk_length) {
    return fail(ErrorCode::BulkTooLong, "invalid bulk length");
  }
  pos_ = line.next;
  bulk_length_ = static_cast<std::size_t>(*length);
  phase_ = Phase::BulkBody;
  return ScanStatus::Frame;
}

// "<payload>\r\n": O(1) per call however the payload trickles in.
ScanStatus RequestScanner::scan_bulk_body(std::string_view buffer) {
  const std::size_t end = pos_ + bulk_length_;
  if (buffer.size() < end + 2) return ScanStatus::NeedMore;
  if (buffer[end] != '\r' || buffer[end + 1] != '\n') {
    return fail(ErrorCode::ExpectedCrlfAfterBulk, "expected CRLF after bulk string");
  }
  pending_.push({pos_, bulk_length_});
  pos_ = end + 2;
  search_from_ = pos_;
  --args_left_;
  phase_ = Phase::BulkHeader;
  return ScanStatus::Frame;
}

// Inline command (processInlineBuffer): a line ended by LF, an optional CR before it dropped.
ScanStatus RequestScanner::scan_inline(std::string_view buffer) {
  const char* lf = find_byte(buffer, search_from_, '\n');
  if (lf == nullptr) {
    search_from_ = buffer.size();
    if (buffer.size() > limits_.max_inline_length) {
      return fail(ErrorCode::TooBigInlineRequest, "too big inline request");
    }
    return ScanStatus::NeedMore;
  }
  const auto at = static_cast<std::size_t>(lf - buffer.data());
  if (at > limits_.max_inline_length) return fail(ErrorCode::TooBigInlineRequest, "too big inline request");
  std::string_view line = buffer.substr(0, at);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  pending_.inline_ = true;
  if (!split_inline(line)) return fail(ErrorCode::UnbalancedQuotes, "unbalanced quotes in request");
  pos_ = at + 1;
  return ScanStatus::Frame;
}

bool RequestScanner::split_inline(std::string_view line) {
  // sdssplitargs walks a C string, so a NUL byte ends the argument list (inside quotes it is an
  // unbalanced quote). Truncating the line at the NUL gives exactly that behaviour.
  if (const char* nul = find_byte(line, 0, '\0')) line = line.substr(0, static_cast<std::size_t>(nul - line.data()));
  if (find_byte(line, 0, '"') == nullptr && find_byte(line, 0, '\'') == nullptr) {
    split_plain(line);  // common case: arguments are plain substrings, keep them as views
    return true;
  }
  return split_quoted(line);
}

void RequestScanner::split_plain(std::string_view line) {
  std::size_t i = 0;
  for (;;) {
    while (i < line.size() && wire::is_space(line[i])) ++i;
    if (i == line.size()) return;
    const std::size_t start = i;
    while (i < line.size() && !ends_plain_arg(line[i])) ++i;
    pending_.push({start, i - start});
  }
}

// sdssplitargs rules: "..." understands \xHH, \n, \r, \t, \b, \a and \<any>; '...' understands
// only \'; a quote may open in the middle of an argument ('a"b c"' is "ab c"), but a closing
// quote must be followed by whitespace or the end of the line.
bool RequestScanner::split_quoted(std::string_view line) {
  pending_.decoded_ = true;
  std::string& arena = pending_.arena_;
  arena.reserve(line.size());  // decoding never grows the text
  std::size_t i = 0;
  const std::size_t n = line.size();
  for (;;) {
    while (i < n && wire::is_space(line[i])) ++i;
    if (i == n) return true;
    const std::size_t start = arena.size();
    enum class Quote { None, Double, Single } quote = Quote::None;
    for (bool done = false; !done;) {
      if (quote == Quote::None) {
        if (i == n || ends_plain_arg(line[i])) break;
        const char c = line[i++];
        if (c == '"') {
          quote = Quote::Double;
        } else if (c == '\'') {
          quote = Quote::Single;
        } else {
          arena += c;
        }
        continue;
      }
      if (i == n) return false;  // the line ended inside quotes
      const char c = line[i];
      const char closing = quote == Quote::Double ? '"' : '\'';
      if (c == closing) {
        if (i + 1 < n && !wire::is_space(line[i + 1])) return false;
        ++i;
        done = true;
      } else if (quote == Quote::Double && c == '\\' && i + 3 < n && line[i + 1] == 'x' &&
                 hex_value(line[i + 2]) >= 0 && hex_value(line[i + 3]) >= 0) {
        arena += static_cast<char>(hex_value(line[i + 2]) * 16 + hex_value(line[i + 3]));
        i += 4;
      } else if (quote == Quote::Double && c == '\\' && i + 1 < n) {
        arena += unescape(line[i + 1]);
        i += 2;
      } else if (quote == Quote::Single && c == '\\' && i + 1 < n && line[i + 1] == '\'') {
        arena += '\'';
        i += 2;
      } else {
        arena += c;
        ++i;
      }
    }
    pending_.push({start, arena.size() - start});
  }
}

}  // namespace corral::redis
