#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocols/redis/limits.h"
#include "protocols/redis/protocol_error.h"
#include "protocols/redis/request.h"

namespace corral::redis {

/// Frames client requests (RESP protocol spec, "Sending commands to a Redis server"): RESP arrays
/// of bulk strings, and inline commands split the way redis-server's sdssplitargs splits them.
///
/// Contract: given the bytes buffered so far, starting at a frame boundary, scan() returns
/// NeedMore | Frame (request filled: size(), args as views) | Error (error() says why).
/// Call it again with the same bytes plus whatever arrived since; the scanner keeps a resume
/// offset, so a request arriving in n pieces costs O(total bytes), not O(n * bytes). After a
/// Frame, drop request.size() bytes from the front and scan again for the next pipelined request.
/// The buffer may move between calls (only offsets are kept). After an Error the scanner stays
/// failed until reset(): the proxy sends error().reply() and closes the client, as redis-server does.
/// Not thread-safe; one scanner per client connection.
class RequestScanner {
 public:
  explicit RequestScanner(Limits limits = Limits::requests()) : limits_(limits) {}

  /// Scans `buffer` (which starts at the current frame) and fills `request` on Frame; after
  /// NeedMore or Error `request` holds nothing usable (the fast path may have written to it).
  /// Reusing the same `request` object keeps its spill capacity: no allocation after warm-up.
  ScanStatus scan(std::string_view buffer, Request& request);

  /// The reason for the last Error; meaningful only after scan() returned Error.
  const ProtocolError& error() const { return error_; }

  /// Forgets any partial frame and error, e.g. after the caller discarded its buffer.
  void reset();

  const Limits& limits() const { return limits_; }

 private:
  enum class Phase : std::uint8_t { Start, ArrayHeader, BulkHeader, BulkBody, Inline, Failed };

  /// A "\r\n"-terminated header line found by find_line().
  struct Line {
    ScanStatus status;
    std::string_view text;  // bytes between the type byte and CR
    std::size_t next;       // offset just past LF
  };

  /// Frames a complete array of at most Request::kInlineArgs bulk strings with canonical lengths
  /// in one pass, straight into `request`. Anything else (incomplete, large, unusual or bad input)
  /// returns false and leaves the scanner untouched (`request` partly written): the general state
  /// machine then decides.
  bool scan_simple_array(std::string_view buffer, Request& request) const;
  ScanStatus scan_multibulk(std::string_view buffer);
  ScanStatus scan_array_header(std::string_view buffer);
  ScanStatus scan_bulk_header(std::string_view buffer);
  ScanStatus scan_bulk_body(std::string_view buffer);
  ScanStatus scan_inline(std::string_view buffer);
  bool split_inline(std::string_view line);
  void split_plain(std::string_view line);
  bool split_quoted(std::string_view line);
  Line find_line(std::string_view buffer, std::size_t start, ErrorCode too_big, std::string_view message);
  ScanStatus fail(ErrorCode code, std::string message);
  ScanStatus finish(std::string_view buffer, Request& request);

  Limits limits_;
  Phase phase_ = Phase::Start;
  std::size_t pos_ = 0;          // next unparsed byte, relative to the frame start
  std::size_t search_from_ = 0;  // bytes before this hold no CR (LF for inline): never rescanned
  std::int64_t args_left_ = 0;   // bulk strings still expected in the current array
  std::size_t bulk_length_ = 0;  // payload length of the bulk string being waited for
  Request pending_;              // arguments collected so far (offsets only)
  ProtocolError error_;
};

}  // namespace corral::redis
