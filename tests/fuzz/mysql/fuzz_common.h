// Shared by the corral::mysql fuzz targets and their seed generator: how the first input bytes select
// the command, capabilities and feeding pattern, so seeds and targets agree on the layout.
#pragma once

#include <cstddef>
#include <cstdint>

#include "protocols/mysql/constants.h"

namespace corral::mysql::fuzz {

// fuzz_mysql_packets input: [command index][capability bits][chunk size][backend bytes...]
inline constexpr Command kCommands[] = {
    Command::COM_QUERY,      Command::COM_STMT_EXECUTE, Command::COM_STMT_PREPARE, Command::COM_FIELD_LIST,
    Command::COM_STMT_FETCH, Command::COM_STATISTICS,   Command::COM_PING,         Command::COM_SET_OPTION,
    Command::COM_CHANGE_USER, Command::COM_INIT_DB,     Command::COM_QUIT,         Command::COM_PROCESS_INFO,
};
inline constexpr std::size_t kCommandCount = sizeof kCommands / sizeof kCommands[0];

inline constexpr CapabilityFlags kBaseCaps = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION |
                                             CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_PLUGIN_AUTH;

/// Capability bits of the second input byte.
inline constexpr CapabilityFlags kCapBits[] = {
    CLIENT_DEPRECATE_EOF,           CLIENT_SESSION_TRACK,          MARIADB_CLIENT_PROGRESS,
    CLIENT_OPTIONAL_RESULTSET_METADATA, MARIADB_CLIENT_CACHE_METADATA, MARIADB_CLIENT_EXTENDED_METADATA,
    CLIENT_QUERY_ATTRIBUTES,        CLIENT_CONNECT_ATTRS,
};

inline CapabilityFlags caps_from_byte(std::uint8_t byte) {
  CapabilityFlags caps = kBaseCaps;
  for (std::size_t i = 0; i < 8; ++i) {
    if (byte & (1u << i)) caps |= kCapBits[i];
  }
  return caps;
}

inline std::uint8_t caps_to_byte(CapabilityFlags caps) {
  std::uint8_t byte = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    if (caps & kCapBits[i]) byte = static_cast<std::uint8_t>(byte | (1u << i));
  }
  return byte;
}

// fuzz_mysql_handshake input: [decoder selector][flags][payload...]
enum class HandshakeTarget : std::uint8_t {
  HandshakeV10,
  HandshakeResponse41,
  OkPacket,
  ErrPacket,
  EofPacket,
  SessionState,
  ColumnDefinition,
  ComChangeUser,
  AuthSwitchRequest,
  ComStmtExecute,
  ComQuery,
  Count,
};

/// Flags byte: bit 0 = server without CLIENT_MYSQL (MariaDB), bits 1.. = capability bits as above
/// (shifted by one); the high nibble is also the COM_STMT_EXECUTE parameter count.
inline CapabilityFlags handshake_caps(std::uint8_t flags) { return caps_from_byte(static_cast<std::uint8_t>(flags >> 1)); }

}  // namespace corral::mysql::fuzz
