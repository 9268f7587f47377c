// Raw client packets against mariadbd directly and through corral, compared: malformed prepared
// statement commands (ERR at once, the connection still usable), sequence ids out of order (ERR 1156,
// then the connection closes), and a backend killed or timed out under a prepared execute (the client
// gets its ERR at once, never with its next command).
//
//   libmysqlclient login ──► mysql_get_socket() ──► RawPackets: write packets, read packets (timeout)
//   connect_tcp() ──► greeting ──► a handshake response with a chosen sequence id
#include <mysql.h>
#include <poll.h>
#include <unistd.h>

#include <gmock/gmock.h>

#include <chrono>
#include <thread>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "mysql_path.h"

namespace corral::testing::mysql_it {
namespace {

using ::testing::HasSubstr;

/// One packet as read from the wire.
struct Packet {
  std::uint8_t sequence_id = 0;
  std::string payload;

  bool is_err() const { return !payload.empty() && static_cast<std::uint8_t>(payload[0]) == 0xff; }
  bool is_ok() const { return !payload.empty() && payload[0] == 0; }
  /// The ERR_Packet's error code (0 when not an ERR).
  unsigned error_code() const {
    if (!is_err() || payload.size() < 3) return 0;
    return static_cast<std::uint8_t>(payload[1]) | static_cast<unsigned>(static_cast<std::uint8_t>(payload[2])) << 8;
  }
  std::string sqlstate() const { return is_err() && payload.size() >= 9 ? payload.substr(4, 5) : std::string(); }
  std::string message() const { return is_err() && payload.size() >= 9 ? payload.substr(9) : std::string(); }
};

/// Packets written and read on a socket this object does not own (a libmysqlclient connection's, or
/// one the caller closes).
class RawPackets {
 public:
  explicit RawPackets(int fd) : fd_(fd) {}

  void send(std::uint8_t sequence_id, std::string_view payload) {
    std::string wire;
    wire.push_back(static_cast<char>(payload.size() & 0xff));
    wire.push_back(static_cast<char>((payload.size() >> 8) & 0xff));
    wire.push_back(static_cast<char>((payload.size() >> 16) & 0xff));
    wire.push_back(static_cast<char>(sequence_id));
    wire.append(payload);
    std::size_t sent = 0;
    while (sent < wire.size()) {
      const ssize_t n = ::write(fd_, wire.data() + sent, wire.size() - sent);
      if (n <= 0) throw HarnessError("raw packet write failed");
      sent += static_cast<std::size_t>(n);
    }
  }
  /// The next packet; nullopt when the peer closed the connection. Throws after `timeout`.
  std::optional<Packet> read(std::chrono::milliseconds timeout = 5s) {
    std::string header;
    if (!read_exactly(header, 4, timeout)) return std::nullopt;
    const std::size_t length = static_cast<std::uint8_t>(header[0]) |
                               static_cast<std::size_t>(static_cast<std::uint8_t>(header[1])) << 8 |
                               static_cast<std::size_t>(static_cast<std::uint8_t>(header[2])) << 16;
    Packet packet;
    packet.sequence_id = static_cast<std::uint8_t>(header[3]);
    if (!read_exactly(packet.payload, length, timeout)) throw HarnessError("connection closed mid-packet");
    return packet;
  }
  /// Reads packets up to an OK, ERR or EOF-type terminator (a result set: its second EOF/OK).
  Packet read_one(std::chrono::milliseconds timeout = 5s) {
    auto packet = read(timeout);
    if (!packet) throw HarnessError("connection closed instead of a reply");
    return *packet;
  }
  /// True when the peer closes the connection within `timeout` (packets before that are skipped).
  bool closes_within(std::chrono::milliseconds timeout) {
    try {
      while (read(timeout)) {
      }
      return true;
    } catch (const HarnessError&) {
      return false;
    }
  }

 private:
  bool read_exactly(std::string& out, std::size_t size, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out.size() < size) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) {
        throw HarnessError("no reply within " + std::to_string(timeout.count()) + " ms");
      }
      char buffer[4096];
      const ssize_t n = ::read(fd_, buffer, std::min(sizeof buffer, size - out.size()));
      if (n == 0 || (n < 0 && errno == ECONNRESET)) {
        if (out.empty()) return false;
        throw HarnessError("connection closed mid-packet");
      }
      if (n < 0) throw HarnessError(std::string("read failed: ") + std::strerror(errno));
      out.append(buffer, static_cast<std::size_t>(n));
    }
    return true;
  }

  int fd_;
};

std::string int4(std::uint32_t v) {
  std::string s(4, '\0');
  for (int i = 0; i < 4; ++i) s[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return s;
}

std::string command(std::uint8_t code, std::string_view body = {}) {
  std::string payload(1, static_cast<char>(code));
  payload.append(body);
  return payload;
}

constexpr std::uint8_t kComPing = 0x0e;
constexpr std::uint8_t kComQuery = 0x03;
constexpr std::uint8_t kComStmtPrepare = 0x16;
constexpr std::uint8_t kComStmtExecute = 0x17;
constexpr std::uint8_t kComStmtSendLongData = 0x18;
constexpr std::uint8_t kComStmtClose = 0x19;
constexpr std::uint8_t kComStmtReset = 0x1a;
constexpr std::uint8_t kComStmtFetch = 0x1c;

/// Where a raw test talks to: mariadbd itself or corral in front of it.
enum class Target { Direct, Corral };

std::string to_string(Target target) { return target == Target::Direct ? "direct" : "through corral"; }

class RawPacketsTest : public MysqlPathTest {
 protected:
  /// A logged-in libmysqlclient connection to `target` (schema "app").
  MysqlClient login(Target target) {
    if (target == Target::Direct) return backend().connect(kBackendUser, kBackendPassword, "app");
    return connect(kUser, kPassword, "app");
  }
  uint16_t port_of(Target target) { return target == Target::Direct ? backend().port() : proxy_port(); }

  /// COM_STMT_PREPARE of `sql`; returns the statement id after reading the whole response.
  static std::uint32_t prepare(RawPackets& raw, std::string_view sql) {
    raw.send(0, command(kComStmtPrepare, sql));
    const Packet ok = raw.read_one();
    if (!ok.is_ok() || ok.payload.size() < 12) throw HarnessError("prepare failed: " + ok.message());
    std::uint32_t id = 0;
    for (int i = 0; i < 4; ++i) id |= static_cast<std::uint32_t>(static_cast<std::uint8_t>(ok.payload[1 + i])) << (8 * i);
    const unsigned columns = static_cast<std::uint8_t>(ok.payload[5]) | static_cast<std::uint8_t>(ok.payload[6]) << 8;
    const unsigned params = static_cast<std::uint8_t>(ok.payload[7]) | static_cast<std::uint8_t>(ok.payload[8]) << 8;
    // Definitions, each block ended by an EOF (the test's clients do not use CLIENT_DEPRECATE_EOF).
    const unsigned following = (params > 0 ? params + 1 : 0) + (columns > 0 ? columns + 1 : 0);
    for (unsigned i = 0; i < following; ++i) raw.read_one();
    return id;
  }
  /// A COM_PING answered with OK: the connection still works.
  std::uint64_t server_status(const std::string& name) {
    return std::stoull(backend().query("SHOW GLOBAL STATUS LIKE '" + name + "'").at(0, 1));
  }
  /// Backend connections corral's pools opened (corral_backend_connects_total, result "ok"). Unlike the
  /// server's Connections, it leaves out the session's own read of the global timeouts, which happens
  /// once after a session's first command, at a moment of its own.
  std::uint64_t corral_connects() const {
    const std::string m = metrics();
    std::uint64_t total = 0;
    for (std::size_t at = m.find("corral_backend_connects_total{"); at != std::string::npos;
         at = m.find("corral_backend_connects_total{", at + 1)) {
      const std::size_t end = m.find('\n', at);
      const std::string line = m.substr(at, end - at);
      if (line.find("result=\"ok\"}") != std::string::npos) total += std::stoull(line.substr(line.rfind(' ') + 1));
    }
    return total;
  }
  static void expect_ping_ok(RawPackets& raw, Target target) {
    raw.send(0, command(kComPing));
    const Packet pong = raw.read_one();
    EXPECT_TRUE(pong.is_ok()) << to_string(target) << ": " << pong.error_code() << " " << pong.message();
    EXPECT_EQ(pong.sequence_id, 1) << to_string(target);
  }
};

/// The first reply packet to `payload` sent as a command on a fresh statement of `sql`.
struct Answer {
  bool replied = false;  // false: the server sent nothing (the ping's OK came first)
  unsigned code = 0;
  std::string sqlstate;
  std::string message;
};

TEST_F(RawPacketsTest, MalformedStatementCommandsGetTheServersErrorAtOnce) {
  start_proxy({.workers = 1});
  struct Case {
    std::string name;
    std::string sql;
    std::uint8_t command;
    std::string body;  // after the statement id (the prepared one's)
    bool with_id = true;
  };
  const std::vector<Case> cases = {
      {"execute: only the statement id", "SELECT ?", kComStmtExecute, ""},
      {"execute: only the statement id, no parameters", "SELECT 1", kComStmtExecute, ""},
      {"execute: flags, no iteration count", "SELECT 1", kComStmtExecute, std::string("\0\1", 2)},
      {"execute: no null bitmap", "SELECT ?", kComStmtExecute, std::string("\0\1\0\0\0", 5)},
      {"execute: no new_params_bound byte", "SELECT ?", kComStmtExecute, std::string("\0\1\0\0\0\0", 6)},
      {"execute: fewer types than parameters", "SELECT ?, ?", kComStmtExecute,
       std::string("\0\1\0\0\0\0\1\x08\0", 9)},
      {"execute: types but no values", "SELECT ?", kComStmtExecute, std::string("\0\1\0\0\0\0\1\x08\0", 9)},
      {"execute: half a statement id", "SELECT 1", kComStmtExecute, std::string("\1\0", 2), false},
      {"fetch: no row count", "SELECT 1", kComStmtFetch, ""},
      {"fetch: nothing", "SELECT 1", kComStmtFetch, "", false},
      {"reset: nothing", "SELECT 1", kComStmtReset, "", false},
      {"send long data: nothing", "SELECT ?", kComStmtSendLongData, "", false},
      {"send long data: no parameter id", "SELECT ?", kComStmtSendLongData, ""},
      {"close: nothing", "SELECT 1", kComStmtClose, "", false},
  };
  std::map<std::string, Answer> direct;
  for (const Target target : {Target::Direct, Target::Corral}) {
    MysqlClient client = login(target);
    RawPackets raw(static_cast<int>(mysql_get_socket(client.handle())));
    for (const Case& c : cases) {
      const std::uint32_t id = prepare(raw, c.sql);
      const std::uint64_t connections = target == Target::Direct ? 0 : corral_connects();
      raw.send(0, command(c.command, (c.with_id ? int4(id) : std::string()) + c.body));
      raw.send(0, command(kComPing));  // commands without a reply: the ping's OK comes first
      const Packet reply = raw.read_one(3s);  // at once: never held back until a later command
      Answer answer;
      if (reply.is_err()) {
        answer = {true, reply.error_code(), reply.sqlstate(), reply.message()};
        EXPECT_EQ(reply.sequence_id, 1) << to_string(target) << " / " << c.name;
        const Packet pong = raw.read_one(3s);
        EXPECT_TRUE(pong.is_ok()) << to_string(target) << " / " << c.name << ": the connection still works";
      } else {
        EXPECT_TRUE(reply.is_ok()) << to_string(target) << " / " << c.name;
      }
      if (target == Target::Direct) {
        direct[c.name] = answer;
        continue;
      }
      const Answer& expected = direct[c.name];
      EXPECT_EQ(answer.replied, expected.replied) << c.name;
      EXPECT_EQ(answer.code, expected.code) << c.name << ": " << answer.message;
      EXPECT_EQ(answer.sqlstate, expected.sqlstate) << c.name;
      EXPECT_EQ(answer.message, expected.message) << c.name;
      // The client's mistake costs no backend connection.
      EXPECT_EQ(corral_connects(), connections) << c.name;
    }
  }
}

// Where mariadbd says nothing at all (an empty COM_STMT_EXECUTE) corral still answers: a client
// must never wait for a reply that does not come.
TEST_F(RawPacketsTest, AnEmptyExecuteGetsMalformedPacket) {
  start_proxy({.workers = 1});
  MysqlClient client = login(Target::Corral);
  RawPackets raw(static_cast<int>(mysql_get_socket(client.handle())));
  raw.send(0, command(kComStmtExecute));
  const Packet reply = raw.read_one(3s);
  EXPECT_EQ(reply.error_code(), 1835u) << reply.message();
  EXPECT_EQ(reply.sequence_id, 1);
  expect_ping_ok(raw, Target::Corral);
}

TEST_F(RawPacketsTest, ACommandOutOfOrderGetsErr1156AndTheConnectionCloses) {
  start_proxy({.workers = 1});
  for (const int sequence : {1, 5, 255}) {
    std::uint64_t selects = 0;
    for (const Target target : {Target::Direct, Target::Corral}) {
      MysqlClient client = login(target);
      RawPackets raw(static_cast<int>(mysql_get_socket(client.handle())));
      if (target == Target::Corral) selects = server_status("Com_select");
      raw.send(static_cast<std::uint8_t>(sequence), command(kComQuery, "SELECT 1"));
      const Packet reply = raw.read_one(3s);
      EXPECT_EQ(reply.error_code(), 1156u) << to_string(target) << " " << sequence << ": " << reply.message();
      EXPECT_EQ(reply.sqlstate(), "08S01") << to_string(target);
      EXPECT_EQ(reply.message(), "Got packets out of order") << to_string(target);
      EXPECT_EQ(reply.sequence_id, 0) << to_string(target);
      EXPECT_TRUE(raw.closes_within(3s)) << to_string(target);
    }
    // corral refused it itself: the statement never reached the backend.
    EXPECT_EQ(server_status("Com_select"), selects) << sequence;
  }
}

TEST_F(RawPacketsTest, AHandshakeResponseOutOfOrderGetsErr1156AndTheConnectionCloses) {
  start_proxy({.workers = 1});
  for (const int sequence : {0, 2, 5}) {
    for (const Target target : {Target::Direct, Target::Corral}) {
      const int fd = connect_tcp("127.0.0.1", port_of(target), 5s);
      RawPackets raw(fd);
      raw.read_one();  // the greeting
      // HandshakeResponse41: capabilities (PROTOCOL_41, SECURE_CONNECTION...), max packet, charset,
      // 23 reserved bytes, user, empty auth response.
      const std::string response = int4(0x000fa685) + int4(1 << 24) + std::string(1, '\x21') +
                                   std::string(23, '\0') + kUser + std::string(1, '\0') + std::string(1, '\0');
      raw.send(static_cast<std::uint8_t>(sequence), response);
      const Packet reply = raw.read_one(3s);
      EXPECT_EQ(reply.error_code(), 1156u) << to_string(target) << " " << sequence << ": " << reply.message();
      EXPECT_EQ(reply.sqlstate(), "08S01") << to_string(target);
      EXPECT_EQ(reply.sequence_id, 1) << to_string(target);
      EXPECT_TRUE(raw.closes_within(3s)) << to_string(target);
      ::close(fd);
    }
  }
}

TEST_F(RawPacketsTest, ABackendKilledUnderAnExecuteFailsItAtOnce) {
  start_proxy({.workers = 1});
  MysqlClient client = login(Target::Corral);
  RawPackets raw(static_cast<int>(mysql_get_socket(client.handle())));
  const std::uint32_t id = prepare(raw, "SELECT SLEEP(30)");
  raw.send(0, command(kComStmtExecute, int4(id) + std::string("\0\1\0\0\0", 5)));
  std::this_thread::sleep_for(300ms);
  backend().kill();
  const Packet reply = raw.read_one(3s);  // not after the statement's 30 s, nor with the next command
  EXPECT_EQ(reply.error_code(), 1158u) << reply.message();
  EXPECT_EQ(reply.sequence_id, 1);
  // The session held no state: the next command gets its own answer (a ping corral answers itself).
  expect_ping_ok(raw, Target::Corral);
}

TEST_F(RawPacketsTest, TheStatementTimeoutFailsAnExecuteAtOnce) {
  start_proxy({.workers = 1, .mysql_toml = "statement_timeout_ms = 300\n"});
  MysqlClient client = login(Target::Corral);
  RawPackets raw(static_cast<int>(mysql_get_socket(client.handle())));
  const std::uint32_t id = prepare(raw, "SELECT SLEEP(?)");
  // One parameter: NULL bitmap 0, types bound (LONGLONG), the value 5.
  raw.send(0, command(kComStmtExecute, int4(id) + std::string("\0\1\0\0\0\0\1\x08\0", 9) +
                                           std::string("\5\0\0\0\0\0\0\0", 8)));
  const Packet reply = raw.read_one(3s);
  EXPECT_EQ(reply.error_code(), 1158u) << reply.message();
  EXPECT_THAT(reply.message(), HasSubstr("timed out after 300 ms"));
  expect_ping_ok(raw, Target::Corral);
}

/// The greeting's server version and capability flags (HandshakeV10), read raw from `port`.
struct Greeting {
  std::string server_version;
  std::uint32_t capabilities = 0;
};

Greeting read_greeting(uint16_t port) {
  const int fd = connect_tcp("127.0.0.1", port, 5s);
  RawPackets raw(fd);
  const Packet packet = raw.read_one();
  ::close(fd);
  // protocol version, server version<NUL>, connection id<4>, scramble<8>, filler<1>, capabilities<2>,
  // charset<1>, status<2>, capabilities (upper)<2>.
  Greeting greeting;
  const std::size_t nul = packet.payload.find('\0', 1);
  greeting.server_version = packet.payload.substr(1, nul - 1);
  const auto byte = [&](std::size_t at) { return static_cast<std::uint32_t>(static_cast<std::uint8_t>(packet.payload.at(at))); };
  const std::size_t lower = nul + 1 + 4 + 8 + 1;
  greeting.capabilities = byte(lower) | byte(lower + 1) << 8 | byte(lower + 5) << 16 | byte(lower + 6) << 24;
  return greeting;
}

TEST_F(RawPacketsTest, TheGreetingAnnouncesTheBackendsVersion) {
  start_proxy({.workers = 1});
  const Greeting direct = read_greeting(backend().port());
  const Greeting through = read_greeting(proxy_port());
  ASSERT_THAT(direct.server_version, HasSubstr("MariaDB"));
  EXPECT_EQ(through.server_version, direct.server_version);
  // libmariadb recognises MariaDB from it, and strips the "5.5.5-" prefix, as direct.
  MysqlClient client = login(Target::Corral);
  MysqlClient direct_client = login(Target::Direct);
  EXPECT_TRUE(mariadb_connection(client.handle()));
  EXPECT_STREQ(mysql_get_server_info(client.handle()), mysql_get_server_info(direct_client.handle()));
  EXPECT_EQ(mysql_get_server_version(client.handle()), mysql_get_server_version(direct_client.handle()));
}

TEST_F(RawPacketsTest, AConfiguredVersionIsAnnouncedAsItIs) {
  start_proxy({.workers = 1, .mysql_toml = "server_version = \"10.11.99-MariaDB-edge\"\n"});
  EXPECT_EQ(read_greeting(proxy_port()).server_version, "10.11.99-MariaDB-edge");
}

// The compressed protocol (CLIENT_COMPRESS, mtr main.compress): offered when the backend offers it,
// spoken with the client, and a compressed client's statements run on compressed backend
// connections, so the server tells the session what it tells a direct compressed client.
MysqlClient connect_compressed(uint16_t port) {
  return MysqlClient::connect(
      {.port = port, .user = kUser, .password = kPassword, .database = "app", .compress = true});
}

TEST_F(RawPacketsTest, ACompressedClientIsServedOnACompressedBackendConnection) {
  start_proxy({.workers = 1});
  constexpr std::uint32_t kClientCompress = 0x20;
  ASSERT_NE(read_greeting(backend().port()).capabilities & kClientCompress, 0u);
  EXPECT_NE(read_greeting(proxy_port()).capabilities & kClientCompress, 0u);
  MysqlClient compressed = connect_compressed(proxy_port());
  MysqlClient plain = login(Target::Corral);
  EXPECT_EQ(compressed.query("SHOW STATUS LIKE 'Compression'").at(0, 1), "ON");
  EXPECT_EQ(plain.query("SHOW STATUS LIKE 'Compression'").at(0, 1), "OFF");
  // A repetitive result (deflated), an incompressible one (stored), both over many compressed packets.
  EXPECT_EQ(compressed.query("SELECT REPEAT('x', 100000)").at(0), std::string(100000, 'x'));
  const std::string hashes = "SELECT GROUP_CONCAT(SHA2(seq, 512) SEPARATOR '') FROM app.seq_1_to_3000";
  const QueryResult direct = backend().query(hashes);
  EXPECT_EQ(compressed.query(hashes).at(0), direct.at(0));
  EXPECT_EQ(compressed.query("SELECT seq FROM seq_1_to_20000").rows.size(), 20000u);
  // Prepared statements with a parameter, and short replies (stored) in between.
  MYSQL_STMT* stmt = mysql_stmt_init(compressed.handle());
  const std::string_view sql = "SELECT CONCAT(?, REPEAT('y', 1000))";
  ASSERT_EQ(mysql_stmt_prepare(stmt, sql.data(), sql.size()), 0) << mysql_stmt_error(stmt);
  std::string value(70000, 'p');
  unsigned long value_length = value.size();
  MYSQL_BIND param{};
  param.buffer_type = MYSQL_TYPE_STRING;
  param.buffer = value.data();
  param.buffer_length = value_length;
  param.length = &value_length;
  ASSERT_EQ(mysql_stmt_bind_param(stmt, &param), 0);
  ASSERT_EQ(mysql_stmt_execute(stmt), 0) << mysql_stmt_error(stmt);
  ASSERT_EQ(mysql_stmt_store_result(stmt), 0) << mysql_stmt_error(stmt);
  EXPECT_EQ(mysql_stmt_num_rows(stmt), 1u);
  mysql_stmt_close(stmt);
  EXPECT_TRUE(compressed.ping());
  EXPECT_EQ(compressed.query("SHOW STATUS LIKE 'Compression'").at(0, 1), "ON");
}

// MariaDB Connector/C numbers every chunk of a packet of 16 MiB or more 0 under compression (the
// compressed packets carry the order); corral takes it as the server does.
TEST_F(RawPacketsTest, ACompressedStatementOverSixteenMebibytesGoesThrough) {
  start_backend({.extra_args = {"--max-allowed-packet=64M"}});
  start_proxy({.workers = 1});
  MysqlClient compressed = connect_compressed(proxy_port());
  const unsigned long max_packet = 64ul << 20;
  mysql_options(compressed.handle(), MYSQL_OPT_MAX_ALLOWED_PACKET, &max_packet);
  const std::string big = "SELECT LENGTH('" + std::string((17u << 20) + 5, 'z') + "')";
  EXPECT_EQ(compressed.query(big).at(0), std::to_string((17u << 20) + 5));
  EXPECT_EQ(compressed.query("SELECT 1").at(0), "1");
}

TEST_F(RawPacketsTest, ACompressedPacketThatDoesNotInflateGets1157AndTheConnectionCloses) {
  start_proxy({.workers = 1});
  MysqlClient compressed = connect_compressed(proxy_port());
  ASSERT_EQ(compressed.query("SELECT 1").at(0), "1");
  const int fd = static_cast<int>(mysql_get_socket(compressed.handle()));
  // A compressed packet (sequence id 0) that claims 100 bytes of content and carries no zlib stream.
  std::string corrupt = {10, 0, 0, 0, 100, 0, 0};
  corrupt.append("not zlib!!");
  ASSERT_EQ(::write(fd, corrupt.data(), corrupt.size()), static_cast<ssize_t>(corrupt.size()));
  // The reply: one compressed packet (stored: an ERR is too short to deflate) holding the ERR.
  std::string reply;
  char buffer[512];
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, 5000) > 0) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n <= 0) break;
    reply.append(buffer, static_cast<std::size_t>(n));
  }
  ASSERT_GE(reply.size(), 7u + 4u + 3u) << "no reply before the close";
  EXPECT_EQ(reply[3], 1) << "the reply's compressed sequence id follows the client's";
  EXPECT_EQ(reply.substr(4, 3), std::string(3, '\0')) << "stored";
  const std::string payload = reply.substr(7 + 4);
  ASSERT_EQ(static_cast<std::uint8_t>(payload[0]), 0xff);
  EXPECT_EQ(static_cast<std::uint8_t>(payload[1]) | static_cast<std::uint8_t>(payload[2]) << 8, 1157);
  EXPECT_THAT(payload, HasSubstr("Couldn't uncompress communication packet"));
}

// mysqltest --ps-protocol prepares compound statements (main.type_decimal, main.type_float): their
// cursor leaks SERVER_STATUS_CURSOR_EXISTS into each result's EOF although the execute asked for no
// cursor, and the rows follow. corral took the flag for an opened cursor, ended the response after
// the first result's definitions and left the client waiting.
TEST_F(RawPacketsTest, ACompoundStatementWithACursorOfItsOwnRelaysEveryResult) {
  start_proxy({.workers = 1});
  std::vector<std::pair<int, int>> direct;  // (sequence id, first byte) of each packet
  for (const Target target : {Target::Direct, Target::Corral}) {
    MysqlClient client = login(target);
    client.execute("CREATE TABLE IF NOT EXISTS t1 (str VARCHAR(10))");
    client.execute("DELETE FROM t1");
    client.execute("INSERT INTO t1 VALUES ('1'), ('2x')");
    RawPackets raw(static_cast<int>(mysql_get_socket(client.handle())));
    const std::uint32_t id = prepare(
        raw, "BEGIN NOT ATOMIC DECLARE done INT DEFAULT FALSE; DECLARE vstr VARCHAR(128); "
             "DECLARE cur1 CURSOR FOR SELECT str FROM t1 ORDER BY str; "
             "DECLARE CONTINUE HANDLER FOR NOT FOUND SET done = TRUE; OPEN cur1; "
             "read_loop: LOOP FETCH cur1 INTO vstr; IF done THEN LEAVE read_loop; END IF; "
             "SELECT vstr; SELECT CAST(str AS DECIMAL(38,0)) FROM t1 WHERE str=vstr; SHOW WARNINGS; END LOOP; END");
    raw.send(0, command(kComStmtExecute, int4(id) + std::string("\0\1\0\0\0", 5)));  // no cursor asked for
    // Binary rows start with 0x00 like an OK_Packet: the response is read until the server falls silent.
    std::vector<std::pair<int, int>> packets;
    try {
      for (;;) {
        const Packet p = raw.read_one(1500ms);
        packets.emplace_back(p.sequence_id, p.payload.empty() ? -1 : static_cast<std::uint8_t>(p.payload[0]));
      }
    } catch (const HarnessError&) {
    }
    if (target == Target::Direct) {
      direct = packets;
      ASSERT_GT(direct.size(), 20u);
    } else {
      EXPECT_EQ(packets, direct);
    }
    expect_ping_ok(raw, target);
  }
}

// mysqltest --ps-protocol shows a PREPARE's warnings (YEAR(2) is deprecated...) with SHOW WARNINGS
// right after it. They live on the backend connection that prepared, so that one must stay with the
// session for the SHOW WARNINGS, and a PREPARE that warned must not be answered from the cache.
TEST_F(RawPacketsTest, TheWarningsOfAPrepareCanBeShown) {
  start_proxy({.workers = 1});
  for (const Target target : {Target::Direct, Target::Corral}) {
    MysqlClient client = login(target);
    MYSQL* m = client.handle();
    const std::string sql = "CREATE TABLE ty (y YEAR(2))";
    for (int round = 0; round < 2; ++round) {  // the second PREPARE of the text: corral has it cached
      MYSQL_STMT* stmt = mysql_stmt_init(m);
      ASSERT_EQ(mysql_stmt_prepare(stmt, sql.data(), sql.size()), 0) << mysql_stmt_error(stmt);
      EXPECT_EQ(mysql_warning_count(m), 1u) << to_string(target) << " " << round;
      const QueryResult warnings = client.query("SHOW WARNINGS");
      ASSERT_EQ(warnings.rows.size(), 1u) << to_string(target) << " " << round;
      EXPECT_EQ(warnings.at(0, 1), "1287") << to_string(target);
      mysql_stmt_close(stmt);
    }
  }
}

// The same on a backend connection whose statement cache is full (mtr main.column_compression,
// main.partition, main.grant2 prepare hundreds of statements): the statements the PREPARE evicts are
// closed after it, and those closes, which have no response, used to make corral forget the PREPARE's
// warnings, so SHOW WARNINGS came back empty.
TEST_F(RawPacketsTest, TheWarningsOfAPrepareThatEvictedStatementsCanBeShown) {
  start_proxy({.workers = 1, .mysql_toml = "max_prepared_per_connection = 3\n"});
  MysqlClient client = login(Target::Corral);
  MYSQL* m = client.handle();
  for (int i = 0; i < 3; ++i) {
    const std::string fill = "SELECT " + std::to_string(i);
    MYSQL_STMT* stmt = mysql_stmt_init(m);
    ASSERT_EQ(mysql_stmt_prepare(stmt, fill.data(), fill.size()), 0) << mysql_stmt_error(stmt);
    mysql_stmt_close(stmt);
  }
  for (const std::string sql : {"CREATE TABLE ty (y YEAR(2))", "CREATE TABLE tz (y YEAR(2))"}) {
    MYSQL_STMT* stmt = mysql_stmt_init(m);
    ASSERT_EQ(mysql_stmt_prepare(stmt, sql.data(), sql.size()), 0) << mysql_stmt_error(stmt);
    EXPECT_EQ(mysql_warning_count(m), 1u) << sql;
    const QueryResult warnings = client.query("SHOW WARNINGS");
    ASSERT_EQ(warnings.rows.size(), 1u) << sql;
    EXPECT_EQ(warnings.at(0, 1), "1287") << sql;
    mysql_stmt_close(stmt);
  }
}

}  // namespace
}  // namespace corral::testing::mysql_it
