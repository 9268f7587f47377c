#include "protocols/mysql/compression.h"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <new>

#include "protocols/mysql/packet.h"

namespace corral::mysql {

namespace {

/// Level 1: most of deflate's saving on result sets at a fraction of the default level's CPU; a proxy
/// compresses every client's traffic on its loops, where mariadbd spreads its clients over threads.
constexpr int kDeflateLevel = Z_BEST_SPEED;

void store_int3(char* at, std::size_t value) noexcept {
  at[0] = static_cast<char>(value & 0xff);
  at[1] = static_cast<char>((value >> 8) & 0xff);
  at[2] = static_cast<char>((value >> 16) & 0xff);
}

std::uint32_t load_int3(const char* at) noexcept {
  return static_cast<std::uint32_t>(static_cast<std::uint8_t>(at[0])) |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(at[1])) << 8 |
         static_cast<std::uint32_t>(static_cast<std::uint8_t>(at[2])) << 16;
}

void write_header(char* at, std::size_t payload_length, std::uint8_t sequence_id, std::size_t uncompressed_length) {
  store_int3(at, payload_length);
  at[3] = static_cast<char>(sequence_id);
  store_int3(at + 4, uncompressed_length);
}

Bytef* bytes_of(const char* data) noexcept { return reinterpret_cast<Bytef*>(const_cast<char*>(data)); }

}  // namespace

Result<CompressedHeader> decode_compressed_header(std::string_view buffer) noexcept {
  if (buffer.size() < kCompressedHeaderSize) return Errc::Truncated;
  return CompressedHeader{load_int3(buffer.data()), static_cast<std::uint8_t>(buffer[3]), load_int3(buffer.data() + 4)};
}

PacketCompressor::~PacketCompressor() {
  if (deflater_ != nullptr) {
    deflateEnd(deflater_);
    delete deflater_;
  }
  if (inflater_ != nullptr) {
    inflateEnd(inflater_);
    delete inflater_;
  }
}

std::uint8_t PacketCompressor::compress(std::string& out, std::span<const std::string_view> pieces,
                                        std::uint8_t sequence_id) {
  std::size_t remaining = 0;
  for (const std::string_view piece : pieces) remaining += piece.size();
  std::size_t piece = 0;
  std::size_t offset = 0;
  while (remaining > 0) {
    const std::size_t size = std::min(remaining, kMaxPayloadChunk);
    append_one(out, pieces, piece, offset, size, sequence_id++);
    remaining -= size;
  }
  return sequence_id;
}

void PacketCompressor::append_one(std::string& out, std::span<const std::string_view> pieces, std::size_t& piece,
                                  std::size_t& offset, std::size_t size, std::uint8_t sequence_id) {
  const std::size_t at = out.size();
  out.resize(at + kCompressedHeaderSize);
  const bool deflated = size >= kMinCompressLength && deflate_into(out, pieces, piece, offset, size);
  if (deflated) {
    write_header(out.data() + at, out.size() - at - kCompressedHeaderSize, sequence_id, size);
  } else {
    out.resize(at + kCompressedHeaderSize);
    write_header(out.data() + at, size, sequence_id, 0);
  }
  // Walk (piece, offset) past this packet's content, copying it when it went stored.
  for (std::size_t left = size; left > 0;) {
    if (offset == pieces[piece].size()) {
      ++piece;
      offset = 0;
      continue;
    }
    const std::size_t take = std::min(left, pieces[piece].size() - offset);
    if (!deflated) out.append(pieces[piece].substr(offset, take));
    offset += take;
    left -= take;
  }
}

bool PacketCompressor::deflate_into(std::string& out, std::span<const std::string_view> pieces, std::size_t piece,
                                    std::size_t offset, std::size_t size) {
  if (deflater_ == nullptr) {
    auto* stream = new z_stream{};
    if (deflateInit(stream, kDeflateLevel) != Z_OK) {
      delete stream;
      return false;
    }
    deflater_ = stream;
  } else if (deflateReset(deflater_) != Z_OK) {
    return false;
  }
  // Only a result smaller than the content is worth sending: the output room stops one byte short.
  const std::size_t start = out.size();
  out.resize(start + size - 1);
  deflater_->next_out = bytes_of(out.data() + start);
  deflater_->avail_out = static_cast<uInt>(size - 1);
  for (std::size_t left = size; left > 0; ++piece, offset = 0) {
    const std::size_t take = std::min(left, pieces[piece].size() - offset);
    if (take == 0) continue;  // an empty piece
    left -= take;
    deflater_->next_in = bytes_of(pieces[piece].data() + offset);
    deflater_->avail_in = static_cast<uInt>(take);
    const int flush = left == 0 ? Z_FINISH : Z_NO_FLUSH;
    for (;;) {
      const int rc = deflate(deflater_, flush);
      if (rc == Z_STREAM_END) {
        out.resize(out.size() - deflater_->avail_out);
        return true;
      }
      // Out of room (no saving), or no progress possible.
      if (rc != Z_OK || deflater_->avail_out == 0) return false;
      if (flush == Z_NO_FLUSH && deflater_->avail_in == 0) break;
    }
  }
  return false;
}

Result<void> PacketCompressor::decompress(std::string_view wire, const CompressedHeader& header,
                                          std::span<char> out) {
  const std::string_view payload = wire.substr(kCompressedHeaderSize, header.payload_length);
  if (out.size() != header.content_size() || payload.size() != header.payload_length) return Errc::BadValue;
  if (header.uncompressed_length == 0) {
    std::memcpy(out.data(), payload.data(), payload.size());
    return {};
  }
  if (inflater_ == nullptr) {
    auto* stream = new z_stream{};
    if (inflateInit(stream) != Z_OK) {
      delete stream;
      throw std::bad_alloc();
    }
    inflater_ = stream;
  } else if (inflateReset(inflater_) != Z_OK) {
    return Errc::BadValue;
  }
  inflater_->next_in = bytes_of(payload.data());
  inflater_->avail_in = static_cast<uInt>(payload.size());
  inflater_->next_out = reinterpret_cast<Bytef*>(out.data());
  inflater_->avail_out = static_cast<uInt>(out.size());
  const int rc = inflate(inflater_, Z_FINISH);
  // Exactly the announced length, as uncompress() checks on the server: bytes after the end of the
  // zlib stream are ignored there too.
  if (rc != Z_STREAM_END || inflater_->avail_out != 0) return Errc::BadValue;
  return {};
}

}  // namespace corral::mysql
