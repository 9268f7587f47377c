// Column definitions (Protocol::ColumnDefinition41) and text rows (Text Resultset Row), plus a builder
// for the result sets corral answers itself (SELECT @@version_comment, admin SHOW-like queries).
//
//   locally generated text result set:
//     column count | ColumnDefinition41 x N | [EOF_Packet] | text row x M | EOF_Packet or 0xFE OK_Packet
//                                             ^ not with CLIENT_DEPRECATE_EOF
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mysql/constants.h"
#include "protocols/mysql/errors.h"

namespace corral::mysql {

/// Protocol::ColumnDefinition41. Lifetime: the views point into the decoded payload (or the caller's
/// strings when encoding).
struct ColumnDefinition41 {
  std::string_view catalog = "def";
  std::string_view schema;
  std::string_view table;          // virtual (alias) table name
  std::string_view org_table;      // physical table name
  std::string_view name;           // virtual (alias) column name
  std::string_view org_name;       // physical column name
  std::uint16_t character_set = kCollationUtf8mb4GeneralCi;
  std::uint32_t column_length = 0;
  ColumnType type = ColumnType::MYSQL_TYPE_VAR_STRING;
  std::uint16_t flags = 0;
  std::uint8_t decimals = 0;
  std::optional<std::string_view> default_values;  // only in COM_FIELD_LIST responses
  std::string_view extended_type_name;              // MariaDB extended metadata (type 0)
  std::string_view extended_type_format;            // MariaDB extended metadata (type 1)
};

/// Decodes a column definition. `caps` selects MariaDB extended metadata; `field_list` reads the
/// trailing default values that only COM_FIELD_LIST responses carry.
Result<ColumnDefinition41> decode_column_definition(std::string_view payload, CapabilityFlags caps,
                                                    bool field_list = false);
void encode_column_definition(std::string& out, const ColumnDefinition41& column, CapabilityFlags caps,
                              bool field_list = false);

/// A text-protocol column for a locally generated result set (VAR_STRING, utf8mb4).
ColumnDefinition41 make_text_column(std::string_view name, std::uint32_t column_length = 255);
/// A BIGINT column for a locally generated result set (binary collation, NUM_FLAG).
ColumnDefinition41 make_integer_column(std::string_view name, bool is_unsigned = false);

/// A text row value: nullopt is SQL NULL.
using TextValue = std::optional<std::string_view>;

/// Appends one text row payload: each value as string<lenenc>, NULL as 0xFB.
void encode_text_row(std::string& out, std::span<const TextValue> values);
/// Decodes one text row payload of `column_count` values into `values` (cleared first). Views the payload.
Errc decode_text_row(std::string_view payload, std::size_t column_count, std::vector<TextValue>& values);

/// Appends a whole text result set as wire packets starting at `sequence_id` and returns the next
/// sequence id. The terminator is an EOF_Packet, or a 0xFE OK_Packet under CLIENT_DEPRECATE_EOF.
std::uint8_t append_text_result_set(std::string& out, std::uint8_t sequence_id,
                                    std::span<const ColumnDefinition41> columns,
                                    std::span<const std::vector<TextValue>> rows, CapabilityFlags caps,
                                    StatusFlags status_flags, std::uint16_t warnings = 0);

}  // namespace corral::mysql
