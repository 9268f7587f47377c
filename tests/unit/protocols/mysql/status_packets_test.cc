#include "protocols/mysql/status_packets.h"

#include <gtest/gtest.h>

#include "test_util.h"

namespace corral::mysql {
namespace {

using test::bytes;

constexpr CapabilityFlags kCaps41 = CLIENT_PROTOCOL_41 | CLIENT_TRANSACTIONS;
constexpr CapabilityFlags kCapsTrack = kCaps41 | CLIENT_SESSION_TRACK;

TEST(MysqlOkPacket, DecodesSpecExample) {
  // OK_Packet: 00 | affected 0 | insert id 0 | status 0x0002 | warnings 0.
  const std::string payload = bytes({0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00});
  const Result<OK_Packet> ok = decode_ok_packet(payload, kCaps41);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->header, 0x00);
  EXPECT_EQ(ok->affected_rows, 0u);
  EXPECT_EQ(ok->status_flags, SERVER_STATUS_AUTOCOMMIT);
  EXPECT_EQ(ok->warnings, 0);
  EXPECT_EQ(ok->info, "");
}

TEST(MysqlOkPacket, InfoWithoutSessionTrackIsRestOfPacket) {
  const std::string payload =
      bytes({0x00, 0x01, 0xfc, 0x10, 0x27, 0x03, 0x00, 0x01, 0x00}) + "Rows matched: 1  Changed: 1  Warnings: 1";
  const Result<OK_Packet> ok = decode_ok_packet(payload, kCaps41);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->affected_rows, 1u);
  EXPECT_EQ(ok->last_insert_id, 10000u);
  EXPECT_EQ(ok->status_flags, SERVER_STATUS_IN_TRANS | SERVER_STATUS_AUTOCOMMIT);
  EXPECT_EQ(ok->warnings, 1);
  EXPECT_EQ(ok->info, "Rows matched: 1  Changed: 1  Warnings: 1");
}

// Hand-written OK_Packet with CLIENT_SESSION_TRACK: schema, a system variable, state change and
// transaction state.
std::string session_tracked_ok() {
  const std::string state = bytes({0x01, 0x05, 0x04}) + "test" +                          // SCHEMA
                            bytes({0x00, 0x0f, 0x0a}) + "autocommit" + bytes({0x03}) + "OFF" +  // SYSTEM_VARIABLES
                            bytes({0x02, 0x01}) + "1" +                                   // STATE_CHANGE
                            bytes({0x05, 0x09, 0x08}) + "T_______";                       // TRANSACTION_STATE
  return bytes({0x00, 0x00, 0x00, 0x03, 0x40, 0x00, 0x00, 0x00}) + static_cast<char>(state.size()) + state;
}

TEST(MysqlOkPacket, SessionTrackDecodes) {
  const std::string payload = session_tracked_ok();
  const Result<OK_Packet> ok = decode_ok_packet(payload, kCapsTrack);
  ASSERT_TRUE(ok.ok()) << to_string(ok.error());
  EXPECT_EQ(ok->status_flags, SERVER_STATUS_IN_TRANS | SERVER_STATUS_AUTOCOMMIT | SERVER_SESSION_STATE_CHANGED);
  EXPECT_EQ(ok->info, "");
  const Result<SessionStateChanges> changes = decode_session_state(ok->session_state_info);
  ASSERT_TRUE(changes.ok()) << to_string(changes.error());
  EXPECT_EQ(changes->schema, "test");
  ASSERT_EQ(changes->system_variables.size(), 1u);
  EXPECT_EQ(changes->system_variables[0].first, "autocommit");
  EXPECT_EQ(changes->system_variables[0].second, "OFF");
  EXPECT_TRUE(changes->state_changed);
  EXPECT_EQ(changes->transaction_state, "T_______");
  EXPECT_FALSE(changes->gtids.has_value());
}

TEST(MysqlOkPacket, SessionTrackRoundTrip) {
  SessionStateChanges changes;
  changes.schema = "shop";
  changes.system_variables = {{"character_set_client", "utf8mb4"}, {"sql_mode", ""}};
  changes.state_changed = true;
  changes.gtids = "0-1-42";
  changes.transaction_characteristics = "SET TRANSACTION READ ONLY;";
  changes.transaction_state = "________";
  std::string block;
  encode_session_state(block, changes);
  OK_Packet ok;
  ok.affected_rows = 3;
  ok.last_insert_id = 1ull << 40;
  ok.status_flags = SERVER_STATUS_AUTOCOMMIT | SERVER_SESSION_STATE_CHANGED;
  ok.warnings = 2;
  ok.info = "info";
  ok.session_state_info = block;
  std::string payload;
  encode_ok_packet(payload, ok, kCapsTrack);
  const Result<OK_Packet> back = decode_ok_packet(payload, kCapsTrack);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->affected_rows, 3u);
  EXPECT_EQ(back->last_insert_id, 1ull << 40);
  EXPECT_EQ(back->warnings, 2);
  EXPECT_EQ(back->info, "info");
  EXPECT_EQ(back->session_state_info, block);
  const Result<SessionStateChanges> decoded = decode_session_state(back->session_state_info);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->schema, "shop");
  EXPECT_EQ(decoded->system_variables, changes.system_variables);
  EXPECT_TRUE(decoded->state_changed);
  EXPECT_EQ(decoded->gtids, "0-1-42");
  EXPECT_EQ(decoded->transaction_characteristics, "SET TRANSACTION READ ONLY;");
  EXPECT_EQ(decoded->transaction_state, "________");
}

TEST(MysqlOkPacket, SessionTrackWithoutInfoIsAllowed) {
  // Servers omit the info string when it is empty and nothing changed.
  const std::string payload = bytes({0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00});
  const Result<OK_Packet> ok = decode_ok_packet(payload, kCapsTrack);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->info, "");
  EXPECT_EQ(ok->session_state_info, "");
  std::string encoded;
  encode_ok_packet(encoded, *ok, kCapsTrack);
  EXPECT_EQ(encoded, bytes({0x00, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00}));
}

TEST(MysqlOkPacket, UnknownSessionEntriesAreSkipped) {
  const std::string block = bytes({0x7f, 0x02, 0xaa, 0xbb, 0x01, 0x03, 0x02}) + "db";
  const Result<SessionStateChanges> changes = decode_session_state(block);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->unknown_entries, 1u);
  EXPECT_EQ(changes->schema, "db");
}

TEST(MysqlOkPacket, NegativeCases) {
  EXPECT_EQ(decode_ok_packet("", kCaps41).error(), Errc::Truncated);
  EXPECT_EQ(decode_ok_packet(bytes({0x00, 0x00}), kCaps41).error(), Errc::Truncated);
  EXPECT_EQ(decode_ok_packet(bytes({0x00, 0xfc, 0x01}), kCaps41).error(), Errc::Truncated);  // truncated lenenc
  EXPECT_EQ(decode_ok_packet(bytes({0x00, 0xff, 0x00}), kCaps41).error(), Errc::BadLenenc);
  EXPECT_EQ(decode_ok_packet(bytes({0x01, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00}), kCaps41).error(),
            Errc::UnexpectedPacket);
  // info length past the payload
  EXPECT_EQ(decode_ok_packet(bytes({0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x09, 'x'}), kCapsTrack).error(),
            Errc::LengthPastPayload);
  // a session entry whose data runs past the block
  EXPECT_EQ(decode_session_state(bytes({0x01, 0x09, 0x02})).error(), Errc::LengthPastPayload);
  // a schema entry whose inner length runs past its data
  EXPECT_EQ(decode_session_state(bytes({0x01, 0x02, 0x05, 'x'})).error(), Errc::LengthPastPayload);
}

TEST(MysqlErrPacket, DecodesSpecExample) {
  // ERR_Packet: ff | 1096 | '#' | "HY000" | "No tables used"
  const std::string payload = bytes({0xff, 0x48, 0x04, 0x23}) + "HY000No tables used";
  const Result<ERR_Packet> err = decode_err_packet(payload, kCaps41);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error_code, 1096);
  EXPECT_EQ(err->sql_state, "HY000");
  EXPECT_EQ(err->error_message, "No tables used");
}

TEST(MysqlErrPacket, WithoutSqlStateMarker) {
  const std::string payload = bytes({0xff, 0x10, 0x04}) + "Too many connections";
  const Result<ERR_Packet> err = decode_err_packet(payload, kCaps41);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error_code, 1040);
  EXPECT_EQ(err->sql_state, "");
  EXPECT_EQ(err->error_message, "Too many connections");
}

TEST(MysqlErrPacket, MakeErrPacketTooLarge) {
  const std::string payload = make_err(ER_NET_PACKET_TOO_LARGE);
  EXPECT_EQ(payload, bytes({0xff, 0x81, 0x04}) + "#08S01Got a packet bigger than 'max_allowed_packet' bytes");
  const Result<ERR_Packet> err = decode_err_packet(payload, kCaps41);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error_code, 1153);
  EXPECT_EQ(err->sql_state, "08S01");
  EXPECT_EQ(make_err(1045, "28000", "Access denied for user 'x'"), make_err(ER_ACCESS_DENIED_ERROR, "Access denied for user 'x'"));
}

TEST(MysqlErrPacket, BadSqlStateIsReplaced) {
  EXPECT_EQ(make_err(1, "bad", "m"), bytes({0xff, 0x01, 0x00}) + "#HY000m");
}

TEST(MysqlErrPacket, NegativeCases) {
  EXPECT_EQ(decode_err_packet(bytes({0xff, 0x01}), kCaps41).error(), Errc::Truncated);
  EXPECT_EQ(decode_err_packet(bytes({0xff, 0x01, 0x00, '#', 'H', 'Y'}), kCaps41).error(), Errc::Truncated);
  EXPECT_EQ(decode_err_packet(bytes({0x00, 0x01, 0x00}), kCaps41).error(), Errc::UnexpectedPacket);
  EXPECT_EQ(decode_err_packet("", kCaps41).error(), Errc::Truncated);
}

TEST(MysqlEofPacket, DecodesSpecExample) {
  const Result<EOF_Packet> eof = decode_eof_packet(bytes({0xfe, 0x00, 0x00, 0x02, 0x00}), kCaps41);
  ASSERT_TRUE(eof.ok());
  EXPECT_EQ(eof->warnings, 0);
  EXPECT_EQ(eof->status_flags, SERVER_STATUS_AUTOCOMMIT);
  std::string out;
  encode_eof_packet(out, *eof, kCaps41);
  EXPECT_EQ(out, bytes({0xfe, 0x00, 0x00, 0x02, 0x00}));
}

TEST(MysqlEofPacket, NegativeCases) {
  EXPECT_EQ(decode_eof_packet(bytes({0xfe, 0x00}), kCaps41).error(), Errc::Truncated);
  EXPECT_EQ(decode_eof_packet(bytes({0xfe, 0, 0, 0, 0, 0, 0, 0, 0}), kCaps41).error(), Errc::UnexpectedPacket);
  EXPECT_EQ(decode_eof_packet(bytes({0x00, 0, 0, 0, 0}), kCaps41).error(), Errc::UnexpectedPacket);
}

TEST(MysqlTerminators, OkAsEofVersusEof) {
  const std::string eof = bytes({0xfe, 0x00, 0x00, 0x02, 0x00});
  const std::string ok_as_eof = bytes({0xfe, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00});
  EXPECT_TRUE(is_eof_packet(eof));
  EXPECT_TRUE(is_eof_packet(ok_as_eof));  // 7 bytes is still < 9
  EXPECT_TRUE(is_result_set_terminator(eof, kCaps41));
  EXPECT_TRUE(is_result_set_terminator(ok_as_eof, kCaps41 | CLIENT_DEPRECATE_EOF));
  // A 0xFE OK carrying session state is longer than 9 bytes: a terminator only under DEPRECATE_EOF.
  const std::string long_ok = bytes({0xfe, 0x00, 0x00, 0x02, 0x40, 0x00, 0x00, 0x00, 0x03, 0x02, 0x01, '1'});
  EXPECT_FALSE(is_result_set_terminator(long_ok, kCaps41));
  EXPECT_TRUE(is_result_set_terminator(long_ok, kCapsTrack | CLIENT_DEPRECATE_EOF));
  const Result<OK_Packet> ok = decode_ok_packet(long_ok, kCapsTrack | CLIENT_DEPRECATE_EOF);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->header, kEofHeader);
  EXPECT_EQ(decode_session_state(ok->session_state_info)->state_changed, true);
  // A text row whose first value is >= 16 MiB starts with 0xFE and fills the wire packet.
  const std::string big_row_chunk = bytes({0xfe}) + std::string(kMaxPayloadChunk - 1, 'r');
  EXPECT_FALSE(is_result_set_terminator(big_row_chunk, kCaps41 | CLIENT_DEPRECATE_EOF));
  EXPECT_FALSE(is_result_set_terminator(big_row_chunk, kCaps41));
}

std::string unhex(std::string_view hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

// OK_Packets captured from MariaDB 10.11.19 (local test server) with session tracking enabled.
TEST(MysqlOkPacket, CapturedMariaDbSessionTracking) {
  const std::string use_shop = unhex("00000002400000000a01050473686f70020131");
  const std::string begin =
      unhex("000000034000000020050908545f5f5f5f5f5f5f0413125354415254205452414e53414354494f4e3b");
  const std::string insert = unhex("00010703400000000b050908545f5f5f575f5f5f");
  const Result<OK_Packet> use_ok = decode_ok_packet(use_shop, kCapsTrack);
  ASSERT_TRUE(use_ok.ok());
  const Result<SessionStateChanges> use_changes = decode_session_state(use_ok->session_state_info);
  ASSERT_TRUE(use_changes.ok());
  EXPECT_EQ(use_changes->schema, "shop");
  EXPECT_TRUE(use_changes->state_changed);

  const Result<OK_Packet> begin_ok = decode_ok_packet(begin, kCapsTrack);
  ASSERT_TRUE(begin_ok.ok());
  EXPECT_TRUE(begin_ok->status_flags & SERVER_STATUS_IN_TRANS);
  const Result<SessionStateChanges> begin_changes = decode_session_state(begin_ok->session_state_info);
  ASSERT_TRUE(begin_changes.ok());
  EXPECT_EQ(begin_changes->transaction_state, "T_______");
  EXPECT_EQ(begin_changes->transaction_characteristics, "START TRANSACTION;");
  EXPECT_FALSE(begin_changes->state_changed);

  const Result<OK_Packet> insert_ok = decode_ok_packet(insert, kCapsTrack);
  ASSERT_TRUE(insert_ok.ok());
  EXPECT_EQ(insert_ok->affected_rows, 1u);
  EXPECT_EQ(insert_ok->last_insert_id, 7u);
  EXPECT_EQ(decode_session_state(insert_ok->session_state_info)->transaction_state, "T___W___");
  // Our encoder reproduces the server's bytes.
  for (const std::string* payload : {&use_shop, &begin, &insert}) {
    std::string again;
    encode_ok_packet(again, *decode_ok_packet(*payload, kCapsTrack), kCapsTrack);
    EXPECT_EQ(test::hex(again), test::hex(*payload));
  }
}

TEST(MysqlProgressReport, CapturedFromLoadDataLocal) {
  const std::string payload = unhex("ffffff0102020000000f456e642062756c6b20696e73657274");
  const Result<ProgressReport> report = decode_progress_report(payload);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->stage, 2);
  EXPECT_EQ(report->max_stage, 2);
  EXPECT_EQ(report->info, "End bulk insert");
}

TEST(MysqlProgressReport, Decodes) {
  const std::string payload = bytes({0xff, 0xff, 0xff, 0x01, 0x01, 0x03, 0xa0, 0x86, 0x01, 0x04}) + "copy";
  const Result<ProgressReport> report = decode_progress_report(payload);
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->stage, 1);
  EXPECT_EQ(report->max_stage, 3);
  EXPECT_EQ(report->progress, 100000u);
  EXPECT_EQ(report->info, "copy");
  EXPECT_EQ(decode_progress_report(bytes({0xff, 0x01, 0x00})).error(), Errc::UnexpectedPacket);
}

// ---- filtering reports down to a client's own trackers ---------------------------------------------

SessionStateChanges every_kind_of_report() {
  SessionStateChanges changes;
  changes.system_variables = {{"character_set_client", "utf8mb3"}, {"character_set_connection", "utf8mb3"},
                              {"autocommit", "OFF"}};
  changes.schema = "app";
  changes.state_changed = true;
  changes.transaction_characteristics = "SET TRANSACTION READ ONLY;";
  changes.transaction_state = "T_______";
  return changes;
}

TEST(MysqlSessionTrackFilter, ReadsTheSettingsAsTheServerShowsThem) {
  const SessionTrackFilter defaults = SessionTrackFilter::from_settings(
      "1", "0", "autocommit,character_set_client,character_set_connection,character_set_results,time_zone", "OFF");
  EXPECT_TRUE(defaults.schema);
  EXPECT_FALSE(defaults.state_change);
  EXPECT_FALSE(defaults.transaction_state);
  EXPECT_FALSE(defaults.all_variables);
  EXPECT_EQ(defaults.variables.size(), 5u);
  EXPECT_TRUE(defaults.keeps_variable("AUTOCOMMIT"));
  EXPECT_FALSE(defaults.keeps_variable("sql_mode"));
  const SessionTrackFilter all = SessionTrackFilter::from_settings("OFF", "ON", " * ", "STATE");
  EXPECT_FALSE(all.schema);
  EXPECT_TRUE(all.state_change);
  EXPECT_TRUE(all.transaction_state);
  EXPECT_FALSE(all.transaction_characteristics);
  EXPECT_TRUE(all.keeps_variable("sql_mode"));
  const SessionTrackFilter none = SessionTrackFilter::from_settings("0", "0", "", "CHARACTERISTICS");
  EXPECT_TRUE(none.variables.empty());
  EXPECT_FALSE(none.keeps_variable("autocommit"));
  EXPECT_TRUE(none.transaction_characteristics);
  EXPECT_TRUE(none.transaction_state);
}

TEST(MysqlSessionTrackFilter, KeepsOnlyTheEntriesTheClientTracksAsTheServerWroteThem) {
  std::string block;
  encode_session_state(block, every_kind_of_report());
  const SessionTrackFilter filter = SessionTrackFilter::from_settings("0", "0", "character_set_connection", "OFF");
  const auto kept = filter_session_state(block, filter);
  ASSERT_TRUE(kept);
  SessionStateChanges expected;
  expected.system_variables = {{"character_set_connection", "utf8mb3"}};
  std::string expected_block;
  encode_session_state(expected_block, expected);
  EXPECT_EQ(test::hex(*kept), test::hex(expected_block));
  // Everything corral's connections track, for a client that tracks everything: the block unchanged.
  const auto all = filter_session_state(block, SessionTrackFilter::from_settings("1", "1", "*", "CHARACTERISTICS"));
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, block);
  // Nothing tracked: nothing left.
  const auto none = filter_session_state(block, SessionTrackFilter::from_settings("0", "0", "", "OFF"));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(MysqlSessionTrackFilter, KeepsEntriesOfUnknownTypes) {
  std::string block;
  block.push_back(static_cast<char>(0x42));
  block.append(bytes({0x02, 'h', 'i'}));
  const auto kept = filter_session_state(block, SessionTrackFilter::from_settings("0", "0", "", "OFF"));
  ASSERT_TRUE(kept);
  EXPECT_EQ(*kept, block);
}

TEST(MysqlSessionTrackFilter, AMalformedBlockIsRefusedAtEveryCut) {
  std::string block;
  encode_session_state(block, every_kind_of_report());
  const SessionTrackFilter filter = SessionTrackFilter::from_settings("1", "1", "*", "CHARACTERISTICS");
  std::size_t refused = 0;
  for (std::size_t cut = 1; cut < block.size(); ++cut) {
    const auto kept = filter_session_state(std::string_view(block).substr(0, cut), filter);
    if (!kept) {
      ++refused;
    } else {
      // A cut at an entry boundary is a shorter block: its entries come back whole.
      EXPECT_EQ(*kept, block.substr(0, cut)) << cut;
    }
  }
  EXPECT_GT(refused, block.size() / 2);
}

}  // namespace
}  // namespace corral::mysql
