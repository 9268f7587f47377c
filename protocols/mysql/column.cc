#include "protocols/mysql/column.h"

#include "protocols/mysql/packet.h"
#include "protocols/mysql/primitives.h"
#include "protocols/mysql/status_packets.h"

namespace corral::mysql {

namespace {

constexpr std::uint8_t kFixedFieldsLength = 0x0c;

// MariaDB extended metadata: int<lenenc> length, then (int<1> kind, string<lenenc> value) pairs.
void read_extended_metadata(Reader& r, ColumnDefinition41& column) {
  Reader block(r.lenenc_string());
  while (r.ok() && block.ok() && !block.at_end()) {
    const std::uint8_t kind = block.int1();
    const std::string_view value = block.lenenc_string();
    if (kind == 0) column.extended_type_name = value;
    if (kind == 1) column.extended_type_format = value;
  }
  if (!block.ok()) r.fail(block.error());
}

void write_extended_metadata(Writer& w, const ColumnDefinition41& column) {
  std::string block;
  Writer b(block);
  if (!column.extended_type_name.empty()) {
    b.int1(0);
    b.lenenc_string(column.extended_type_name);
  }
  if (!column.extended_type_format.empty()) {
    b.int1(1);
    b.lenenc_string(column.extended_type_format);
  }
  w.lenenc_string(block);
}

}  // namespace

Result<ColumnDefinition41> decode_column_definition(std::string_view payload, CapabilityFlags caps,
                                                    bool field_list) {
  Reader r(payload);
  ColumnDefinition41 column;
  column.catalog = r.lenenc_string();
  column.schema = r.lenenc_string();
  column.table = r.lenenc_string();
  column.org_table = r.lenenc_string();
  column.name = r.lenenc_string();
  column.org_name = r.lenenc_string();
  if (caps & MARIADB_CLIENT_EXTENDED_METADATA) read_extended_metadata(r, column);
  const std::uint64_t fixed_length = r.lenenc_int();
  if (r.ok() && fixed_length != kFixedFieldsLength) return Errc::BadValue;
  column.character_set = r.int2();
  column.column_length = r.int4();
  column.type = static_cast<ColumnType>(r.int1());
  column.flags = r.int2();
  column.decimals = r.int1();
  r.skip(2);  // filler
  if (field_list && !r.at_end()) column.default_values = r.lenenc_string_or_null().value_or(std::string_view{});
  if (!r.ok()) return r.error();
  return column;
}

void encode_column_definition(std::string& out, const ColumnDefinition41& column, CapabilityFlags caps,
                              bool field_list) {
  Writer w(out);
  w.lenenc_string(column.catalog);
  w.lenenc_string(column.schema);
  w.lenenc_string(column.table);
  w.lenenc_string(column.org_table);
  w.lenenc_string(column.name);
  w.lenenc_string(column.org_name);
  if (caps & MARIADB_CLIENT_EXTENDED_METADATA) write_extended_metadata(w, column);
  w.lenenc_int(kFixedFieldsLength);
  w.int2(column.character_set);
  w.int4(column.column_length);
  w.int1(static_cast<std::uint8_t>(column.type));
  w.int2(column.flags);
  w.int1(column.decimals);
  w.zeros(2);
  if (field_list && column.default_values) w.lenenc_string(*column.default_values);
}

ColumnDefinition41 make_text_column(std::string_view name, std::uint32_t column_length) {
  ColumnDefinition41 column;
  column.name = name;
  column.org_name = name;
  column.character_set = kCollationUtf8mb4GeneralCi;
  // column_length counts bytes: 4 per utf8mb4 character.
  column.column_length = column_length * 4;
  column.type = ColumnType::MYSQL_TYPE_VAR_STRING;
  return column;
}

ColumnDefinition41 make_integer_column(std::string_view name, bool is_unsigned) {
  ColumnDefinition41 column;
  column.name = name;
  column.org_name = name;
  column.character_set = kCollationBinary;
  column.column_length = 21;
  column.type = ColumnType::MYSQL_TYPE_LONGLONG;
  column.flags = static_cast<std::uint16_t>(NUM_FLAG | BINARY_FLAG | (is_unsigned ? UNSIGNED_FLAG : 0));
  return column;
}

void encode_text_row(std::string& out, std::span<const TextValue> values) {
  Writer w(out);
  for (const TextValue& value : values) {
    if (value) {
      w.lenenc_string(*value);
    } else {
      w.lenenc_null();
    }
  }
}

Errc decode_text_row(std::string_view payload, std::size_t column_count, std::vector<TextValue>& values) {
  values.clear();
  Reader r(payload);
  for (std::size_t i = 0; i < column_count && r.ok(); ++i) values.push_back(r.lenenc_string_or_null());
  if (!r.ok()) return r.error();
  return Errc::Ok;
}

std::uint8_t append_text_result_set(std::string& out, std::uint8_t sequence_id,
                                    std::span<const ColumnDefinition41> columns,
                                    std::span<const std::vector<TextValue>> rows, CapabilityFlags caps,
                                    StatusFlags status_flags, std::uint16_t warnings) {
  std::size_t at = begin_packet(out);
  Writer(out).lenenc_int(columns.size());
  sequence_id = finish_packet(out, at, sequence_id);
  for (const ColumnDefinition41& column : columns) {
    at = begin_packet(out);
    encode_column_definition(out, column, caps);
    sequence_id = finish_packet(out, at, sequence_id);
  }
  const bool deprecate_eof = (caps & CLIENT_DEPRECATE_EOF) != 0;
  if (!deprecate_eof) {
    at = begin_packet(out);
    encode_eof_packet(out, EOF_Packet{warnings, status_flags}, caps);
    sequence_id = finish_packet(out, at, sequence_id);
  }
  for (const std::vector<TextValue>& row : rows) {
    at = begin_packet(out);
    encode_text_row(out, row);
    sequence_id = finish_packet(out, at, sequence_id);
  }
  at = begin_packet(out);
  if (deprecate_eof) {
    OK_Packet ok;
    ok.header = kEofHeader;
    ok.status_flags = status_flags;
    ok.warnings = warnings;
    encode_ok_packet(out, ok, caps);
  } else {
    encode_eof_packet(out, EOF_Packet{warnings, status_flags}, caps);
  }
  return finish_packet(out, at, sequence_id);
}

}  // namespace corral::mysql
