#include "protocols/redis/wire.h"

#include <algorithm>
#include <cstring>
#include <limits>

namespace corral::redis::wire {

namespace {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

/// Accumulates digits into a magnitude; nullopt on an empty run, a non-digit or overflow of
/// `max_magnitude`.
std::optional<std::uint64_t> magnitude(std::string_view digits, std::uint64_t max_magnitude) {
  if (digits.empty()) return std::nullopt;
  std::uint64_t value = 0;
  if (digits.size() < 19 && max_magnitude >= 999'999'999'999'999'999u) {
    // Lengths and counts on the wire are short: 18 digits cannot overflow, so skip the check.
    for (char c : digits) {
      if (!is_digit(c)) return std::nullopt;
      value = value * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return value;
  }
  for (char c : digits) {
    if (!is_digit(c)) return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (value > (max_magnitude - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

std::optional<std::int64_t> signed_value(std::string_view digits, bool negative) {
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  const auto m = magnitude(digits, negative ? kMax + 1 : kMax);
  if (!m) return std::nullopt;
  if (!negative) return static_cast<std::int64_t>(*m);
  // -(2^63) has no positive twin: negate in unsigned arithmetic, then convert.
  return static_cast<std::int64_t>(~*m + 1);
}

bool all_digits(std::string_view text) {
  if (text.empty()) return false;
  for (char c : text) {
    if (!is_digit(c)) return false;
  }
  return true;
}

}  // namespace

LineEnd find_line_end(std::string_view buffer, std::size_t start, std::size_t& search_from,
                      std::size_t max_length) {
  const std::size_t from = std::max(search_from, start);
  const void* cr = from < buffer.size() ? std::memchr(buffer.data() + from, '\r', buffer.size() - from) : nullptr;
  if (cr == nullptr) {
    search_from = buffer.size();
    const bool too_long = buffer.size() - start > max_length;
    return {too_long ? LineEnd::Kind::TooLong : LineEnd::Kind::NeedMore, 0};
  }
  const auto at = static_cast<std::size_t>(static_cast<const char*>(cr) - buffer.data());
  if (at - start > max_length) return {LineEnd::Kind::TooLong, 0};
  search_from = at;  // found again in O(1) while we wait for the LF
  if (at + 1 >= buffer.size()) return {LineEnd::Kind::NeedMore, 0};
  if (buffer[at + 1] != '\n') return {LineEnd::Kind::MissingLineFeed, 0};
  search_from = at + 2;
  return {LineEnd::Kind::Found, at};
}

std::optional<std::int64_t> parse_request_int(std::string_view text) {
  if (text == "0") return 0;
  const bool negative = !text.empty() && text.front() == '-';
  if (negative) text.remove_prefix(1);
  if (text.empty() || text.front() == '0') return std::nullopt;  // "-0", "01": string2ll says no
  return signed_value(text, negative);
}

std::optional<std::int64_t> parse_reply_int(std::string_view text) {
  const bool negative = !text.empty() && text.front() == '-';
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  return signed_value(text, negative);
}

bool is_resp3_double(std::string_view text) {
  if (text == "inf" || text == "-inf" || text == "+inf" || text == "nan") return true;
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  const std::size_t exp = text.find_first_of("eE");
  const std::string_view mantissa = text.substr(0, exp);
  const std::size_t dot = mantissa.find('.');
  if (!all_digits(mantissa.substr(0, dot))) return false;
  if (dot != std::string_view::npos && !all_digits(mantissa.substr(dot + 1))) return false;
  if (exp == std::string_view::npos) return true;
  std::string_view exponent = text.substr(exp + 1);
  if (!exponent.empty() && (exponent.front() == '-' || exponent.front() == '+')) {
    exponent.remove_prefix(1);
  }
  return all_digits(exponent);
}

bool is_big_number(std::string_view text) {
  if (!text.empty() && (text.front() == '-' || text.front() == '+')) text.remove_prefix(1);
  return all_digits(text);
}

}  // namespace corral::redis::wire
