// Generic response packets: OK_Packet, ERR_Packet, EOF_Packet, and the session state information an
// OK_Packet carries under CLIENT_SESSION_TRACK (Generic Response Packets; Session State Information).
//
//   first payload byte   0x00 -> OK_Packet
//                        0xFF -> ERR_Packet
//                        0xFE -> EOF_Packet (payload < 9 bytes) or, under CLIENT_DEPRECATE_EOF, an
//                                OK_Packet with the 0xFE header ending a result set
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocols/mysql/constants.h"
#include "protocols/mysql/errors.h"

namespace corral::mysql {

inline constexpr std::uint8_t kOkHeader = 0x00;
inline constexpr std::uint8_t kEofHeader = 0xfe;
inline constexpr std::uint8_t kErrHeader = 0xff;
inline constexpr std::uint8_t kLocalInfileHeader = 0xfb;
/// MariaDB sends progress reports as ERR_Packet with this code when MARIADB_CLIENT_PROGRESS is on.
inline constexpr std::uint16_t kProgressReportCode = 0xffff;

/// OK_Packet. Lifetime: the views point into the decoded payload.
struct OK_Packet {
  std::uint8_t header = kOkHeader;        // 0x00, or 0xFE when it ends a result set (DEPRECATE_EOF)
  std::uint64_t affected_rows = 0;
  std::uint64_t last_insert_id = 0;
  StatusFlags status_flags = 0;
  std::uint16_t warnings = 0;
  std::string_view info;                  // human-readable status information
  std::string_view session_state_info;    // raw block (without its length) if SERVER_SESSION_STATE_CHANGED
};

/// ERR_Packet. Lifetime: the views point into the decoded payload (or the caller's strings).
struct ERR_Packet {
  std::uint16_t error_code = 0;
  std::string_view sql_state;             // 5 characters after the '#' marker; empty if none was sent
  std::string_view error_message;
};

/// EOF_Packet (deprecated by CLIENT_DEPRECATE_EOF, still sent by servers to clients without it).
struct EOF_Packet {
  std::uint16_t warnings = 0;
  StatusFlags status_flags = 0;
};

/// Decoded session state changes (Session State Information). Owns its strings: the proxy keeps
/// them after the packet is gone.
struct SessionStateChanges {
  std::optional<std::string> schema;                                   // SESSION_TRACK_SCHEMA
  std::vector<std::pair<std::string, std::string>> system_variables;   // name -> value, in order
  bool state_changed = false;                                          // SESSION_TRACK_STATE_CHANGE "1"
  std::optional<std::string> gtids;                                    // SESSION_TRACK_GTIDS
  std::optional<std::string> transaction_characteristics;             // e.g. "START TRANSACTION;"
  std::optional<std::string> transaction_state;                        // 8 chars, e.g. "T_______"
  std::size_t unknown_entries = 0;                                     // types this codec does not know
};

// Classification by first byte; `payload` is one logical packet's payload.
constexpr bool is_ok_packet(std::string_view payload) noexcept {
  return !payload.empty() && static_cast<std::uint8_t>(payload[0]) == kOkHeader;
}
constexpr bool is_err_packet(std::string_view payload) noexcept {
  return !payload.empty() && static_cast<std::uint8_t>(payload[0]) == kErrHeader;
}
/// A real EOF_Packet: 0xFE and shorter than 9 bytes (a longer 0xFE packet is a row or an OK).
constexpr bool is_eof_packet(std::string_view payload) noexcept {
  return !payload.empty() && static_cast<std::uint8_t>(payload[0]) == kEofHeader && payload.size() < 9;
}
/// The packet that ends a result set: with CLIENT_DEPRECATE_EOF an OK_Packet with the 0xFE header,
/// otherwise an EOF_Packet. A text row can also start with 0xFE (a value of >= 16 MiB), but then its
/// wire payload is 0xFFFFFF long, so the wire length tells them apart.
bool is_result_set_terminator(std::string_view payload, CapabilityFlags caps) noexcept;

/// Decodes an OK_Packet (header 0x00 or 0xFE). Missing trailing info is allowed (servers omit it).
Result<OK_Packet> decode_ok_packet(std::string_view payload, CapabilityFlags caps);
/// Appends an OK_Packet payload. `header` chooses 0x00 or 0xFE (result-set end under DEPRECATE_EOF).
void encode_ok_packet(std::string& out, const OK_Packet& ok, CapabilityFlags caps);

/// Decodes an ERR_Packet. With CLIENT_PROTOCOL_41 a '#' marker introduces the 5-byte SQLSTATE.
Result<ERR_Packet> decode_err_packet(std::string_view payload, CapabilityFlags caps);
/// Appends an ERR_Packet payload. A SQLSTATE that is not 5 bytes is replaced by "HY000".
void encode_err_packet(std::string& out, const ERR_Packet& err, CapabilityFlags caps);
/// Returns the payload of a protocol-4.1 ERR_Packet: 0xFF, code, '#', SQLSTATE, message.
std::string make_err(std::uint16_t code, std::string_view sql_state, std::string_view message);
/// Same, from a named error; `message` replaces the default message when not empty.
std::string make_err(const ErrorSpec& spec, std::string_view message = {});

/// Decodes an EOF_Packet (0xFE, < 9 bytes).
Result<EOF_Packet> decode_eof_packet(std::string_view payload, CapabilityFlags caps);
void encode_eof_packet(std::string& out, const EOF_Packet& eof, CapabilityFlags caps);

/// Decodes OK_Packet::session_state_info into its entries. Unknown entry types are skipped (and
/// counted); a malformed block is an error.
Result<SessionStateChanges> decode_session_state(std::string_view session_state_info);
/// Appends the session state block (without its outer length) for `changes`; tests and locally
/// answered commands use it.
void encode_session_state(std::string& out, const SessionStateChanges& changes);

/// What one client's own session_track_* settings let through of the reports corral's backend
/// connections make (they track everything corral needs to follow the session).
struct SessionTrackFilter {
  bool schema = true;                        // session_track_schema
  bool state_change = false;                 // session_track_state_change
  bool transaction_state = false;            // session_track_transaction_info STATE or CHARACTERISTICS
  bool transaction_characteristics = false;  // session_track_transaction_info CHARACTERISTICS
  bool all_variables = false;                // session_track_system_variables = '*'
  std::vector<std::string> variables;        // the listed names, lower case

  /// The filter for the settings as the server shows them (SELECT @@session_track_schema, ...):
  /// "1"/"ON" or "0"/"OFF", a comma list (or "*"), OFF | STATE | CHARACTERISTICS.
  static SessionTrackFilter from_settings(std::string_view schema, std::string_view state_change,
                                          std::string_view system_variables, std::string_view transaction_info);
  bool keeps_variable(std::string_view name) const noexcept;
  bool operator==(const SessionTrackFilter&) const = default;
};

/// The entries of `session_state_info` that `filter` keeps, each as the server wrote it, in its
/// order; unknown entry types are kept. Errc as decode_session_state() for a malformed block.
Result<std::string> filter_session_state(std::string_view session_state_info, const SessionTrackFilter& filter);

/// MariaDB progress report (ERR_Packet with code 0xFFFF). Lifetime: views the payload.
struct ProgressReport {
  std::uint8_t stage = 0;
  std::uint8_t max_stage = 0;
  std::uint32_t progress = 0;  // thousandths of a percent (0..100000)
  std::string_view info;
};
Result<ProgressReport> decode_progress_report(std::string_view payload);

}  // namespace corral::mysql
