#pragma once
// Internal helpers shared by the scanners (not part of the public API).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace corral::redis::wire {

/// Digits of a length that cannot overflow an int64 whatever they are: scanners' fast paths
/// accept at most this many.
constexpr std::size_t kMaxShortDigits = 18;

/// Parses a request length the way redis-server's string2ll does: optional '-', no '+', no leading
/// zeros, no other bytes, no overflow. Returns nullopt when redis-server would reject it.
std::optional<std::int64_t> parse_request_int(std::string_view text);

/// Parses a RESP3 number (RESP3 spec, "Number"): optional '+' or '-', then at least one digit,
/// signed 64-bit range. Leading zeros are tolerated: they do not change the framing.
std::optional<std::int64_t> parse_reply_int(std::string_view text);

/// True when `text` is a RESP3 double: "inf", "-inf", "nan" or
/// [+|-]digits[.digits][(e|E)[+|-]digits] (RESP3 spec, "Double").
bool is_resp3_double(std::string_view text);

/// True when `text` is a RESP3 big number: [+|-] followed by one or more digits.
bool is_big_number(std::string_view text);

/// Result of looking for the CRLF that ends a header line.
struct LineEnd {
  enum class Kind : std::uint8_t { Found, NeedMore, TooLong, MissingLineFeed } kind;
  std::size_t cr;  // offset of CR when kind == Found
};

/// Finds the CR LF ending the line whose payload starts at `start`, memchr-ing only bytes at or
/// after `search_from` (updated, so bytes are never searched twice while a line trickles in).
/// TooLong once the payload exceeds `max_length`, whether or not its end has arrived, so the
/// verdict never depends on how the bytes were chunked.
LineEnd find_line_end(std::string_view buffer, std::size_t start, std::size_t& search_from,
                      std::size_t max_length);

/// The C locale's isspace(), which sdssplitargs uses between inline arguments.
constexpr bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

}  // namespace corral::redis::wire
