#include "protocols/mysql/response.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace corral::mysql {
namespace {

using test::bytes;
using test::Fed;
using test::Stream;
using P = ResponsePhase;

constexpr CapabilityFlags kLegacy = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS | CLIENT_SECURE_CONNECTION |
                                    CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS | CLIENT_SESSION_TRACK;
constexpr CapabilityFlags kDeprecateEof = kLegacy | CLIENT_DEPRECATE_EOF;

std::string describe(const std::vector<P>& phases) {
  std::string out;
  for (const P p : phases) out.append(to_string(p)).append(" ");
  return out;
}

std::string describe(const std::vector<test::Seen>& events) {
  std::string out;
  for (const test::Seen& e : events) {
    out.append(to_string(e.phase)).append(e.complete ? "!" : "").append(e.awaiting_client ? "?" : "");
    out.append("/").append(std::to_string(e.status_flags)).append(" ");
  }
  return out;
}

// The relay's view of `wire`: scan_run() at every split point and in chunks of 1, 2, 3, 7, 64 and
// 4096 bytes must relay every byte exactly once, report the events `reference` (every packet, from
// scan()) has that a relay must see, and leave the scanner as scan() leaves it.
// The reference is scan() on the whole wire at once (its leftover: the bytes from a bad packet on).
void expect_runs_everywhere(Command command, CapabilityFlags caps, const std::string& wire, const Limits& limits = {},
                            std::uint8_t first_sequence_id = 1) {
  ResponseScanner reference_scanner(command, caps, limits, first_sequence_id);
  const Fed reference = test::feed_chunks(reference_scanner, wire, wire.size());
  const std::string expected = describe(test::events_for_relay(reference));
  const auto check = [&](ResponseScanner& scanner, const test::Ran& ran, const std::string& how) {
    EXPECT_EQ(ran.error, reference.error) << how;
    EXPECT_TRUE(ran.bookkeeping_ok) << how;
    EXPECT_EQ(describe(ran.events), expected) << how;
    // Every good packet is relayed once, in order; a bad one and what follows never are.
    EXPECT_EQ(ran.relayed.size(), wire.size() - reference.leftover) << how;
    EXPECT_TRUE(ran.relayed == wire.substr(0, ran.relayed.size())) << how;
    EXPECT_EQ(scanner.complete(), reference_scanner.complete()) << how;
    EXPECT_EQ(scanner.summary().rows, reference_scanner.summary().rows) << how;
    EXPECT_EQ(scanner.summary().result_sets, reference_scanner.summary().result_sets) << how;
    EXPECT_EQ(scanner.summary().status_flags, reference_scanner.summary().status_flags) << how;
    EXPECT_EQ(scanner.next_sequence_id(), reference_scanner.next_sequence_id()) << how;
  };
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    ResponseScanner scanner(command, caps, limits, first_sequence_id);
    check(scanner, test::feed_runs(scanner, wire, split, wire.size()), "runs, split " + std::to_string(split));
  }
  for (const std::size_t chunk : {1, 2, 3, 7, 64, 4096}) {
    ResponseScanner scanner(command, caps, limits, first_sequence_id);
    check(scanner, test::feed_runs(scanner, wire, 0, chunk), "runs, chunk " + std::to_string(chunk));
  }
}

// Runs `wire` through a fresh scanner whole, split at every byte boundary and in chunks of
// 1, 2, 3, 7, 64 and 4096 bytes; every run must see exactly `expected` and end complete. The same
// for the relay's scan_run() (expect_runs_everywhere).
Fed expect_everywhere(Command command, CapabilityFlags caps, const std::string& wire, const std::vector<P>& expected,
                      bool complete = true) {
  Fed last;
  const auto check = [&](const Fed& fed, const std::string& how) {
    EXPECT_EQ(fed.error, Errc::Ok) << how << ": " << to_string(fed.error);
    EXPECT_EQ(describe(test::phases(fed)), describe(expected)) << how;
    EXPECT_EQ(fed.leftover, 0u) << how;
    if (!fed.events.empty()) {
      EXPECT_EQ(fed.events.back().complete, complete) << how;
    }
    for (std::size_t i = 0; i + 1 < fed.events.size(); ++i) EXPECT_FALSE(fed.events[i].complete) << how << " #" << i;
  };
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    ResponseScanner scanner(command, caps);
    check(test::feed_split(scanner, wire, split), "split " + std::to_string(split));
    EXPECT_EQ(scanner.complete(), complete);
  }
  for (const std::size_t chunk : {1, 2, 3, 7, 64, 4096}) {
    ResponseScanner scanner(command, caps);
    last = test::feed_chunks(scanner, wire, chunk);
    check(last, "chunk " + std::to_string(chunk));
  }
  expect_runs_everywhere(command, caps, wire);
  return last;
}

// The relay passes rows and definitions on unread unless one ends the response or hands over to the
// client; expect_runs_everywhere() takes the list from run_reports(), so it is pinned down here.
TEST(MysqlRunReports, PassesRowsAndDefinitionsUnreadUnlessTheyEndOrHandOver) {
  for (const P phase : {P::ColumnCount, P::ColumnDefinition, P::ColumnsEof, P::Row, P::Continuation, P::Progress,
                        P::ParamDefinition, P::ParamsEof}) {
    EXPECT_FALSE(run_reports(phase, false, false)) << to_string(phase);
    EXPECT_TRUE(run_reports(phase, true, false)) << to_string(phase);
    EXPECT_TRUE(run_reports(phase, false, true)) << to_string(phase);
  }
  for (const P phase : {P::Ok, P::Err, P::ResultSetEnd, P::LocalInfileRequest, P::PrepareOk, P::Statistics,
                        P::AuthSwitchRequest, P::AuthMoreData}) {
    EXPECT_TRUE(run_reports(phase, false, false)) << to_string(phase);
  }
}

TEST(MysqlResponseScanner, OkOnly) {
  const Stream s = Stream(kLegacy).ok(SERVER_STATUS_AUTOCOMMIT, 3, 77);
  expect_everywhere(Command::COM_QUERY, kLegacy, s.wire(), {P::Ok});
  ResponseScanner scanner(Command::COM_QUERY, kLegacy);
  test::feed_chunks(scanner, s.wire(), 1);
  EXPECT_EQ(scanner.summary().affected_rows, 3u);
  EXPECT_EQ(scanner.summary().last_insert_id, 77u);
  EXPECT_EQ(scanner.summary().status_flags, SERVER_STATUS_AUTOCOMMIT);
  EXPECT_FALSE(scanner.summary().in_transaction());
  EXPECT_EQ(scanner.next_sequence_id(), 2);
}

TEST(MysqlResponseScanner, Err) {
  const Stream s = Stream(kLegacy).err(1146, "42S02", "Table 'test.nope' doesn't exist");
  expect_everywhere(Command::COM_QUERY, kLegacy, s.wire(), {P::Err});
  ResponseScanner scanner(Command::COM_QUERY, kLegacy);
  test::feed_chunks(scanner, s.wire(), 5);
  EXPECT_TRUE(scanner.summary().failed);
  EXPECT_EQ(scanner.summary().error_code, 1146);
  EXPECT_EQ(scanner.summary().sql_state, "42S02");
  EXPECT_EQ(scanner.summary().error_message, "Table 'test.nope' doesn't exist");
}

TEST(MysqlResponseScanner, TextResultSetWithEof) {
  const Stream s = Stream(kLegacy).result_set(2, 3, SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS);
  expect_everywhere(Command::COM_QUERY, kLegacy, s.wire(),
                    {P::ColumnCount, P::ColumnDefinition, P::ColumnDefinition, P::ColumnsEof, P::Row, P::Row, P::Row,
                     P::ResultSetEnd});
  ResponseScanner scanner(Command::COM_QUERY, kLegacy);
  test::feed_chunks(scanner, s.wire(), 4096);
  EXPECT_EQ(scanner.summary().rows, 3u);
  EXPECT_TRUE(scanner.summary().in_transaction());
  EXPECT_EQ(scanner.summary().result_sets, 1u);
}

TEST(MysqlResponseScanner, TextResultSetWithDeprecateEof) {
  const Stream s = Stream(kDeprecateEof).result_set(2, 3);
  expect_everywhere(Command::COM_QUERY, kDeprecateEof, s.wire(),
                    {P::ColumnCount, P::ColumnDefinition, P::ColumnDefinition, P::Row, P::Row, P::Row,
                     P::ResultSetEnd});
}

TEST(MysqlResponseScanner, EmptyResultSet) {
  for (const CapabilityFlags caps : {kLegacy, kDeprecateEof}) {
    const Stream s = Stream(caps).result_set(1, 0);
    std::vector<P> expected{P::ColumnCount, P::ColumnDefinition};
    if (!(caps & CLIENT_DEPRECATE_EOF)) expected.push_back(P::ColumnsEof);
    expected.push_back(P::ResultSetEnd);
    expect_everywhere(Command::COM_QUERY, caps, s.wire(), expected);
  }
}

TEST(MysqlResponseScanner, MultiResultSets) {
  // CALL p(): OK (more) + result set (more) + result set (more) + final OK in a transaction.
  for (const CapabilityFlags caps : {kLegacy, kDeprecateEof}) {
    Stream s(caps);
    const StatusFlags more = SERVER_STATUS_AUTOCOMMIT | SERVER_MORE_RESULTS_EXISTS;
    s.ok(more, 1).result_set(1, 1, more).result_set(2, 0, more).ok(SERVER_STATUS_IN_TRANS, 0, 9);
    std::vector<P> expected{P::Ok, P::ColumnCount, P::ColumnDefinition};
    if (!(caps & CLIENT_DEPRECATE_EOF)) expected.push_back(P::ColumnsEof);
    expected.insert(expected.end(), {P::Row, P::ResultSetEnd, P::ColumnCount, P::ColumnDefinition, P::ColumnDefinition});
    if (!(caps & CLIENT_DEPRECATE_EOF)) expected.push_back(P::ColumnsEof);
    expected.insert(expected.end(), {P::ResultSetEnd, P::Ok});
    expect_everywhere(Command::COM_QUERY, caps, s.wire(), expected);
    ResponseScanner scanner(Command::COM_QUERY, caps);
    test::feed_chunks(scanner, s.wire(), 3);
    EXPECT_EQ(scanner.summary().result_sets, 4u);
    EXPECT_EQ(scanner.summary().status_flags, SERVER_STATUS_IN_TRANS);
    EXPECT_TRUE(scanner.summary().in_transaction());
    EXPECT_EQ(scanner.summary().last_insert_id, 9u);
    EXPECT_EQ(scanner.summary().rows, 1u);
  }
}

TEST(MysqlResponseScanner, ErrInTheMiddleEndsEverything) {
  Stream s(kLegacy);
  s.ok(SERVER_MORE_RESULTS_EXISTS).column_count(1).column("a").eof().row({std::string_view("x")});
  s.err(1317, "70100", "Query execution was interrupted");
  expect_everywhere(Command::COM_QUERY, kLegacy, s.wire(),
                    {P::Ok, P::ColumnCount, P::ColumnDefinition, P::ColumnsEof, P::Row, P::Err});
}

TEST(MysqlResponseScanner, BinaryResultSet) {
  // Binary rows start with 0x00: in the rows phase that is a row, not an OK_Packet.
  for (const CapabilityFlags caps : {kLegacy, kDeprecateEof}) {
    Stream s(caps);
    s.column_count(2).column("id", ColumnType::MYSQL_TYPE_LONGLONG).column("n", ColumnType::MYSQL_TYPE_VAR_STRING);
    s.defs_eof();
    s.binary_row(bytes({0x00, 1, 0, 0, 0, 0, 0, 0, 0, 0x01, 'a'}));
    s.binary_row(bytes({0x08, 0, 0, 0, 0, 0, 0, 0, 0}));  // n is NULL (bit 3 with offset 2)
    s.end(SERVER_STATUS_AUTOCOMMIT);
    std::vector<P> expected{P::ColumnCount, P::ColumnDefinition, P::ColumnDefinition};
    if (!(caps & CLIENT_DEPRECATE_EOF)) expected.push_back(P::ColumnsEof);
    expected.insert(expected.end(), {P::Row, P::Row, P::ResultSetEnd});
    expect_everywhere(Command::COM_STMT_EXECUTE, caps, s.wire(), expected);
  }
  // And an execute that only returns OK.
  expect_everywhere(Command::COM_STMT_EXECUTE, kDeprecateEof, Stream(kDeprecateEof).ok(SERVER_STATUS_AUTOCOMMIT, 1).wire(),
                    {P::Ok});
}

TEST(MysqlResponseScanner, CursorOpenAndFetch) {
  const StatusFlags cursor = SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_CURSOR_EXISTS;
  {
    // Without DEPRECATE_EOF the EOF after the columns carries CURSOR_EXISTS and ends the response.
    Stream s(kLegacy);
    s.column_count(1).column("id", ColumnType::MYSQL_TYPE_LONG).eof(cursor);
    expect_everywhere(Command::COM_STMT_EXECUTE, kLegacy, s.wire(),
                      {P::ColumnCount, P::ColumnDefinition, P::ColumnsEof});
    ResponseScanner scanner(Command::COM_STMT_EXECUTE, kLegacy);
    test::feed_chunks(scanner, s.wire(), 1);
    EXPECT_TRUE(scanner.summary().cursor_exists());
  }
  {
    // With DEPRECATE_EOF a 0xFE OK_Packet with CURSOR_EXISTS follows the definitions.
    Stream s(kDeprecateEof);
    s.column_count(1).column("id", ColumnType::MYSQL_TYPE_LONG).end(cursor);
    expect_everywhere(Command::COM_STMT_EXECUTE, kDeprecateEof, s.wire(),
                      {P::ColumnCount, P::ColumnDefinition, P::ResultSetEnd});
  }
  for (const CapabilityFlags caps : {kLegacy, kDeprecateEof}) {
    Stream fetch(caps);
    fetch.binary_row(bytes({0x00, 1, 0, 0, 0})).binary_row(bytes({0x00, 2, 0, 0, 0}));
    fetch.end(cursor | SERVER_STATUS_LAST_ROW_SENT);
    expect_everywhere(Command::COM_STMT_FETCH, caps, fetch.wire(), {P::Row, P::Row, P::ResultSetEnd});
    ResponseScanner scanner(Command::COM_STMT_FETCH, caps);
    test::feed_chunks(scanner, fetch.wire(), 2);
    EXPECT_TRUE(scanner.summary().status_flags & SERVER_STATUS_LAST_ROW_SENT);
  }
  // A text query whose status leaks CURSOR_EXISTS (stored procedure cursor) still has rows.
  Stream q(kLegacy);
  q.column_count(1).column("a").eof(cursor).row({std::string_view("1")}).eof(SERVER_STATUS_AUTOCOMMIT);
  expect_everywhere(Command::COM_QUERY, kLegacy, q.wire(),
                    {P::ColumnCount, P::ColumnDefinition, P::ColumnsEof, P::Row, P::ResultSetEnd});
}

// An execute that asked for no cursor but runs a compound statement with a cursor of its own
// (BEGIN NOT ATOMIC ... OPEN cur1 ...): the flag leaks into the columns' EOF and the rows still follow.
TEST(MysqlResponseScanner, CursorExistsWithoutACursorRequestedStillHasRows) {
  const StatusFlags leaked = SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_CURSOR_EXISTS | SERVER_MORE_RESULTS_EXISTS;
  Stream s(kLegacy);
  s.column_count(1).column("id", ColumnType::MYSQL_TYPE_LONG).eof(leaked);
  s.binary_row(bytes({0x00, 0x00, 1, 0, 0, 0})).eof(leaked);
  s.ok(SERVER_STATUS_AUTOCOMMIT, 0);
  const std::vector<P> expected{P::ColumnCount, P::ColumnDefinition, P::ColumnsEof, P::Row, P::ResultSetEnd, P::Ok};
  const std::string wire = s.wire();
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    ResponseScanner scanner(Command::COM_STMT_EXECUTE, kLegacy);
    scanner.reset(Command::COM_STMT_EXECUTE, 1, false);
    const Fed fed = test::feed_split(scanner, wire, split);
    EXPECT_EQ(fed.error, Errc::Ok) << split;
    EXPECT_EQ(describe(test::phases(fed)), describe(expected)) << split;
    EXPECT_TRUE(scanner.complete()) << split;
  }
  for (const std::size_t chunk : {1, 2, 3, 7, 64, 4096}) {
    ResponseScanner scanner(Command::COM_STMT_EXECUTE, kLegacy);
    scanner.reset(Command::COM_STMT_EXECUTE, 1, false);
    const Fed fed = test::feed_chunks(scanner, wire, chunk);
    EXPECT_EQ(describe(test::phases(fed)), describe(expected)) << chunk;
    EXPECT_TRUE(scanner.complete()) << chunk;
  }
  // Asked for, the same EOF ends the response (CursorOpenAndFetch).
  ResponseScanner scanner(Command::COM_STMT_EXECUTE, kLegacy);
  scanner.reset(Command::COM_STMT_EXECUTE, 1, true);
  Stream opened(kLegacy);
  opened.column_count(1).column("id", ColumnType::MYSQL_TYPE_LONG).eof(leaked);
  test::feed_chunks(scanner, opened.wire(), 1);
  EXPECT_TRUE(scanner.complete());
}

Stream prepare_response(CapabilityFlags caps, std::uint16_t params, std::uint16_t columns) {
  Stream s(caps);
  COM_STMT_PREPARE_OK ok;
  ok.statement_id = 7;
  ok.num_params = params;
  ok.num_columns = columns;
  std::string payload;
  encode_com_stmt_prepare_ok(payload, ok, caps);
  s.packet(payload);
  for (int i = 0; i < params; ++i) s.column("?");
  if (params > 0) s.defs_eof();
  for (int i = 0; i < columns; ++i) s.column("c" + std::to_string(i));
  if (columns > 0) s.defs_eof();
  return s;
}

// The parse may warn (YEAR(2) is deprecated): the summary says so, as for any statement, so the
// session keeps the connection for SHOW WARNINGS.
TEST(MysqlResponseScanner, PrepareOkWarningsAreInTheSummary) {
  COM_STMT_PREPARE_OK ok;
  ok.statement_id = 7;
  ok.warning_count = 1;
  std::string payload;
  encode_com_stmt_prepare_ok(payload, ok, kLegacy);
  Stream s(kLegacy);
  s.packet(payload);
  ResponseScanner scanner(Command::COM_STMT_PREPARE, kLegacy);
  test::feed_chunks(scanner, s.wire(), 1);
  EXPECT_TRUE(scanner.complete());
  EXPECT_EQ(scanner.summary().warnings, 1u);
}

TEST(MysqlResponseScanner, PrepareOkWithParamsAndColumns) {
  expect_everywhere(Command::COM_STMT_PREPARE, kLegacy, prepare_response(kLegacy, 2, 1).wire(),
                    {P::PrepareOk, P::ParamDefinition, P::ParamDefinition, P::ParamsEof, P::ColumnDefinition,
                     P::ColumnsEof});
  expect_everywhere(Command::COM_STMT_PREPARE, kDeprecateEof, prepare_response(kDeprecateEof, 2, 1).wire(),
                    {P::PrepareOk, P::ParamDefinition, P::ParamDefinition, P::ColumnDefinition});
  expect_everywhere(Command::COM_STMT_PREPARE, kLegacy, prepare_response(kLegacy, 0, 2).wire(),
                    {P::PrepareOk, P::ColumnDefinition, P::ColumnDefinition, P::ColumnsEof});
  expect_everywhere(Command::COM_STMT_PREPARE, kLegacy, prepare_response(kLegacy, 1, 0).wire(),
                    {P::PrepareOk, P::ParamDefinition, P::ParamsEof});
  expect_everywhere(Command::COM_STMT_PREPARE, kDeprecateEof, prepare_response(kDeprecateEof, 0, 0).wire(),
                    {P::PrepareOk});
  expect_everywhere(Command::COM_STMT_PREPARE, kLegacy,
                    Stream(kLegacy).err(1064, "42000", "You have an error in your SQL syntax").wire(), {P::Err});
  ResponseScanner scanner(Command::COM_STMT_PREPARE, kDeprecateEof);
  test::feed_chunks(scanner, prepare_response(kDeprecateEof, 2, 1).wire(), 7);
  EXPECT_EQ(scanner.summary().prepare_ok.statement_id, 7u);
  EXPECT_EQ(scanner.summary().prepare_ok.num_params, 2);
  EXPECT_EQ(scanner.summary().prepare_ok.num_columns, 1);
  EXPECT_FALSE(scanner.summary().has_status);  // nothing in this response carries status flags
}

TEST(MysqlResponseScanner, LocalInfileRequest) {
  Stream request(kLegacy);
  request.packet(bytes({0xfb}) + "/tmp/data.csv");
  ResponseScanner scanner(Command::COM_QUERY, kLegacy);
  Fed fed = test::feed_chunks(scanner, request.wire(), 1);
  ASSERT_EQ(fed.events.size(), 1u);
  EXPECT_EQ(fed.events[0].phase, P::LocalInfileRequest);
  EXPECT_TRUE(fed.events[0].awaiting_client);
  EXPECT_FALSE(fed.events[0].complete);
  EXPECT_TRUE(scanner.awaiting_client());
  // A server packet now is a protocol violation: the client has to send the file first.
  {
    ResponseScanner strict(Command::COM_QUERY, kLegacy);
    Fed both = test::feed_chunks(strict, request.wire() + Stream(kLegacy, 2).ok().wire(), 4096);
    EXPECT_EQ(both.error, Errc::UnexpectedPacket);
  }
  // The client sent 2 data packets (seq 2, 3) and the empty packet (seq 4): the OK has seq 5.
  scanner.resume(5);
  fed = test::feed_chunks(scanner, Stream(kLegacy, 5).ok(SERVER_STATUS_AUTOCOMMIT, 100).wire(), 1);
  ASSERT_EQ(fed.events.size(), 1u);
  EXPECT_EQ(fed.events[0].phase, P::Ok);
  EXPECT_TRUE(fed.events[0].complete);
  EXPECT_EQ(scanner.summary().affected_rows, 100u);
  // MariaDB asks for the file in answer to an execute of a prepared LOAD DATA LOCAL INFILE too (mtr
  // main.loaddata --ps-protocol); a prepare's response may not.
  ResponseScanner execute(Command::COM_STMT_EXECUTE, kLegacy);
  fed = test::feed_chunks(execute, request.wire(), 1);
  ASSERT_EQ(fed.events.size(), 1u);
  EXPECT_EQ(fed.events[0].phase, P::LocalInfileRequest);
  EXPECT_TRUE(execute.awaiting_client());
  ResponseScanner prepare(Command::COM_STMT_PREPARE, kLegacy);
  EXPECT_EQ(test::feed_chunks(prepare, request.wire(), 64).error, Errc::UnexpectedPacket);
}

TEST(MysqlResponseScanner, FieldList) {
  for (const CapabilityFlags caps : {kLegacy, kDeprecateEof}) {
    Stream s(caps);
    ColumnDefinition41 c = make_text_column("id");
    c.default_values = "0";
    std::string payload;
    encode_column_definition(payload, c, caps, true);
    s.packet(payload).packet(payload).end();
    expect_everywhere(Command::COM_FIELD_LIST, caps, s.wire(), {P::ColumnDefinition, P::ColumnDefinition, P::ResultSetEnd});
  }
  expect_everywhere(Command::COM_FIELD_LIST, kLegacy, Stream(kLegacy).err(1146, "42S02", "no table").wire(), {P::Err});
}

TEST(MysqlResponseScanner, Statistics) {
  const Stream s = Stream(kLegacy).packet("Uptime: 5  Threads: 1  Questions: 2  Slow queries: 0  Opens: 17");
  expect_everywhere(Command::COM_STATISTICS, kLegacy, s.wire(), {P::Statistics});
  ResponseScanner scanner(Command::COM_STATISTICS, kLegacy);
  const ResponseScanner::ScanResult r = scanner.scan(s.wire());
  ASSERT_EQ(r.status, FrameStatus::Packet);
  EXPECT_EQ(r.event->data.substr(0, 7), "Uptime:");
}

TEST(MysqlResponseScanner, SimpleCommands) {
  for (const Command c : {Command::COM_PING, Command::COM_INIT_DB, Command::COM_RESET_CONNECTION,
                          Command::COM_STMT_RESET}) {
    expect_everywhere(c, kLegacy, Stream(kLegacy).ok().wire(), {P::Ok});
    expect_everywhere(c, kLegacy, Stream(kLegacy).err(1049, "42000", "Unknown database 'x'").wire(), {P::Err});
  }
  // COM_SET_OPTION answers with EOF_Packet (a 0xFE OK under DEPRECATE_EOF).
  expect_everywhere(Command::COM_SET_OPTION, kLegacy, Stream(kLegacy).eof().wire(), {P::Ok});
  expect_everywhere(Command::COM_SET_OPTION, kDeprecateEof, Stream(kDeprecateEof).end().wire(), {P::Ok});
  // Commands without a response are complete before any packet.
  for (const Command c : {Command::COM_QUIT, Command::COM_STMT_CLOSE, Command::COM_STMT_SEND_LONG_DATA}) {
    ResponseScanner scanner(c, kLegacy);
    EXPECT_TRUE(scanner.complete());
    EXPECT_EQ(test::feed_chunks(scanner, Stream(kLegacy).ok().wire(), 64).error, Errc::ResponseComplete);
  }
}

TEST(MysqlResponseScanner, SessionStateOfEveryOkIsCollected) {
  SessionStateChanges schema;
  schema.schema = "shop";
  std::string first;
  encode_session_state(first, schema);
  SessionStateChanges vars;
  vars.system_variables = {{"autocommit", "OFF"}};
  vars.transaction_state = "T_______";
  std::string second;
  encode_session_state(second, vars);
  const StatusFlags changed = SERVER_SESSION_STATE_CHANGED;
  Stream s(kDeprecateEof);
  s.ok(changed | SERVER_MORE_RESULTS_EXISTS, 0, 0, first).ok(changed | SERVER_STATUS_IN_TRANS, 0, 0, second);
  expect_everywhere(Command::COM_QUERY, kDeprecateEof, s.wire(), {P::Ok, P::Ok});
  ResponseScanner scanner(Command::COM_QUERY, kDeprecateEof);
  test::feed_chunks(scanner, s.wire(), 1);
  const Result<SessionStateChanges> all = decode_session_state(scanner.summary().session_state_info);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->schema, "shop");
  ASSERT_EQ(all->system_variables.size(), 1u);
  EXPECT_EQ(all->transaction_state, "T_______");
  EXPECT_TRUE(scanner.summary().in_transaction());
}

TEST(MysqlResponseScanner, MariaDbProgressReports) {
  const CapabilityFlags caps = kLegacy | MARIADB_CLIENT_PROGRESS;
  Stream s(caps);
  s.packet(bytes({0xff, 0xff, 0xff, 0x01, 0x01, 0x02, 0x10, 0x27, 0x00, 0x05}) + "alter");
  s.ok(SERVER_STATUS_AUTOCOMMIT);
  expect_everywhere(Command::COM_QUERY, caps, s.wire(), {P::Progress, P::Ok});
  // Without the capability the same packet is an ordinary ERR that ends the response.
  ResponseScanner plain(Command::COM_QUERY, kLegacy);
  const Fed fed = test::feed_chunks(plain, s.wire(), 4096);
  EXPECT_EQ(fed.error, Errc::ResponseComplete);
  EXPECT_TRUE(plain.summary().failed);
}

TEST(MysqlResponseScanner, ChangeUserAuthExchange) {
  ResponseScanner scanner(Command::COM_CHANGE_USER, kDeprecateEof);
  AuthSwitchRequest req{"caching_sha2_password", "abcdefghijklmnopqrst" + std::string(1, '\0')};
  std::string payload;
  encode_auth_switch_request(payload, req);
  Fed fed = test::feed_chunks(scanner, Stream(kDeprecateEof).packet(payload).wire(), 1);
  ASSERT_EQ(fed.events.size(), 1u);
  EXPECT_EQ(fed.events[0].phase, P::AuthSwitchRequest);
  EXPECT_TRUE(fed.events[0].awaiting_client);
  scanner.resume(3);  // the client's AuthSwitchResponse had seq 2
  Stream rest(kDeprecateEof, 3);
  rest.packet(bytes({0x01, 0x03})).ok(SERVER_STATUS_AUTOCOMMIT);
  fed = test::feed_chunks(scanner, rest.wire(), 1);
  ASSERT_EQ(fed.events.size(), 2u);
  EXPECT_EQ(fed.events[0].phase, P::AuthMoreData);
  EXPECT_FALSE(fed.events[0].awaiting_client);  // fast auth success: the server goes on
  EXPECT_EQ(fed.events[1].phase, P::Ok);
  EXPECT_TRUE(scanner.complete());
}

TEST(MysqlResponseScanner, BadSequenceId) {
  Stream s(kLegacy, 2);  // the response should start at 1
  s.ok();
  ResponseScanner scanner(Command::COM_QUERY, kLegacy);
  EXPECT_EQ(test::feed_chunks(scanner, s.wire(), 1).error, Errc::BadSequence);
  EXPECT_EQ(scanner.error(), Errc::BadSequence);
  // Errors are sticky.
  EXPECT_EQ(scanner.scan(Stream(kLegacy).ok().wire()).error, Errc::BadSequence);
  // A gap in the middle of a result set.
  std::string wire = Stream(kLegacy).result_set(1, 2).wire();
  ResponseScanner mid(Command::COM_QUERY, kLegacy);
  std::string broken = wire;
  // Packets: count(seq1) def(2) eof(3) row(4) row(5) eof(6); bump the 4th packet's id.
  std::size_t at = 0;
  for (int i = 0; i < 3; ++i) at += kPacketHeaderSize + header_payload_length(std::string_view(broken).substr(at));
  broken[at + 3] = 9;
  EXPECT_EQ(test::feed_chunks(mid, broken, 4096).error, Errc::BadSequence);
}

// Under the compressed protocol a server's net_flush() takes its packet numbers up to the compressed
// packets' count in the middle of a response: with check_sequence_ids(false) any ids pass, through
// scan() and scan_run() alike, at every split point.
TEST(MysqlResponseScanner, UncheckedSequenceIdsTakeAnyNumbering) {
  std::string wire = Stream(kLegacy, 2).result_set(2, 3).wire();  // starts at 2, not 1
  // Packets: count def def eof row row row eof; a jump before the rows and before the last EOF.
  std::size_t at = 0;
  for (int i = 0; i < 8; ++i) {
    if (i == 4) wire[at + 3] = 40;
    if (i == 5 || i == 6) wire[at + 3] = static_cast<char>(40 + i - 4);
    if (i == 7) wire[at + 3] = 0;
    at += kPacketHeaderSize + header_payload_length(std::string_view(wire).substr(at));
  }
  ASSERT_EQ(at, wire.size());
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    ResponseScanner scanner(Command::COM_QUERY, kLegacy);
    scanner.check_sequence_ids(false);
    const test::Fed fed = test::feed_split(scanner, wire, split);
    ASSERT_EQ(fed.error, Errc::Ok) << split;
    EXPECT_TRUE(scanner.complete()) << split;
    EXPECT_EQ(scanner.summary().rows, 3u) << split;
    ResponseScanner runs(Command::COM_QUERY, kLegacy);
    runs.check_sequence_ids(false);
    const test::Ran ran = test::feed_runs(runs, wire, split, 7);
    ASSERT_EQ(ran.error, Errc::Ok) << split;
    EXPECT_EQ(ran.relayed, wire) << split;
    EXPECT_TRUE(runs.complete()) << split;
  }
  ResponseScanner checked(Command::COM_QUERY, kLegacy);
  EXPECT_EQ(test::feed_chunks(checked, wire, 4096).error, Errc::BadSequence);
}

TEST(MysqlResponseScanner, SequenceIdsWrapAround) {
  Stream s(kLegacy, 250);
  s.result_set(1, 10);
  ResponseScanner scanner(Command::COM_QUERY, kLegacy, Limits{}, 250);
  const Fed fed = test::feed_chunks(scanner, s.wire(), 64);
  EXPECT_EQ(fed.error, Errc::Ok);
  EXPECT_TRUE(scanner.complete());
}

TEST(MysqlResponseScanner, PacketAfterCompleteIsRefused) {
  Stream s(kLegacy);
  s.ok().ok();
  ResponseScanner scanner(Command::COM_QUERY, kLegacy);
  const Fed fed = test::feed_chunks(scanner, s.wire(), 4096);
  EXPECT_EQ(fed.events.size(), 1u);
  EXPECT_EQ(fed.error, Errc::ResponseComplete);
}

TEST(MysqlResponseScanner, UnexpectedAndOverLimitPackets) {
  const auto first_error = [](Command c, CapabilityFlags caps, const std::string& wire, const Limits& limits = {}) {
    ResponseScanner scanner(c, caps, limits);
    return test::feed_chunks(scanner, wire, 4096).error;
  };
  EXPECT_EQ(first_error(Command::COM_QUERY, kLegacy, Stream(kLegacy).eof().wire()), Errc::UnexpectedPacket);
  EXPECT_EQ(first_error(Command::COM_QUERY, kLegacy, Stream(kLegacy).packet(bytes({0x00, 0x01})).wire()),
            Errc::Truncated);
  EXPECT_EQ(first_error(Command::COM_QUERY, kLegacy, Stream(kLegacy).packet(bytes({0xfc, 0x01})).wire()),
            Errc::Truncated);
  EXPECT_EQ(first_error(Command::COM_QUERY, kLegacy, Stream(kLegacy).packet("").wire()), Errc::Truncated);
  Limits few;
  few.max_columns = 2;
  EXPECT_EQ(first_error(Command::COM_QUERY, kLegacy, Stream(kLegacy).column_count(3).wire(), few), Errc::LimitExceeded);
  EXPECT_EQ(first_error(Command::COM_STMT_PREPARE, kLegacy, prepare_response(kLegacy, 0, 3).wire(), few),
            Errc::LimitExceeded);
  // A row where the EOF after the definitions belongs is refused.
  EXPECT_EQ(first_error(Command::COM_QUERY, kLegacy,
                        Stream(kLegacy).column_count(1).column("a").row({std::string_view("x")}).wire()),
            Errc::UnexpectedPacket);
  EXPECT_EQ(first_error(Command::COM_PING, kLegacy, Stream(kLegacy).packet("x").wire()), Errc::UnexpectedPacket);
  EXPECT_EQ(first_error(Command::COM_CHANGE_USER, kLegacy, Stream(kLegacy).packet("x").wire()),
            Errc::UnexpectedPacket);
}

TEST(MysqlResponseScanner, OversizedPacketThroughScan) {
  Limits limits;
  limits.max_packet_size = 1000;
  Stream s(kLegacy);
  s.column_count(1).column("blob").eof().row({std::string_view(std::string(2000, 'b'))}).eof();
  ResponseScanner scanner(Command::COM_QUERY, kLegacy, limits);
  const Fed fed = test::feed_chunks(scanner, s.wire(), 64);
  EXPECT_EQ(fed.error, Errc::PacketTooLarge);
  EXPECT_EQ(test::phases(fed), (std::vector<P>{P::ColumnCount, P::ColumnDefinition, P::ColumnsEof}));
}

TEST(MysqlResponseScanner, RowsLargerThanSixteenMiB) {
  // A text row whose single value is 16 MiB + 1 starts with 0xFE (lenenc 8-byte prefix) and spans
  // two wire packets; with DEPRECATE_EOF it must still be a row, not the terminator.
  const std::string value(kMaxPayloadChunk + 1, 'v');
  for (const CapabilityFlags caps : {kLegacy, kDeprecateEof}) {
    Stream s(caps);
    s.column_count(1).column("v").defs_eof().row({std::string_view(value)}).row({std::string_view("small")}).end();
    std::vector<P> expected{P::ColumnCount, P::ColumnDefinition};
    if (!(caps & CLIENT_DEPRECATE_EOF)) expected.push_back(P::ColumnsEof);
    expected.insert(expected.end(), {P::Row, P::Continuation, P::Row, P::ResultSetEnd});
    for (const std::size_t chunk : {std::size_t{1} << 20, s.wire().size()}) {
      ResponseScanner scanner(Command::COM_QUERY, caps);
      const Fed fed = test::feed_chunks(scanner, s.wire(), chunk);
      EXPECT_EQ(fed.error, Errc::Ok);
      EXPECT_EQ(describe(test::phases(fed)), describe(expected));
      EXPECT_TRUE(scanner.complete());
      EXPECT_EQ(scanner.summary().rows, 2u);
    }
  }
}

TEST(MysqlResponseScanner, LastPacketSpanningWirePacketsCompletesWithItsLastChunk) {
  const Stream s = Stream(kLegacy).packet(std::string(kMaxPayloadChunk + 3, 's'));
  ResponseScanner scanner(Command::COM_STATISTICS, kLegacy);
  const Fed fed = test::feed_chunks(scanner, s.wire(), s.wire().size());
  EXPECT_EQ(fed.error, Errc::Ok);
  ASSERT_EQ(fed.events.size(), 2u);
  EXPECT_EQ(fed.events[0].phase, P::Statistics);
  EXPECT_FALSE(fed.events[0].complete);
  EXPECT_EQ(fed.events[1].phase, P::Continuation);
  EXPECT_TRUE(fed.events[1].complete);
  EXPECT_TRUE(scanner.complete());
}

TEST(MysqlResponseScanner, RunsRelayManyRowsAcrossSequenceIdWrapAround) {
  for (const CapabilityFlags caps : {kLegacy, kDeprecateEof}) {
    Stream s(caps, 200);
    s.result_set(1, 120);
    ResponseScanner reference(Command::COM_QUERY, caps, Limits{}, 200);
    const Fed whole = test::feed_chunks(reference, s.wire(), s.wire().size());
    ASSERT_EQ(whole.error, Errc::Ok);
    EXPECT_EQ(reference.summary().rows, 120u);
    expect_runs_everywhere(Command::COM_QUERY, caps, s.wire(), Limits{}, 200);
    // Everything buffered is one run, up to and including the terminator.
    ResponseScanner scanner(Command::COM_QUERY, caps, Limits{}, 200);
    const ScannedRun run = scanner.scan_run(s.wire());
    EXPECT_EQ(run.status, FrameStatus::Packet);
    EXPECT_EQ(run.size, s.wire().size());
    EXPECT_TRUE(run.has_event);
    EXPECT_EQ(scanner.event().phase, P::ResultSetEnd);
    EXPECT_TRUE(scanner.event().complete);
  }
}

TEST(MysqlResponseScanner, RunsStopWhereThePacketsGoWrong) {
  // A sequence gap after the first row, and a row over max_packet_size: the packets before it are
  // relayed, then the error; at every split point.
  const std::string wire = Stream(kLegacy).result_set(2, 4).wire();
  std::string broken = wire;
  std::size_t at = 0;  // count, 2 definitions, EOF, row: the 6th packet gets a wrong sequence id
  for (int i = 0; i < 5; ++i) at += kPacketHeaderSize + header_payload_length(std::string_view(broken).substr(at));
  broken[at + 3] = 42;
  ResponseScanner reference(Command::COM_QUERY, kLegacy);
  const Fed whole = test::feed_chunks(reference, broken, broken.size());
  ASSERT_EQ(whole.error, Errc::BadSequence);
  ASSERT_EQ(whole.leftover, broken.size() - at);
  expect_runs_everywhere(Command::COM_QUERY, kLegacy, broken);

  Limits limits;
  limits.max_packet_size = 1000;
  Stream big(kLegacy);
  big.column_count(1).column("blob").eof().row({std::string_view("small")});
  big.row({std::string_view(std::string(2000, 'b'))}).eof();
  ResponseScanner limited(Command::COM_QUERY, kLegacy, limits);
  ASSERT_EQ(test::feed_chunks(limited, big.wire(), big.wire().size()).error, Errc::PacketTooLarge);
  expect_runs_everywhere(Command::COM_QUERY, kLegacy, big.wire(), limits);
  // Too many columns, and an ERR where a definition, the EOF after them or a row belongs.
  Limits few;
  few.max_columns = 2;
  ResponseScanner too_many(Command::COM_QUERY, kLegacy, few);
  const std::string three = Stream(kLegacy).result_set(3, 1).wire();
  ASSERT_EQ(test::feed_chunks(too_many, three, three.size()).error, Errc::LimitExceeded);
  expect_runs_everywhere(Command::COM_QUERY, kLegacy, three, few);
  const auto killed = [](Stream s) { return s.err(1317, "70100", "Query execution was interrupted").wire(); };
  expect_runs_everywhere(Command::COM_QUERY, kLegacy, killed(Stream(kLegacy).column_count(2).column("a")));
  expect_runs_everywhere(Command::COM_QUERY, kLegacy, killed(Stream(kLegacy).column_count(1).column("a")));
  expect_runs_everywhere(Command::COM_QUERY, kLegacy,
                         killed(Stream(kLegacy).column_count(1).column("a").eof().row({std::string_view("x")})));
}

TEST(MysqlResponseScanner, RunsReadColumnCountsAsTheClassifierDoes) {
  // With result-set metadata caching a flag byte follows the count (0: no definitions follow); a
  // count without it is truncated. A count of 251 or more takes a longer length-encoded integer.
  const CapabilityFlags cached = kDeprecateEof | MARIADB_CLIENT_CACHE_METADATA;
  for (const int follows : {0, 1}) {
    Stream s(cached);
    s.packet(bytes({2, follows}));
    if (follows) s.column("a").column("b");
    s.row({std::string_view("x"), std::string_view("y")}).end();
    std::vector<P> expected{P::ColumnCount};
    if (follows) expected.insert(expected.end(), {P::ColumnDefinition, P::ColumnDefinition});
    expected.insert(expected.end(), {P::Row, P::ResultSetEnd});
    expect_everywhere(Command::COM_STMT_EXECUTE, cached, s.wire(), expected);
  }
  ResponseScanner truncated(Command::COM_STMT_EXECUTE, cached);
  const std::string one_byte = Stream(cached).column_count(1).wire();
  ASSERT_EQ(test::feed_chunks(truncated, one_byte, one_byte.size()).error, Errc::Truncated);
  expect_runs_everywhere(Command::COM_STMT_EXECUTE, cached, one_byte);

  Stream wide(kLegacy);
  wide.column_count(300);
  for (int c = 0; c < 300; ++c) wide.column("c");
  wide.eof().row({std::string_view("x")}).eof();
  ResponseScanner scanner(Command::COM_QUERY, kLegacy);
  const test::Ran ran = test::feed_runs(scanner, wide.wire(), 0, 64);
  EXPECT_EQ(ran.error, Errc::Ok);
  EXPECT_EQ(ran.relayed.size(), wide.wire().size());
  EXPECT_TRUE(scanner.complete());
  EXPECT_EQ(scanner.summary().rows, 1u);
}

TEST(MysqlResponseScanner, RunsFollowDefinitionsAndPreparedStatements) {
  // Many definitions are skipped in one pass but the last one, which changes state (and under
  // DEPRECATE_EOF completes a prepare response).
  for (const CapabilityFlags caps : {kLegacy, kDeprecateEof}) {
    expect_everywhere(Command::COM_QUERY, caps, Stream(caps).result_set(9, 2).wire(),
                      [&] {
                        std::vector<P> phases{P::ColumnCount};
                        phases.insert(phases.end(), 9, P::ColumnDefinition);
                        if (!(caps & CLIENT_DEPRECATE_EOF)) phases.push_back(P::ColumnsEof);
                        phases.insert(phases.end(), {P::Row, P::Row, P::ResultSetEnd});
                        return phases;
                      }());
    std::vector<P> prepare{P::PrepareOk, P::ParamDefinition, P::ParamDefinition, P::ParamDefinition};
    if (!(caps & CLIENT_DEPRECATE_EOF)) prepare.push_back(P::ParamsEof);
    prepare.insert(prepare.end(), 4, P::ColumnDefinition);
    if (!(caps & CLIENT_DEPRECATE_EOF)) prepare.push_back(P::ColumnsEof);
    expect_everywhere(Command::COM_STMT_PREPARE, caps, prepare_response(caps, 3, 4).wire(), prepare);
  }
}

TEST(MysqlResponseScanner, RunsCarryRowsLargerThanSixteenMiB) {
  const std::string value(kMaxPayloadChunk + 1, 'v');
  for (const CapabilityFlags caps : {kLegacy, kDeprecateEof}) {
    Stream s(caps);
    s.column_count(1).column("v").defs_eof().row({std::string_view("a")}).row({std::string_view(value)});
    s.row({std::string_view("small")}).end();
    for (const std::size_t chunk : {std::size_t{1} << 20, s.wire().size()}) {
      ResponseScanner scanner(Command::COM_QUERY, caps);
      const test::Ran ran = test::feed_runs(scanner, s.wire(), 0, chunk);
      EXPECT_EQ(ran.error, Errc::Ok);
      EXPECT_TRUE(ran.bookkeeping_ok);
      EXPECT_EQ(ran.relayed.size(), s.wire().size());
      ASSERT_EQ(ran.events.size(), 1u);
      EXPECT_EQ(ran.events[0].phase, P::ResultSetEnd);
      EXPECT_TRUE(scanner.complete());
      EXPECT_EQ(scanner.summary().rows, 3u);
    }
  }
}

TEST(MysqlResponseScanner, ResetReusesTheScanner) {
  ResponseScanner scanner(Command::COM_QUERY, kLegacy);
  test::feed_chunks(scanner, Stream(kLegacy).err(1, "HY000", "x").wire(), 4096);
  EXPECT_TRUE(scanner.summary().failed);
  scanner.reset(Command::COM_PING);
  EXPECT_FALSE(scanner.complete());
  EXPECT_FALSE(scanner.summary().failed);
  EXPECT_EQ(test::feed_chunks(scanner, Stream(kLegacy).ok().wire(), 4096).error, Errc::Ok);
  EXPECT_TRUE(scanner.complete());
  EXPECT_EQ(scanner.command(), Command::COM_PING);
  EXPECT_EQ(to_string(P::ResultSetEnd), "ResultSetEnd");
}

}  // namespace
}  // namespace corral::mysql
