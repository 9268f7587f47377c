#include "protocols/mysql/packet.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace corral::mysql {
namespace {

using test::bytes;

// COM_QUIT as the specification shows it: 01 00 00 00 01.
TEST(MysqlPacketFramer, FramesSpecExample) {
  PacketFramer framer;
  const std::string wire = bytes({0x01, 0x00, 0x00, 0x00, 0x01});
  const FrameResult r = framer.next(wire);
  ASSERT_EQ(r.status, FrameStatus::Packet);
  EXPECT_EQ(r.packet.size(), 5u);
  EXPECT_EQ(r.packet.sequence_id, 0);
  EXPECT_EQ(r.packet.payload(), bytes({0x01}));
  EXPECT_FALSE(r.packet.continues());
  EXPECT_TRUE(r.packet.first());
}

TEST(MysqlPacketFramer, NeedMoreReportsBytesNeeded) {
  PacketFramer framer;
  std::string wire;
  append_packet(wire, 3, "hello");
  for (std::size_t cut = 0; cut < wire.size(); ++cut) {
    const FrameResult r = framer.next(std::string_view(wire).substr(0, cut));
    EXPECT_EQ(r.status, FrameStatus::NeedMore) << cut;
    EXPECT_EQ(r.needed, cut < kPacketHeaderSize ? kPacketHeaderSize : wire.size());
  }
  EXPECT_EQ(framer.next(wire).status, FrameStatus::Packet);
}

TEST(MysqlPacketFramer, EmptyPayload) {
  PacketFramer framer;
  const FrameResult r = framer.next(bytes({0, 0, 0, 7}));
  ASSERT_EQ(r.status, FrameStatus::Packet);
  EXPECT_EQ(r.packet.payload(), "");
  EXPECT_EQ(r.packet.sequence_id, 7);
}

TEST(MysqlPacketFramer, LogicalPacketsOverSixteenMiB) {
  const std::string payload(kMaxPayloadChunk + 10, 'x');
  std::string wire;
  EXPECT_EQ(append_packet(wire, 5, payload), 7);
  EXPECT_EQ(wire.size(), payload.size() + 2 * kPacketHeaderSize);
  PacketFramer framer;
  FrameResult first = framer.next(wire);
  ASSERT_EQ(first.status, FrameStatus::Packet);
  EXPECT_TRUE(first.packet.continues());
  EXPECT_FALSE(first.packet.continuation);
  EXPECT_TRUE(framer.in_logical_packet());
  EXPECT_EQ(framer.logical_size(), kMaxPayloadChunk);
  FrameResult second = framer.next(std::string_view(wire).substr(first.packet.size()));
  ASSERT_EQ(second.status, FrameStatus::Packet);
  EXPECT_TRUE(second.packet.continuation);
  EXPECT_FALSE(second.packet.continues());
  EXPECT_EQ(second.packet.sequence_id, 6);
  EXPECT_EQ(second.packet.payload().size(), 10u);
  EXPECT_FALSE(framer.in_logical_packet());
}

TEST(MysqlPacketFramer, ExactMultipleEndsWithEmptyPacket) {
  const std::string payload(kMaxPayloadChunk, 'y');
  std::string wire;
  EXPECT_EQ(append_packet(wire, 0, payload), 2);
  ASSERT_EQ(wire.size(), payload.size() + 2 * kPacketHeaderSize);
  EXPECT_EQ(wire.substr(wire.size() - 4), bytes({0, 0, 0, 1}));
  std::string scratch;
  const LogicalPacket logical = read_logical_packet(wire, Limits{}, scratch);
  ASSERT_EQ(logical.status, FrameStatus::Packet);
  EXPECT_EQ(logical.payload.size(), kMaxPayloadChunk);
  EXPECT_EQ(logical.consumed, wire.size());
  EXPECT_EQ(logical.first_sequence_id, 0);
  EXPECT_EQ(logical.last_sequence_id, 1);
}

TEST(MysqlPacketFramer, OversizedPacketRefusedOnItsHeader) {
  Limits limits;
  limits.max_packet_size = 100;
  PacketFramer framer(limits);
  // Only the header has arrived: the packet is refused before its payload is buffered.
  const FrameResult r = framer.next(bytes({101, 0, 0, 0}));
  EXPECT_EQ(r.status, FrameStatus::Error);
  EXPECT_EQ(r.error, Errc::PacketTooLarge);
  EXPECT_EQ(framer.next(bytes({100, 0, 0, 0})).status, FrameStatus::NeedMore);
}

TEST(MysqlPacketFramer, OversizedLogicalPacketAcrossChunks) {
  Limits limits;
  limits.max_packet_size = kMaxPayloadChunk + 5;
  PacketFramer framer(limits);
  std::string wire;
  append_packet(wire, 0, std::string(kMaxPayloadChunk + 6, 'z'));
  const FrameResult first = framer.next(wire);
  ASSERT_EQ(first.status, FrameStatus::Packet);
  const FrameResult second = framer.next(std::string_view(wire).substr(first.packet.size()));
  EXPECT_EQ(second.status, FrameStatus::Error);
  EXPECT_EQ(second.error, Errc::PacketTooLarge);
  std::string scratch;
  EXPECT_EQ(read_logical_packet(wire, limits, scratch).error, Errc::PacketTooLarge);
}

TEST(MysqlReadLogicalPacket, ReassemblesAndChecksSequence) {
  std::string wire;
  const std::string payload = std::string(kMaxPayloadChunk, 'a') + "tail";
  append_packet(wire, 9, payload);
  std::string scratch;
  for (const std::size_t cut : {std::size_t{0}, std::size_t{3}, std::size_t{4}, kMaxPayloadChunk, wire.size() - 1}) {
    EXPECT_EQ(read_logical_packet(std::string_view(wire).substr(0, cut), Limits{}, scratch).status,
              FrameStatus::NeedMore)
        << cut;
  }
  const LogicalPacket ok = read_logical_packet(wire, Limits{}, scratch);
  ASSERT_EQ(ok.status, FrameStatus::Packet);
  EXPECT_EQ(ok.payload, payload);
  EXPECT_EQ(ok.last_sequence_id, 10);
  wire[kPacketHeaderSize + kMaxPayloadChunk + 3] = 42;  // second chunk's sequence id
  const LogicalPacket bad = read_logical_packet(wire, Limits{}, scratch);
  EXPECT_EQ(bad.status, FrameStatus::Error);
  EXPECT_EQ(bad.error, Errc::BadSequence);
}

// Under the compressed protocol MariaDB Connector/C numbers every chunk 0.
TEST(MysqlReadLogicalPacket, AnyChunkNumberingIsTakenWhenAsked) {
  std::string wire;
  const std::string payload = std::string(kMaxPayloadChunk, 'a') + "tail";
  append_packet(wire, 0, payload);
  wire[kPacketHeaderSize + kMaxPayloadChunk + 3] = 0;  // second chunk's sequence id
  std::string scratch;
  EXPECT_EQ(read_logical_packet(wire, Limits{}, scratch).error, Errc::BadSequence);
  const LogicalPacket any = read_logical_packet(wire, Limits{}, scratch, ChunkSequence::Any);
  ASSERT_EQ(any.status, FrameStatus::Packet);
  EXPECT_EQ(any.payload, payload);
  EXPECT_EQ(any.consumed, wire.size());
}

TEST(MysqlReadLogicalPacket, SingleChunkIsAViewIntoTheBuffer) {
  std::string wire;
  append_packet(wire, 0, "SELECT 1");
  wire += "trailing bytes of the next packet";
  std::string scratch;
  const LogicalPacket p = read_logical_packet(wire, Limits{}, scratch);
  ASSERT_EQ(p.status, FrameStatus::Packet);
  EXPECT_EQ(p.payload, "SELECT 1");
  EXPECT_EQ(p.payload.data(), wire.data() + kPacketHeaderSize);
  EXPECT_EQ(p.consumed, 12u);
  EXPECT_TRUE(scratch.empty());
}

TEST(MysqlPacketEncoding, FinishPacketFillsHeaderAndSplits) {
  std::string out = "prefix";
  std::size_t at = begin_packet(out);
  out += "abc";
  EXPECT_EQ(finish_packet(out, at, 255), 0);  // sequence ids wrap
  EXPECT_EQ(out, "prefix" + bytes({3, 0, 0, 255}) + "abc");

  std::string big;
  at = begin_packet(big);
  big.append(kMaxPayloadChunk + 1, 'q');
  EXPECT_EQ(finish_packet(big, at, 0), 2);
  std::string expected;
  append_packet(expected, 0, std::string(kMaxPayloadChunk + 1, 'q'));
  EXPECT_TRUE(big == expected);
}

TEST(MysqlPacketEncoding, RewriteSequenceId) {
  std::string wire;
  append_packet(wire, 1, "x");
  EXPECT_TRUE(rewrite_sequence_id(std::span<char>(wire.data(), wire.size()), 9));
  EXPECT_EQ(static_cast<std::uint8_t>(wire[3]), 9);
  std::string short_wire = "ab";
  EXPECT_FALSE(rewrite_sequence_id(std::span<char>(short_wire.data(), short_wire.size()), 1));
}

// Three packets of a pipelined stream survive a split at every byte boundary.
TEST(MysqlPacketFramer, SplitAtEveryByteBoundary) {
  std::string wire;
  append_packet(wire, 0, "first");
  append_packet(wire, 1, "");
  append_packet(wire, 2, std::string(300, 'm'));
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    PacketFramer framer;
    std::string buffer(wire.substr(0, split));
    std::vector<std::string> payloads;
    const auto drain = [&] {
      while (true) {
        const FrameResult r = framer.next(buffer);
        if (r.status != FrameStatus::Packet) return;
        payloads.emplace_back(r.packet.payload());
        buffer.erase(0, r.packet.size());
      }
    };
    drain();
    buffer += wire.substr(split);
    drain();
    ASSERT_EQ(payloads.size(), 3u) << split;
    EXPECT_EQ(payloads[0], "first");
    EXPECT_EQ(payloads[1], "");
    EXPECT_EQ(payloads[2].size(), 300u);
    EXPECT_TRUE(buffer.empty());
  }
}

}  // namespace
}  // namespace corral::mysql
