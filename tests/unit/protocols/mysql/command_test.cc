#include "protocols/mysql/command.h"

#include <gtest/gtest.h>

#include "protocols/mysql/primitives.h"
#include "test_util.h"

namespace corral::mysql {
namespace {

using test::bytes;

constexpr CapabilityFlags kCaps = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION;

std::string framed(const std::string& payload) {
  std::string wire;
  append_packet(wire, 0, payload);
  return wire;
}

TEST(MysqlCommands, SimpleEncodersMatchSpecBytes) {
  std::string out;
  encode_simple_command(out, Command::COM_PING);
  EXPECT_EQ(framed(out), bytes({0x01, 0x00, 0x00, 0x00, 0x0e}));
  out.clear();
  encode_simple_command(out, Command::COM_QUIT);
  EXPECT_EQ(framed(out), bytes({0x01, 0x00, 0x00, 0x00, 0x01}));
  out.clear();
  encode_com_query(out, "select 1", kCaps);
  EXPECT_EQ(framed(out), bytes({0x09, 0x00, 0x00, 0x00, 0x03}) + "select 1");
  out.clear();
  encode_com_init_db(out, "test");
  EXPECT_EQ(out, bytes({0x02}) + "test");
  out.clear();
  encode_com_set_option(out, MYSQL_OPTION_MULTI_STATEMENTS_OFF);
  EXPECT_EQ(out, bytes({0x1b, 0x01, 0x00}));
  out.clear();
  encode_com_stmt_close(out, 0x01020304);
  EXPECT_EQ(out, bytes({0x19, 0x04, 0x03, 0x02, 0x01}));
  out.clear();
  encode_com_stmt_reset(out, 7);
  EXPECT_EQ(out, bytes({0x1a, 0x07, 0x00, 0x00, 0x00}));
  out.clear();
  encode_com_stmt_fetch(out, 1, 100);
  EXPECT_EQ(out, bytes({0x1c, 0x01, 0x00, 0x00, 0x00, 0x64, 0x00, 0x00, 0x00}));
  out.clear();
  encode_simple_command(out, Command::COM_RESET_CONNECTION);
  EXPECT_EQ(out, bytes({0x1f}));
}

TEST(MysqlCommands, DecodersRoundTrip) {
  std::string out;
  encode_com_init_db(out, "shop");
  EXPECT_EQ(decode_com_init_db(out).value(), "shop");
  out.clear();
  encode_com_stmt_prepare(out, "SELECT ?");
  EXPECT_EQ(decode_com_stmt_prepare(out).value(), "SELECT ?");
  out.clear();
  encode_com_stmt_close(out, 99);
  EXPECT_EQ(decode_com_stmt_close(out).value(), 99u);
  out.clear();
  encode_com_stmt_reset(out, 98);
  EXPECT_EQ(decode_com_stmt_reset(out).value(), 98u);
  out.clear();
  encode_com_stmt_fetch(out, 5, 10);
  EXPECT_EQ(decode_com_stmt_fetch(out)->num_rows, 10u);
  out.clear();
  encode_com_stmt_send_long_data(out, 3, 1, "blob");
  const Result<COM_STMT_SEND_LONG_DATA> long_data = decode_com_stmt_send_long_data(out);
  ASSERT_TRUE(long_data.ok());
  EXPECT_EQ(long_data->statement_id, 3u);
  EXPECT_EQ(long_data->param_id, 1);
  EXPECT_EQ(long_data->data, "blob");
  out.clear();
  encode_com_set_option(out, MYSQL_OPTION_MULTI_STATEMENTS_ON);
  EXPECT_EQ(decode_com_set_option(out).value(), MYSQL_OPTION_MULTI_STATEMENTS_ON);
  out.clear();
  encode_com_field_list(out, "orders", "i%");
  const Result<COM_FIELD_LIST> list = decode_com_field_list(out);
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->table, "orders");
  EXPECT_EQ(list->wildcard, "i%");
  out.clear();
  encode_com_query(out, "SELECT 1", kCaps);
  const Result<CommandPacket> cmd = decode_command(out);
  ASSERT_TRUE(cmd.ok());
  EXPECT_EQ(cmd->command, Command::COM_QUERY);
  EXPECT_EQ(cmd->body, "SELECT 1");
  EXPECT_EQ(decode_com_query(out, kCaps)->query, "SELECT 1");
}

TEST(MysqlCommands, DecoderNegativeCases) {
  EXPECT_EQ(decode_command("").error(), Errc::Truncated);
  EXPECT_EQ(decode_com_init_db(bytes({0x03})).error(), Errc::UnexpectedPacket);
  EXPECT_EQ(decode_com_stmt_close(bytes({0x19, 0x01, 0x02})).error(), Errc::Truncated);
  EXPECT_EQ(decode_com_stmt_fetch(bytes({0x1c, 1, 0, 0, 0, 1})).error(), Errc::Truncated);
  EXPECT_EQ(decode_com_set_option(bytes({0x1b})).error(), Errc::Truncated);
  EXPECT_EQ(decode_com_field_list(bytes({0x04, 't'})).error(), Errc::MissingNul);
  EXPECT_EQ(decode_com_stmt_send_long_data(bytes({0x18, 1, 0, 0, 0, 1})).error(), Errc::Truncated);
}

TEST(MysqlCommands, QueryAttributes) {
  const CapabilityFlags caps = kCaps | CLIENT_QUERY_ATTRIBUTES;
  std::string out;
  encode_com_query(out, "SELECT 1", caps);
  EXPECT_EQ(out, bytes({0x03, 0x00, 0x01}) + "SELECT 1");
  const Result<COM_QUERY> plain = decode_com_query(out, caps);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->query, "SELECT 1");
  EXPECT_TRUE(plain->attributes.empty());
  // One attribute "trace" = "abc" (VAR_STRING).
  const std::string with_attr = bytes({0x03, 0x01, 0x01, 0x00, 0x01, 0xfd, 0x00, 0x05}) + "trace" +
                                bytes({0x03}) + "abc" + "SELECT 2";
  const Result<COM_QUERY> q = decode_com_query(with_attr, caps);
  ASSERT_TRUE(q.ok()) << to_string(q.error());
  EXPECT_EQ(q->query, "SELECT 2");
  ASSERT_EQ(q->attributes.size(), 1u);
  EXPECT_EQ(q->attributes[0].name, "trace");
  EXPECT_EQ(q->attributes[0].value, bytes({0x03}) + "abc");
  // Without the capability the same bytes are just query text.
  EXPECT_EQ(decode_com_query(with_attr, kCaps)->query, with_attr.substr(1));
}

std::vector<BinaryParam> sample_params() {
  std::vector<BinaryParam> params(6);
  params[0].type = ColumnType::MYSQL_TYPE_LONGLONG;
  params[1].type = ColumnType::MYSQL_TYPE_VAR_STRING;
  params[2].type = ColumnType::MYSQL_TYPE_NULL;
  params[2].is_null = true;
  params[3].type = ColumnType::MYSQL_TYPE_DATETIME;
  params[4].type = ColumnType::MYSQL_TYPE_TINY;
  params[4].type_flags = 0x80;
  params[5].type = ColumnType::MYSQL_TYPE_TIME;
  return params;  // values are set by the caller: BinaryParam only views them
}

TEST(MysqlComStmtExecute, RoundTripWithNewTypes) {
  COM_STMT_EXECUTE execute;
  execute.statement_id = 17;
  execute.flags = CURSOR_TYPE_READ_ONLY;
  execute.new_params_bound = true;
  const std::vector<std::string> values{bytes({1, 0, 0, 0, 0, 0, 0, 0}), bytes({0x05}) + "hello", "",
                                        bytes({0x07, 0xe8, 0x07, 0x02, 0x1d, 0x0c, 0x22, 0x38}), bytes({0xff}),
                                        bytes({0x00})};
  execute.params = sample_params();
  for (std::size_t i = 0; i < values.size(); ++i) execute.params[i].value = values[i];
  std::string out;
  encode_com_stmt_execute(out, execute, kCaps);
  // 0x17 | id | flags | iteration | null bitmap (param 2 -> 0x04) | bound | 6 types | values
  EXPECT_EQ(out.substr(0, 12), bytes({0x17, 17, 0, 0, 0, 0x01, 0x01, 0x00, 0x00, 0x00, 0x04, 0x01}));
  StmtExecuteContext ctx;
  ctx.param_count = 6;
  const Result<COM_STMT_EXECUTE> back = decode_com_stmt_execute(out, ctx, kCaps);
  ASSERT_TRUE(back.ok()) << to_string(back.error());
  EXPECT_EQ(back->statement_id, 17u);
  EXPECT_EQ(back->flags, CURSOR_TYPE_READ_ONLY);
  EXPECT_EQ(back->iteration_count, 1u);
  EXPECT_TRUE(back->new_params_bound);
  ASSERT_EQ(back->params.size(), 6u);
  for (std::size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(back->params[i].type, execute.params[i].type) << i;
    EXPECT_EQ(back->params[i].is_null, execute.params[i].is_null) << i;
    EXPECT_EQ(back->params[i].value, execute.params[i].value) << i;
  }
  EXPECT_TRUE(back->params[4].is_unsigned());
  // Re-encoding the decoded statement gives the same bytes.
  std::string again;
  encode_com_stmt_execute(again, *back, kCaps);
  EXPECT_EQ(again, out);
}

TEST(MysqlComStmtExecute, PreviousTypesAndLongData) {
  // Re-execution without types: 2 params, the first got COM_STMT_SEND_LONG_DATA (no value here).
  const std::string payload = bytes({0x17, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                     0x00,  // null bitmap
                                     0x00,  // new_params_bound = 0
                                     0x2a, 0x00, 0x00, 0x00});  // LONG 42
  std::vector<BinaryParam> previous(2);
  previous[0].type = ColumnType::MYSQL_TYPE_BLOB;
  previous[1].type = ColumnType::MYSQL_TYPE_LONG;
  const std::vector<bool> long_data{true, false};
  StmtExecuteContext ctx;
  ctx.param_count = 2;
  ctx.previous_types = previous;
  ctx.long_data = &long_data;
  const Result<COM_STMT_EXECUTE> e = decode_com_stmt_execute(payload, ctx, kCaps);
  ASSERT_TRUE(e.ok()) << to_string(e.error());
  EXPECT_FALSE(e->new_params_bound);
  EXPECT_TRUE(e->params[0].long_data);
  EXPECT_EQ(e->params[1].type, ColumnType::MYSQL_TYPE_LONG);
  EXPECT_EQ(e->params[1].value, bytes({0x2a, 0, 0, 0}));
  // Without the previous types the values cannot be delimited.
  StmtExecuteContext blind;
  blind.param_count = 2;
  EXPECT_EQ(decode_com_stmt_execute(payload, blind, kCaps).error(), Errc::BadValue);
  // Rebinding for another backend connection: encode with the types.
  COM_STMT_EXECUTE rebound = *e;
  rebound.new_params_bound = true;
  std::string out;
  encode_com_stmt_execute(out, rebound, kCaps);
  StmtExecuteContext with_long;
  with_long.param_count = 2;
  with_long.long_data = &long_data;
  const Result<COM_STMT_EXECUTE> back = decode_com_stmt_execute(out, with_long, kCaps);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->params[0].type, ColumnType::MYSQL_TYPE_BLOB);
  EXPECT_EQ(back->params[1].value, bytes({0x2a, 0, 0, 0}));
}

TEST(MysqlComStmtExecute, NoParamsAndQueryAttributeCount) {
  const std::string no_params = bytes({0x17, 0x01, 0, 0, 0, 0x00, 0x01, 0, 0, 0});
  const Result<COM_STMT_EXECUTE> e = decode_com_stmt_execute(no_params, StmtExecuteContext{}, kCaps);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->params.empty());
  // CLIENT_QUERY_ATTRIBUTES + PARAMETER_COUNT_AVAILABLE: a named attribute on a statement without '?'.
  const CapabilityFlags caps = kCaps | CLIENT_QUERY_ATTRIBUTES;
  COM_STMT_EXECUTE execute;
  execute.statement_id = 1;
  execute.flags = PARAMETER_COUNT_AVAILABLE;
  execute.new_params_bound = true;
  execute.params.resize(1);
  execute.params[0].type = ColumnType::MYSQL_TYPE_TINY;
  execute.params[0].name = "attr";
  const std::string value = bytes({0x07});
  execute.params[0].value = value;
  std::string out;
  encode_com_stmt_execute(out, execute, caps);
  const Result<COM_STMT_EXECUTE> back = decode_com_stmt_execute(out, StmtExecuteContext{}, caps);
  ASSERT_TRUE(back.ok()) << to_string(back.error());
  ASSERT_EQ(back->params.size(), 1u);
  EXPECT_EQ(back->params[0].name, "attr");
  EXPECT_EQ(back->params[0].value, value);
}

// Fuzzer find (corpus_handshake/crash-stmt-execute-zero-parameter-count): with query attributes a
// client may send parameter_count 0 for a statement with parameters; re-encoding must keep it.
TEST(MysqlComStmtExecute, ZeroParameterCountSurvivesReencoding) {
  const CapabilityFlags caps = kCaps | CLIENT_QUERY_ATTRIBUTES;
  const std::string payload = bytes({0x17, 5, 0, 0, 0, 0x00, 1, 0, 0, 0, 0x00});
  StmtExecuteContext ctx;
  ctx.param_count = 10;
  const Result<COM_STMT_EXECUTE> e = decode_com_stmt_execute(payload, ctx, caps);
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->parameter_count_present);
  EXPECT_TRUE(e->params.empty());
  std::string out;
  encode_com_stmt_execute(out, *e, caps);
  EXPECT_EQ(out, payload);
}

TEST(MysqlComStmtExecute, NegativeCases) {
  StmtExecuteContext ctx;
  ctx.param_count = 1;
  // Truncated header, missing bitmap, string value past the payload, bad temporal length.
  EXPECT_EQ(decode_com_stmt_execute(bytes({0x17, 1, 0}), ctx, kCaps).error(), Errc::Truncated);
  EXPECT_EQ(decode_com_stmt_execute(bytes({0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0}), ctx, kCaps).error(), Errc::Truncated);
  EXPECT_EQ(decode_com_stmt_execute(bytes({0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0x00, 0x01, 0xfd, 0x00, 0x09, 'a'}),
                                    ctx, kCaps)
                .error(),
            Errc::LengthPastPayload);
  EXPECT_EQ(decode_com_stmt_execute(bytes({0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0x00, 0x01, 0x0c, 0x00, 0x0d}), ctx,
                                    kCaps)
                .error(),
            Errc::BadValue);
  EXPECT_EQ(decode_com_stmt_execute(bytes({0x17, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0x00, 0x01, 0x63, 0x00, 0x00}), ctx,
                                    kCaps)
                .error(),
            Errc::BadValue);  // unknown type 99
  EXPECT_EQ(decode_com_stmt_execute(bytes({0x03}), ctx, kCaps).error(), Errc::UnexpectedPacket);
}

TEST(MysqlBinaryValue, Lengths) {
  EXPECT_EQ(binary_value_length(ColumnType::MYSQL_TYPE_SHORT, bytes({1, 2, 3})).value(), 2u);
  EXPECT_EQ(binary_value_length(ColumnType::MYSQL_TYPE_FLOAT, bytes({1, 2, 3, 4})).value(), 4u);
  EXPECT_EQ(binary_value_length(ColumnType::MYSQL_TYPE_DOUBLE, bytes({1, 2, 3})).error(), Errc::Truncated);
  EXPECT_EQ(binary_value_length(ColumnType::MYSQL_TYPE_DATE, bytes({4, 0xe8, 0x07, 1, 1})).value(), 5u);
  EXPECT_EQ(binary_value_length(ColumnType::MYSQL_TYPE_TIME, bytes({12, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})).value(),
            13u);
  EXPECT_EQ(binary_value_length(ColumnType::MYSQL_TYPE_DATE, bytes({4, 0xe8})).error(), Errc::LengthPastPayload);
  EXPECT_EQ(binary_value_length(ColumnType::MYSQL_TYPE_NEWDECIMAL, bytes({0x04}) + "1.50").value(), 5u);
  EXPECT_EQ(binary_value_length(ColumnType::MYSQL_TYPE_NULL, "").value(), 0u);
}

TEST(MysqlStatementId, RewriteInPlace) {
  std::string payload;
  encode_com_stmt_fetch(payload, 1, 50);
  std::string wire = framed(payload);
  EXPECT_EQ(rewrite_statement_id(std::span<char>(wire.data(), wire.size()), 0xa1b2c3d4), Errc::Ok);
  EXPECT_EQ(statement_id_of(std::string_view(wire).substr(4)).value(), 0xa1b2c3d4u);
  EXPECT_EQ(decode_com_stmt_fetch(std::string_view(wire).substr(4))->num_rows, 50u);

  std::string query = framed(bytes({0x03}) + "SELECT 1");
  EXPECT_EQ(rewrite_statement_id(std::span<char>(query.data(), query.size()), 1), Errc::NotAStatementCommand);
  EXPECT_EQ(statement_id_of(bytes({0x03, 1, 2, 3, 4})).error(), Errc::NotAStatementCommand);
  std::string short_wire = bytes({0x03, 0, 0, 0, 0x19, 1, 2});
  EXPECT_EQ(rewrite_statement_id(std::span<char>(short_wire.data(), short_wire.size()), 1), Errc::Truncated);
  EXPECT_EQ(statement_id_of(bytes({0x19, 1})).error(), Errc::Truncated);
}

TEST(MysqlPrepareOk, RoundTripAndSpecBytes) {
  // COM_STMT_PREPARE_OK: 00 | id 1 | 1 column | 2 params | 00 | 0 warnings
  const std::string spec = bytes({0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00});
  const Result<COM_STMT_PREPARE_OK> ok = decode_com_stmt_prepare_ok(spec, kCaps);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->statement_id, 1u);
  EXPECT_EQ(ok->num_columns, 1);
  EXPECT_EQ(ok->num_params, 2);
  std::string out;
  encode_com_stmt_prepare_ok(out, *ok, kCaps);
  EXPECT_EQ(out, spec);
  EXPECT_EQ(decode_com_stmt_prepare_ok(spec.substr(0, 6), kCaps).error(), Errc::Truncated);
  EXPECT_EQ(decode_com_stmt_prepare_ok(bytes({0xfe}), kCaps).error(), Errc::UnexpectedPacket);
}

TEST(MysqlCommands, ToString) {
  EXPECT_EQ(to_string(Command::COM_QUERY), "COM_QUERY");
  EXPECT_EQ(to_string(Command::COM_STMT_EXECUTE), "COM_STMT_EXECUTE");
  EXPECT_EQ(to_string(static_cast<Command>(0x77)), "COM_<0x77>");
  EXPECT_EQ(to_string(ColumnType::MYSQL_TYPE_JSON), "MYSQL_TYPE_JSON");
  EXPECT_EQ(to_string(SessionTrackType::SESSION_TRACK_GTIDS), "SESSION_TRACK_GTIDS");
  EXPECT_EQ(capabilities_to_string(CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF | MARIADB_CLIENT_PROGRESS),
            "CLIENT_PROTOCOL_41|CLIENT_DEPRECATE_EOF|MARIADB_CLIENT_PROGRESS");
  EXPECT_EQ(capabilities_to_string(0), "0");
  EXPECT_EQ(status_flags_to_string(SERVER_STATUS_IN_TRANS | SERVER_STATUS_AUTOCOMMIT),
            "SERVER_STATUS_IN_TRANS|SERVER_STATUS_AUTOCOMMIT");
  EXPECT_EQ(to_string(Errc::BadSequence), "BadSequence");
  EXPECT_FALSE(expects_response(Command::COM_STMT_CLOSE));
  EXPECT_TRUE(expects_response(Command::COM_PING));
}

}  // namespace
}  // namespace corral::mysql
