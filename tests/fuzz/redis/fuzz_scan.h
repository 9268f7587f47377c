#pragma once
// The feeding loop both Redis fuzz targets run: bytes arrive in chunks, as from a socket, and
// consumed frames are erased from the buffer, as the proxy does.

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "protocols/redis/reply_scanner.h"
#include "protocols/redis/request_scanner.h"

namespace corral::redis::fuzz {

inline std::size_t frame_size(const Request& request) { return request.size(); }
inline std::size_t frame_size(const Reply& reply) { return reply.size; }

/// Feeds `data` to a new Scanner(limits) in pieces of `chunk` bytes (0 = all at once) and calls
/// `on_frame(frame, buffer)` for each frame, `buffer` starting with it. Returns the error code the
/// scanner stopped with (its message checked non-empty), or nullopt when the bytes ran out first.
template <class Scanner, class Frame, class OnFrame>
std::optional<ErrorCode> scan_in_chunks(std::string_view data, std::size_t chunk, const Limits& limits,
                                        OnFrame&& on_frame) {
  Scanner scanner(limits);
  Frame frame;
  std::string buffer;
  std::size_t fed = 0;
  while (fed < data.size()) {
    const std::size_t n = chunk == 0 ? data.size() : std::min(chunk, data.size() - fed);
    buffer.append(data.substr(fed, n));
    fed += n;
    for (;;) {
      const ScanStatus status = scanner.scan(buffer, frame);
      if (status == ScanStatus::NeedMore) break;
      if (status == ScanStatus::Error) {
        FUZZ_CHECK(!scanner.error().message.empty());
        return scanner.error().code;
      }
      on_frame(static_cast<const Frame&>(frame), std::string_view(buffer));
      buffer.erase(0, frame_size(frame));
    }
  }
  return std::nullopt;
}

/// Small caps, so the fuzzer reaches every limit with short inputs.
inline Limits tight_limits() {
  Limits tight;
  tight.max_bulk_length = 64;
  tight.max_array_length = 8;
  tight.max_inline_length = 32;
  return tight;
}

/// The verdict must not depend on chunking: `scan(chunk)` equals `whole` for each of `chunks` (one-byte
/// chunks only for inputs up to 4 KiB, to keep each run fast).
template <class Outcome, class Scan>
void check_chunkings(std::string_view data, const Outcome& whole, std::initializer_list<std::size_t> chunks,
                     Scan&& scan) {
  for (const std::size_t chunk : chunks) {
    if (chunk == 1 && data.size() > 4096) continue;
    FUZZ_CHECK(scan(chunk) == whole);
  }
}

}  // namespace corral::redis::fuzz
