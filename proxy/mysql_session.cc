// MySQL client sessions. The MySQL path (issue 4) is not built yet: until it is, a client gets one
// ERR packet in place of the server greeting (as mysqld does for "Too many connections") and the
// connection closes, so a MySQL client fails fast with a clear message instead of hanging.
#include <string>

#include "protocols/mysql/packet.h"
#include "protocols/mysql/status_packets.h"
#include "proxy/session.h"

namespace corral::proxy {

namespace {

/// An ERR_Packet with sequence id 0: what a server sends in place of its HandshakeV10.
std::string greeting_error(uint16_t code, std::string_view sql_state, std::string_view message) {
  std::string packet;
  mysql::append_packet(packet, 0, mysql::make_err(code, sql_state, message));
  return packet;
}

}  // namespace

rt::Task<void> serve_mysql_client(rt::TcpStream client, SessionEnv* env) {
  const std::string packet =
      greeting_error(1105, "HY000", "corral: the MySQL path is not available in this build yet");
  co_await client.write_all(packet, rt::Deadline::after(std::chrono::seconds(1)), env->stop_cancel);
}

std::string_view too_many_clients_reply(config::Protocol protocol) {
  if (protocol == config::Protocol::Redis) return "-ERR max number of clients reached\r\n";
  static const std::string mysql_reply = greeting_error(1040, "08004", "Too many connections");
  return mysql_reply;
}

}  // namespace corral::proxy
