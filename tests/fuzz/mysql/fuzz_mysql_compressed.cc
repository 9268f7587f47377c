// libFuzzer target: compressed packets (protocols/mysql/compression) over arbitrary bytes, as corral
// reads them from a client or a backend that negotiated CLIENT_COMPRESS. Every packet the header
// announces is decompressed into a buffer of exactly its content size; a corrupt zlib stream must be
// refused, never read or written past. Then the input itself must survive a compress/decompress round
// trip split at an input-chosen point.
//   input: a stream of compressed packets (header + payload), as on the wire
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "protocols/mysql/compression.h"

namespace {

using namespace corral::mysql;

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

/// Content sizes up to this are decompressed; larger ones only have their header read (each may be
/// 16 MiB, which would make the fuzzer measure malloc).
constexpr std::size_t kLargestContent = 1 << 20;

void read_stream(PacketCompressor& compressor, std::string_view stream) {
  std::string content;
  while (true) {
    const auto header = decode_compressed_header(stream);
    if (!header) {
      check(stream.size() < kCompressedHeaderSize);
      return;
    }
    if (header->wire_size() > stream.size()) return;
    if (header->content_size() <= kLargestContent) {
      content.assign(header->content_size(), '\0');
      const auto done = compressor.decompress(stream, *header, content);
      if (done && header->uncompressed_length == 0) {
        check(content == stream.substr(kCompressedHeaderSize, header->payload_length));
      }
    }
    stream.remove_prefix(header->wire_size());
  }
}

void round_trip(PacketCompressor& compressor, std::string_view input) {
  const std::size_t split = input.empty() ? 0 : static_cast<std::uint8_t>(input[0]) % (input.size() + 1);
  const std::array<std::string_view, 2> pieces{input.substr(0, split), input.substr(split)};
  std::string wire;
  const std::uint8_t next = compressor.compress(wire, pieces, 250);
  check(next == (input.empty() ? 250 : 251));
  std::string back;
  std::string_view stream = wire;
  while (!stream.empty()) {
    const auto header = decode_compressed_header(stream);
    check(header.ok() && header->wire_size() <= stream.size());
    const std::size_t at = back.size();
    back.resize(at + header->content_size());
    check(compressor.decompress(stream, *header, std::span<char>(back).subspan(at)).ok());
    stream.remove_prefix(header->wire_size());
  }
  check(back == input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static PacketCompressor compressor;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  read_stream(compressor, input);
  round_trip(compressor, input);
  return 0;
}
