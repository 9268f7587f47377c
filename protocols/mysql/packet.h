// Packet framing (Protocol::Packet): int<3> payload_length, int<1> sequence_id, payload.
//
// A payload of exactly 0xFFFFFF bytes means the logical packet continues in the next wire packet
// (Sending More Than 16Mb); a logical packet whose size is a multiple of 0xFFFFFF ends with an
// empty wire packet. The framer yields one *wire* packet at a time as a view (header + payload) so
// the proxy can relay the original bytes, and says whether the logical packet continues.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "protocols/mysql/errors.h"

namespace corral::mysql {

inline constexpr std::size_t kPacketHeaderSize = 4;
inline constexpr std::size_t kMaxPayloadChunk = 0xffffff;

/// Caps on what the wire may make corral hold or count.
struct Limits {
  std::size_t max_packet_size = 64u << 20;  // logical payload bytes; like max_allowed_packet
  // Column count of one result set (a lenenc integer: a SELECT of 68,001 literals is answered, as in
  // mtr's main.mysql) or prepared statement; the definitions are counted as they pass, never stored.
  std::uint64_t max_columns = 1u << 20;
  std::uint64_t max_params = 65535;         // parameter count (int<2> in COM_STMT_PREPARE_OK)
  std::size_t max_connect_attrs = 64u << 10;  // bytes of connection attributes in a handshake
};

/// One wire packet inside the caller's buffer. Lifetime: views the buffer given to the framer.
struct WirePacket {
  std::string_view wire;          // header + payload chunk, exactly as received
  std::uint8_t sequence_id = 0;   // header byte 3
  bool continuation = false;      // this chunk continues the previous chunk's logical packet

  std::string_view payload() const noexcept { return wire.substr(kPacketHeaderSize); }
  std::size_t size() const noexcept { return wire.size(); }
  /// True when the next wire packet belongs to the same logical packet (payload is 0xFFFFFF long).
  bool continues() const noexcept { return wire.size() - kPacketHeaderSize == kMaxPayloadChunk; }
  /// True when this chunk starts a logical packet.
  bool first() const noexcept { return !continuation; }
};

enum class FrameStatus : std::uint8_t { Packet, NeedMore, Error };

struct FrameResult {
  FrameStatus status = FrameStatus::NeedMore;
  WirePacket packet;          // valid when status == Packet
  std::size_t needed = kPacketHeaderSize;  // NeedMore: total bytes the buffer must hold for this packet
  Errc error = Errc::Ok;      // valid when status == Error
};

/// Frames wire packets one by one and tracks logical packets across 0xFFFFFF continuations.
/// Contract: next() looks at `buffer`, which starts at a wire packet boundary, and reports
/// Packet (the caller must consume packet.size() bytes before calling again), NeedMore (nothing
/// changed; call again with more bytes) or Error (PacketTooLarge: the proxy answers ER_NET_PACKET_TOO_LARGE
/// and closes). The size check happens on the 4-byte header, before the payload is buffered.
/// Not thread-safe.
class PacketFramer {
 public:
  explicit PacketFramer(const Limits& limits = {}) noexcept : max_packet_size_(limits.max_packet_size) {}

  FrameResult next(std::string_view buffer) noexcept;

  /// True between a chunk of 0xFFFFFF bytes and the chunk that ends its logical packet.
  bool in_logical_packet() const noexcept { return in_logical_; }
  /// Logical payload bytes framed so far for the current logical packet.
  std::size_t logical_size() const noexcept { return logical_size_; }
  /// Forgets a half-framed logical packet (after an error, before reusing the framer).
  void reset() noexcept {
    in_logical_ = false;
    logical_size_ = 0;
  }

 private:
  std::size_t max_packet_size_;
  std::size_t logical_size_ = 0;
  bool in_logical_ = false;
};

/// One whole logical packet, reassembled if it spans wire packets.
struct LogicalPacket {
  FrameStatus status = FrameStatus::NeedMore;
  std::string_view payload;       // view into the buffer (one chunk) or into `scratch` (several)
  std::size_t consumed = 0;       // wire bytes it took (all headers included)
  std::uint8_t first_sequence_id = 0;
  std::uint8_t last_sequence_id = 0;  // the next packet in the exchange uses last_sequence_id + 1
  Errc error = Errc::Ok;
};

/// Reads one complete logical packet at the start of `buffer` without changing anything on NeedMore.
/// Multi-chunk payloads are copied into `scratch` (only then). Sequence ids of the chunks must
/// increase by one (Errc::BadSequence otherwise). Used for handshake and command packets that corral
/// decodes whole; relayed traffic goes through PacketFramer instead.
/// How the chunks of a logical packet must be numbered: consecutively, or anyhow under the compressed
/// protocol, where the compressed packets carry the order (MariaDB Connector/C numbers every chunk 0).
enum class ChunkSequence : std::uint8_t { Consecutive, Any };
LogicalPacket read_logical_packet(std::string_view buffer, const Limits& limits, std::string& scratch,
                                  ChunkSequence sequence = ChunkSequence::Consecutive);

/// Appends `payload` as one logical packet whose first wire packet has `sequence_id`, splitting at
/// 0xFFFFFF (and adding the empty terminating packet when needed). Returns the next sequence id.
std::uint8_t append_packet(std::string& out, std::uint8_t sequence_id, std::string_view payload);

/// Reserves a packet header at the end of `out` and returns its offset; write the payload after it,
/// then call finish_packet(). Saves building the payload in a separate string.
std::size_t begin_packet(std::string& out);
/// Fills in the header reserved at `begin` for the payload that follows it up to out.size(),
/// inserting continuation headers if it is 0xFFFFFF bytes or longer. Returns the next sequence id.
std::uint8_t finish_packet(std::string& out, std::size_t begin, std::uint8_t sequence_id);

/// Rewrites the sequence id byte of a wire packet in place (used when corral injects or drops
/// packets and the ids it relays must stay consecutive). Returns false if `wire` has no full header.
bool rewrite_sequence_id(std::span<char> wire, std::uint8_t sequence_id) noexcept;

/// Reads the payload length out of a 4-byte header.
constexpr std::uint32_t header_payload_length(std::string_view header) noexcept {
  return static_cast<std::uint32_t>(static_cast<std::uint8_t>(header[0])) |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(header[1])) << 8 |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(header[2])) << 16;
}

}  // namespace corral::mysql
