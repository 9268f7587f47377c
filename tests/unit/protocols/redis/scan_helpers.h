#pragma once
// Test helpers: drive a scanner the way the proxy does (append bytes as they "arrive", scan every
// complete frame, erase consumed bytes so the buffer moves) under many chunkings.

#include <cstddef>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/redis/reply_scanner.h"
#include "protocols/redis/request_scanner.h"

namespace corral::redis::testing {

/// A framed request copied out of the buffer (the buffer is erased as we go).
struct ScannedRequest {
  std::vector<std::string> args;
  bool is_inline = false;
  std::string bytes;

  std::string command() const { return args.empty() ? std::string{} : args.front(); }
  bool operator==(const ScannedRequest&) const = default;
};

struct ScannedReply {
  ReplyType type{};
  bool has_attribute = false;
  bool is_null = false;
  std::string bytes;
  bool operator==(const ScannedReply&) const = default;
};

/// Everything one run over a wire produced.
template <typename Frame>
struct Outcome {
  std::vector<Frame> frames;
  std::optional<ProtocolError> error;
  std::size_t bytes_fed_at_error = 0;  // how much had been fed when the error was reported
  std::size_t leftover = 0;           // bytes buffered but not framed at the end

  bool same_as(const Outcome& other) const {
    const bool same_error = error.has_value() == other.error.has_value() &&
                            (!error || (error->code == other.error->code && error->message == other.error->message));
    return frames == other.frames && same_error && leftover == other.leftover;
  }
};

inline ScannedRequest copy_frame(const Request& request) {
  ScannedRequest out;
  for (std::size_t i = 0; i < request.arg_count(); ++i) out.args.emplace_back(request.arg(i));
  out.is_inline = request.is_inline();
  out.bytes = std::string(request.bytes());
  return out;
}

inline ScannedReply copy_frame(const Reply& reply) {
  return {reply.type, reply.has_attribute, reply.is_null, std::string(reply.bytes)};
}

inline std::size_t frame_size(const Request& request) { return request.size(); }
inline std::size_t frame_size(const Reply& reply) { return reply.size; }

/// Feeds `wire` in pieces whose sizes are `chunks` (the last piece takes the rest).
template <typename Scanner, typename FrameIn, typename FrameOut>
Outcome<FrameOut> feed(Scanner& scanner, std::string_view wire, const std::vector<std::size_t>& chunks) {
  Outcome<FrameOut> outcome;
  std::string buffer;
  FrameIn frame;
  std::size_t fed = 0;
  std::size_t next_chunk = 0;
  while (fed < wire.size()) {
    std::size_t n = next_chunk < chunks.size() ? chunks[next_chunk++] : wire.size() - fed;
    if (n == 0) n = 1;
    n = std::min(n, wire.size() - fed);
    buffer.append(wire.substr(fed, n));
    fed += n;
    for (;;) {
      const ScanStatus status = scanner.scan(buffer, frame);
      if (status == ScanStatus::NeedMore) break;
      if (status == ScanStatus::Error) {
        outcome.error = scanner.error();
        outcome.bytes_fed_at_error = fed;
        outcome.leftover = 0;
        return outcome;
      }
      outcome.frames.push_back(copy_frame(frame));
      buffer.erase(0, frame_size(frame));
    }
  }
  outcome.leftover = buffer.size();
  return outcome;
}

/// Every chunking the style guide asks for: whole; two pieces split at every byte boundary;
/// one byte at a time; fixed sizes; random sizes from a fixed seed.
inline std::vector<std::vector<std::size_t>> all_chunkings(std::size_t size) {
  std::vector<std::vector<std::size_t>> plans;
  plans.push_back({size});
  for (std::size_t cut = 1; cut < size; ++cut) plans.push_back({cut});
  plans.push_back(std::vector<std::size_t>(size, 1));
  for (std::size_t fixed : {2u, 3u, 7u, 64u}) plans.push_back(std::vector<std::size_t>(size / fixed + 1, fixed));
  std::mt19937 rng(20240601);
  for (int round = 0; round < 8; ++round) {
    std::vector<std::size_t> plan;
    std::uniform_int_distribution<std::size_t> piece(1, 9);
    for (std::size_t total = 0; total < size;) total += plan.emplace_back(piece(rng));
    plans.push_back(std::move(plan));
  }
  return plans;
}

inline Outcome<ScannedRequest> scan_requests(std::string_view wire, const std::vector<std::size_t>& chunks,
                                             Limits limits = Limits::requests()) {
  RequestScanner scanner(limits);
  return feed<RequestScanner, Request, ScannedRequest>(scanner, wire, chunks);
}

inline Outcome<ScannedReply> scan_replies(std::string_view wire, const std::vector<std::size_t>& chunks,
                                          Limits limits = Limits::replies()) {
  ReplyScanner scanner(limits);
  return feed<ReplyScanner, Reply, ScannedReply>(scanner, wire, chunks);
}

/// Chunks of a fixed size, e.g. scan_in_chunks(wire, 7).
inline std::vector<ScannedRequest> scan_in_chunks(std::string_view wire, std::size_t chunk) {
  return scan_requests(wire, std::vector<std::size_t>(wire.size() / chunk + 1, chunk)).frames;
}

}  // namespace corral::redis::testing
