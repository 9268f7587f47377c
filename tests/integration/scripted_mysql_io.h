// Packet I/O for scripted MySQL servers in integration tests: a test plays the server side of one
// connection on port 0 (to script what a real mariadbd will not do: a MySQL 8 caching_sha2 login, an
// ERR 1615) and reads and writes whole logical packets with these two coroutines.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <system_error>
#include <utility>

#include "protocols/mysql/packet.h"
#include "runtime/byte_buffer.h"
#include "runtime/result.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::testing {

/// The next logical packet from the client: its payload and the sequence id of its last wire packet.
/// Suspends until it is buffered; 5 s without a byte is an error, as are bad framing and EOF.
inline rt::Task<rt::Result<std::pair<std::string, std::uint8_t>>> scripted_read(rt::TcpStream* stream,
                                                                                rt::ByteBuffer* in) {
  std::string scratch;
  for (;;) {
    const mysql::LogicalPacket packet = mysql::read_logical_packet(in->readable(), mysql::Limits{}, scratch);
    if (packet.status == mysql::FrameStatus::Packet) {
      std::pair<std::string, std::uint8_t> out{std::string(packet.payload), packet.last_sequence_id};
      in->consume(packet.consumed);
      co_return out;
    }
    if (packet.status == mysql::FrameStatus::Error) co_return std::make_error_code(std::errc::protocol_error);
    auto n = co_await stream->read_some(in->writable(4096), rt::Deadline::after(std::chrono::seconds(5)));
    if (!n) co_return n.error();
    if (*n == 0) co_return rt::make_error_code(rt::Errc::PeerClosed);
    in->commit(*n);
  }
}

/// Writes `payload` as one packet with `sequence_id`. False when the write failed or took over 5 s.
inline rt::Task<bool> scripted_write(rt::TcpStream* stream, std::uint8_t sequence_id, std::string payload) {
  std::string wire;
  mysql::append_packet(wire, sequence_id, payload);
  auto written = co_await stream->write_all(wire, rt::Deadline::after(std::chrono::seconds(5)));
  co_return written.ok();
}

}  // namespace corral::testing
