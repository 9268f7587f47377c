// Connection phase packets (Connection Phase; MariaDB KB "Connection"):
//
//   server                                  client
//   HandshakeV10  ───────────────────────►
//                 ◄───────────────────────  [SSLRequest]  (corral refuses TLS for now: is_ssl_request)
//                 ◄───────────────────────  HandshakeResponse41
//   OK | ERR | AuthSwitchRequest (0xFE) | AuthMoreData (0x01)  ─►
//                 ◄───────────────────────  AuthSwitchResponse / more auth data ...
//   OK | ERR
//
// COM_CHANGE_USER re-runs the authentication part on an established connection.
// These packets are decoded once per connection, so the structs own their strings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/mysql/constants.h"
#include "protocols/mysql/errors.h"
#include "protocols/mysql/packet.h"

namespace corral::mysql {

inline constexpr std::uint8_t kProtocolVersion10 = 10;
inline constexpr std::uint8_t kAuthSwitchRequestHeader = 0xfe;
inline constexpr std::uint8_t kAuthMoreDataHeader = 0x01;
inline constexpr std::size_t kSslRequestSize = 32;

using ConnectAttributes = std::vector<std::pair<std::string, std::string>>;

/// Protocol::HandshakeV10, the server's greeting.
struct HandshakeV10 {
  std::string server_version;           // e.g. "5.5.5-10.11.6-MariaDB" or "8.0.36"
  std::uint32_t connection_id = 0;
  std::string auth_plugin_data;         // the scramble (part 1 + part 2), without the trailing NUL
  CapabilityFlags capabilities = 0;     // with MariaDB's extended bits when CLIENT_MYSQL is clear
  std::uint8_t character_set = 0;
  StatusFlags status_flags = 0;
  std::string auth_plugin_name;         // when CLIENT_PLUGIN_AUTH
};

/// Decodes HandshakeV10. Protocol versions other than 10 fail with Errc::BadProtocolVersion.
Result<HandshakeV10> decode_handshake_v10(std::string_view payload);
/// Appends a HandshakeV10 payload. auth_plugin_data should be the 20-byte scramble (part 2 is cut to
/// what the format can carry: 12 bytes without CLIENT_PLUGIN_AUTH, 246 with); the MariaDB extended
/// capabilities go in the filler when CLIENT_MYSQL is clear.
void encode_handshake_v10(std::string& out, const HandshakeV10& handshake);

/// Protocol::HandshakeResponse41, the client's answer (also the fields shared with SSLRequest).
struct HandshakeResponse41 {
  CapabilityFlags capabilities = 0;     // the client's flags, MariaDB extended bits included
  std::uint32_t max_packet_size = 0;
  std::uint8_t character_set = 0;
  std::string username;
  std::string auth_response;
  std::string database;                 // when CLIENT_CONNECT_WITH_DB
  std::string auth_plugin_name;         // when CLIENT_PLUGIN_AUTH
  ConnectAttributes connect_attrs;      // when CLIENT_CONNECT_ATTRS
  std::optional<std::uint8_t> zstd_compression_level;  // when CLIENT_ZSTD_COMPRESSION_ALGORITHM
};

/// True if `payload` is an SSLRequest (32 bytes with CLIENT_SSL) rather than a HandshakeResponse41.
bool is_ssl_request(std::string_view payload) noexcept;

/// Decodes HandshakeResponse41. `server_capabilities` are what the server advertised: its CLIENT_MYSQL
/// bit says whether the last 4 filler bytes carry MariaDB extended client capabilities.
/// Pre-4.1 responses fail with Errc::Unsupported; an SSLRequest decodes with empty fields (check
/// is_ssl_request first). Connection attributes are capped by limits.max_connect_attrs.
Result<HandshakeResponse41> decode_handshake_response41(std::string_view payload,
                                                        CapabilityFlags server_capabilities,
                                                        const Limits& limits = {});
/// Appends a HandshakeResponse41 payload (fields written according to response.capabilities).
void encode_handshake_response41(std::string& out, const HandshakeResponse41& response,
                                 CapabilityFlags server_capabilities);
/// Appends an SSLRequest payload (the first 32 bytes of a HandshakeResponse41).
void encode_ssl_request(std::string& out, const HandshakeResponse41& response,
                        CapabilityFlags server_capabilities);

/// Protocol::AuthSwitchRequest: 0xFE, plugin name, plugin data (servers append a NUL to scrambles).
/// A lone 0xFE (Protocol::OldAuthSwitchRequest) decodes as a switch to mysql_old_password with no
/// plugin data: the client answers over the scramble it already has. Servers send it to a client that
/// started with mysql_native_password when the account has an old password hash.
struct AuthSwitchRequest {
  std::string plugin_name;
  std::string plugin_data;  // as sent; scramble_from_plugin_data() drops the trailing NUL
};
Result<AuthSwitchRequest> decode_auth_switch_request(std::string_view payload);
void encode_auth_switch_request(std::string& out, const AuthSwitchRequest& request);

/// The scramble inside AuthSwitchRequest / HandshakeV10 plugin data: without one trailing NUL.
std::string_view scramble_from_plugin_data(std::string_view plugin_data) noexcept;

/// Protocol::AuthSwitchResponse is the raw auth data; this only names the encoder for clarity.
inline void encode_auth_switch_response(std::string& out, std::string_view auth_data) { out.append(auth_data); }

/// Protocol::AuthMoreData: 0x01 + data (caching_sha2_password: 0x03 fast auth OK, 0x04 full auth,
/// or the PEM public key). Returns the data after the header.
Result<std::string_view> decode_auth_more_data(std::string_view payload);
void encode_auth_more_data(std::string& out, std::string_view data);

/// What a server packet in the authentication exchange is.
enum class AuthPacketKind : std::uint8_t { Ok, Err, AuthSwitchRequest, AuthMoreData, Unknown };
AuthPacketKind classify_auth_packet(std::string_view payload) noexcept;
std::string_view to_string(AuthPacketKind kind) noexcept;

/// COM_CHANGE_USER payload.
struct COM_CHANGE_USER {
  std::string username;
  std::string auth_response;
  std::string database;
  std::optional<std::uint16_t> character_set;  // "if more data" (protocol 4.1)
  std::string auth_plugin_name;
  ConnectAttributes connect_attrs;
};
/// Decodes COM_CHANGE_USER (command byte included) under the negotiated `caps`.
Result<COM_CHANGE_USER> decode_com_change_user(std::string_view payload, CapabilityFlags caps,
                                               const Limits& limits = {});
void encode_com_change_user(std::string& out, const COM_CHANGE_USER& change, CapabilityFlags caps);

}  // namespace corral::mysql
