#pragma once

#include <array>
#include <charconv>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>

#include "protocols/redis/request.h"

namespace corral::redis {

/// Wire dialect negotiated by HELLO: RESP2 (default) or RESP3. Encoders that have no RESP2 form
/// fall back to the RESP2 shape redis-server itself uses for that reply.
enum class RespVersion : std::uint8_t { Resp2 = 2, Resp3 = 3 };

/// Anything bytes can be appended to: std::string, or a runtime buffer with the same member.
template <typename B>
concept ByteSink = requires(B& out, const char* data, std::size_t size) { out.append(data, size); };

namespace detail {

template <ByteSink Out>
void append_text(Out& out, std::string_view text) {
  out.append(text.data(), text.size());
}

/// "<prefix><number>\r\n" — every length header and integer reply.
template <ByteSink Out>
void append_header(Out& out, char prefix, std::int64_t number) {
  std::array<char, 24> line{};
  line[0] = prefix;
  const auto result = std::to_chars(line.data() + 1, line.data() + line.size() - 2, number);
  char* end = result.ptr;
  *end++ = '\r';
  *end++ = '\n';
  out.append(line.data(), static_cast<std::size_t>(end - line.data()));
}

template <ByteSink Out>
void append_line(Out& out, char prefix, std::string_view text) {
  out.append(&prefix, 1);
  append_text(out, text);
  append_text(out, "\r\n");
}

/// Shortest text that reads back as the same double, with RESP3's spelling of the specials.
inline std::string_view format_double(double value, std::array<char, 32>& storage) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  const auto result = std::to_chars(storage.data(), storage.data() + storage.size(), value);
  return {storage.data(), static_cast<std::size_t>(result.ptr - storage.data())};
}

}  // namespace detail

/// "+<text>\r\n" (RESP2/3 simple string). `text` must not contain CR or LF.
template <ByteSink Out>
void append_simple_string(Out& out, std::string_view text) {
  detail::append_line(out, '+', text);
}

/// "-<text>\r\n" (simple error); `text` starts with the error code, e.g. "ERR unknown command".
/// CR/LF inside `text` would break framing: callers pass fixed texts or sanitize first.
template <ByteSink Out>
void append_error(Out& out, std::string_view text) {
  detail::append_line(out, '-', text);
}

/// ":<value>\r\n".
template <ByteSink Out>
void append_integer(Out& out, std::int64_t value) {
  detail::append_header(out, ':', value);
}

/// "$<len>\r\n<bytes>\r\n" (bulk string; binary-safe).
template <ByteSink Out>
void append_bulk(Out& out, std::string_view bytes) {
  detail::append_header(out, '$', static_cast<std::int64_t>(bytes.size()));
  detail::append_text(out, bytes);
  detail::append_text(out, "\r\n");
}

/// Null: RESP2 null bulk string "$-1\r\n", RESP3 "_\r\n".
template <ByteSink Out>
void append_null(Out& out, RespVersion version) {
  detail::append_text(out, version == RespVersion::Resp3 ? "_\r\n" : "$-1\r\n");
}

/// Null array: RESP2 "*-1\r\n", RESP3 "_\r\n".
template <ByteSink Out>
void append_null_array(Out& out, RespVersion version) {
  detail::append_text(out, version == RespVersion::Resp3 ? "_\r\n" : "*-1\r\n");
}

/// "*<count>\r\n"; the caller appends `count` values.
template <ByteSink Out>
void append_array_header(Out& out, std::size_t count) {
  detail::append_header(out, '*', static_cast<std::int64_t>(count));
}

/// Map of `pairs` key/value pairs: RESP3 "%<pairs>\r\n", RESP2 a flat array "*<2*pairs>\r\n"
/// (what redis-server sends a RESP2 client, e.g. for HELLO).
template <ByteSink Out>
void append_map_header(Out& out, std::size_t pairs, RespVersion version) {
  if (version == RespVersion::Resp3) {
    detail::append_header(out, '%', static_cast<std::int64_t>(pairs));
  } else {
    detail::append_header(out, '*', static_cast<std::int64_t>(pairs * 2));
  }
}

/// Set: RESP3 "~<count>\r\n", RESP2 "*<count>\r\n".
template <ByteSink Out>
void append_set_header(Out& out, std::size_t count, RespVersion version) {
  detail::append_header(out, version == RespVersion::Resp3 ? '~' : '*', static_cast<std::int64_t>(count));
}

/// Push (out-of-band data): RESP3 "><count>\r\n", RESP2 "*<count>\r\n" (pub/sub messages).
template <ByteSink Out>
void append_push_header(Out& out, std::size_t count, RespVersion version) {
  detail::append_header(out, version == RespVersion::Resp3 ? '>' : '*', static_cast<std::int64_t>(count));
}

/// Attribute header "|<pairs>\r\n" (RESP3 only; RESP2 has no attributes, so nothing is written).
template <ByteSink Out>
void append_attribute_header(Out& out, std::size_t pairs, RespVersion version) {
  if (version == RespVersion::Resp3) detail::append_header(out, '|', static_cast<std::int64_t>(pairs));
}

/// Double: RESP3 ",<value>\r\n" (inf, -inf, nan spelled out), RESP2 a bulk string of the same text.
template <ByteSink Out>
void append_double(Out& out, double value, RespVersion version) {
  std::array<char, 32> storage{};
  const std::string_view text = detail::format_double(value, storage);
  if (version == RespVersion::Resp3) {
    detail::append_line(out, ',', text);
  } else {
    append_bulk(out, text);
  }
}

/// Boolean: RESP3 "#t\r\n"/"#f\r\n", RESP2 ":1\r\n"/":0\r\n".
template <ByteSink Out>
void append_boolean(Out& out, bool value, RespVersion version) {
  if (version == RespVersion::Resp3) {
    detail::append_text(out, value ? "#t\r\n" : "#f\r\n");
  } else {
    detail::append_text(out, value ? ":1\r\n" : ":0\r\n");
  }
}

/// Big number: RESP3 "(<digits>\r\n", RESP2 a bulk string of the digits.
template <ByteSink Out>
void append_big_number(Out& out, std::string_view digits, RespVersion version) {
  if (version == RespVersion::Resp3) {
    detail::append_line(out, '(', digits);
  } else {
    append_bulk(out, digits);
  }
}

/// Verbatim string: RESP3 "=<len>\r\n<fmt>:<text>\r\n" with a 3-byte format such as "txt",
/// RESP2 a bulk string of `text` alone.
template <ByteSink Out>
void append_verbatim(Out& out, std::string_view format, std::string_view text, RespVersion version) {
  if (version != RespVersion::Resp3) {
    append_bulk(out, text);
    return;
  }
  detail::append_header(out, '=', static_cast<std::int64_t>(format.size() + 1 + text.size()));
  detail::append_text(out, format);
  detail::append_text(out, ":");
  detail::append_text(out, text);
  detail::append_text(out, "\r\n");
}

/// Blob error: RESP3 "!<len>\r\n<text>\r\n" (binary-safe), RESP2 a simple error with CR/LF
/// replaced by spaces, as RESP2 has no other error form.
template <ByteSink Out>
void append_blob_error(Out& out, std::string_view text, RespVersion version) {
  if (version == RespVersion::Resp3) {
    detail::append_header(out, '!', static_cast<std::int64_t>(text.size()));
    detail::append_text(out, text);
    detail::append_text(out, "\r\n");
    return;
  }
  detail::append_text(out, "-");
  for (char c : text) {
    const char safe = (c == '\r' || c == '\n') ? ' ' : c;
    out.append(&safe, 1);
  }
  detail::append_text(out, "\r\n");
}

/// A command as a RESP array of bulk strings, e.g. encode_command(out, {"SELECT", "2"}).
template <ByteSink Out>
void encode_command(Out& out, std::span<const std::string_view> args) {
  append_array_header(out, args.size());
  for (std::string_view arg : args) append_bulk(out, arg);
}

template <ByteSink Out>
void encode_command(Out& out, std::initializer_list<std::string_view> args) {
  encode_command(out, std::span<const std::string_view>(args.begin(), args.size()));
}

/// Variadic form: encode_command(out, "AUTH", user, password).
template <ByteSink Out, typename... Args>
  requires(sizeof...(Args) > 0 && (std::convertible_to<const Args&, std::string_view> && ...))
void encode_command(Out& out, const Args&... args) {
  append_array_header(out, sizeof...(Args));
  (append_bulk(out, std::string_view(args)), ...);
}

/// Re-encodes a framed request as a RESP array of bulk strings: how an inline request is forwarded
/// (a backend must never see inline syntax, whose splitting it could do differently).
template <ByteSink Out>
void encode_request(Out& out, const Request& request) {
  append_array_header(out, request.arg_count());
  for (std::size_t i = 0; i < request.arg_count(); ++i) append_bulk(out, request.arg(i));
}

/// encode_request() into `storage` (cleared first); returns `storage`. resp_bytes()'s rare case.
std::string_view reencode_request(const Request& request, std::string& storage);

/// The request as a backend gets it: its own bytes, or an inline request re-encoded into `storage`
/// (cleared first). Lifetime: the view points into the request's buffer or into `storage`.
/// Inline, with the re-encoding out of line: one test per request on the forwarding hot path.
inline std::string_view resp_bytes(const Request& request, std::string& storage) {
  if (!request.is_inline()) return request.bytes();
  return reencode_request(request, storage);
}

}  // namespace corral::redis
