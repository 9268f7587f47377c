#include "protocols/redis/reply_scanner.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>

#include "protocols/redis/wire.h"

namespace corral::redis {

namespace {

bool is_aggregate(char type) {
  return type == '*' || type == '~' || type == '%' || type == '>' || type == '|';
}

bool is_blob(char type) { return type == '$' || type == '!' || type == '='; }

bool is_line_type(char type) {
  return type == '+' || type == '-' || type == ':' || type == ',' || type == '#' || type == '(' || type == '_';
}

std::string type_message(char type) {
  std::string message = "unknown reply type byte '";
  message += (type == '\r' || type == '\n') ? ' ' : type;
  message += "'";
  return message;
}

}  // namespace

std::string_view to_string(ReplyType type) {
  switch (type) {
    case ReplyType::SimpleString: return "simple string";
    case ReplyType::Error: return "simple error";
    case ReplyType::Integer: return "integer";
    case ReplyType::BulkString: return "bulk string";
    case ReplyType::Array: return "array";
    case ReplyType::Null: return "null";
    case ReplyType::Double: return "double";
    case ReplyType::Boolean: return "boolean";
    case ReplyType::BlobError: return "blob error";
    case ReplyType::VerbatimString: return "verbatim string";
    case ReplyType::BigNumber: return "big number";
    case ReplyType::Map: return "map";
    case ReplyType::Set: return "set";
    case ReplyType::Attribute: return "attribute";
    case ReplyType::Push: return "push";
  }
  return "?";
}

void ReplyScanner::reset() {
  stack_.clear();  // keeps capacity
  pos_ = 0;
  search_from_ = 0;
  blob_type_ = 0;
  failed_ = false;
  top_ = {};
  top_seen_ = false;
  error_ = {};
}

std::size_t ReplyScanner::settled(std::size_t buffered) const {
  if (!top_seen_ || failed_) return 0;
  if (blob_type_ == 0) return pos_;
  if (blob_type_ == '=') return blob_start_;
  // finish_blob() looks only at the two bytes that must be the CRLF.
  return std::min(buffered, blob_end_ - 2);
}

void ReplyScanner::discard(std::size_t n) {
  pos_ -= std::min(pos_, n);
  search_from_ -= std::min(search_from_, n);
  blob_start_ -= std::min(blob_start_, n);  // read again only for verbatim strings, never discarded
  blob_end_ -= std::min(blob_end_, n);
  top_.value_offset -= std::min(top_.value_offset, n);
}

ScanStatus ReplyScanner::scan(std::string_view buffer, Reply& reply) {
  if (failed_) return ScanStatus::Error;
  // Only at a frame boundary with nothing searched yet: a line that trickles in is never rescanned.
  const bool fresh = pos_ == 0 && search_from_ == 0 && !top_seen_ && blob_type_ == 0 && stack_.empty();
  if (fresh && scan_simple(buffer, reply)) return ScanStatus::Frame;
  for (;;) {
    switch (blob_type_ != 0 ? finish_blob(buffer) : next_value(buffer)) {
      case Step::Progress: continue;
      case Step::NeedMore: return ScanStatus::NeedMore;
      case Step::Failed: return ScanStatus::Error;
      case Step::FrameDone: return finish(buffer, reply);
    }
  }
}

// Most replies are one bulk string (or the null one), "+OK", an error or an integer. The fast path accepts only
// input the general path frames identically, so the verdict never depends on which path ran.
bool ReplyScanner::scan_simple(std::string_view buffer, Reply& reply) const {
  if (buffer.size() < 3) return false;
  const char type = buffer[0];
  const std::size_t max_line = limits_.max_inline_length;
  std::size_t end = 0;
  bool is_null = false;
  if (type == '$' && buffer.starts_with("$-1\r\n")) {  // RESP2 null bulk string: GET of a missing key
    end = 5;
    is_null = true;
  } else if (type == '$') {
    const std::size_t limit = std::min({buffer.size(), wire::kMaxShortDigits + 1, max_line + 1});
    std::uint64_t length = 0;
    std::size_t i = 1;
    for (; i < limit; ++i) {
      const auto digit = static_cast<unsigned char>(buffer[i] - '0');
      if (digit > 9) break;
      length = length * 10 + digit;
    }
    if (i == 1 || (i > 2 && buffer[1] == '0') || length > limits_.max_bulk_length) return false;
    if (i + 1 >= buffer.size() || buffer[i] != '\r' || buffer[i + 1] != '\n') return false;
    const std::size_t payload = i + 2;
    const auto size = static_cast<std::size_t>(length);
    if (buffer.size() - payload < size + 2) return false;
    if (buffer[payload + size] != '\r' || buffer[payload + size + 1] != '\n') return false;
    end = payload + size + 2;
  } else if (type == '+' || type == '-' || type == ':') {
    const std::size_t span = std::min(buffer.size() - 1, max_line + 1);
    const void* cr = std::memchr(buffer.data() + 1, '\r', span);
    if (cr == nullptr) return false;
    const auto at = static_cast<std::size_t>(static_cast<const char*>(cr) - buffer.data());
    if (at - 1 > max_line || at + 1 >= buffer.size() || buffer[at + 1] != '\n') return false;
    const std::string_view text = buffer.substr(1, at - 1);
    if (type == ':' ? !wire::parse_reply_int(text) : std::memchr(text.data(), '\n', text.size()) != nullptr) {
      return false;
    }
    end = at + 2;
  } else {
    return false;
  }
  reply = Reply{};
  reply.size = end;
  reply.type = static_cast<ReplyType>(type);
  reply.bytes = buffer.substr(0, end);
  reply.is_null = is_null;
  return true;
}

ScanStatus ReplyScanner::finish(std::string_view buffer, Reply& reply) {
  reply = top_;
  reply.size = pos_;
  reply.bytes = buffer.substr(0, pos_);
  reset();
  return ScanStatus::Frame;
}

ReplyScanner::Step ReplyScanner::fail(ErrorCode code, std::string message) {
  failed_ = true;
  error_ = ProtocolError{code, std::move(message)};
  return Step::Failed;
}

// Every value starts with a type byte and a line ending in CRLF (RESP3 spec, "RESP3 types").
ReplyScanner::Step ReplyScanner::next_value(std::string_view buffer) {
  if (pos_ >= buffer.size()) return Step::NeedMore;
  const char type = buffer[pos_];
  // Reject a bad type byte at once rather than after its line arrives (it may never).
  if (!is_line_type(type) && !is_blob(type) && !is_aggregate(type)) {
    return fail(ErrorCode::UnknownType, type_message(type));
  }
  const wire::LineEnd end = wire::find_line_end(buffer, pos_ + 1, search_from_, limits_.max_inline_length);
  switch (end.kind) {
    case wire::LineEnd::Kind::NeedMore: return Step::NeedMore;
    case wire::LineEnd::Kind::TooLong: return fail(ErrorCode::LineTooLong, "reply line too long");
    case wire::LineEnd::Kind::MissingLineFeed: return fail(ErrorCode::ExpectedLineFeed, "expected LF after CR");
    case wire::LineEnd::Kind::Found: break;
  }
  const std::size_t header_start = pos_;
  pos_ = end.cr + 2;
  return on_line(type, buffer.substr(header_start + 1, end.cr - header_start - 1), header_start);
}

ReplyScanner::Step ReplyScanner::on_line(char type, std::string_view text, std::size_t header_start) {
  if (is_blob(type)) {
    if (text == "?") return fail(ErrorCode::StreamedNotSupported, "streamed strings are not supported");
    note_value_start(type, header_start);
    return open_blob(type, text);
  }
  if (is_aggregate(type)) {
    if (text == "?") return fail(ErrorCode::StreamedNotSupported, "streamed aggregates are not supported");
    note_value_start(type, header_start);
    return open_aggregate(type, text);
  }
  const Step checked = check_line(type, text);
  if (checked == Step::Failed) return checked;
  note_value_start(type, header_start);
  if (type == '_' && stack_.empty()) top_.is_null = true;
  return value_done();
}

// Values that are complete on their header line.
ReplyScanner::Step ReplyScanner::check_line(char type, std::string_view text) {
  switch (type) {
    case '+':
    case '-':  // simple string / simple error: no CR or LF inside (the CR was the line end)
      if (std::memchr(text.data(), '\n', text.size()) != nullptr) {
        return fail(ErrorCode::InvalidSimpleString, "simple string contains LF");
      }
      return Step::Progress;
    case ':':
      if (!wire::parse_reply_int(text)) return fail(ErrorCode::InvalidInteger, "invalid integer");
      return Step::Progress;
    case ',':
      if (!wire::is_resp3_double(text)) return fail(ErrorCode::InvalidDouble, "invalid double");
      return Step::Progress;
    case '#':
      if (text != "t" && text != "f") return fail(ErrorCode::InvalidBoolean, "invalid boolean");
      return Step::Progress;
    case '(':
      if (!wire::is_big_number(text)) return fail(ErrorCode::InvalidBigNumber, "invalid big number");
      return Step::Progress;
    case '_':
      if (!text.empty()) return fail(ErrorCode::InvalidNull, "invalid null");
      return Step::Progress;
    default:
      return fail(ErrorCode::UnknownType, type_message(type));
  }
}

// The frame's own type is the first value that starts at top level and is not an attribute.
void ReplyScanner::note_value_start(char type, std::size_t header_start) {
  if (!stack_.empty() || top_seen_) return;
  if (type == '|') {
    top_.has_attribute = true;
    return;
  }
  top_.type = static_cast<ReplyType>(type);
  top_.value_offset = header_start;
  top_seen_ = true;
}

// Blob string, blob error, verbatim string: "<type><length>\r\n<payload>\r\n".
ReplyScanner::Step ReplyScanner::open_blob(char type, std::string_view text) {
  const auto length = wire::parse_reply_int(text);
  if (type == '$' && length && *length == -1) {  // RESP2 null bulk string
    if (stack_.empty()) top_.is_null = true;
    return value_done();
  }
  if (!length || *length < 0) return fail(ErrorCode::InvalidLength, "invalid blob length");
  if (static_cast<std::uint64_t>(*length) > limits_.max_bulk_length) {
    return fail(ErrorCode::BulkTooLong, "blob length above limit");
  }
  blob_type_ = type;
  blob_start_ = pos_;
  blob_end_ = pos_ + static_cast<std::size_t>(*length) + 2;
  return Step::Progress;
}

// O(1) per call while the payload trickles in: only its end is looked at.
ReplyScanner::Step ReplyScanner::finish_blob(std::string_view buffer) {
  if (buffer.size() < blob_end_) return Step::NeedMore;
  if (buffer[blob_end_ - 2] != '\r' || buffer[blob_end_ - 1] != '\n') {
    return fail(ErrorCode::ExpectedCrlfAfterBulk, "expected CRLF after blob");
  }
  // Verbatim string payload is "<3-byte format>:<text>" (RESP3 spec, "Verbatim string").
  const std::size_t length = blob_end_ - 2 - blob_start_;
  if (blob_type_ == '=' && (length < 4 || buffer[blob_start_ + 3] != ':')) {
    return fail(ErrorCode::InvalidVerbatim, "invalid verbatim string");
  }
  blob_type_ = 0;
  pos_ = blob_end_;
  search_from_ = pos_;
  return value_done();
}

// Array, set, push: <count> values; map, attribute: <count> key/value pairs. RESP2 "*-1" is a
// null array.
ReplyScanner::Step ReplyScanner::open_aggregate(char type, std::string_view text) {
  const auto count = wire::parse_reply_int(text);
  if (type == '*' && count && *count == -1) {
    if (stack_.empty()) top_.is_null = true;
    return value_done();
  }
  if (!count || *count < 0) return fail(ErrorCode::InvalidLength, "invalid aggregate length");
  if (static_cast<std::uint64_t>(*count) > limits_.max_array_length) {
    return fail(ErrorCode::ArrayTooLong, "aggregate length above limit");
  }
  const bool pairs = type == '%' || type == '|';
  const std::uint64_t values = static_cast<std::uint64_t>(*count) * (pairs ? 2 : 1);
  if (values == 0) return type == '|' ? Step::Progress : value_done();
  if (stack_.size() >= limits_.max_nesting_depth) {
    return fail(ErrorCode::NestingTooDeep, "aggregates nested too deep");
  }
  stack_.push_back({values, type == '|'});
  return Step::Progress;
}

// A value just ended: close every aggregate it completes. An attribute that completes does not
// count as a value of its parent: it annotates the value that follows (RESP3 spec, "Attribute type").
ReplyScanner::Step ReplyScanner::value_done() {
  while (!stack_.empty()) {
    Level& level = stack_.back();
    if (--level.remaining > 0) return Step::Progress;
    const bool attribute = level.attribute;
    stack_.pop_back();
    if (attribute) return Step::Progress;
  }
  return top_seen_ ? Step::FrameDone : Step::Progress;
}

namespace {

/// The payload of the value at the front of `element` (a complete frame whose value starts at
/// `value_offset`): the line text for line types, the blob payload for blobs.
std::string_view element_value(std::string_view element, std::size_t value_offset, ReplyType type) {
  const std::string_view value = element.substr(value_offset);
  const auto type_byte = static_cast<char>(type);
  if (is_aggregate(type_byte)) return {};
  const std::size_t cr = value.find('\r');
  const std::string_view line = value.substr(1, cr - 1);
  if (!is_blob(type_byte)) return line;
  const auto length = wire::parse_reply_int(line);
  if (!length || *length < 0) return {};
  std::string_view payload = value.substr(cr + 2, static_cast<std::size_t>(*length));
  if (type == ReplyType::VerbatimString) payload.remove_prefix(4);
  return payload;
}

/// Count from an aggregate header at the front of `bytes`; -1 when it is not a usable header.
std::int64_t aggregate_count(std::string_view bytes, std::size_t& after) {
  const std::size_t cr = bytes.find('\r');
  if (bytes.empty() || cr == std::string_view::npos) return -1;
  after = cr + 2;
  const auto count = wire::parse_reply_int(bytes.substr(1, cr - 1));
  return count ? *count : -1;
}

}  // namespace

std::size_t peek_elements(std::string_view frame, std::span<ReplyElement> out) {
  // The frame was already checked against the caller's limits when it was framed; whatever those
  // were, its elements must scan here too.
  Limits any;
  any.max_bulk_length = any.max_array_length = any.max_nesting_depth = any.max_inline_length = SIZE_MAX;
  ReplyScanner scanner(any);
  Reply reply;
  std::size_t pos = 0;
  auto skip_value = [&]() {
    if (scanner.scan(frame.substr(pos), reply) != ScanStatus::Frame) return false;
    pos += reply.size;
    return true;
  };
  if (!frame.empty() && frame.front() == '|') {  // the frame's own attribute: skip its pairs
    std::size_t after = 0;
    const std::int64_t pairs = aggregate_count(frame, after);
    if (pairs < 0) return 0;
    pos = after;
    for (std::int64_t i = 0; i < 2 * pairs; ++i) {
      if (!skip_value()) return 0;
    }
  }
  if (pos >= frame.size() || !is_aggregate(frame[pos]) || frame[pos] == '|') return 0;
  std::size_t after = 0;
  const std::int64_t count = aggregate_count(frame.substr(pos), after);
  if (count <= 0) return 0;
  const std::size_t wanted = frame[pos] == '%' ? 2 * static_cast<std::size_t>(count) : static_cast<std::size_t>(count);
  pos += after;
  std::size_t filled = 0;
  for (; filled < out.size() && filled < wanted; ++filled) {
    const std::size_t start = pos;
    if (!skip_value()) break;
    ReplyElement& element = out[filled];
    element.type = reply.type;
    element.is_null = reply.is_null;
    element.bytes = frame.substr(start, reply.size);
    element.value = element.is_null ? std::string_view{} : element_value(element.bytes, reply.value_offset, reply.type);
  }
  return filled;
}

}  // namespace corral::redis
