#include "protocols/mysql/constants.h"

#include <array>
#include <cstdio>
#include <utility>

#include "protocols/mysql/errors.h"

namespace corral::mysql {

namespace {

std::string numbered(std::string_view prefix, unsigned value, bool hex) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, hex ? "0x%02x" : "%u", value);
  std::string out(prefix);
  out.append("<").append(buffer).append(">");
  return out;
}

template <std::size_t N>
std::string join_flags(std::uint64_t flags, const std::array<std::pair<std::uint64_t, std::string_view>, N>& names) {
  std::string out;
  std::uint64_t known = 0;
  for (const auto& [bit, name] : names) {
    known |= bit;
    if (!(flags & bit)) continue;
    if (!out.empty()) out.push_back('|');
    out.append(name);
  }
  if (const std::uint64_t unknown = flags & ~known) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "0x%llx", static_cast<unsigned long long>(unknown));
    if (!out.empty()) out.push_back('|');
    out.append(buffer);
  }
  return out.empty() ? "0" : out;
}

#define CORRAL_NAME(x) {x, #x}

constexpr std::array<std::pair<std::uint64_t, std::string_view>, 38> kCapabilityNames{{
    CORRAL_NAME(CLIENT_LONG_PASSWORD), CORRAL_NAME(CLIENT_FOUND_ROWS), CORRAL_NAME(CLIENT_LONG_FLAG),
    CORRAL_NAME(CLIENT_CONNECT_WITH_DB), CORRAL_NAME(CLIENT_NO_SCHEMA), CORRAL_NAME(CLIENT_COMPRESS),
    CORRAL_NAME(CLIENT_ODBC), CORRAL_NAME(CLIENT_LOCAL_FILES), CORRAL_NAME(CLIENT_IGNORE_SPACE),
    CORRAL_NAME(CLIENT_PROTOCOL_41), CORRAL_NAME(CLIENT_INTERACTIVE), CORRAL_NAME(CLIENT_SSL),
    CORRAL_NAME(CLIENT_IGNORE_SIGPIPE), CORRAL_NAME(CLIENT_TRANSACTIONS), CORRAL_NAME(CLIENT_RESERVED),
    CORRAL_NAME(CLIENT_SECURE_CONNECTION), CORRAL_NAME(CLIENT_MULTI_STATEMENTS),
    CORRAL_NAME(CLIENT_MULTI_RESULTS), CORRAL_NAME(CLIENT_PS_MULTI_RESULTS), CORRAL_NAME(CLIENT_PLUGIN_AUTH),
    CORRAL_NAME(CLIENT_CONNECT_ATTRS), CORRAL_NAME(CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA),
    CORRAL_NAME(CLIENT_CAN_HANDLE_EXPIRED_PASSWORDS), CORRAL_NAME(CLIENT_SESSION_TRACK),
    CORRAL_NAME(CLIENT_DEPRECATE_EOF), CORRAL_NAME(CLIENT_OPTIONAL_RESULTSET_METADATA),
    CORRAL_NAME(CLIENT_ZSTD_COMPRESSION_ALGORITHM), CORRAL_NAME(CLIENT_QUERY_ATTRIBUTES),
    CORRAL_NAME(MULTI_FACTOR_AUTHENTICATION), CORRAL_NAME(CLIENT_CAPABILITY_EXTENSION),
    CORRAL_NAME(CLIENT_SSL_VERIFY_SERVER_CERT), CORRAL_NAME(CLIENT_REMEMBER_OPTIONS),
    CORRAL_NAME(MARIADB_CLIENT_PROGRESS), CORRAL_NAME(MARIADB_CLIENT_RESERVED_1),
    CORRAL_NAME(MARIADB_CLIENT_STMT_BULK_OPERATIONS), CORRAL_NAME(MARIADB_CLIENT_EXTENDED_METADATA),
    CORRAL_NAME(MARIADB_CLIENT_CACHE_METADATA), CORRAL_NAME(MARIADB_CLIENT_BULK_UNIT_RESULTS),
}};

constexpr std::array<std::pair<std::uint64_t, std::string_view>, 14> kStatusNames{{
    CORRAL_NAME(SERVER_STATUS_IN_TRANS), CORRAL_NAME(SERVER_STATUS_AUTOCOMMIT),
    CORRAL_NAME(SERVER_MORE_RESULTS_EXISTS), CORRAL_NAME(SERVER_QUERY_NO_GOOD_INDEX_USED),
    CORRAL_NAME(SERVER_QUERY_NO_INDEX_USED), CORRAL_NAME(SERVER_STATUS_CURSOR_EXISTS),
    CORRAL_NAME(SERVER_STATUS_LAST_ROW_SENT), CORRAL_NAME(SERVER_STATUS_DB_DROPPED),
    CORRAL_NAME(SERVER_STATUS_NO_BACKSLASH_ESCAPES), CORRAL_NAME(SERVER_STATUS_METADATA_CHANGED),
    CORRAL_NAME(SERVER_QUERY_WAS_SLOW), CORRAL_NAME(SERVER_PS_OUT_PARAMS),
    CORRAL_NAME(SERVER_STATUS_IN_TRANS_READONLY), CORRAL_NAME(SERVER_SESSION_STATE_CHANGED),
}};

#undef CORRAL_NAME

}  // namespace

#define CORRAL_CASE(ns, x) \
  case ns::x:              \
    return #x

std::string to_string(Command command) {
  switch (command) {
    CORRAL_CASE(Command, COM_SLEEP);
    CORRAL_CASE(Command, COM_QUIT);
    CORRAL_CASE(Command, COM_INIT_DB);
    CORRAL_CASE(Command, COM_QUERY);
    CORRAL_CASE(Command, COM_FIELD_LIST);
    CORRAL_CASE(Command, COM_CREATE_DB);
    CORRAL_CASE(Command, COM_DROP_DB);
    CORRAL_CASE(Command, COM_REFRESH);
    CORRAL_CASE(Command, COM_SHUTDOWN);
    CORRAL_CASE(Command, COM_STATISTICS);
    CORRAL_CASE(Command, COM_PROCESS_INFO);
    CORRAL_CASE(Command, COM_CONNECT);
    CORRAL_CASE(Command, COM_PROCESS_KILL);
    CORRAL_CASE(Command, COM_DEBUG);
    CORRAL_CASE(Command, COM_PING);
    CORRAL_CASE(Command, COM_TIME);
    CORRAL_CASE(Command, COM_DELAYED_INSERT);
    CORRAL_CASE(Command, COM_CHANGE_USER);
    CORRAL_CASE(Command, COM_BINLOG_DUMP);
    CORRAL_CASE(Command, COM_TABLE_DUMP);
    CORRAL_CASE(Command, COM_CONNECT_OUT);
    CORRAL_CASE(Command, COM_REGISTER_SLAVE);
    CORRAL_CASE(Command, COM_STMT_PREPARE);
    CORRAL_CASE(Command, COM_STMT_EXECUTE);
    CORRAL_CASE(Command, COM_STMT_SEND_LONG_DATA);
    CORRAL_CASE(Command, COM_STMT_CLOSE);
    CORRAL_CASE(Command, COM_STMT_RESET);
    CORRAL_CASE(Command, COM_SET_OPTION);
    CORRAL_CASE(Command, COM_STMT_FETCH);
    CORRAL_CASE(Command, COM_DAEMON);
    CORRAL_CASE(Command, COM_BINLOG_DUMP_GTID);
    CORRAL_CASE(Command, COM_RESET_CONNECTION);
    CORRAL_CASE(Command, COM_CLONE);
    CORRAL_CASE(Command, COM_SUBSCRIBE_GROUP_REPLICATION_STREAM);
    CORRAL_CASE(Command, COM_STMT_BULK_EXECUTE);
  }
  return numbered("COM_", static_cast<unsigned>(command), true);
}

std::string to_string(ColumnType type) {
  switch (type) {
    CORRAL_CASE(ColumnType, MYSQL_TYPE_DECIMAL);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_TINY);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_SHORT);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_LONG);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_FLOAT);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_DOUBLE);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_NULL);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_TIMESTAMP);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_LONGLONG);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_INT24);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_DATE);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_TIME);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_DATETIME);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_YEAR);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_NEWDATE);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_VARCHAR);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_BIT);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_TIMESTAMP2);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_DATETIME2);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_TIME2);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_TYPED_ARRAY);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_VECTOR);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_INVALID);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_BOOL);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_JSON);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_NEWDECIMAL);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_ENUM);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_SET);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_TINY_BLOB);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_MEDIUM_BLOB);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_LONG_BLOB);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_BLOB);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_VAR_STRING);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_STRING);
    CORRAL_CASE(ColumnType, MYSQL_TYPE_GEOMETRY);
  }
  return numbered("MYSQL_TYPE_", static_cast<unsigned>(type), false);
}

std::string to_string(SessionTrackType type) {
  switch (type) {
    CORRAL_CASE(SessionTrackType, SESSION_TRACK_SYSTEM_VARIABLES);
    CORRAL_CASE(SessionTrackType, SESSION_TRACK_SCHEMA);
    CORRAL_CASE(SessionTrackType, SESSION_TRACK_STATE_CHANGE);
    CORRAL_CASE(SessionTrackType, SESSION_TRACK_GTIDS);
    CORRAL_CASE(SessionTrackType, SESSION_TRACK_TRANSACTION_CHARACTERISTICS);
    CORRAL_CASE(SessionTrackType, SESSION_TRACK_TRANSACTION_STATE);
  }
  return numbered("SESSION_TRACK_", static_cast<unsigned>(type), false);
}

std::string_view to_string(Errc errc) noexcept {
  switch (errc) {
    CORRAL_CASE(Errc, Ok);
    CORRAL_CASE(Errc, Truncated);
    CORRAL_CASE(Errc, BadLenenc);
    CORRAL_CASE(Errc, LengthPastPayload);
    CORRAL_CASE(Errc, MissingNul);
    CORRAL_CASE(Errc, PacketTooLarge);
    CORRAL_CASE(Errc, BadSequence);
    CORRAL_CASE(Errc, UnexpectedPacket);
    CORRAL_CASE(Errc, BadProtocolVersion);
    CORRAL_CASE(Errc, LimitExceeded);
    CORRAL_CASE(Errc, BadValue);
    CORRAL_CASE(Errc, Unsupported);
    CORRAL_CASE(Errc, CryptoError);
    CORRAL_CASE(Errc, NotAStatementCommand);
    CORRAL_CASE(Errc, ResponseComplete);
  }
  return "Unknown";
}

#undef CORRAL_CASE

std::string capabilities_to_string(CapabilityFlags flags) { return join_flags(flags, kCapabilityNames); }

std::string status_flags_to_string(StatusFlags flags) { return join_flags(flags, kStatusNames); }

}  // namespace corral::mysql
