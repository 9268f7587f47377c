// Fuzzes ReplyScanner and peek_elements: whatever the bytes, scanning never crashes, frames stay
// inside the input and tile it, each frame rescans alone to the same size and type, and the
// outcome does not depend on how the bytes are chunked.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "fuzz_scan.h"
#include "protocols/redis/reply_scanner.h"

namespace corral::redis {
namespace {

struct Frame {
  std::size_t size;
  ReplyType type;
  bool has_attribute;
  bool is_null;
  bool operator==(const Frame&) const = default;
};

struct Outcome {
  std::vector<Frame> frames;
  std::optional<ErrorCode> error;
  std::size_t consumed = 0;
  bool operator==(const Outcome&) const = default;
};

void check_elements(std::string_view frame) {
  std::array<ReplyElement, 4> elements{};
  const std::size_t count = peek_elements(frame, elements);
  FUZZ_CHECK(count <= elements.size());
  for (std::size_t i = 0; i < count; ++i) {
    const std::string_view bytes = elements[i].bytes;
    FUZZ_CHECK(!bytes.empty());
    FUZZ_CHECK(bytes.data() >= frame.data() && bytes.data() + bytes.size() <= frame.data() + frame.size());
    const std::string_view value = elements[i].value;
    FUZZ_CHECK(value.empty() || (value.data() >= bytes.data() && value.data() + value.size() <= bytes.data() + bytes.size()));
  }
}

void check_frame(const Reply& reply, std::string_view buffer, const Limits& limits) {
  FUZZ_CHECK(reply.size > 0);
  FUZZ_CHECK(reply.size <= buffer.size());
  FUZZ_CHECK(reply.bytes.data() == buffer.data() && reply.bytes.size() == reply.size);
  FUZZ_CHECK(reply.value_offset < reply.size);
  FUZZ_CHECK(reply.type != ReplyType::Attribute);
  FUZZ_CHECK(reply.has_attribute == (reply.value_offset != 0));
  // A frame is self-contained: scanned alone it is the same frame.
  ReplyScanner alone(limits);
  Reply again;
  FUZZ_CHECK(alone.scan(reply.bytes, again) == ScanStatus::Frame);
  FUZZ_CHECK(again.size == reply.size && again.type == reply.type);
  check_elements(reply.bytes);
}

Outcome scan(std::string_view data, std::size_t chunk, const Limits& limits, bool deep_checks) {
  Outcome outcome;
  outcome.error = fuzz::scan_in_chunks<ReplyScanner, Reply>(
      data, chunk, limits, [&](const Reply& reply, std::string_view buffer) {
        if (deep_checks) check_frame(reply, buffer, limits);
        outcome.frames.push_back({reply.size, reply.type, reply.has_attribute, reply.is_null});
        outcome.consumed += reply.size;
      });
  return outcome;
}

void run(std::string_view data, const Limits& limits) {
  const Outcome whole = scan(data, 0, limits, true);
  FUZZ_CHECK(whole.consumed <= data.size());
  fuzz::check_chunkings(data, whole, {1, 3, 16},
                        [&](std::size_t chunk) { return scan(data, chunk, limits, false); });
}

}  // namespace
}  // namespace corral::redis

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  corral::redis::run(data, corral::redis::Limits::replies());
  corral::redis::Limits tight = corral::redis::fuzz::tight_limits();
  tight.max_nesting_depth = 4;
  corral::redis::run(data, tight);
  return 0;
}
