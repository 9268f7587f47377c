#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace corral::redis {

/// Outcome of one scan call (the one-sentence parser contract): the buffered bytes hold no complete
/// frame yet, or one complete frame at their front, or bytes that can never become a valid frame.
enum class ScanStatus : std::uint8_t { NeedMore, Frame, Error };

std::string_view to_string(ScanStatus status);

/// Why a scanner rejected its input. Request-side codes whose redis-server counterpart exists carry
/// redis-server's exact message, so the proxy's `-ERR Protocol error: ...` reads the same.
enum class ErrorCode : std::uint8_t {
  // Request side (client -> corral).
  InvalidMultibulkLength,   ///< "*" header is not an integer
  ArrayTooLong,             ///< "*" header above Limits::max_array_length
  InvalidBulkLength,        ///< "$" header is not a non-negative integer
  BulkTooLong,              ///< "$" header above Limits::max_bulk_length
  ExpectedDollar,           ///< an element of a request array is not a bulk string
  TooBigMultibulkCount,     ///< "*" header line longer than Limits::max_inline_length
  TooBigBulkCount,          ///< "$" header line longer than Limits::max_inline_length
  TooBigInlineRequest,      ///< inline line longer than Limits::max_inline_length
  UnbalancedQuotes,         ///< inline quoting error (sdssplitargs would fail)
  ExpectedLineFeed,         ///< a CR not followed by LF where a header line ends
  ExpectedCrlfAfterBulk,    ///< bulk/blob payload not followed by CRLF
  // Reply side (backend -> corral).
  UnknownType,              ///< first byte of a value is not a RESP2/RESP3 type
  InvalidLength,            ///< length/count header is not a valid integer for its type
  InvalidInteger,           ///< ":" payload is not a signed 64-bit integer
  InvalidDouble,            ///< "," payload is not a RESP3 double
  InvalidBoolean,           ///< "#" payload is not t or f
  InvalidBigNumber,         ///< "(" payload is not an integer
  InvalidNull,              ///< "_" line has a payload
  InvalidVerbatim,          ///< "=" payload lacks the 3-byte format and ':'
  InvalidSimpleString,      ///< "+"/"-" line contains a bare LF
  LineTooLong,              ///< a reply line longer than Limits::max_inline_length
  NestingTooDeep,           ///< more than Limits::max_nesting_depth open aggregates
  StreamedNotSupported,     ///< RESP3 streamed string/aggregate ("$?", "*?"): Redis never sends it
};

/// Stable name of a code for logs and metrics, e.g. "InvalidBulkLength".
std::string_view to_string(ErrorCode code);

/// A rejected frame: the code, and the message (without the "Protocol error: " prefix).
struct ProtocolError {
  ErrorCode code{};
  std::string message;

  /// The RESP error line corral sends before closing the client:
  /// "-ERR Protocol error: <message>\r\n".
  std::string reply() const;
};

}  // namespace corral::redis
