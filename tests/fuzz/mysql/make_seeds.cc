// Writes the seed corpora of the MySQL fuzz targets from the codec's own encoders, so every seed is a
// well-formed, meaningful exchange the fuzzer then mutates. Usage:
//   mysql_fuzz_seeds <corpus_packets dir> <corpus_handshake dir>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "protocols/mysql/mysql.h"
#include "tests/fuzz/mysql/fuzz_common.h"

namespace {

using namespace corral::mysql;
namespace fz = corral::mysql::fuzz;

class Wire {
 public:
  explicit Wire(CapabilityFlags caps, std::uint8_t seq = 1) : caps_(caps), seq_(seq) {}
  Wire& packet(std::string_view payload) {
    seq_ = append_packet(out_, seq_, payload);
    return *this;
  }
  Wire& ok(StatusFlags status, std::string_view state = {}) {
    OK_Packet ok;
    ok.status_flags = status;
    ok.affected_rows = 1;
    ok.last_insert_id = 42;
    ok.session_state_info = state;
    std::string p;
    encode_ok_packet(p, ok, caps_);
    return packet(p);
  }
  Wire& err() { return packet(make_err(1146, "42S02", "Table 'test.t' doesn't exist")); }
  Wire& eof(StatusFlags status = SERVER_STATUS_AUTOCOMMIT) {
    std::string p;
    encode_eof_packet(p, EOF_Packet{0, status}, caps_);
    return packet(p);
  }
  Wire& end(StatusFlags status = SERVER_STATUS_AUTOCOMMIT) {
    if (!(caps_ & CLIENT_DEPRECATE_EOF)) return eof(status);
    OK_Packet ok;
    ok.header = kEofHeader;
    ok.status_flags = status;
    std::string p;
    encode_ok_packet(p, ok, caps_);
    return packet(p);
  }
  Wire& defs_eof(StatusFlags status = SERVER_STATUS_AUTOCOMMIT) {
    return (caps_ & CLIENT_DEPRECATE_EOF) ? *this : eof(status);
  }
  Wire& columns(int n, bool field_list = false) {
    std::string p;
    Writer(p).lenenc_int(static_cast<std::uint64_t>(n));
    if (!field_list) packet(p);
    for (int i = 0; i < n; ++i) {
      ColumnDefinition41 c = make_text_column(i == 0 ? "id" : "name");
      c.schema = "test";
      c.table = "t";
      if (field_list) c.default_values = "0";
      std::string d;
      encode_column_definition(d, c, caps_, field_list);
      packet(d);
    }
    return *this;
  }
  Wire& row(std::vector<TextValue> values) {
    std::string p;
    encode_text_row(p, values);
    return packet(p);
  }
  std::string seed(Command command, std::uint8_t chunk) const {
    std::string s;
    std::size_t index = 0;
    while (fz::kCommands[index] != command) ++index;
    s.push_back(static_cast<char>(index));
    s.push_back(static_cast<char>(fz::caps_to_byte(caps_)));
    s.push_back(static_cast<char>(chunk));
    return s + out_;
  }

 private:
  CapabilityFlags caps_;
  std::uint8_t seq_;
  std::string out_;
};

void write(const std::filesystem::path& dir, const std::string& name, const std::string& bytes) {
  std::ofstream(dir / name, std::ios::binary) << bytes;
}

void packets(const std::filesystem::path& dir) {
  const CapabilityFlags legacy = fz::kBaseCaps | CLIENT_SESSION_TRACK;
  const CapabilityFlags modern = legacy | CLIENT_DEPRECATE_EOF;
  const StatusFlags ac = SERVER_STATUS_AUTOCOMMIT;
  const StatusFlags more = ac | SERVER_MORE_RESULTS_EXISTS;
  write(dir, "ok", Wire(legacy).ok(ac).seed(Command::COM_QUERY, 0));
  write(dir, "err", Wire(legacy).err().seed(Command::COM_QUERY, 1));
  write(dir, "text_resultset_eof", Wire(legacy).columns(2).eof().row({"1", "a"}).row({"2", std::nullopt}).eof()
                                       .seed(Command::COM_QUERY, 7));
  write(dir, "text_resultset_deprecate_eof", Wire(modern).columns(2).row({"1", "a"}).end().seed(Command::COM_QUERY, 3));
  write(dir, "multi_results", Wire(modern).ok(more).columns(1).row({"x"}).end(more).ok(ac | SERVER_STATUS_IN_TRANS)
                                  .seed(Command::COM_QUERY, 0));
  write(dir, "err_mid_rows", Wire(legacy).columns(1).eof().row({"x"}).err().seed(Command::COM_QUERY, 2));
  write(dir, "binary_resultset", Wire(legacy).columns(2).eof().packet(std::string("\0\0\x01\x31\x01\x61", 6)).eof()
                                     .seed(Command::COM_STMT_EXECUTE, 5));
  write(dir, "cursor_open_eof", Wire(legacy).columns(1).eof(ac | SERVER_STATUS_CURSOR_EXISTS)
                                    .seed(Command::COM_STMT_EXECUTE, 0));
  write(dir, "cursor_open_deprecate", Wire(modern).columns(1).end(ac | SERVER_STATUS_CURSOR_EXISTS)
                                          .seed(Command::COM_STMT_EXECUTE, 4));
  write(dir, "fetch", Wire(modern).packet(std::string("\0\0\x01\x31", 4)).end(ac | SERVER_STATUS_LAST_ROW_SENT)
                          .seed(Command::COM_STMT_FETCH, 1));
  {
    COM_STMT_PREPARE_OK ok;
    ok.statement_id = 1;
    ok.num_params = 2;
    ok.num_columns = 1;
    std::string p;
    encode_com_stmt_prepare_ok(p, ok, legacy);
    Wire prepare(legacy);
    prepare.packet(p);
    for (int i = 0; i < 2; ++i) {
      std::string d;
      encode_column_definition(d, make_text_column("?"), legacy);
      prepare.packet(d);
    }
    prepare.eof();
    std::string d;
    encode_column_definition(d, make_text_column("c"), legacy);
    prepare.packet(d).eof();
    write(dir, "prepare_ok", prepare.seed(Command::COM_STMT_PREPARE, 0));
    Wire prepare_modern(modern);
    prepare_modern.packet(p);
    for (int i = 0; i < 3; ++i) prepare_modern.packet(d);
    write(dir, "prepare_ok_deprecate", prepare_modern.seed(Command::COM_STMT_PREPARE, 9));
  }
  write(dir, "local_infile", Wire(legacy).packet("\xfb/tmp/data.csv").seed(Command::COM_QUERY, 0) +
                                 std::string("\x07\x00\x00\x05\x00\x01\x00\x02\x00\x00\x00", 11));
  write(dir, "field_list", Wire(legacy).columns(2, true).eof().seed(Command::COM_FIELD_LIST, 0));
  write(dir, "statistics", Wire(legacy).packet("Uptime: 10  Threads: 1  Questions: 5").seed(Command::COM_STATISTICS, 0));
  write(dir, "ping", Wire(legacy).ok(ac).seed(Command::COM_PING, 0));
  write(dir, "set_option_eof", Wire(legacy).eof().seed(Command::COM_SET_OPTION, 0));
  {
    std::string switch_request;
    encode_auth_switch_request(switch_request, AuthSwitchRequest{"mysql_native_password", "abcdefghijklmnopqrst"});
    write(dir, "change_user", Wire(modern).packet(switch_request).packet("\x01\x03").ok(ac).seed(Command::COM_CHANGE_USER, 0));
  }
  {
    SessionStateChanges changes;
    changes.schema = "shop";
    changes.system_variables = {{"autocommit", "OFF"}};
    changes.state_changed = true;
    changes.transaction_state = "T_______";
    std::string block;
    encode_session_state(block, changes);
    write(dir, "session_track", Wire(modern).ok(ac | SERVER_SESSION_STATE_CHANGED, block).seed(Command::COM_INIT_DB, 0));
  }
  {
    const CapabilityFlags progress = legacy | MARIADB_CLIENT_PROGRESS;
    write(dir, "progress", Wire(progress).packet(std::string("\xff\xff\xff\x01\x01\x02\x10\x27\x00\x05" "alter", 15))
                               .ok(ac).seed(Command::COM_QUERY, 0));
  }
  {
    // Rows that span a 0xFFFFFF boundary are too big for a seed; a long row still exercises lengths.
    write(dir, "long_row", Wire(modern).columns(1).row({std::string_view(std::string(300, 'v'))}).end()
                               .seed(Command::COM_QUERY, 32));
  }
  write(dir, "quit_no_response", Wire(legacy).ok(ac).seed(Command::COM_QUIT, 0));
}

std::string handshake_seed(fz::HandshakeTarget target, std::uint8_t flags, const std::string& payload) {
  std::string s;
  s.push_back(static_cast<char>(target));
  s.push_back(static_cast<char>(flags));
  return s + payload;
}

void handshakes(const std::filesystem::path& dir) {
  using T = fz::HandshakeTarget;
  const std::string scramble = "abcdefghijklmnopqrst";
  HandshakeV10 hs;
  hs.server_version = "8.0.36";
  hs.connection_id = 7;
  hs.auth_plugin_data = scramble;
  hs.capabilities = fz::kBaseCaps | CLIENT_MYSQL | CLIENT_CONNECT_WITH_DB | CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF;
  hs.character_set = 255;
  hs.status_flags = SERVER_STATUS_AUTOCOMMIT;
  hs.auth_plugin_name = "caching_sha2_password";
  std::string p;
  encode_handshake_v10(p, hs);
  write(dir, "handshake_mysql8", handshake_seed(T::HandshakeV10, 0, p));
  hs.server_version = "5.5.5-10.11.6-MariaDB";
  hs.capabilities = (hs.capabilities & ~CLIENT_MYSQL) | MARIADB_CLIENT_PROGRESS | MARIADB_CLIENT_STMT_BULK_OPERATIONS;
  hs.auth_plugin_name = "mysql_native_password";
  p.clear();
  encode_handshake_v10(p, hs);
  write(dir, "handshake_mariadb", handshake_seed(T::HandshakeV10, 1, p));

  HandshakeResponse41 r;
  r.capabilities = fz::kBaseCaps | CLIENT_CONNECT_WITH_DB | CLIENT_CONNECT_ATTRS | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
  r.max_packet_size = 1 << 24;
  r.character_set = 45;
  r.username = "app";
  r.auth_response = native_password_token("pw", scramble);
  r.database = "shop";
  r.auth_plugin_name = "mysql_native_password";
  r.connect_attrs = {{"_client_name", "libmariadb"}, {"_os", "Linux"}};
  p.clear();
  encode_handshake_response41(p, r, fz::kBaseCaps | CLIENT_MYSQL);
  write(dir, "response41_lenenc", handshake_seed(T::HandshakeResponse41, 0, p));
  r.capabilities = (fz::kBaseCaps | CLIENT_CONNECT_WITH_DB) | MARIADB_CLIENT_PROGRESS;
  p.clear();
  encode_handshake_response41(p, r, fz::kBaseCaps & ~CLIENT_MYSQL);
  write(dir, "response41_mariadb_ext", handshake_seed(T::HandshakeResponse41, 1, p));
  p.clear();
  encode_ssl_request(p, r, fz::kBaseCaps | CLIENT_MYSQL);
  write(dir, "ssl_request", handshake_seed(T::HandshakeResponse41, 0, p));

  const std::uint8_t track = static_cast<std::uint8_t>(fz::caps_to_byte(CLIENT_SESSION_TRACK | CLIENT_DEPRECATE_EOF) << 1);
  OK_Packet ok;
  ok.affected_rows = 300;
  ok.last_insert_id = 70000;
  ok.status_flags = SERVER_STATUS_AUTOCOMMIT;
  ok.info = "Rows matched: 1  Changed: 1  Warnings: 0";
  p.clear();
  encode_ok_packet(p, ok, fz::kBaseCaps);
  write(dir, "ok_info", handshake_seed(T::OkPacket, 0, p));
  SessionStateChanges changes;
  changes.schema = "shop";
  changes.system_variables = {{"character_set_client", "utf8mb4"}};
  changes.state_changed = true;
  changes.gtids = "0-1-100";
  changes.transaction_characteristics = "START TRANSACTION;";
  changes.transaction_state = "T_______";
  std::string block;
  encode_session_state(block, changes);
  ok.status_flags |= SERVER_SESSION_STATE_CHANGED;
  ok.session_state_info = block;
  p.clear();
  encode_ok_packet(p, ok, fz::kBaseCaps | CLIENT_SESSION_TRACK);
  write(dir, "ok_session_track", handshake_seed(T::OkPacket, track, p));
  write(dir, "session_state", handshake_seed(T::SessionState, 0, block));
  write(dir, "err", handshake_seed(T::ErrPacket, 0, make_err(ER_NET_PACKET_TOO_LARGE)));
  write(dir, "progress", handshake_seed(T::ErrPacket, 0, std::string("\xff\xff\xff\x01\x01\x02\x10\x27\x00\x01x", 11)));
  p.clear();
  encode_eof_packet(p, EOF_Packet{1, SERVER_STATUS_IN_TRANS}, fz::kBaseCaps);
  write(dir, "eof", handshake_seed(T::EofPacket, 0, p));
  ColumnDefinition41 c = make_integer_column("id", true);
  c.default_values = "0";
  p.clear();
  encode_column_definition(p, c, fz::kBaseCaps, true);
  write(dir, "column_field_list", handshake_seed(T::ColumnDefinition, 1, p));
  c.extended_type_name = "json";
  const std::uint8_t ext = static_cast<std::uint8_t>(fz::caps_to_byte(MARIADB_CLIENT_EXTENDED_METADATA) << 1);
  p.clear();
  encode_column_definition(p, c, fz::kBaseCaps | MARIADB_CLIENT_EXTENDED_METADATA, false);
  write(dir, "column_extended", handshake_seed(T::ColumnDefinition, ext, p));
  COM_CHANGE_USER change;
  change.username = "bob";
  change.auth_response = native_password_token("pw", scramble);
  change.database = "db";
  change.character_set = 45;
  change.auth_plugin_name = "mysql_native_password";
  p.clear();
  encode_com_change_user(p, change, fz::kBaseCaps);
  write(dir, "change_user", handshake_seed(T::ComChangeUser, 0, p));
  p.clear();
  encode_auth_switch_request(p, AuthSwitchRequest{"caching_sha2_password", scramble + '\0'});
  write(dir, "auth_switch", handshake_seed(T::AuthSwitchRequest, 0, p));
  write(dir, "auth_more_data", handshake_seed(T::AuthSwitchRequest, 0, "\x01\x04"));
  {
    COM_STMT_EXECUTE e;
    e.statement_id = 5;
    e.new_params_bound = true;
    e.params.resize(2);
    e.params[0].type = ColumnType::MYSQL_TYPE_LONG;
    const std::string v0("\x2a\0\0\0", 4);
    e.params[0].value = v0;
    e.params[1].type = ColumnType::MYSQL_TYPE_VAR_STRING;
    const std::string v1("\x03" "abc", 4);
    e.params[1].value = v1;
    p.clear();
    encode_com_stmt_execute(p, e, fz::kBaseCaps);
    write(dir, "stmt_execute", handshake_seed(T::ComStmtExecute, 0x20, p));
  }
  p.clear();
  encode_com_query(p, "SELECT @@version_comment LIMIT 1", fz::kBaseCaps | CLIENT_QUERY_ATTRIBUTES);
  const std::uint8_t qa = static_cast<std::uint8_t>(fz::caps_to_byte(CLIENT_QUERY_ATTRIBUTES) << 1);
  write(dir, "query_attributes", handshake_seed(T::ComQuery, qa, p));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s <corpus_packets dir> <corpus_handshake dir>\n", argv[0]);
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  std::filesystem::create_directories(argv[2]);
  packets(argv[1]);
  handshakes(argv[2]);
  return 0;
}
