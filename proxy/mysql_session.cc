// MySQL client sessions. The MySQL path (issue 4) is not built yet: until it is, a client gets one
// ERR packet in place of the server greeting (as a server does for "too many connections") and the
// connection closes, so a MySQL client fails fast with a clear message instead of hanging.
#include <string>

#include "proxy/session.h"

namespace corral::proxy {

namespace {

/// An ERR_Packet with sequence id 0, the shape a server sends instead of its handshake.
/// Protocol::ERR_Packet: 0xFF, error code (2 bytes LE), '#', SQLSTATE (5), message.
std::string greeting_error(uint16_t code, std::string_view sqlstate, std::string_view message) {
  std::string payload;
  payload.push_back(static_cast<char>(0xFF));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back('#');
  payload.append(sqlstate);
  payload.append(message);
  std::string packet;
  packet.push_back(static_cast<char>(payload.size() & 0xFF));
  packet.push_back(static_cast<char>((payload.size() >> 8) & 0xFF));
  packet.push_back(static_cast<char>((payload.size() >> 16) & 0xFF));
  packet.push_back(0);
  return packet + payload;
}

}  // namespace

rt::Task<void> serve_mysql_client(rt::TcpStream client, SessionEnv* env) {
  const std::string packet =
      greeting_error(1105, "HY000", "corral: the MySQL path is not available in this build yet");
  co_await client.write_all(packet, rt::Deadline::after(std::chrono::seconds(1)), env->stop_cancel);
}

std::string_view too_many_clients_reply(config::Protocol protocol) {
  if (protocol == config::Protocol::Redis) return "-ERR max number of clients reached\r\n";
  // ERR 1040 (08004) "Too many connections", sequence id 0, as mysqld sends it in place of the greeting.
  static const std::string mysql_reply = greeting_error(1040, "08004", "Too many connections");
  return mysql_reply;
}

}  // namespace corral::proxy
