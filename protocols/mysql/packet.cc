#include "protocols/mysql/packet.h"

namespace corral::mysql {

namespace {

void write_header(char* at, std::size_t length, std::uint8_t sequence_id) noexcept {
  at[0] = static_cast<char>(length & 0xff);
  at[1] = static_cast<char>((length >> 8) & 0xff);
  at[2] = static_cast<char>((length >> 16) & 0xff);
  at[3] = static_cast<char>(sequence_id);
}

}  // namespace

FrameResult PacketFramer::next(std::string_view buffer) noexcept {
  FrameResult result;
  if (buffer.size() < kPacketHeaderSize) return result;
  const std::size_t length = header_payload_length(buffer);
  // Check the cap on the header so an oversized packet is refused before it is buffered.
  if (logical_size_ + length > max_packet_size_) {
    result.status = FrameStatus::Error;
    result.error = Errc::PacketTooLarge;
    return result;
  }
  result.needed = kPacketHeaderSize + length;
  if (buffer.size() < result.needed) return result;

  result.status = FrameStatus::Packet;
  result.packet.wire = buffer.substr(0, result.needed);
  result.packet.sequence_id = static_cast<std::uint8_t>(buffer[3]);
  result.packet.continuation = in_logical_;
  if (length == kMaxPayloadChunk) {
    in_logical_ = true;
    logical_size_ += length;
  } else {
    in_logical_ = false;
    logical_size_ = 0;
  }
  return result;
}

LogicalPacket read_logical_packet(std::string_view buffer, const Limits& limits, std::string& scratch,
                                  ChunkSequence sequence) {
  LogicalPacket result;
  std::size_t offset = 0;
  std::size_t total = 0;
  std::size_t chunks = 0;
  // First pass: find the end and validate, without copying, so NeedMore costs nothing.
  while (true) {
    if (buffer.size() - offset < kPacketHeaderSize) return result;
    const std::string_view header = buffer.substr(offset, kPacketHeaderSize);
    const std::size_t length = header_payload_length(header);
    const auto sequence_id = static_cast<std::uint8_t>(header[3]);
    if (total + length > limits.max_packet_size) {
      result.status = FrameStatus::Error;
      result.error = Errc::PacketTooLarge;
      return result;
    }
    if (chunks == 0) {
      result.first_sequence_id = sequence_id;
    } else if (sequence == ChunkSequence::Consecutive &&
               sequence_id != static_cast<std::uint8_t>(result.last_sequence_id + 1)) {
      result.status = FrameStatus::Error;
      result.error = Errc::BadSequence;
      return result;
    }
    result.last_sequence_id = sequence_id;
    if (buffer.size() - offset - kPacketHeaderSize < length) return result;
    offset += kPacketHeaderSize + length;
    total += length;
    ++chunks;
    if (length != kMaxPayloadChunk) break;
  }
  result.status = FrameStatus::Packet;
  result.consumed = offset;
  if (chunks == 1) {
    result.payload = buffer.substr(kPacketHeaderSize, total);
    return result;
  }
  scratch.clear();
  scratch.reserve(total);
  for (std::size_t at = 0; at < offset;) {
    const std::size_t length = header_payload_length(buffer.substr(at, kPacketHeaderSize));
    scratch.append(buffer.substr(at + kPacketHeaderSize, length));
    at += kPacketHeaderSize + length;
  }
  result.payload = scratch;
  return result;
}

std::uint8_t append_packet(std::string& out, std::uint8_t sequence_id, std::string_view payload) {
  while (true) {
    const std::size_t chunk = payload.size() < kMaxPayloadChunk ? payload.size() : kMaxPayloadChunk;
    char header[kPacketHeaderSize];
    write_header(header, chunk, sequence_id);
    out.append(header, kPacketHeaderSize);
    out.append(payload.substr(0, chunk));
    payload.remove_prefix(chunk);
    ++sequence_id;
    // A full chunk always needs a follower, even an empty one, so the reader knows it ended.
    if (chunk < kMaxPayloadChunk) return sequence_id;
  }
}

std::size_t begin_packet(std::string& out) {
  const std::size_t begin = out.size();
  out.append(kPacketHeaderSize, '\0');
  return begin;
}

std::uint8_t finish_packet(std::string& out, std::size_t begin, std::uint8_t sequence_id) {
  std::size_t length = out.size() - begin - kPacketHeaderSize;
  if (length < kMaxPayloadChunk) {
    write_header(out.data() + begin, length, sequence_id);
    return static_cast<std::uint8_t>(sequence_id + 1);
  }
  // Rare (>= 16 MiB payload): move the payload out and re-frame it.
  const std::string payload = out.substr(begin + kPacketHeaderSize);
  out.resize(begin);
  return append_packet(out, sequence_id, payload);
}

bool rewrite_sequence_id(std::span<char> wire, std::uint8_t sequence_id) noexcept {
  if (wire.size() < kPacketHeaderSize) return false;
  wire[3] = static_cast<char>(sequence_id);
  return true;
}

}  // namespace corral::mysql
