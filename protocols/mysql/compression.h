// The compressed protocol (CLIENT_COMPRESS; MySQL "Compressed Packet"): after the login both sides
// wrap their packet stream in compressed packets.
//
//   int<3> payload length | int<1> compressed sequence id | int<3> length before compression | payload
//
// A length before compression of 0 means the payload is stored as is (short or incompressible
// content); otherwise the payload is a zlib stream that inflates to exactly that many bytes. A
// compressed packet carries any run of the packet stream: a piece of a packet or several packets. Its
// sequence ids count on their own from the same starting point as the packets' (0 for a command, the
// last received + 1 for a reply).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "protocols/mysql/errors.h"

struct z_stream_s;

namespace corral::mysql {

inline constexpr std::size_t kCompressedHeaderSize = 7;
/// Content shorter than this goes stored, as mariadbd does (MIN_COMPRESS_LENGTH): deflating it would
/// cost more than the bytes it saves.
inline constexpr std::size_t kMinCompressLength = 50;

/// The header of one compressed packet.
struct CompressedHeader {
  std::uint32_t payload_length = 0;       // bytes after the header
  std::uint8_t sequence_id = 0;
  std::uint32_t uncompressed_length = 0;  // 0: the payload is stored as is

  /// The whole compressed packet's size on the wire.
  std::size_t wire_size() const noexcept { return kCompressedHeaderSize + payload_length; }
  /// Bytes of the packet stream it carries.
  std::size_t content_size() const noexcept { return uncompressed_length == 0 ? payload_length : uncompressed_length; }
};

/// The header at the start of `buffer`: Errc::Truncated while fewer than 7 bytes are there. Any
/// lengths are valid (each is at most 0xFFFFFF by its width), so nothing else fails.
Result<CompressedHeader> decode_compressed_header(std::string_view buffer) noexcept;

/// Deflates and inflates compressed packets. Holds zlib's state between calls (deflate's is ~256 KiB),
/// so keep one per thread rather than one per connection. Not thread-safe.
class PacketCompressor {
 public:
  PacketCompressor() = default;
  PacketCompressor(const PacketCompressor&) = delete;
  PacketCompressor& operator=(const PacketCompressor&) = delete;
  ~PacketCompressor();

  /// Appends the concatenation of `pieces` to `out` as compressed packets, the first with
  /// `sequence_id`; content of kMinCompressLength or more is deflated when that makes it smaller, and
  /// content over 0xFFFFFF bytes is split. Nothing is appended for empty content. Returns the next
  /// compressed sequence id.
  std::uint8_t compress(std::string& out, std::span<const std::string_view> pieces, std::uint8_t sequence_id);

  /// Writes the content of the whole compressed packet `wire` (header included, header.wire_size()
  /// bytes) into `out` (header.content_size() bytes). Errc::BadValue when the payload is no zlib
  /// stream that inflates to exactly the length the header names.
  Result<void> decompress(std::string_view wire, const CompressedHeader& header, std::span<char> out);

 private:
  /// Appends one compressed packet of `size` content bytes taken from `pieces` from (piece, offset) on.
  void append_one(std::string& out, std::span<const std::string_view> pieces, std::size_t& piece,
                  std::size_t& offset, std::size_t size, std::uint8_t sequence_id);
  bool deflate_into(std::string& out, std::span<const std::string_view> pieces, std::size_t piece, std::size_t offset,
                    std::size_t size);

  z_stream_s* deflater_ = nullptr;
  z_stream_s* inflater_ = nullptr;
};

}  // namespace corral::mysql
