#include "protocols/mysql/command.h"

#include "protocols/mysql/primitives.h"
#include "protocols/mysql/status_packets.h"

namespace corral::mysql {

namespace {

bool expect_command(Reader& r, Command command) {
  const std::uint8_t byte = r.int1();
  if (r.ok() && byte != static_cast<std::uint8_t>(command)) r.fail(Errc::UnexpectedPacket);
  return r.ok();
}

bool null_bit(std::string_view bitmap, std::size_t index) noexcept {
  return (static_cast<std::uint8_t>(bitmap[index / 8]) >> (index % 8)) & 1;
}

// The parameter block shared by COM_STMT_EXECUTE and COM_QUERY attributes (Binary Protocol Value,
// COM_STMT_EXECUTE): null bitmap, new-params-bound flag, [types (+ names)], values.
Errc read_params(Reader& r, std::size_t count, bool with_names, const StmtExecuteContext* ctx,
                 bool& new_params_bound, std::vector<BinaryParam>& params) {
  const std::string_view bitmap = r.fixed_string((count + 7) / 8);
  new_params_bound = r.int1() != 0;
  if (!r.ok()) return r.error();
  params.resize(count);
  if (new_params_bound) {
    for (BinaryParam& param : params) {
      param.type = static_cast<ColumnType>(r.int1());
      param.type_flags = r.int1();
      if (with_names) param.name = r.lenenc_string();
    }
  } else if (ctx != nullptr && ctx->previous_types.size() >= count) {
    for (std::size_t i = 0; i < count; ++i) {
      params[i].type = ctx->previous_types[i].type;
      params[i].type_flags = ctx->previous_types[i].type_flags;
    }
  }
  const bool have_types = new_params_bound || (ctx != nullptr && ctx->previous_types.size() >= count);
  for (std::size_t i = 0; i < count && r.ok(); ++i) {
    BinaryParam& param = params[i];
    param.is_null = null_bit(bitmap, i);
    param.long_data = ctx != nullptr && ctx->long_data != nullptr && i < ctx->long_data->size() &&
                      (*ctx->long_data)[i];
    if (param.is_null || param.long_data) continue;
    if (!have_types) return Errc::BadValue;
    const std::string_view rest = r.rest();
    const Result<std::size_t> length = binary_value_length(param.type, rest);
    if (!length) return length.error();
    param.value = rest.substr(0, *length);
    r = Reader(rest.substr(*length));
  }
  return r.error();
}

void write_params(Writer& w, const std::vector<BinaryParam>& params, bool new_params_bound, bool with_names) {
  std::string bitmap((params.size() + 7) / 8, '\0');
  for (std::size_t i = 0; i < params.size(); ++i) {
    if (params[i].is_null) bitmap[i / 8] = static_cast<char>(bitmap[i / 8] | (1 << (i % 8)));
  }
  w.bytes(bitmap);
  w.int1(new_params_bound ? 1 : 0);
  if (new_params_bound) {
    for (const BinaryParam& param : params) {
      w.int1(static_cast<std::uint8_t>(param.type));
      w.int1(param.type_flags);
      if (with_names) w.lenenc_string(param.name);
    }
  }
  for (const BinaryParam& param : params) {
    if (!param.is_null && !param.long_data) w.bytes(param.value);
  }
}

Result<std::uint32_t> decode_statement_command(std::string_view payload, Command command) {
  Reader r(payload);
  expect_command(r, command);
  const std::uint32_t id = r.int4();
  if (!r.ok()) return r.error();
  return id;
}

void encode_statement_command(std::string& out, Command command, std::uint32_t statement_id) {
  Writer w(out);
  w.int1(static_cast<std::uint8_t>(command));
  w.int4(statement_id);
}

}  // namespace

Result<CommandPacket> decode_command(std::string_view payload) {
  if (payload.empty()) return Errc::Truncated;
  return CommandPacket{static_cast<Command>(static_cast<std::uint8_t>(payload[0])), payload.substr(1)};
}

Result<std::size_t> binary_value_length(ColumnType type, std::string_view data) {
  Reader r(data);
  switch (type) {
    case ColumnType::MYSQL_TYPE_NULL:
      return std::size_t{0};
    case ColumnType::MYSQL_TYPE_TINY:
    case ColumnType::MYSQL_TYPE_BOOL:
      r.skip(1);
      break;
    case ColumnType::MYSQL_TYPE_SHORT:
    case ColumnType::MYSQL_TYPE_YEAR:
      r.skip(2);
      break;
    case ColumnType::MYSQL_TYPE_LONG:
    case ColumnType::MYSQL_TYPE_INT24:
    case ColumnType::MYSQL_TYPE_FLOAT:
      r.skip(4);
      break;
    case ColumnType::MYSQL_TYPE_LONGLONG:
    case ColumnType::MYSQL_TYPE_DOUBLE:
      r.skip(8);
      break;
    case ColumnType::MYSQL_TYPE_DATE:
    case ColumnType::MYSQL_TYPE_NEWDATE:
    case ColumnType::MYSQL_TYPE_DATETIME:
    case ColumnType::MYSQL_TYPE_DATETIME2:
    case ColumnType::MYSQL_TYPE_TIMESTAMP:
    case ColumnType::MYSQL_TYPE_TIMESTAMP2:
    case ColumnType::MYSQL_TYPE_TIME:
    case ColumnType::MYSQL_TYPE_TIME2: {
      // int<1> length (0, 4, 7, 11 for dates; 0, 8, 12 for times) then that many bytes.
      const std::uint8_t length = r.int1();
      if (r.ok() && length > 12) return Errc::BadValue;
      if (r.ok() && length > r.remaining()) return Errc::LengthPastPayload;
      r.skip(length);
      break;
    }
    case ColumnType::MYSQL_TYPE_DECIMAL:
    case ColumnType::MYSQL_TYPE_NEWDECIMAL:
    case ColumnType::MYSQL_TYPE_VARCHAR:
    case ColumnType::MYSQL_TYPE_BIT:
    case ColumnType::MYSQL_TYPE_ENUM:
    case ColumnType::MYSQL_TYPE_SET:
    case ColumnType::MYSQL_TYPE_TINY_BLOB:
    case ColumnType::MYSQL_TYPE_MEDIUM_BLOB:
    case ColumnType::MYSQL_TYPE_LONG_BLOB:
    case ColumnType::MYSQL_TYPE_BLOB:
    case ColumnType::MYSQL_TYPE_VAR_STRING:
    case ColumnType::MYSQL_TYPE_STRING:
    case ColumnType::MYSQL_TYPE_GEOMETRY:
    case ColumnType::MYSQL_TYPE_JSON:
    case ColumnType::MYSQL_TYPE_VECTOR:
      r.lenenc_string();
      break;
    default:
      return Errc::BadValue;
  }
  if (!r.ok()) return r.error();
  return r.position();
}

Result<COM_STMT_EXECUTE> decode_com_stmt_execute(std::string_view payload, const StmtExecuteContext& ctx,
                                                 CapabilityFlags caps) {
  Reader r(payload);
  expect_command(r, Command::COM_STMT_EXECUTE);
  COM_STMT_EXECUTE execute;
  execute.statement_id = r.int4();
  execute.flags = r.int1();
  execute.iteration_count = r.int4();
  if (!r.ok()) return r.error();
  std::uint64_t count = ctx.param_count;
  const bool attributes = (caps & CLIENT_QUERY_ATTRIBUTES) != 0;
  if (attributes && (count > 0 || (execute.flags & PARAMETER_COUNT_AVAILABLE))) {
    count = r.lenenc_int();
    if (!r.ok()) return r.error();
    if (count > 0xffff) return Errc::LimitExceeded;
    execute.parameter_count_present = true;
  }
  if (count == 0) return execute;
  const Errc errc = read_params(r, static_cast<std::size_t>(count), attributes, &ctx, execute.new_params_bound,
                                execute.params);
  if (errc != Errc::Ok) return errc;
  return execute;
}

void encode_com_stmt_execute(std::string& out, const COM_STMT_EXECUTE& execute, CapabilityFlags caps) {
  Writer w(out);
  w.int1(static_cast<std::uint8_t>(Command::COM_STMT_EXECUTE));
  w.int4(execute.statement_id);
  w.int1(execute.flags);
  w.int4(execute.iteration_count);
  const bool attributes = (caps & CLIENT_QUERY_ATTRIBUTES) != 0;
  if (attributes && (execute.parameter_count_present || !execute.params.empty() ||
                     (execute.flags & PARAMETER_COUNT_AVAILABLE))) {
    w.lenenc_int(execute.params.size());
  }
  if (!execute.params.empty()) write_params(w, execute.params, execute.new_params_bound, attributes);
}

Result<COM_QUERY> decode_com_query(std::string_view payload, CapabilityFlags caps, const Limits& limits) {
  Reader r(payload);
  expect_command(r, Command::COM_QUERY);
  COM_QUERY query;
  if (caps & CLIENT_QUERY_ATTRIBUTES) {
    // COM_QUERY with query attributes: int<lenenc> parameter_count, int<lenenc> parameter_set_count.
    const std::uint64_t count = r.lenenc_int();
    r.lenenc_int();
    if (!r.ok()) return r.error();
    if (count > limits.max_params) return Errc::LimitExceeded;
    if (count > 0) {
      bool bound = false;
      const Errc errc = read_params(r, static_cast<std::size_t>(count), true, nullptr, bound, query.attributes);
      if (errc != Errc::Ok) return errc;
    }
  }
  query.query = r.rest();
  if (!r.ok()) return r.error();
  return query;
}

void encode_com_query(std::string& out, std::string_view query, CapabilityFlags caps) {
  Writer w(out);
  w.int1(static_cast<std::uint8_t>(Command::COM_QUERY));
  if (caps & CLIENT_QUERY_ATTRIBUTES) {
    w.lenenc_int(0);  // parameter_count
    w.lenenc_int(1);  // parameter_set_count (always 1)
  }
  w.bytes(query);
}

Result<COM_STMT_PREPARE_OK> decode_com_stmt_prepare_ok(std::string_view payload, CapabilityFlags caps) {
  Reader r(payload);
  if (r.int1() != kOkHeader) return r.ok() ? Errc::UnexpectedPacket : r.error();
  COM_STMT_PREPARE_OK ok;
  ok.statement_id = r.int4();
  ok.num_columns = r.int2();
  ok.num_params = r.int2();
  r.skip(1);  // reserved
  if (!r.at_end()) ok.warning_count = r.int2();
  if ((caps & CLIENT_OPTIONAL_RESULTSET_METADATA) && !r.at_end()) ok.metadata_follows = r.int1() != 0;
  if (!r.ok()) return r.error();
  return ok;
}

void encode_com_stmt_prepare_ok(std::string& out, const COM_STMT_PREPARE_OK& ok, CapabilityFlags caps) {
  Writer w(out);
  w.int1(kOkHeader);
  w.int4(ok.statement_id);
  w.int2(ok.num_columns);
  w.int2(ok.num_params);
  w.int1(0);
  w.int2(ok.warning_count);
  if (caps & CLIENT_OPTIONAL_RESULTSET_METADATA) w.int1(ok.metadata_follows ? 1 : 0);
}

Result<std::string_view> decode_com_init_db(std::string_view payload) {
  Reader r(payload);
  if (!expect_command(r, Command::COM_INIT_DB)) return r.error();
  return r.rest();
}

Result<std::string_view> decode_com_stmt_prepare(std::string_view payload) {
  Reader r(payload);
  if (!expect_command(r, Command::COM_STMT_PREPARE)) return r.error();
  return r.rest();
}

Result<std::uint32_t> decode_com_stmt_close(std::string_view payload) {
  return decode_statement_command(payload, Command::COM_STMT_CLOSE);
}

Result<std::uint32_t> decode_com_stmt_reset(std::string_view payload) {
  return decode_statement_command(payload, Command::COM_STMT_RESET);
}

Result<COM_STMT_FETCH> decode_com_stmt_fetch(std::string_view payload) {
  Reader r(payload);
  expect_command(r, Command::COM_STMT_FETCH);
  COM_STMT_FETCH fetch;
  fetch.statement_id = r.int4();
  fetch.num_rows = r.int4();
  if (!r.ok()) return r.error();
  return fetch;
}

Result<COM_STMT_SEND_LONG_DATA> decode_com_stmt_send_long_data(std::string_view payload) {
  Reader r(payload);
  expect_command(r, Command::COM_STMT_SEND_LONG_DATA);
  COM_STMT_SEND_LONG_DATA data;
  data.statement_id = r.int4();
  data.param_id = r.int2();
  data.data = r.rest();
  if (!r.ok()) return r.error();
  return data;
}

Result<std::uint16_t> decode_com_set_option(std::string_view payload) {
  Reader r(payload);
  expect_command(r, Command::COM_SET_OPTION);
  const std::uint16_t option = r.int2();
  if (!r.ok()) return r.error();
  return option;
}

Result<COM_FIELD_LIST> decode_com_field_list(std::string_view payload) {
  Reader r(payload);
  expect_command(r, Command::COM_FIELD_LIST);
  COM_FIELD_LIST list;
  list.table = r.nul_string();
  list.wildcard = r.rest();
  if (!r.ok()) return r.error();
  return list;
}

void encode_simple_command(std::string& out, Command command) { out.push_back(static_cast<char>(command)); }

void encode_com_init_db(std::string& out, std::string_view schema) {
  encode_simple_command(out, Command::COM_INIT_DB);
  out.append(schema);
}

void encode_com_stmt_prepare(std::string& out, std::string_view query) {
  encode_simple_command(out, Command::COM_STMT_PREPARE);
  out.append(query);
}

void encode_com_stmt_close(std::string& out, std::uint32_t statement_id) {
  encode_statement_command(out, Command::COM_STMT_CLOSE, statement_id);
}

void encode_com_stmt_reset(std::string& out, std::uint32_t statement_id) {
  encode_statement_command(out, Command::COM_STMT_RESET, statement_id);
}

void encode_com_stmt_fetch(std::string& out, std::uint32_t statement_id, std::uint32_t num_rows) {
  encode_statement_command(out, Command::COM_STMT_FETCH, statement_id);
  Writer(out).int4(num_rows);
}

void encode_com_stmt_send_long_data(std::string& out, std::uint32_t statement_id, std::uint16_t param_id,
                                    std::string_view data) {
  encode_statement_command(out, Command::COM_STMT_SEND_LONG_DATA, statement_id);
  Writer w(out);
  w.int2(param_id);
  w.bytes(data);
}

void encode_com_set_option(std::string& out, std::uint16_t option) {
  encode_simple_command(out, Command::COM_SET_OPTION);
  Writer(out).int2(option);
}

void encode_com_field_list(std::string& out, std::string_view table, std::string_view wildcard) {
  encode_simple_command(out, Command::COM_FIELD_LIST);
  Writer w(out);
  w.nul_string(table);
  w.bytes(wildcard);
}

Result<std::uint32_t> statement_id_of(std::string_view payload) {
  Reader r(payload);
  const auto command = static_cast<Command>(r.int1());
  if (r.ok() && !carries_statement_id(command)) return Errc::NotAStatementCommand;
  const std::uint32_t id = r.int4();
  if (!r.ok()) return r.error();
  return id;
}

Errc rewrite_statement_id(std::span<char> wire, std::uint32_t statement_id) noexcept {
  constexpr std::size_t kCommandAt = kPacketHeaderSize;
  if (wire.size() <= kCommandAt) return Errc::Truncated;
  if (!carries_statement_id(static_cast<Command>(static_cast<std::uint8_t>(wire[kCommandAt])))) {
    return Errc::NotAStatementCommand;
  }
  if (wire.size() < kCommandAt + 1 + 4) return Errc::Truncated;
  for (std::size_t i = 0; i < 4; ++i) {
    wire[kCommandAt + 1 + i] = static_cast<char>((statement_id >> (8 * i)) & 0xff);
  }
  return Errc::Ok;
}

}  // namespace corral::mysql
