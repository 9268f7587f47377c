#include "protocols/mysql/handshake.h"

#include <algorithm>

#include "protocols/mysql/primitives.h"
#include "protocols/mysql/status_packets.h"

namespace corral::mysql {

namespace {

constexpr std::size_t kScramblePart1 = 8;
constexpr std::size_t kMinScramblePart2 = 13;  // MAX(13, auth_plugin_data_len - 8), NUL included

// string<NUL> that tolerates a missing terminator at the very end of the packet: some servers
// (MySQL 5.5.7-5.5.9) ended HandshakeV10 with an unterminated plugin name.
std::string_view lenient_nul_string(Reader& r) {
  const std::size_t left = r.remaining();
  Reader probe = r;
  probe.nul_string();
  if (probe.ok()) return r.nul_string();
  return r.fixed_string(left);
}

Errc read_connect_attrs(Reader& r, const Limits& limits, ConnectAttributes& attrs) {
  const std::uint64_t total = r.lenenc_int();
  if (!r.ok()) return r.error();
  if (total > limits.max_connect_attrs) return Errc::LimitExceeded;
  if (total > r.remaining()) return Errc::LengthPastPayload;
  Reader block(r.fixed_string(static_cast<std::size_t>(total)));
  while (!block.at_end() && block.ok()) {
    const std::string_view key = block.lenenc_string();
    const std::string_view value = block.lenenc_string();
    if (block.ok()) attrs.emplace_back(key, value);
  }
  return block.error();
}

void write_connect_attrs(Writer& w, const ConnectAttributes& attrs) {
  std::string block;
  Writer b(block);
  for (const auto& [key, value] : attrs) {
    b.lenenc_string(key);
    b.lenenc_string(value);
  }
  w.lenenc_string(block);
}

// The auth response encodings of HandshakeResponse41 (three variants by capability).
std::string_view read_auth_response(Reader& r, CapabilityFlags caps) {
  if (caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) return r.lenenc_string();
  if (caps & CLIENT_SECURE_CONNECTION) {
    const std::uint8_t length = r.int1();
    if (r.ok() && length > r.remaining()) r.fail(Errc::LengthPastPayload);
    return r.fixed_string(length);
  }
  return r.nul_string();
}

void write_auth_response(Writer& w, std::string_view auth, CapabilityFlags caps) {
  if (caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA) {
    w.lenenc_string(auth);
  } else if (caps & CLIENT_SECURE_CONNECTION) {
    // int<1> length: longer tokens need the lenenc variant; cut rather than corrupt the framing.
    const std::string_view fitted = auth.substr(0, std::min<std::size_t>(auth.size(), 255));
    w.int1(static_cast<std::uint8_t>(fitted.size()));
    w.bytes(fitted);
  } else {
    w.nul_string(auth);
  }
}

}  // namespace

Result<HandshakeV10> decode_handshake_v10(std::string_view payload) {
  Reader r(payload);
  HandshakeV10 hs;
  const std::uint8_t version = r.int1();
  if (!r.ok()) return r.error();
  if (version != kProtocolVersion10) return Errc::BadProtocolVersion;
  hs.server_version = r.nul_string();
  hs.connection_id = r.int4();
  hs.auth_plugin_data = r.fixed_string(kScramblePart1);
  r.skip(1);  // filler
  hs.capabilities = r.int2();
  if (!r.ok()) return r.error();
  if (r.at_end()) return hs;  // very old servers stop here ("if more data in the packet")
  hs.character_set = r.int1();
  hs.status_flags = r.int2();
  hs.capabilities |= static_cast<CapabilityFlags>(r.int2()) << 16;
  const std::uint8_t auth_data_length = r.int1();
  r.skip(6);
  // MariaDB puts its extended capabilities in the last 4 reserved bytes when CLIENT_MYSQL is clear.
  const std::uint32_t extended = r.int4();
  if (!(hs.capabilities & CLIENT_MYSQL)) hs.capabilities |= static_cast<CapabilityFlags>(extended) << 32;
  if (hs.capabilities & CLIENT_SECURE_CONNECTION) {
    // Without CLIENT_PLUGIN_AUTH the length byte is a filler [00] and part 2 is 13 bytes.
    const std::size_t announced = (hs.capabilities & CLIENT_PLUGIN_AUTH) ? auth_data_length : 0u;
    const std::size_t part2 = std::max<std::size_t>(kMinScramblePart2, announced > 8 ? announced - 8u : 0u);
    const std::string_view data = r.fixed_string(std::min(part2, r.remaining()));
    hs.auth_plugin_data.append(scramble_from_plugin_data(data));
  }
  if ((hs.capabilities & CLIENT_PLUGIN_AUTH) && !r.at_end()) hs.auth_plugin_name = lenient_nul_string(r);
  if (!r.ok()) return r.error();
  return hs;
}

void encode_handshake_v10(std::string& out, const HandshakeV10& hs) {
  Writer w(out);
  const std::string_view scramble = hs.auth_plugin_data;
  w.int1(kProtocolVersion10);
  w.nul_string(hs.server_version);
  w.int4(hs.connection_id);
  w.bytes(scramble.substr(0, kScramblePart1));
  w.zeros(kScramblePart1 - std::min(scramble.size(), kScramblePart1));
  w.int1(0);  // filler
  w.int2(static_cast<std::uint16_t>(hs.capabilities & 0xffff));
  w.int1(hs.character_set);
  w.int2(hs.status_flags);
  w.int2(static_cast<std::uint16_t>((hs.capabilities >> 16) & 0xffff));
  // Part 2 must fit the int<1> length (8 + part 2 + NUL <= 255), or 12 bytes without CLIENT_PLUGIN_AUTH.
  const std::size_t max_part2 = (hs.capabilities & CLIENT_PLUGIN_AUTH) ? 255 - kScramblePart1 - 1 : kMinScramblePart2 - 1;
  const std::string_view part2 =
      scramble.size() > kScramblePart1 ? scramble.substr(kScramblePart1, max_part2) : std::string_view();
  // Part 2 is at least 12 bytes plus its NUL (MAX(13, len - 8)).
  const std::size_t part2_padded = std::max<std::size_t>(part2.size(), kMinScramblePart2 - 1);
  w.int1((hs.capabilities & CLIENT_PLUGIN_AUTH) ? static_cast<std::uint8_t>(kScramblePart1 + part2_padded + 1) : 0);
  w.zeros(6);
  if (hs.capabilities & CLIENT_MYSQL) {
    w.zeros(4);
  } else {
    w.int4(static_cast<std::uint32_t>(hs.capabilities >> 32));
  }
  if (hs.capabilities & CLIENT_SECURE_CONNECTION) {
    w.bytes(part2);
    w.zeros(part2_padded - part2.size());
    w.int1(0);
  }
  if (hs.capabilities & CLIENT_PLUGIN_AUTH) w.nul_string(hs.auth_plugin_name);
}

bool is_ssl_request(std::string_view payload) noexcept {
  if (payload.size() != kSslRequestSize) return false;
  Reader r(payload);
  return (r.int4() & CLIENT_SSL) != 0;
}

namespace {

// The 32-byte prefix shared by SSLRequest and HandshakeResponse41.
void read_response_prefix(Reader& r, HandshakeResponse41& resp, CapabilityFlags server_capabilities) {
  resp.capabilities = r.int4();
  resp.max_packet_size = r.int4();
  resp.character_set = r.int1();
  r.skip(19);
  const std::uint32_t extended = r.int4();
  if (!(server_capabilities & CLIENT_MYSQL)) resp.capabilities |= static_cast<CapabilityFlags>(extended) << 32;
}

void write_response_prefix(Writer& w, const HandshakeResponse41& resp, CapabilityFlags server_capabilities) {
  w.int4(static_cast<std::uint32_t>(resp.capabilities & 0xffffffff));
  w.int4(resp.max_packet_size);
  w.int1(resp.character_set);
  w.zeros(19);
  if (server_capabilities & CLIENT_MYSQL) {
    w.zeros(4);
  } else {
    w.int4(static_cast<std::uint32_t>(resp.capabilities >> 32));
  }
}

}  // namespace

Result<HandshakeResponse41> decode_handshake_response41(std::string_view payload,
                                                        CapabilityFlags server_capabilities,
                                                        const Limits& limits) {
  Reader r(payload);
  HandshakeResponse41 resp;
  read_response_prefix(r, resp, server_capabilities);
  if (!r.ok()) return r.error();
  if (!(resp.capabilities & CLIENT_PROTOCOL_41)) return Errc::Unsupported;
  if (r.at_end()) return resp;  // SSLRequest
  const CapabilityFlags caps = resp.capabilities;
  resp.username = r.nul_string();
  resp.auth_response = read_auth_response(r, caps);
  if ((caps & CLIENT_CONNECT_WITH_DB) && !r.at_end()) resp.database = r.nul_string();
  if ((caps & CLIENT_PLUGIN_AUTH) && !r.at_end()) resp.auth_plugin_name = lenient_nul_string(r);
  if ((caps & CLIENT_CONNECT_ATTRS) && !r.at_end() && r.ok()) {
    if (const Errc errc = read_connect_attrs(r, limits, resp.connect_attrs); errc != Errc::Ok) return errc;
  }
  if ((caps & CLIENT_ZSTD_COMPRESSION_ALGORITHM) && !r.at_end()) resp.zstd_compression_level = r.int1();
  if (!r.ok()) return r.error();
  return resp;
}

void encode_handshake_response41(std::string& out, const HandshakeResponse41& resp,
                                 CapabilityFlags server_capabilities) {
  Writer w(out);
  write_response_prefix(w, resp, server_capabilities);
  const CapabilityFlags caps = resp.capabilities;
  w.nul_string(resp.username);
  write_auth_response(w, resp.auth_response, caps);
  if (caps & CLIENT_CONNECT_WITH_DB) w.nul_string(resp.database);
  if (caps & CLIENT_PLUGIN_AUTH) w.nul_string(resp.auth_plugin_name);
  if (caps & CLIENT_CONNECT_ATTRS) write_connect_attrs(w, resp.connect_attrs);
  if (caps & CLIENT_ZSTD_COMPRESSION_ALGORITHM) w.int1(resp.zstd_compression_level.value_or(3));
}

void encode_ssl_request(std::string& out, const HandshakeResponse41& resp, CapabilityFlags server_capabilities) {
  Writer w(out);
  HandshakeResponse41 ssl = resp;
  ssl.capabilities |= CLIENT_SSL;
  write_response_prefix(w, ssl, server_capabilities);
}

Result<AuthSwitchRequest> decode_auth_switch_request(std::string_view payload) {
  Reader r(payload);
  if (r.int1() != kAuthSwitchRequestHeader) return r.ok() ? Errc::UnexpectedPacket : r.error();
  AuthSwitchRequest req;
  if (r.at_end()) {
    req.plugin_name = kMysqlOldPassword;  // Protocol::OldAuthSwitchRequest
    return req;
  }
  req.plugin_name = r.nul_string();
  req.plugin_data = r.rest();
  if (!r.ok()) return r.error();
  return req;
}

void encode_auth_switch_request(std::string& out, const AuthSwitchRequest& req) {
  Writer w(out);
  w.int1(kAuthSwitchRequestHeader);
  w.nul_string(req.plugin_name);
  w.bytes(req.plugin_data);
}

std::string_view scramble_from_plugin_data(std::string_view plugin_data) noexcept {
  if (!plugin_data.empty() && plugin_data.back() == '\0') plugin_data.remove_suffix(1);
  return plugin_data;
}

Result<std::string_view> decode_auth_more_data(std::string_view payload) {
  if (payload.empty()) return Errc::Truncated;
  if (static_cast<std::uint8_t>(payload[0]) != kAuthMoreDataHeader) return Errc::UnexpectedPacket;
  return payload.substr(1);
}

void encode_auth_more_data(std::string& out, std::string_view data) {
  out.push_back(static_cast<char>(kAuthMoreDataHeader));
  out.append(data);
}

AuthPacketKind classify_auth_packet(std::string_view payload) noexcept {
  if (payload.empty()) return AuthPacketKind::Unknown;
  switch (static_cast<std::uint8_t>(payload[0])) {
    case kOkHeader:
      return AuthPacketKind::Ok;
    case kErrHeader:
      return AuthPacketKind::Err;
    case kAuthSwitchRequestHeader:
      return AuthPacketKind::AuthSwitchRequest;
    case kAuthMoreDataHeader:
      return AuthPacketKind::AuthMoreData;
    default:
      return AuthPacketKind::Unknown;
  }
}

std::string_view to_string(AuthPacketKind kind) noexcept {
  switch (kind) {
    case AuthPacketKind::Ok:
      return "Ok";
    case AuthPacketKind::Err:
      return "Err";
    case AuthPacketKind::AuthSwitchRequest:
      return "AuthSwitchRequest";
    case AuthPacketKind::AuthMoreData:
      return "AuthMoreData";
    case AuthPacketKind::Unknown:
      break;
  }
  return "Unknown";
}

Result<COM_CHANGE_USER> decode_com_change_user(std::string_view payload, CapabilityFlags caps,
                                               const Limits& limits) {
  Reader r(payload);
  if (r.int1() != static_cast<std::uint8_t>(Command::COM_CHANGE_USER)) {
    return r.ok() ? Errc::UnexpectedPacket : r.error();
  }
  COM_CHANGE_USER change;
  change.username = r.nul_string();
  // COM_CHANGE_USER has no lenenc variant: int<1> length under CLIENT_SECURE_CONNECTION.
  change.auth_response = read_auth_response(r, caps & ~CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA);
  change.database = r.nul_string();
  if (!r.ok()) return r.error();
  if (r.at_end()) return change;  // "if more data available"
  if (caps & CLIENT_PROTOCOL_41) change.character_set = r.int2();
  if ((caps & CLIENT_PLUGIN_AUTH) && !r.at_end()) change.auth_plugin_name = lenient_nul_string(r);
  if ((caps & CLIENT_CONNECT_ATTRS) && !r.at_end() && r.ok()) {
    if (const Errc errc = read_connect_attrs(r, limits, change.connect_attrs); errc != Errc::Ok) return errc;
  }
  if (!r.ok()) return r.error();
  return change;
}

void encode_com_change_user(std::string& out, const COM_CHANGE_USER& change, CapabilityFlags caps) {
  Writer w(out);
  w.int1(static_cast<std::uint8_t>(Command::COM_CHANGE_USER));
  w.nul_string(change.username);
  write_auth_response(w, change.auth_response, caps & ~CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA);
  w.nul_string(change.database);
  if (caps & CLIENT_PROTOCOL_41) w.int2(change.character_set.value_or(kCollationUtf8mb4GeneralCi));
  if (caps & CLIENT_PLUGIN_AUTH) w.nul_string(change.auth_plugin_name);
  if (caps & CLIENT_CONNECT_ATTRS) write_connect_attrs(w, change.connect_attrs);
}

}  // namespace corral::mysql
