// Decoder error codes, the Result type every decoder returns, and the server error numbers corral
// itself sends to clients (ERR_Packet error code + SQLSTATE + message).
#pragma once

#include <cstdint>
#include <string_view>

#include "runtime/result.h"

#if defined(ER_NET_PACKET_TOO_LARGE)
#error "protocols/mysql/errors.h clashes with <mysqld_error.h> macros: do not include both in one translation unit"
#endif

namespace corral::mysql {

/// Why a decoder or scanner refused bytes. Every value names one exact failure so tests can assert it.
enum class Errc : std::uint8_t {
  Ok = 0,
  Truncated,           // a fixed-size field (or a length-encoded integer's bytes) runs past the payload
  BadLenenc,           // 0xFF, or 0xFB where NULL is not allowed, as a length-encoded integer prefix
  LengthPastPayload,   // a length read from the wire is larger than the bytes left in the payload
  MissingNul,          // a string<NUL> has no terminator inside the payload
  PacketTooLarge,      // a logical packet exceeds Limits::max_packet_size (max_allowed_packet)
  BadSequence,         // a packet's sequence id is not the expected one
  UnexpectedPacket,    // a packet type that is not valid in the current protocol state
  BadProtocolVersion,  // initial handshake with protocol version other than 10
  LimitExceeded,       // a count read from the wire is over its Limits cap (columns, params, attributes)
  BadValue,            // a field value outside its allowed range
  Unsupported,         // a protocol variant corral does not speak (pre-4.1, compression, ...)
  CryptoError,         // OpenSSL failed (bad key, decryption failure, RNG failure)
  NotAStatementCommand,  // rewrite_statement_id on a packet that carries no statement id
  ResponseComplete,    // a packet arrived after the response state machine had finished
};

/// Returns the enumerator's name ("Truncated").
std::string_view to_string(Errc errc) noexcept;

/// Value-or-error result of decoders: error() is Errc::Ok for a value.
template <class T>
using Result = rt::Result<T, Errc>;

/// One server error as corral sends it: error code, SQLSTATE and default message.
struct ErrorSpec {
  std::uint16_t code;
  std::string_view sql_state;
  std::string_view message;
};

// Server error numbers corral answers with itself (MySQL/MariaDB server error reference).
inline constexpr ErrorSpec ER_CON_COUNT_ERROR{1040, "08004", "Too many connections"};
inline constexpr ErrorSpec ER_HANDSHAKE_ERROR{1043, "08S01", "Bad handshake"};
// MySQL 8's answer to a plain login under require_secure_transport (MariaDB 10.11 answers 1045 Access
// denied, which hides the reason).
inline constexpr ErrorSpec ER_SECURE_TRANSPORT_REQUIRED{3159, "HY000",
                                                        "Connections using insecure transport are prohibited"};
inline constexpr ErrorSpec ER_DBACCESS_DENIED_ERROR{1044, "42000", "Access denied for user to database"};
inline constexpr ErrorSpec ER_ACCESS_DENIED_ERROR{1045, "28000", "Access denied"};
inline constexpr ErrorSpec ER_NO_DB_ERROR{1046, "3D000", "No database selected"};
inline constexpr ErrorSpec ER_UNKNOWN_COM_ERROR{1047, "08S01", "Unknown command"};
inline constexpr ErrorSpec ER_BAD_DB_ERROR{1049, "42000", "Unknown database"};
inline constexpr ErrorSpec ER_SERVER_SHUTDOWN{1053, "08S01", "Server shutdown in progress"};
inline constexpr ErrorSpec ER_NET_PACKET_TOO_LARGE{1153, "08S01",
                                                   "Got a packet bigger than 'max_allowed_packet' bytes"};
inline constexpr ErrorSpec ER_NET_READ_ERROR{1158, "08S01", "Got an error reading communication packets"};
inline constexpr ErrorSpec ER_NET_PACKETS_OUT_OF_ORDER{1156, "08S01", "Got packets out of order"};
inline constexpr ErrorSpec ER_UNKNOWN_STMT_HANDLER{1243, "HY000", "Unknown prepared statement handler"};
inline constexpr ErrorSpec ER_NOT_SUPPORTED_AUTH_MODE{
    1251, "08004", "Client does not support authentication protocol requested by server"};
inline constexpr ErrorSpec ER_NOT_SUPPORTED_YET{1235, "42000", "This version doesn't yet support this"};
inline constexpr ErrorSpec ER_WRONG_VALUE_FOR_VAR{1231, "42000", "Variable can't be set to this value"};
inline constexpr ErrorSpec ER_QUERY_INTERRUPTED{1317, "70100", "Query execution was interrupted"};
inline constexpr ErrorSpec ER_NO_SUCH_THREAD{1094, "HY000", "Unknown thread id"};
inline constexpr ErrorSpec ER_KILL_DENIED_ERROR{1095, "HY000", "You are not owner of thread"};
inline constexpr ErrorSpec ER_UNSUPPORTED_PS{1295, "HY000", "This command is not supported in the prepared statement protocol yet"};
inline constexpr ErrorSpec ER_MUST_CHANGE_PASSWORD{
    1820, "HY000", "You must SET PASSWORD before executing this statement"};
inline constexpr ErrorSpec ER_CONNECTION_KILLED{1927, "70100", "Connection was killed"};
inline constexpr ErrorSpec ER_LOCK_WAIT_TIMEOUT{1205, "HY000",
                                                "Lock wait timeout exceeded; try restarting transaction"};

}  // namespace corral::mysql
