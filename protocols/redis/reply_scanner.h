#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "protocols/redis/limits.h"
#include "protocols/redis/protocol_error.h"

namespace corral::redis {

/// RESP2/RESP3 value types, spelled by their first byte on the wire (RESP3 spec, "RESP3 types").
enum class ReplyType : char {
  SimpleString = '+',
  Error = '-',
  Integer = ':',
  BulkString = '$',
  Array = '*',
  Null = '_',
  Double = ',',
  Boolean = '#',
  BlobError = '!',
  VerbatimString = '=',
  BigNumber = '(',
  Map = '%',
  Set = '~',
  Attribute = '|',
  Push = '>',
};

/// Spec name of a type, e.g. "bulk string", "push".
std::string_view to_string(ReplyType type);

/// One complete reply framed by ReplyScanner.
/// Lifetime: bytes points into the scanned buffer; valid until the caller changes those bytes.
struct Reply {
  std::size_t size = 0;          ///< bytes of the frame at the front of the buffer (attribute included)
  std::size_t value_offset = 0;  ///< where the annotated value starts (0 without attribute)
  ReplyType type{};              ///< type of the reply itself; a leading attribute is skipped
  bool has_attribute = false;    ///< an attribute ("|") preceded the reply and belongs to the frame
  bool is_null = false;          ///< "$-1", "*-1" or "_"
  std::string_view bytes;        ///< the original frame bytes, to relay unchanged

  bool is_error() const { return type == ReplyType::Error || type == ReplyType::BlobError; }
  bool is_push() const { return type == ReplyType::Push; }
};

/// Frames backend replies: every RESP2 and RESP3 type, nested to any depth within Limits.
///
/// Contract: given the bytes buffered so far, starting at a reply boundary, scan() returns
/// NeedMore | Frame (reply filled) | Error (error() says why). Call it again with the same bytes
/// plus whatever arrived since: state lives in an explicit stack of open aggregates (bounded by
/// Limits::max_nesting_depth) and a resume offset, so no byte is parsed twice and a huge reply
/// arriving in pieces costs O(total bytes). The buffer may move between calls (only offsets are
/// kept). After an Error the scanner stays failed until reset(): the backend connection is
/// out of sync and must be closed. Not thread-safe; one scanner per backend connection.
class ReplyScanner {
 public:
  explicit ReplyScanner(Limits limits = Limits::replies()) : limits_(limits) {}

  /// Scans `buffer` (which starts at the current reply) and fills `reply` on Frame.
  ScanStatus scan(std::string_view buffer, Reply& reply);

  /// The reason for the last Error; meaningful only after scan() returned Error.
  const ProtocolError& error() const { return error_; }

  /// Forgets any partial reply and error.
  void reset();

  /// Streaming a frame before it is complete: how many bytes at the front of `buffered` bytes of
  /// the frame scan() has passed and will never look at again (headers and elements behind it, a
  /// blob payload up to its CRLF). The caller may hand them on and drop them with discard(). 0 while
  /// the frame's own type is unknown. Verbatim strings are kept whole (their format is checked at
  /// the end).
  std::size_t settled(std::size_t buffered) const;
  /// Forgets the first `n` bytes of the frame (n <= settled()): the caller dropped them from the
  /// front of its buffer. The Frame that scan() reports later holds only the bytes after them.
  void discard(std::size_t n);
  /// The type of the frame being scanned (after NeedMore), once its first value header was read.
  bool frame_type_known() const { return top_seen_; }
  ReplyType frame_type() const { return top_.type; }

  const Limits& limits() const { return limits_; }

 private:
  enum class Step : std::uint8_t { FrameDone, Progress, NeedMore, Failed };

  /// One open aggregate: how many values it still waits for.
  struct Level {
    std::uint64_t remaining;
    bool attribute;  // attributes annotate the next value and are not values themselves
  };

  /// Frames a complete top-level bulk string with a canonical length, simple string, error or
  /// integer in one pass. Anything else (aggregates, RESP3 types, incomplete or unusual input)
  /// returns false with the scanner untouched: the general state machine then decides.
  bool scan_simple(std::string_view buffer, Reply& reply) const;
  Step next_value(std::string_view buffer);
  Step finish_blob(std::string_view buffer);
  Step on_line(char type, std::string_view text, std::size_t header_start);
  Step check_line(char type, std::string_view text);
  Step open_blob(char type, std::string_view text);
  Step open_aggregate(char type, std::string_view text);
  Step value_done();
  Step fail(ErrorCode code, std::string message);
  void note_value_start(char type, std::size_t header_start);
  ScanStatus finish(std::string_view buffer, Reply& reply);

  Limits limits_;
  std::vector<Level> stack_;       // open aggregates, innermost last
  std::size_t pos_ = 0;            // next unparsed byte, relative to the frame start
  std::size_t search_from_ = 0;    // bytes before this hold no CR of the current line
  std::size_t blob_start_ = 0;     // payload offset of the blob being waited for
  std::size_t blob_end_ = 0;       // offset just past its trailing CRLF
  char blob_type_ = 0;             // '$', '!' or '=' while waiting for a payload, else 0
  bool failed_ = false;
  Reply top_;                      // what is known so far about the frame's own value
  bool top_seen_ = false;          // top_.type is set
  ProtocolError error_;
};

/// One element of an aggregate reply, as returned by peek_elements().
struct ReplyElement {
  ReplyType type{};
  bool is_null = false;
  std::string_view value;  ///< payload of a string/number/boolean/double (verbatim: after "txt:"),
                           ///< "" for aggregates and nulls
  std::string_view bytes;  ///< the element's wire bytes (attribute included)
};

/// Fills `out` with the first out.size() top-level elements of a complete array, set, map or push
/// reply `frame` (as framed by ReplyScanner; a leading attribute is skipped), e.g. to spot
/// "message"/"subscribe" in subscribe mode. Returns how many were filled: 0 for a non-aggregate or
/// a null array. Costs O(bytes of the elements read), not O(frame). Allocates only for elements
/// that are themselves nested aggregates.
std::size_t peek_elements(std::string_view frame, std::span<ReplyElement> out);

}  // namespace corral::redis
