// Command phase packets sent by the client (Text Protocol, Prepared Statements): encoders for what
// corral sends to backends, decoders for what clients send to corral, and the in-place statement-id
// rewrite corral needs because it maps client statement ids to backend ones.
//
//   client command packet (sequence id 0):  int<1> command | command-specific body
//   encoders append a payload; frame it with begin_packet()/finish_packet(out, at, 0).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mysql/constants.h"
#include "protocols/mysql/errors.h"
#include "protocols/mysql/packet.h"

namespace corral::mysql {

/// A command packet split into its command byte and the rest. Lifetime: views the payload.
struct CommandPacket {
  Command command = Command::COM_SLEEP;
  std::string_view body;  // payload after the command byte
};
/// Splits a command payload; an empty payload fails with Errc::Truncated.
Result<CommandPacket> decode_command(std::string_view payload);

/// One parameter of COM_STMT_EXECUTE (or a query attribute of COM_QUERY). Lifetime: views the payload.
struct BinaryParam {
  ColumnType type = ColumnType::MYSQL_TYPE_NULL;
  std::uint8_t type_flags = 0;     // 0x80: unsigned
  std::string_view name;           // query attribute name (CLIENT_QUERY_ATTRIBUTES only)
  bool is_null = false;
  bool long_data = false;          // value was sent with COM_STMT_SEND_LONG_DATA: none in this packet
  std::string_view value;          // the Binary Protocol Value bytes, as sent
  bool is_unsigned() const noexcept { return (type_flags & 0x80) != 0; }
};

/// COM_STMT_EXECUTE. Lifetime: views the payload.
struct COM_STMT_EXECUTE {
  std::uint32_t statement_id = 0;
  std::uint8_t flags = CURSOR_TYPE_NO_CURSOR;  // enum_cursor_type (+ PARAMETER_COUNT_AVAILABLE)
  std::uint32_t iteration_count = 1;
  bool new_params_bound = false;
  bool parameter_count_present = false;        // CLIENT_QUERY_ATTRIBUTES: the packet has parameter_count
  std::vector<BinaryParam> params;             // empty when the statement has no parameters
};

/// What decoding COM_STMT_EXECUTE needs to know from the statement's COM_STMT_PREPARE_OK and from
/// earlier executions of it.
struct StmtExecuteContext {
  std::uint16_t param_count = 0;                  // num_params of COM_STMT_PREPARE_OK
  std::span<const BinaryParam> previous_types;    // types bound by an earlier execute (new_params_bound=0)
  const std::vector<bool>* long_data = nullptr;   // params that got COM_STMT_SEND_LONG_DATA since then
};

/// Decodes COM_STMT_EXECUTE (command byte included). When the client did not re-send types
/// (new_params_bound = 0) they come from ctx.previous_types; without them the values cannot be
/// delimited and decoding fails with Errc::BadValue (statement id and flags are still in the packet:
/// use statement_id_of()).
Result<COM_STMT_EXECUTE> decode_com_stmt_execute(std::string_view payload, const StmtExecuteContext& ctx,
                                                 CapabilityFlags caps);
/// Appends COM_STMT_EXECUTE; types are written when new_params_bound, values for non-NULL params
/// that are not long_data.
void encode_com_stmt_execute(std::string& out, const COM_STMT_EXECUTE& execute, CapabilityFlags caps);

/// Length of one Binary Protocol Value of `type` at the start of `data` (lengths from the wire are
/// checked against `data`). Errc::Truncated / LengthPastPayload / BadValue on bad input.
Result<std::size_t> binary_value_length(ColumnType type, std::string_view data);

/// COM_QUERY. Lifetime: views the payload.
struct COM_QUERY {
  std::string_view query;
  std::vector<BinaryParam> attributes;  // CLIENT_QUERY_ATTRIBUTES only
};
Result<COM_QUERY> decode_com_query(std::string_view payload, CapabilityFlags caps, const Limits& limits = {});
/// Appends COM_QUERY (with an empty attribute block when CLIENT_QUERY_ATTRIBUTES is negotiated).
void encode_com_query(std::string& out, std::string_view query, CapabilityFlags caps);

/// COM_STMT_PREPARE_OK (the first packet of a COM_STMT_PREPARE response).
struct COM_STMT_PREPARE_OK {
  std::uint32_t statement_id = 0;
  std::uint16_t num_columns = 0;
  std::uint16_t num_params = 0;
  std::uint16_t warning_count = 0;
  bool metadata_follows = true;  // false only with CLIENT_OPTIONAL_RESULTSET_METADATA and "none"
};
Result<COM_STMT_PREPARE_OK> decode_com_stmt_prepare_ok(std::string_view payload, CapabilityFlags caps);
void encode_com_stmt_prepare_ok(std::string& out, const COM_STMT_PREPARE_OK& ok, CapabilityFlags caps);

struct COM_STMT_FETCH {
  std::uint32_t statement_id = 0;
  std::uint32_t num_rows = 0;
};
struct COM_STMT_SEND_LONG_DATA {
  std::uint32_t statement_id = 0;
  std::uint16_t param_id = 0;
  std::string_view data;
};
struct COM_FIELD_LIST {
  std::string_view table;
  std::string_view wildcard;
};

// Decoders: `payload` includes the command byte; a different command byte is Errc::UnexpectedPacket.
Result<std::string_view> decode_com_init_db(std::string_view payload);       // schema name
Result<std::string_view> decode_com_stmt_prepare(std::string_view payload);  // query text
Result<std::uint32_t> decode_com_stmt_close(std::string_view payload);       // statement id
Result<std::uint32_t> decode_com_stmt_reset(std::string_view payload);       // statement id
Result<COM_STMT_FETCH> decode_com_stmt_fetch(std::string_view payload);
Result<COM_STMT_SEND_LONG_DATA> decode_com_stmt_send_long_data(std::string_view payload);
Result<std::uint16_t> decode_com_set_option(std::string_view payload);
Result<COM_FIELD_LIST> decode_com_field_list(std::string_view payload);

// Encoders (append the payload, command byte first).
void encode_simple_command(std::string& out, Command command);  // COM_PING, COM_QUIT, COM_STATISTICS, ...
void encode_com_init_db(std::string& out, std::string_view schema);
void encode_com_stmt_prepare(std::string& out, std::string_view query);
void encode_com_stmt_close(std::string& out, std::uint32_t statement_id);
void encode_com_stmt_reset(std::string& out, std::uint32_t statement_id);
void encode_com_stmt_fetch(std::string& out, std::uint32_t statement_id, std::uint32_t num_rows);
void encode_com_stmt_send_long_data(std::string& out, std::uint32_t statement_id, std::uint16_t param_id,
                                    std::string_view data);
void encode_com_set_option(std::string& out, std::uint16_t option);
void encode_com_field_list(std::string& out, std::string_view table, std::string_view wildcard = {});

/// The statement id of a COM_STMT_* payload (command byte included).
Result<std::uint32_t> statement_id_of(std::string_view payload);
/// Rewrites the statement id of a COM_STMT_* wire packet (header included) in place. Only the first
/// wire packet of a logical packet carries it. Errc::NotAStatementCommand for other commands,
/// Errc::Truncated when the packet is too short.
Errc rewrite_statement_id(std::span<char> wire, std::uint32_t statement_id) noexcept;

/// True if the server sends a response to `command` (COM_QUIT, COM_STMT_CLOSE and
/// COM_STMT_SEND_LONG_DATA get none).
constexpr bool expects_response(Command command) noexcept {
  return command != Command::COM_QUIT && command != Command::COM_STMT_CLOSE &&
         command != Command::COM_STMT_SEND_LONG_DATA;
}

}  // namespace corral::mysql
