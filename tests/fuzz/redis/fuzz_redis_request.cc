// Fuzzes RequestScanner: whatever the bytes, scanning never crashes, frames stay inside the input,
// the outcome does not depend on how the bytes are chunked, and every frame re-encoded as RESP
// scans back to the same arguments.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "fuzz_scan.h"
#include "protocols/redis/encoder.h"
#include "protocols/redis/request_scanner.h"

namespace corral::redis {
namespace {

struct Outcome {
  std::vector<std::vector<std::string>> frames;
  std::vector<bool> inline_flags;
  std::optional<ErrorCode> error;
  std::size_t consumed = 0;

  bool operator==(const Outcome&) const = default;
};

void check_frame(const Request& request, std::string_view buffer, const Limits& limits) {
  FUZZ_CHECK(request.size() > 0);
  FUZZ_CHECK(request.size() <= buffer.size());
  FUZZ_CHECK(request.bytes().data() == buffer.data());
  FUZZ_CHECK(request.arg_count() <= limits.max_array_length || request.is_inline());
  for (std::size_t i = 0; i < request.arg_count(); ++i) {
    const std::string_view arg = request.arg(i);
    FUZZ_CHECK(arg.size() <= request.size());
    if (!request.is_inline()) {  // RESP arguments are views into the frame itself
      FUZZ_CHECK(arg.data() >= buffer.data() && arg.data() + arg.size() <= buffer.data() + request.size());
      FUZZ_CHECK(arg.size() <= limits.max_bulk_length);
    }
  }
}

/// Feeds `data` in pieces of `chunk` bytes (0 = all at once), erasing consumed bytes as a proxy does.
Outcome scan(std::string_view data, std::size_t chunk, const Limits& limits) {
  Outcome outcome;
  outcome.error = fuzz::scan_in_chunks<RequestScanner, Request>(
      data, chunk, limits, [&](const Request& request, std::string_view buffer) {
        check_frame(request, buffer, limits);
        std::vector<std::string> args;
        for (std::size_t i = 0; i < request.arg_count(); ++i) args.emplace_back(request.arg(i));
        outcome.frames.push_back(std::move(args));
        outcome.inline_flags.push_back(request.is_inline());
        outcome.consumed += request.size();
      });
  return outcome;
}

/// Every frame, re-encoded as RESP (as the proxy forwards inline commands), scans back the same.
void check_reencoding(const Outcome& outcome) {
  for (const auto& args : outcome.frames) {
    if (args.empty()) continue;
    std::vector<std::string_view> views(args.begin(), args.end());
    std::string wire;
    encode_command(wire, std::span<const std::string_view>(views));
    RequestScanner scanner(Limits{});
    Request request;
    FUZZ_CHECK(scanner.scan(wire, request) == ScanStatus::Frame);
    FUZZ_CHECK(request.size() == wire.size());
    FUZZ_CHECK(request.arg_count() == args.size());
    for (std::size_t i = 0; i < args.size(); ++i) FUZZ_CHECK(request.arg(i) == args[i]);
  }
}

void run(std::string_view data, const Limits& limits) {
  const Outcome whole = scan(data, 0, limits);
  FUZZ_CHECK(whole.consumed <= data.size());
  check_reencoding(whole);
  // The verdict must not depend on chunking: compare a few chunk sizes, including one byte.
  fuzz::check_chunkings(data, whole, {1, 2, 7, 64}, [&](std::size_t chunk) { return scan(data, chunk, limits); });
}

}  // namespace
}  // namespace corral::redis

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  corral::redis::run(data, corral::redis::Limits::requests());
  corral::redis::run(data, corral::redis::fuzz::tight_limits());
  return 0;
}
