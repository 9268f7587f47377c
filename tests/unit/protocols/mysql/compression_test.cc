// Compressed packets (CLIENT_COMPRESS): header decoding, compress/decompress round trips, packets
// made by zlib's own compress() as mariadbd makes them, corrupt payloads, and a stream of compressed
// packets read back with every split point of the bytes.
#include <gtest/gtest.h>
#include <zlib.h>

#include <array>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mysql/compression.h"
#include "protocols/mysql/packet.h"
#include "tests/unit/protocols/mysql/test_util.h"

namespace corral::mysql {
namespace {

using test::bytes;

std::string repeated(std::size_t size) {
  std::string out;
  out.reserve(size);
  while (out.size() < size) out.append("select * from t1 where a = 'corral'; ");
  out.resize(size);
  return out;
}

std::string random_bytes(std::size_t size) {
  std::mt19937 generator(42);
  std::string out(size, '\0');
  for (char& c : out) c = static_cast<char>(generator());
  return out;
}

std::string compress_one(PacketCompressor& compressor, std::string_view content, std::uint8_t sequence_id = 0) {
  std::string out;
  const std::array<std::string_view, 1> pieces{content};
  compressor.compress(out, pieces, sequence_id);
  return out;
}

/// Reads compressed packets from `stream` as a connection does, the bytes arriving in two parts
/// split at `split`: a packet is read only once all of its bytes are there. Returns the content and
/// the sequence ids seen.
struct Inflated {
  std::string content;
  std::vector<std::uint8_t> sequence_ids;
  bool ok = true;
};

Inflated inflate_stream(PacketCompressor& compressor, std::string_view stream, std::size_t split) {
  Inflated result;
  std::string buffered;
  std::size_t fed = 0;
  auto feed = [&](std::size_t until) {
    buffered.append(stream.substr(fed, until - fed));
    fed = until;
  };
  feed(split);
  for (;;) {
    const auto header = decode_compressed_header(buffered);
    if (!header || header->wire_size() > buffered.size()) {
      if (fed == stream.size()) break;
      feed(stream.size());
      continue;
    }
    const std::size_t at = result.content.size();
    result.content.resize(at + header->content_size());
    const auto done = compressor.decompress(buffered, *header, std::span<char>(result.content).subspan(at));
    if (!done) {
      result.ok = false;
      return result;
    }
    result.sequence_ids.push_back(header->sequence_id);
    buffered.erase(0, header->wire_size());
  }
  result.ok = buffered.empty();
  return result;
}

TEST(CompressedHeader, IsTruncatedUntilSevenBytesAreThere) {
  const std::string header = bytes({0x22, 0x00, 0x00, 0x05, 0x32, 0x00, 0x00});
  for (std::size_t size = 0; size < kCompressedHeaderSize; ++size) {
    const auto decoded = decode_compressed_header(std::string_view(header).substr(0, size));
    ASSERT_FALSE(decoded) << size;
    EXPECT_EQ(decoded.error(), Errc::Truncated);
  }
  const auto decoded = decode_compressed_header(header);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->payload_length, 0x22u);
  EXPECT_EQ(decoded->sequence_id, 5);
  EXPECT_EQ(decoded->uncompressed_length, 0x32u);
  EXPECT_EQ(decoded->wire_size(), 7u + 0x22u);
  EXPECT_EQ(decoded->content_size(), 0x32u);
}

TEST(CompressedHeader, AStoredPayloadCarriesItsOwnLength) {
  const auto decoded = decode_compressed_header(bytes({0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->uncompressed_length, 0u);
  EXPECT_EQ(decoded->content_size(), 5u);
}

TEST(PacketCompressor, ShortContentGoesStored) {
  PacketCompressor compressor;
  std::string ping;
  append_packet(ping, 0, bytes({0x0e}));
  const std::string wire = compress_one(compressor, ping, 3);
  EXPECT_EQ(test::hex(wire), "05000003000000" + test::hex(ping));
}

TEST(PacketCompressor, LongCompressibleContentIsDeflatedAndComesBack) {
  PacketCompressor compressor;
  const std::string content = repeated(20000);
  const std::string wire = compress_one(compressor, content, 7);
  const auto header = decode_compressed_header(wire);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->uncompressed_length, content.size());
  EXPECT_EQ(header->sequence_id, 7);
  EXPECT_EQ(header->wire_size(), wire.size());
  EXPECT_LT(wire.size(), content.size() / 10);
  std::string back(header->content_size(), '\0');
  ASSERT_TRUE(compressor.decompress(wire, *header, back));
  EXPECT_EQ(back, content);
}

TEST(PacketCompressor, IncompressibleContentGoesStored) {
  PacketCompressor compressor;
  const std::string content = random_bytes(5000);
  const std::string wire = compress_one(compressor, content);
  const auto header = decode_compressed_header(wire);
  ASSERT_TRUE(header);
  EXPECT_EQ(header->uncompressed_length, 0u);
  EXPECT_EQ(wire.substr(kCompressedHeaderSize), content);
}

TEST(PacketCompressor, PiecesCompressAsTheirConcatenation) {
  PacketCompressor compressor;
  const std::string content = repeated(3000);
  const std::array<std::string_view, 4> pieces{std::string_view(content).substr(0, 1000), std::string_view(),
                                               std::string_view(content).substr(1000, 1),
                                               std::string_view(content).substr(1001)};
  std::string wire;
  EXPECT_EQ(compressor.compress(wire, pieces, 0), 1);
  EXPECT_EQ(wire, compress_one(compressor, content));
}

TEST(PacketCompressor, NothingIsAppendedForNoContent) {
  PacketCompressor compressor;
  std::string wire;
  const std::array<std::string_view, 2> pieces{std::string_view(), std::string_view()};
  EXPECT_EQ(compressor.compress(wire, pieces, 4), 4);
  EXPECT_TRUE(wire.empty());
}

TEST(PacketCompressor, ContentOverTheLengthFieldIsSplitWithConsecutiveSequenceIds) {
  PacketCompressor compressor;
  const std::string content = repeated(kMaxPayloadChunk + 1000);
  std::string wire;
  const std::array<std::string_view, 1> pieces{content};
  EXPECT_EQ(compressor.compress(wire, pieces, 255), 1);
  const Inflated read = inflate_stream(compressor, wire, wire.size());
  ASSERT_TRUE(read.ok);
  EXPECT_EQ(read.sequence_ids, (std::vector<std::uint8_t>{255, 0}));
  EXPECT_EQ(read.content.size(), content.size());
  EXPECT_TRUE(read.content == content);
}

TEST(PacketCompressor, ReadsWhatZlibsCompressMakesAsTheServerSendsIt) {
  const std::string content = repeated(4096);
  uLongf size = compressBound(content.size());
  std::string payload(size, '\0');
  ASSERT_EQ(compress(reinterpret_cast<Bytef*>(payload.data()), &size, reinterpret_cast<const Bytef*>(content.data()),
                     content.size()),
            Z_OK);
  payload.resize(size);
  std::string wire(kCompressedHeaderSize, '\0');
  wire[0] = static_cast<char>(payload.size() & 0xff);
  wire[1] = static_cast<char>((payload.size() >> 8) & 0xff);
  wire[2] = static_cast<char>(payload.size() >> 16);
  wire[3] = 1;
  wire[4] = static_cast<char>(content.size() & 0xff);
  wire[5] = static_cast<char>((content.size() >> 8) & 0xff);
  wire[6] = static_cast<char>(content.size() >> 16);
  wire += payload;
  PacketCompressor compressor;
  const auto header = decode_compressed_header(wire);
  ASSERT_TRUE(header);
  std::string back(header->content_size(), '\0');
  ASSERT_TRUE(compressor.decompress(wire, *header, back));
  EXPECT_EQ(back, content);
}

TEST(PacketCompressor, ACorruptPayloadIsRefused) {
  PacketCompressor compressor;
  std::string wire = compress_one(compressor, repeated(2000));
  wire[kCompressedHeaderSize + 5] = static_cast<char>(wire[kCompressedHeaderSize + 5] ^ 0x55);
  const auto header = decode_compressed_header(wire);
  ASSERT_TRUE(header);
  std::string back(header->content_size(), '\0');
  const auto done = compressor.decompress(wire, *header, back);
  ASSERT_FALSE(done);
  EXPECT_EQ(done.error(), Errc::BadValue);
}

TEST(PacketCompressor, ALengthBeforeCompressionThatIsNotTheStreamsIsRefused) {
  PacketCompressor compressor;
  const std::string content = repeated(2000);
  for (const int delta : {-1, 1}) {
    std::string wire = compress_one(compressor, content);
    const std::size_t claimed = content.size() + delta;
    wire[4] = static_cast<char>(claimed & 0xff);
    wire[5] = static_cast<char>((claimed >> 8) & 0xff);
    const auto header = decode_compressed_header(wire);
    ASSERT_TRUE(header);
    std::string back(header->content_size(), '\0');
    const auto done = compressor.decompress(wire, *header, back);
    ASSERT_FALSE(done) << delta;
    EXPECT_EQ(done.error(), Errc::BadValue);
  }
}

TEST(PacketCompressor, AStreamOfPacketsReadsBackAtEverySplitPoint) {
  PacketCompressor compressor;
  const std::string first = repeated(300);
  const std::string second = random_bytes(80);
  std::string packets;
  append_packet(packets, 0, bytes({0x0e}));
  std::string stream;
  std::uint8_t sequence_id = 0;
  for (const std::string_view content : {std::string_view(packets), std::string_view(first), std::string_view(second)}) {
    const std::array<std::string_view, 1> pieces{content};
    sequence_id = compressor.compress(stream, pieces, sequence_id);
  }
  const std::string expected = packets + first + second;
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    const Inflated read = inflate_stream(compressor, stream, split);
    ASSERT_TRUE(read.ok) << split;
    EXPECT_EQ(read.content, expected) << split;
    EXPECT_EQ(read.sequence_ids, (std::vector<std::uint8_t>{0, 1, 2})) << split;
  }
}

}  // namespace
}  // namespace corral::mysql
