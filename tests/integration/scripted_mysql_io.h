// Packet I/O for scripted MySQL servers in integration tests: a test plays the server side of one
// connection on port 0 (to script what a real mariadbd will not do: a MySQL 8 caching_sha2 login, an
// ERR 1615) and reads and writes whole logical packets with these two coroutines.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include "protocols/mysql/constants.h"
#include "protocols/mysql/handshake.h"
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

/// The HandshakeV10 payload a scripted server greets with: `caps`, utf8mb4_general_ci, autocommit on.
inline std::string scripted_greeting(std::string_view server_version, std::uint32_t connection_id, std::string scramble,
                                     mysql::CapabilityFlags caps, std::string_view auth_plugin) {
  mysql::HandshakeV10 greeting;
  greeting.server_version = std::string(server_version);
  greeting.connection_id = connection_id;
  greeting.auth_plugin_data = std::move(scramble);
  greeting.capabilities = caps;
  greeting.character_set = mysql::kCollationUtf8mb4GeneralCi;
  greeting.status_flags = mysql::SERVER_STATUS_AUTOCOMMIT;
  greeting.auth_plugin_name = std::string(auth_plugin);
  std::string payload;
  mysql::encode_handshake_v10(payload, greeting);
  return payload;
}

}  // namespace corral::testing
