// libFuzzer target: the connection-phase and generic-response decoders (HandshakeV10,
// HandshakeResponse41, OK/ERR/EOF, session state, column definitions, COM_CHANGE_USER,
// AuthSwitchRequest, COM_STMT_EXECUTE, COM_QUERY). Besides not crashing, every decoder must agree
// with its encoder: encode(decode(x)) is a fixed point (decoding and re-encoding it gives it back).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/mysql/mysql.h"
#include "tests/fuzz/mysql/fuzz_common.h"

namespace {

using namespace corral::mysql;

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

// decode -> encode -> decode -> encode must reproduce the first encoding.
template <class Decode, class Encode>
void fixed_point(std::string_view payload, Decode decode, Encode encode) {
  auto first = decode(payload);
  if (!first.ok()) return;
  std::string e1;
  encode(e1, *first);
  auto second = decode(e1);
  check(second.ok());
  std::string e2;
  encode(e2, *second);
  check(e1 == e2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  namespace fz = corral::mysql::fuzz;
  const auto target = static_cast<fz::HandshakeTarget>(data[0] % static_cast<std::uint8_t>(fz::HandshakeTarget::Count));
  const CapabilityFlags server_caps = (data[1] & 1) ? (fz::kBaseCaps & ~CLIENT_MYSQL) : (fz::kBaseCaps | CLIENT_MYSQL);
  const CapabilityFlags caps = fz::handshake_caps(data[1]);
  const std::string_view payload(reinterpret_cast<const char*>(data) + 2, size - 2);
  Limits limits;
  limits.max_connect_attrs = 4096;

  switch (target) {
    case fz::HandshakeTarget::HandshakeV10:
      fixed_point(payload, decode_handshake_v10, encode_handshake_v10);
      break;
    case fz::HandshakeTarget::HandshakeResponse41:
      (void)is_ssl_request(payload);
      fixed_point(
          payload, [&](std::string_view p) { return decode_handshake_response41(p, server_caps, limits); },
          [&](std::string& out, const HandshakeResponse41& r) { encode_handshake_response41(out, r, server_caps); });
      break;
    case fz::HandshakeTarget::OkPacket:
      fixed_point(
          payload, [&](std::string_view p) { return decode_ok_packet(p, caps); },
          [&](std::string& out, const OK_Packet& ok) { encode_ok_packet(out, ok, caps); });
      if (auto ok = decode_ok_packet(payload, caps); ok.ok()) (void)decode_session_state(ok->session_state_info);
      break;
    case fz::HandshakeTarget::ErrPacket:
      fixed_point(
          payload, [&](std::string_view p) { return decode_err_packet(p, caps); },
          [&](std::string& out, const ERR_Packet& err) { encode_err_packet(out, err, caps); });
      (void)decode_progress_report(payload);
      break;
    case fz::HandshakeTarget::EofPacket:
      fixed_point(
          payload, [&](std::string_view p) { return decode_eof_packet(p, caps); },
          [&](std::string& out, const EOF_Packet& eof) { encode_eof_packet(out, eof, caps); });
      break;
    case fz::HandshakeTarget::SessionState:
      fixed_point(payload, decode_session_state, encode_session_state);
      break;
    case fz::HandshakeTarget::ColumnDefinition:
      fixed_point(
          payload, [&](std::string_view p) { return decode_column_definition(p, caps, data[1] & 1); },
          [&](std::string& out, const ColumnDefinition41& c) { encode_column_definition(out, c, caps, data[1] & 1); });
      break;
    case fz::HandshakeTarget::ComChangeUser:
      fixed_point(
          payload, [&](std::string_view p) { return decode_com_change_user(p, caps, limits); },
          [&](std::string& out, const COM_CHANGE_USER& c) { encode_com_change_user(out, c, caps); });
      break;
    case fz::HandshakeTarget::AuthSwitchRequest:
      fixed_point(payload, decode_auth_switch_request, encode_auth_switch_request);
      (void)decode_auth_more_data(payload);
      (void)classify_auth_packet(payload);
      break;
    case fz::HandshakeTarget::ComStmtExecute: {
      StmtExecuteContext ctx;
      ctx.param_count = static_cast<std::uint16_t>(data[1] >> 4);
      fixed_point(
          payload, [&](std::string_view p) { return decode_com_stmt_execute(p, ctx, caps); },
          [&](std::string& out, const COM_STMT_EXECUTE& e) { encode_com_stmt_execute(out, e, caps); });
      break;
    }
    case fz::HandshakeTarget::ComQuery:
      if (auto q = decode_com_query(payload, caps); q.ok()) check(q->query.size() < payload.size());
      break;
    case fz::HandshakeTarget::Count:
      break;
  }
  return 0;
}
