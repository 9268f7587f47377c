// Protocol constants of the MySQL client/server protocol, spelled as the specification spells them:
// capability flags, server status flags, command bytes, column types and flags, session-track types.
//
// Sources: MySQL "Client/Server Protocol" (Capabilities Flags, SERVER_STATUS_flags_enum, Text Protocol
// command list, Column Definition, Session State Information) and the MariaDB KB "Connection"
// (extended capabilities) and "MariaDB Protocol Differences with MySQL" pages.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

// <mysql.h> / <mysql_com.h> define most of these names as macros; one translation unit cannot see
// both. Say so plainly instead of letting the preprocessor produce a baffling error further down.
#if defined(CLIENT_PROTOCOL_41) || defined(SERVER_STATUS_IN_TRANS) || defined(NOT_NULL_FLAG)
#error "protocols/mysql headers clash with <mysql.h> macros: do not include both in one translation unit"
#endif

namespace corral::mysql {

/// Capability flags. The low 32 bits are the standard ones; the high 32 bits are MariaDB's extended
/// capabilities, sent in the filler of HandshakeV10/HandshakeResponse41 when CLIENT_MYSQL (bit 0) is
/// clear. Keeping both halves in one word means one AND tells whether a feature was negotiated.
using CapabilityFlags = std::uint64_t;

inline constexpr CapabilityFlags CLIENT_LONG_PASSWORD = 1ULL << 0;  // MariaDB: CLIENT_MYSQL
inline constexpr CapabilityFlags CLIENT_MYSQL = CLIENT_LONG_PASSWORD;
inline constexpr CapabilityFlags CLIENT_FOUND_ROWS = 1ULL << 1;
inline constexpr CapabilityFlags CLIENT_LONG_FLAG = 1ULL << 2;
inline constexpr CapabilityFlags CLIENT_CONNECT_WITH_DB = 1ULL << 3;
inline constexpr CapabilityFlags CLIENT_NO_SCHEMA = 1ULL << 4;
inline constexpr CapabilityFlags CLIENT_COMPRESS = 1ULL << 5;
inline constexpr CapabilityFlags CLIENT_ODBC = 1ULL << 6;
inline constexpr CapabilityFlags CLIENT_LOCAL_FILES = 1ULL << 7;
inline constexpr CapabilityFlags CLIENT_IGNORE_SPACE = 1ULL << 8;
inline constexpr CapabilityFlags CLIENT_PROTOCOL_41 = 1ULL << 9;
inline constexpr CapabilityFlags CLIENT_INTERACTIVE = 1ULL << 10;
inline constexpr CapabilityFlags CLIENT_SSL = 1ULL << 11;
inline constexpr CapabilityFlags CLIENT_IGNORE_SIGPIPE = 1ULL << 12;
inline constexpr CapabilityFlags CLIENT_TRANSACTIONS = 1ULL << 13;
inline constexpr CapabilityFlags CLIENT_RESERVED = 1ULL << 14;
inline constexpr CapabilityFlags CLIENT_SECURE_CONNECTION = 1ULL << 15;  // "CLIENT_RESERVED2" in MySQL 8
inline constexpr CapabilityFlags CLIENT_MULTI_STATEMENTS = 1ULL << 16;
inline constexpr CapabilityFlags CLIENT_MULTI_RESULTS = 1ULL << 17;
inline constexpr CapabilityFlags CLIENT_PS_MULTI_RESULTS = 1ULL << 18;
inline constexpr CapabilityFlags CLIENT_PLUGIN_AUTH = 1ULL << 19;
inline constexpr CapabilityFlags CLIENT_CONNECT_ATTRS = 1ULL << 20;
inline constexpr CapabilityFlags CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA = 1ULL << 21;
inline constexpr CapabilityFlags CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS = 1ULL << 22;
inline constexpr CapabilityFlags CLIENT_SESSION_TRACK = 1ULL << 23;
inline constexpr CapabilityFlags CLIENT_DEPRECATE_EOF = 1ULL << 24;
inline constexpr CapabilityFlags CLIENT_OPTIONAL_RESULTSET_METADATA = 1ULL << 25;
inline constexpr CapabilityFlags CLIENT_ZSTD_COMPRESSION_ALGORITHM = 1ULL << 26;
inline constexpr CapabilityFlags CLIENT_QUERY_ATTRIBUTES = 1ULL << 27;
inline constexpr CapabilityFlags MULTI_FACTOR_AUTHENTICATION = 1ULL << 28;
inline constexpr CapabilityFlags CLIENT_CAPABILITY_EXTENSION = 1ULL << 29;  // MariaDB: CLIENT_PROGRESS_OBSOLETE
inline constexpr CapabilityFlags CLIENT_SSL_VERIFY_SERVER_CERT = 1ULL << 30;
inline constexpr CapabilityFlags CLIENT_REMEMBER_OPTIONS = 1ULL << 31;

// MariaDB extended capabilities (bits 32..63). MariaDB KB "MariaDB Protocol Differences with MySQL".
inline constexpr CapabilityFlags MARIADB_CLIENT_PROGRESS = 1ULL << 32;
inline constexpr CapabilityFlags MARIADB_CLIENT_RESERVED_1 = 1ULL << 33;  // former COM_MULTI
inline constexpr CapabilityFlags MARIADB_CLIENT_STMT_BULK_OPERATIONS = 1ULL << 34;
inline constexpr CapabilityFlags MARIADB_CLIENT_EXTENDED_METADATA = 1ULL << 35;
inline constexpr CapabilityFlags MARIADB_CLIENT_CACHE_METADATA = 1ULL << 36;
inline constexpr CapabilityFlags MARIADB_CLIENT_BULK_UNIT_RESULTS = 1ULL << 37;

/// Server status flags (SERVER_STATUS_flags_enum), carried by OK_Packet and EOF_Packet.
using StatusFlags = std::uint16_t;

inline constexpr StatusFlags SERVER_STATUS_IN_TRANS = 1 << 0;
inline constexpr StatusFlags SERVER_STATUS_AUTOCOMMIT = 1 << 1;
inline constexpr StatusFlags SERVER_MORE_RESULTS_EXISTS = 1 << 3;
inline constexpr StatusFlags SERVER_QUERY_NO_GOOD_INDEX_USED = 1 << 4;
inline constexpr StatusFlags SERVER_QUERY_NO_INDEX_USED = 1 << 5;
inline constexpr StatusFlags SERVER_STATUS_CURSOR_EXISTS = 1 << 6;
inline constexpr StatusFlags SERVER_STATUS_LAST_ROW_SENT = 1 << 7;
inline constexpr StatusFlags SERVER_STATUS_DB_DROPPED = 1 << 8;
inline constexpr StatusFlags SERVER_STATUS_NO_BACKSLASH_ESCAPES = 1 << 9;
inline constexpr StatusFlags SERVER_STATUS_METADATA_CHANGED = 1 << 10;
inline constexpr StatusFlags SERVER_QUERY_WAS_SLOW = 1 << 11;
inline constexpr StatusFlags SERVER_PS_OUT_PARAMS = 1 << 12;
inline constexpr StatusFlags SERVER_STATUS_IN_TRANS_READONLY = 1 << 13;
inline constexpr StatusFlags SERVER_SESSION_STATE_CHANGED = 1 << 14;

/// Command bytes (first payload byte of a client command packet). Text Protocol + Prepared Statements.
enum class Command : std::uint8_t {
  COM_SLEEP = 0x00,
  COM_QUIT = 0x01,
  COM_INIT_DB = 0x02,
  COM_QUERY = 0x03,
  COM_FIELD_LIST = 0x04,
  COM_CREATE_DB = 0x05,
  COM_DROP_DB = 0x06,
  COM_REFRESH = 0x07,
  COM_SHUTDOWN = 0x08,
  COM_STATISTICS = 0x09,
  COM_PROCESS_INFO = 0x0a,
  COM_CONNECT = 0x0b,
  COM_PROCESS_KILL = 0x0c,
  COM_DEBUG = 0x0d,
  COM_PING = 0x0e,
  COM_TIME = 0x0f,
  COM_DELAYED_INSERT = 0x10,
  COM_CHANGE_USER = 0x11,
  COM_BINLOG_DUMP = 0x12,
  COM_TABLE_DUMP = 0x13,
  COM_CONNECT_OUT = 0x14,
  COM_REGISTER_SLAVE = 0x15,
  COM_STMT_PREPARE = 0x16,
  COM_STMT_EXECUTE = 0x17,
  COM_STMT_SEND_LONG_DATA = 0x18,
  COM_STMT_CLOSE = 0x19,
  COM_STMT_RESET = 0x1a,
  COM_SET_OPTION = 0x1b,
  COM_STMT_FETCH = 0x1c,
  COM_DAEMON = 0x1d,
  COM_BINLOG_DUMP_GTID = 0x1e,
  COM_RESET_CONNECTION = 0x1f,
  COM_CLONE = 0x20,
  COM_SUBSCRIBE_GROUP_REPLICATION_STREAM = 0x21,
  COM_STMT_BULK_EXECUTE = 0xfa,  // MariaDB
};

/// Field types (enum_field_types) used by column definitions and the binary protocol.
enum class ColumnType : std::uint8_t {
  MYSQL_TYPE_DECIMAL = 0,
  MYSQL_TYPE_TINY = 1,
  MYSQL_TYPE_SHORT = 2,
  MYSQL_TYPE_LONG = 3,
  MYSQL_TYPE_FLOAT = 4,
  MYSQL_TYPE_DOUBLE = 5,
  MYSQL_TYPE_NULL = 6,
  MYSQL_TYPE_TIMESTAMP = 7,
  MYSQL_TYPE_LONGLONG = 8,
  MYSQL_TYPE_INT24 = 9,
  MYSQL_TYPE_DATE = 10,
  MYSQL_TYPE_TIME = 11,
  MYSQL_TYPE_DATETIME = 12,
  MYSQL_TYPE_YEAR = 13,
  MYSQL_TYPE_NEWDATE = 14,
  MYSQL_TYPE_VARCHAR = 15,
  MYSQL_TYPE_BIT = 16,
  MYSQL_TYPE_TIMESTAMP2 = 17,
  MYSQL_TYPE_DATETIME2 = 18,
  MYSQL_TYPE_TIME2 = 19,
  MYSQL_TYPE_TYPED_ARRAY = 20,
  MYSQL_TYPE_VECTOR = 242,
  MYSQL_TYPE_INVALID = 243,
  MYSQL_TYPE_BOOL = 244,
  MYSQL_TYPE_JSON = 245,
  MYSQL_TYPE_NEWDECIMAL = 246,
  MYSQL_TYPE_ENUM = 247,
  MYSQL_TYPE_SET = 248,
  MYSQL_TYPE_TINY_BLOB = 249,
  MYSQL_TYPE_MEDIUM_BLOB = 250,
  MYSQL_TYPE_LONG_BLOB = 251,
  MYSQL_TYPE_BLOB = 252,
  MYSQL_TYPE_VAR_STRING = 253,
  MYSQL_TYPE_STRING = 254,
  MYSQL_TYPE_GEOMETRY = 255,
};

/// Column definition flags.
inline constexpr std::uint16_t NOT_NULL_FLAG = 1;
inline constexpr std::uint16_t PRI_KEY_FLAG = 2;
inline constexpr std::uint16_t UNIQUE_KEY_FLAG = 4;
inline constexpr std::uint16_t MULTIPLE_KEY_FLAG = 8;
inline constexpr std::uint16_t BLOB_FLAG = 16;
inline constexpr std::uint16_t UNSIGNED_FLAG = 32;
inline constexpr std::uint16_t ZEROFILL_FLAG = 64;
inline constexpr std::uint16_t BINARY_FLAG = 128;
inline constexpr std::uint16_t ENUM_FLAG = 256;
inline constexpr std::uint16_t AUTO_INCREMENT_FLAG = 512;
inline constexpr std::uint16_t TIMESTAMP_FLAG = 1024;
inline constexpr std::uint16_t SET_FLAG = 2048;
inline constexpr std::uint16_t NO_DEFAULT_VALUE_FLAG = 4096;
inline constexpr std::uint16_t ON_UPDATE_NOW_FLAG = 8192;
inline constexpr std::uint16_t NUM_FLAG = 32768;

/// Session state change types inside OK_Packet's session state info (enum_session_state_type).
enum class SessionTrackType : std::uint8_t {
  SESSION_TRACK_SYSTEM_VARIABLES = 0,
  SESSION_TRACK_SCHEMA = 1,
  SESSION_TRACK_STATE_CHANGE = 2,
  SESSION_TRACK_GTIDS = 3,
  SESSION_TRACK_TRANSACTION_CHARACTERISTICS = 4,
  SESSION_TRACK_TRANSACTION_STATE = 5,
};

/// COM_STMT_EXECUTE flags (enum_cursor_type) plus MySQL 8's PARAMETER_COUNT_AVAILABLE.
inline constexpr std::uint8_t CURSOR_TYPE_NO_CURSOR = 0;
inline constexpr std::uint8_t CURSOR_TYPE_READ_ONLY = 1;
inline constexpr std::uint8_t CURSOR_TYPE_FOR_UPDATE = 2;
inline constexpr std::uint8_t CURSOR_TYPE_SCROLLABLE = 4;
inline constexpr std::uint8_t PARAMETER_COUNT_AVAILABLE = 8;

/// COM_SET_OPTION values (enum_mysql_set_option).
inline constexpr std::uint16_t MYSQL_OPTION_MULTI_STATEMENTS_ON = 0;
inline constexpr std::uint16_t MYSQL_OPTION_MULTI_STATEMENTS_OFF = 1;

/// Character set / collation ids corral uses when it has to pick one.
inline constexpr std::uint8_t kCollationUtf8mb4GeneralCi = 45;
inline constexpr std::uint8_t kCollationBinary = 63;

/// Authentication plugin names.
inline constexpr std::string_view kMysqlNativePassword = "mysql_native_password";
inline constexpr std::string_view kCachingSha2Password = "caching_sha2_password";
inline constexpr std::string_view kSha256Password = "sha256_password";
inline constexpr std::string_view kMysqlOldPassword = "mysql_old_password";

/// Returns the specification name of `command` ("COM_QUERY"), or "COM_<0xNN>" for an unknown byte.
std::string to_string(Command command);
/// Returns "MYSQL_TYPE_LONG" and so on, or "MYSQL_TYPE_<n>".
std::string to_string(ColumnType type);
/// Returns "SESSION_TRACK_SCHEMA" and so on, or "SESSION_TRACK_<n>".
std::string to_string(SessionTrackType type);
/// Returns the set flags joined by '|' ("CLIENT_PROTOCOL_41|CLIENT_DEPRECATE_EOF"), "0" for none.
std::string capabilities_to_string(CapabilityFlags flags);
/// Returns the set status flags joined by '|' ("SERVER_STATUS_IN_TRANS|SERVER_STATUS_AUTOCOMMIT").
std::string status_flags_to_string(StatusFlags flags);

/// True for the commands whose payload starts with a 4-byte statement id after the command byte.
constexpr bool carries_statement_id(Command command) noexcept {
  switch (command) {
    case Command::COM_STMT_EXECUTE:
    case Command::COM_STMT_SEND_LONG_DATA:
    case Command::COM_STMT_CLOSE:
    case Command::COM_STMT_RESET:
    case Command::COM_STMT_FETCH:
    case Command::COM_STMT_BULK_EXECUTE:
      return true;
    default:
      return false;
  }
}

}  // namespace corral::mysql
