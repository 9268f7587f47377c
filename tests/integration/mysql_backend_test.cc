// corral as a MySQL client: MysqlConnection and MysqlPool against a real mariadbd (native password,
// session tracking, relayed responses, transactions, pool limits, conversion, backend failure), and
// against a scripted fake server on port 0 for what MariaDB cannot do (caching_sha2_password, also
// after an SSLRequest and TLS, and a relayed full authentication that must not cross a plain hop).
#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "harness.h"
#include "pool/mysql_pool.h"
#include "scripted_mysql_io.h"
#include "shop_server.h"
#include "runtime/block_on.h"
#include "runtime/task_scope.h"
#include "runtime/tls.h"

namespace corral::pool {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;
using corral::testing::poll_until;
using corral::testing::wait_until;

constexpr const char* kUser = "corral";
constexpr const char* kPassword = "s3cret-pw";

std::string phases_text(const std::vector<mysql::ResponsePhase>& phases) {
  std::string out;
  for (const auto phase : phases) out.append(mysql::to_string(phase)).append(" ");
  return out;
}

// ---- key -----------------------------------------------------------------------------------------

TEST(MysqlBackendKey, IdsSeparateWhatMattersAndDescribeHidesThePassword) {
  const MysqlKey base{"127.0.0.1", 3306, "app", "pw", "shop", "utf8mb4", mysql::CLIENT_DEPRECATE_EOF};
  MysqlKey other_schema = base;
  other_schema.schema = "other";
  MysqlKey other_password = base;
  other_password.password = "pw2";
  MysqlKey shifted = base;  // "app"+"pw" must not equal "ap"+"ppw"
  shifted.user = "ap";
  shifted.password = "ppw";
  MysqlKey ignored_bit = base;  // a bit corral negotiates itself does not split pools
  ignored_bit.capabilities |= mysql::CLIENT_SESSION_TRACK;
  MysqlKey format_bit = base;
  format_bit.capabilities |= mysql::CLIENT_FOUND_ROWS;

  EXPECT_NE(base.id(), other_schema.id());
  EXPECT_EQ(base.credentials_id(), other_schema.credentials_id());
  EXPECT_NE(base.credentials_id(), other_password.credentials_id());
  EXPECT_NE(base.credentials_id(), shifted.credentials_id());
  EXPECT_EQ(base.id(), ignored_bit.id());
  EXPECT_NE(base.credentials_id(), format_bit.credentials_id());
  EXPECT_EQ(base.describe(), "app@127.0.0.1:3306/shop");
  MysqlKey v6 = base;
  v6.host = "::1";
  v6.schema.clear();
  EXPECT_EQ(v6.describe(), "app@[::1]:3306");

  config::BackendUrl url;
  url.protocol = config::Protocol::Mysql;
  url.user = "app";
  url.password = "pw";
  url.host = "db";
  url.port = 3307;
  url.mysql_schema = "shop";
  url.mysql_charset = "latin1";
  const MysqlKey from_url = make_mysql_key(url, mysql::CLIENT_MULTI_STATEMENTS | mysql::CLIENT_SSL);
  EXPECT_EQ(from_url.describe(), "app@db:3307/shop");
  EXPECT_EQ(from_url.charset, "latin1");
  EXPECT_EQ(from_url.capabilities, mysql::CLIENT_MULTI_STATEMENTS);
  EXPECT_EQ(from_url.ssl_mode, config::MysqlSslMode::Disabled);

  // TLS settings split pools: a plain connection is no substitute for a REQUIRED one, nor one checked
  // against one CA for one checked against another.
  config::BackendUrl tls_url = url;
  tls_url.mysql_ssl_mode = config::MysqlSslMode::VerifyCa;
  tls_url.tls_ca_file = "/etc/ca.pem";
  const MysqlKey verified = make_mysql_key(tls_url, 0);
  EXPECT_EQ(verified.ssl_mode, config::MysqlSslMode::VerifyCa);
  EXPECT_EQ(verified.ssl_ca, "/etc/ca.pem");
  MysqlKey other_ca = verified;
  other_ca.ssl_ca = "/etc/other.pem";
  MysqlKey required = verified;
  required.ssl_mode = config::MysqlSslMode::Required;
  required.ssl_ca.clear();
  const MysqlKey plain = make_mysql_key(url, 0);
  EXPECT_NE(verified.credentials_id(), plain.credentials_id());
  EXPECT_NE(verified.credentials_id(), other_ca.credentials_id());
  EXPECT_NE(verified.credentials_id(), required.credentials_id());
  EXPECT_NE(required.credentials_id(), plain.credentials_id());
}

/// Pools are used on their loop (a clean release may start the idle reaper there).
rt::Task<void> release_lease(MysqlLease* lease, bool clean) {
  lease->release(clean);
  co_return;
}

/// One mariadbd per test process (each TEST runs as its own ctest), with a user and two schemas.
class MysqlBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = corral::testing::start_shop_server(
        kUser, kPassword,
        "CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB;"
        "INSERT INTO shop.items VALUES (1, 'apple'), (2, NULL), (3, 'cherry');"
        "CREATE TABLE shop.loaded (id INT, name VARCHAR(20)) ENGINE=InnoDB");
  }
  static void TearDownTestSuite() { server_.reset(); }

  static MysqlKey key(std::string schema = {}, mysql::CapabilityFlags caps = 0, std::string charset = {}) {
    return MysqlKey{"127.0.0.1", server_->port(), kUser, kPassword, std::move(schema), std::move(charset), caps};
  }
  static rt::SocketAddress address() { return *rt::SocketAddress::parse("127.0.0.1", server_->port()); }

  /// Opens `connection` as `k`; returns the open's result.
  rt::Result<void> open(MysqlConnection& connection, const MysqlKey& k) {
    return rt::block_on(loop_, connection.open(k, address(), nullptr));
  }
  rt::Result<QueryOutcome> query(MysqlConnection& connection, std::string sql) {
    return rt::block_on(loop_, connection.query(sql, nullptr));
  }
  /// Runs `sql` and returns its single value.
  std::optional<std::string> value(MysqlConnection& connection, std::string sql) {
    auto outcome = query(connection, std::move(sql));
    EXPECT_TRUE(outcome.ok()) << connection.error().message;
    if (!outcome.ok() || outcome->error) {
      ADD_FAILURE() << (outcome.ok() ? outcome->error->message : std::string("transport error"));
      return std::nullopt;
    }
    EXPECT_EQ(outcome->rows.size(), 1u);
    if (outcome->rows.empty() || outcome->rows[0].empty()) return std::nullopt;
    return outcome->rows[0][0];
  }

  void give_back(MysqlLease& lease, bool clean) { rt::block_on(loop_, release_lease(&lease, clean)); }

  static inline std::unique_ptr<corral::testing::MariaDbServer> server_;
  config::PoolLimits limits_;
  rt::EventLoop loop_;
};

// ---- login ---------------------------------------------------------------------------------------

using MysqlBackendLogin = MysqlBackendTest;

TEST_F(MysqlBackendLogin, NativePasswordLoginTurnsOnSessionTracking) {
  MysqlConnection connection(limits_);
  auto opened = open(connection, key());
  ASSERT_TRUE(opened.ok()) << connection.error().message;
  EXPECT_TRUE(connection.is_idle());
  EXPECT_EQ(connection.auth_plugin(), "mysql_native_password");
  EXPECT_TRUE(connection.session_tracking());
  EXPECT_TRUE(connection.autocommit());
  EXPECT_THAT(connection.server_info().server_version, HasSubstr("MariaDB"));
  EXPECT_NE(connection.connection_id(), 0u);
  EXPECT_EQ(connection.capabilities() & mysql::CLIENT_SSL, 0u);
  EXPECT_EQ(connection.capabilities() & mysql::CLIENT_COMPRESS, 0u);
  EXPECT_EQ(value(connection, "SELECT CURRENT_USER()"), "corral@%");
  auto tracking = query(connection,
                        "SELECT @@session_track_schema, @@session_track_state_change, "
                        "@@session_track_system_variables, @@session_track_transaction_info");
  ASSERT_TRUE(tracking.ok());
  ASSERT_EQ(tracking->rows.size(), 1u);
  EXPECT_EQ(tracking->rows[0][0], "1");
  EXPECT_EQ(tracking->rows[0][1], "1");
  EXPECT_EQ(tracking->rows[0][2], "*");
  EXPECT_EQ(tracking->rows[0][3], "CHARACTERISTICS");
}

TEST_F(MysqlBackendLogin, WrongPasswordKeepsTheServersErr1045) {
  MysqlConnection connection(limits_);
  MysqlKey k = key();
  k.password = "wrong";
  auto opened = open(connection, k);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error(), MysqlBackendErrc::ServerError);
  EXPECT_TRUE(connection.is_closed());
  EXPECT_EQ(connection.error().code, 1045);
  EXPECT_EQ(connection.error().sql_state, "28000");
  EXPECT_THAT(connection.error().message, HasSubstr("Access denied for user 'corral'"));
  // The ERR packet the session would send carries the same code, state and text.
  const std::string payload = connection.error().err_payload();
  auto err = mysql::decode_err_packet(payload, mysql::CLIENT_PROTOCOL_41);
  ASSERT_TRUE(err.ok());
  EXPECT_EQ(err->error_code, 1045);
  EXPECT_EQ(err->sql_state, "28000");
}

TEST_F(MysqlBackendLogin, SchemaAndCharsetComeFromTheKey) {
  MysqlConnection connection(limits_);
  auto opened = open(connection, key("shop", 0, "latin1"));
  ASSERT_TRUE(opened.ok()) << connection.error().message;
  EXPECT_EQ(connection.schema(), "shop");
  EXPECT_EQ(connection.charset(), "latin1");
  EXPECT_FALSE(connection.charset_changed());
  EXPECT_EQ(value(connection, "SELECT DATABASE()"), "shop");
  EXPECT_EQ(value(connection, "SELECT CONCAT(@@character_set_client, ',', @@character_set_results)"),
            "latin1,latin1");
}

TEST_F(MysqlBackendLogin, UnknownSchemaIsRefusedWithTheServersError) {
  MysqlConnection connection(limits_);
  auto opened = open(connection, key("no_such_schema"));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(connection.error().code, 1049);
  EXPECT_THAT(connection.error().message, HasSubstr("no_such_schema"));
}

TEST_F(MysqlBackendLogin, UnsupportedAuthPluginIsAClearError) {
  server_->create_user("ed", "edpw", "ed25519");
  MysqlConnection connection(limits_);
  MysqlKey k = key();
  k.user = "ed";
  k.password = "edpw";
  auto opened = open(connection, k);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error(), MysqlBackendErrc::Unsupported);
  EXPECT_EQ(connection.error().code, 1251);
  EXPECT_THAT(connection.error().message, HasSubstr("client_ed25519"));
}

TEST_F(MysqlBackendLogin, UnreachableBackendIsUnavailable) {
  MysqlConnection connection(limits_);
  const uint16_t closed_port = corral::testing::pick_free_port();
  const rt::SocketAddress nowhere = *rt::SocketAddress::parse("127.0.0.1", closed_port);
  auto opened = rt::block_on(loop_, connection.open(key(), nowhere, nullptr));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error(), MysqlBackendErrc::Unavailable);
  EXPECT_EQ(connection.error().code, kErrBackendUnavailable.code);
  EXPECT_THAT(connection.error().message, HasSubstr("unavailable"));
  EXPECT_THAT(connection.error().message, Not(HasSubstr(kPassword)));
}

// ---- relaying responses --------------------------------------------------------------------------

struct Relayed {
  std::vector<mysql::ResponsePhase> phases;
  std::string wire;           // every packet, as relayed
  std::vector<bool> complete;  // event.complete per packet
  std::vector<mysql::StatusFlags> status;
  std::error_code error;
};

/// What a session does: send the command, relay every buffered packet (the allocation-free polling
/// form), read more, until the scanner says complete.
rt::Task<Relayed> relay(MysqlConnection* connection, std::string sql) {
  Relayed out;
  std::string payload;
  mysql::encode_com_query(payload, sql, connection->capabilities());
  auto sent = co_await connection->send_command(payload);
  if (!sent) {
    out.error = sent.error();
    co_return out;
  }
  for (;;) {
    auto polled = connection->poll_response_packet();
    if (!polled) {
      out.error = polled.error();
      co_return out;
    }
    if (!polled->has_value()) {
      auto more = co_await connection->read_response_bytes();
      if (!more) {
        out.error = more.error();
        co_return out;
      }
      continue;
    }
    const ResponsePacket& packet = **polled;
    out.phases.push_back(packet.event.phase);
    out.wire.append(packet.packet.wire);
    out.complete.push_back(packet.event.complete);
    out.status.push_back(packet.event.status_flags);
    if (packet.event.complete) co_return out;
  }
}

class MysqlBackendRelay : public MysqlBackendTest, public ::testing::WithParamInterface<bool> {};

TEST_P(MysqlBackendRelay, SelectRowsArriveAsWirePacketsUntilComplete) {
  const bool deprecate_eof = GetParam();
  MysqlConnection connection(limits_);
  auto opened = open(connection, key("shop", deprecate_eof ? mysql::CLIENT_DEPRECATE_EOF : 0));
  ASSERT_TRUE(opened.ok()) << connection.error().message;
  ASSERT_EQ((connection.capabilities() & mysql::CLIENT_DEPRECATE_EOF) != 0, deprecate_eof);

  const Relayed r = rt::block_on(loop_, relay(&connection, "SELECT id, name FROM items ORDER BY id"));
  ASSERT_FALSE(r.error) << connection.error().message;
  using P = mysql::ResponsePhase;
  std::vector<P> expected{P::ColumnCount, P::ColumnDefinition, P::ColumnDefinition};
  if (!deprecate_eof) expected.push_back(P::ColumnsEof);
  expected.insert(expected.end(), {P::Row, P::Row, P::Row, P::ResultSetEnd});
  EXPECT_EQ(r.phases, expected) << phases_text(r.phases);
  EXPECT_TRUE(r.complete.back());
  EXPECT_EQ(std::count(r.complete.begin(), r.complete.end(), true), 1);
  EXPECT_TRUE(connection.is_idle());
  EXPECT_EQ(connection.summary().rows, 3u);

  // The relayed bytes are a valid response on their own: a client's parser (here a fresh scanner)
  // reads the same packets, with consecutive sequence ids from 1, and the rows decode.
  mysql::ResponseScanner client(mysql::Command::COM_QUERY, connection.capabilities());
  std::string_view rest = r.wire;
  std::vector<std::vector<std::optional<std::string>>> rows;
  std::vector<mysql::TextValue> values;
  while (!rest.empty()) {
    auto scan = client.scan(rest);
    ASSERT_EQ(scan.status, mysql::FrameStatus::Packet) << mysql::to_string(scan.error);
    if (scan.event->phase == P::Row) {
      ASSERT_EQ(mysql::decode_text_row(scan.packet.payload(), 2, values), mysql::Errc::Ok);
      auto& row = rows.emplace_back();
      for (const auto& v : values) row.push_back(v ? std::optional<std::string>(std::string(*v)) : std::nullopt);
    }
    rest.remove_prefix(scan.packet.size());
  }
  EXPECT_TRUE(client.complete());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0][1], "apple");
  EXPECT_EQ(rows[1][1], std::nullopt);
  EXPECT_EQ(rows[2][0], "3");

  // The connection is ready for the next command at once.
  EXPECT_EQ(value(connection, "SELECT COUNT(*) FROM items"), "3");
}

INSTANTIATE_TEST_SUITE_P(Eof, MysqlBackendRelay, ::testing::Values(false, true),
                         [](const auto& param_info) { return param_info.param ? "DeprecateEof" : "EofPackets"; });

TEST_F(MysqlBackendTest, LargeResultsStreamAcrossReadsAndRowsOver16MiBSpanWirePackets) {
  server_->execute("SET GLOBAL max_allowed_packet = 64 * 1024 * 1024");  // new sessions only
  MysqlConnection connection(limits_);
  ASSERT_TRUE(open(connection, key("shop", mysql::CLIENT_DEPRECATE_EOF)).ok()) << connection.error().message;

  const Relayed many = rt::block_on(loop_, relay(&connection, "SELECT seq, REPEAT('x', 1000) FROM seq_1_to_5000"));
  ASSERT_FALSE(many.error) << connection.error().message;
  EXPECT_EQ(std::count(many.phases.begin(), many.phases.end(), mysql::ResponsePhase::Row), 5000);
  EXPECT_EQ(std::count(many.complete.begin(), many.complete.end(), true), 1);
  EXPECT_GT(many.wire.size(), 5000u * 1000u);

  const Relayed big = rt::block_on(loop_, relay(&connection, "SELECT REPEAT('y', 17000000)"));
  ASSERT_FALSE(big.error) << connection.error().message;
  using P = mysql::ResponsePhase;
  const std::vector<P> expected{P::ColumnCount, P::ColumnDefinition, P::Row, P::Continuation, P::ResultSetEnd};
  EXPECT_EQ(big.phases, expected) << phases_text(big.phases);
  EXPECT_EQ(connection.summary().rows, 1u);
  EXPECT_TRUE(connection.is_idle());
  connection.trim();  // the 16 MiB read buffer goes with the response
  EXPECT_EQ(value(connection, "SELECT 1"), "1");
}

TEST_F(MysqlBackendTest, MultiStatementResultsCompleteOnlyAfterTheLast) {
  MysqlConnection connection(limits_);
  auto opened = open(connection, key("shop", mysql::CLIENT_MULTI_STATEMENTS | mysql::CLIENT_MULTI_RESULTS |
                                                 mysql::CLIENT_DEPRECATE_EOF));
  ASSERT_TRUE(opened.ok()) << connection.error().message;
  const Relayed r = rt::block_on(loop_, relay(&connection, "SELECT 1; SELECT 2, 3; DO 4"));
  ASSERT_FALSE(r.error) << connection.error().message;
  using P = mysql::ResponsePhase;
  EXPECT_EQ(std::count(r.phases.begin(), r.phases.end(), P::ColumnCount), 2);
  EXPECT_EQ(r.phases.back(), P::Ok);
  EXPECT_EQ(std::count(r.complete.begin(), r.complete.end(), true), 1);
  EXPECT_TRUE(r.complete.back());
  for (std::size_t i = 0; i + 1 < r.phases.size(); ++i) {
    if (r.phases[i] == P::ResultSetEnd) {
      EXPECT_NE(r.status[i] & mysql::SERVER_MORE_RESULTS_EXISTS, 0) << i;
    }
  }
  EXPECT_EQ(connection.summary().result_sets, 3u);
  EXPECT_EQ(connection.summary().rows, 2u);
  EXPECT_TRUE(connection.is_idle());
}

TEST_F(MysqlBackendTest, MultiStatementsNeedTheKeysCapability) {
  MysqlConnection connection(limits_);
  ASSERT_TRUE(open(connection, key("shop")).ok()) << connection.error().message;
  auto outcome = query(connection, "SELECT 1; SELECT 2");
  ASSERT_TRUE(outcome.ok());
  ASSERT_TRUE(outcome->error.has_value());
  EXPECT_EQ(outcome->error->code, 1064);  // ER_PARSE_ERROR: the server saw one statement
  EXPECT_TRUE(connection.is_idle());       // an ERR_Packet is an answer, not a failure
}

TEST_F(MysqlBackendTest, TransactionStatusFollowsBeginAndCommit) {
  MysqlConnection connection(limits_);
  ASSERT_TRUE(open(connection, key("shop")).ok()) << connection.error().message;
  EXPECT_FALSE(connection.in_transaction());
  auto begin = query(connection, "BEGIN");
  ASSERT_TRUE(begin.ok() && begin->ok());
  EXPECT_TRUE(connection.in_transaction());
  EXPECT_NE(begin->status_flags & mysql::SERVER_STATUS_IN_TRANS, 0);
  auto insert = query(connection, "INSERT INTO items VALUES (10, 'tx')");
  ASSERT_TRUE(insert.ok() && insert->ok());
  EXPECT_EQ(insert->affected_rows, 1u);
  EXPECT_TRUE(connection.in_transaction());
  // transaction_info=CHARACTERISTICS: the server reports the transaction's state itself.
  EXPECT_TRUE(connection.session_changes().transaction_state.has_value());
  auto commit = query(connection, "COMMIT");
  ASSERT_TRUE(commit.ok() && commit->ok());
  EXPECT_FALSE(connection.in_transaction());
  EXPECT_TRUE(connection.autocommit());
  auto cleanup = query(connection, "DELETE FROM items WHERE id = 10");
  ASSERT_TRUE(cleanup.ok() && cleanup->ok());
}

TEST_F(MysqlBackendTest, SessionTrackingReportsSchemaAndSystemVariables) {
  MysqlConnection connection(limits_);
  const MysqlKey shop = key("shop");
  ASSERT_TRUE(open(connection, shop).ok()) << connection.error().message;
  auto use = query(connection, "USE other");
  ASSERT_TRUE(use.ok() && use->ok());
  ASSERT_TRUE(connection.session_changes().schema.has_value());
  EXPECT_EQ(*connection.session_changes().schema, "other");
  EXPECT_EQ(connection.schema(), "other");
  EXPECT_FALSE(connection.conforms_to(shop));
  EXPECT_TRUE(connection.can_conform_to(shop));

  auto autocommit = query(connection, "SET autocommit=0");
  ASSERT_TRUE(autocommit.ok() && autocommit->ok());
  const auto& vars = connection.session_changes().system_variables;
  EXPECT_THAT(vars, ::testing::Contains(std::pair<std::string, std::string>("autocommit", "OFF")));
  EXPECT_FALSE(connection.autocommit());
  EXPECT_FALSE(connection.autocommit_as_opened());

  auto names = query(connection, "SET NAMES latin1");
  ASSERT_TRUE(names.ok() && names->ok());
  EXPECT_TRUE(connection.charset_changed());

  // conform_to() puts schema and charset back with COM_INIT_DB and SET NAMES.
  MysqlKey utf8_shop = shop;
  utf8_shop.charset = "utf8mb4";
  auto conformed = rt::block_on(loop_, connection.conform_to(utf8_shop));
  ASSERT_TRUE(conformed.ok() && conformed->ok());
  EXPECT_TRUE(connection.conforms_to(utf8_shop));
  EXPECT_EQ(value(connection, "SELECT CONCAT(DATABASE(), ',', @@character_set_client)"), "shop,utf8mb4");
}

TEST_F(MysqlBackendTest, SilentBackendTimesOutAndTheConnectionCloses) {
  limits_.operation_timeout = 300ms;
  MysqlConnection connection(limits_);
  ASSERT_TRUE(open(connection, key()).ok()) << connection.error().message;
  server_->freeze();
  const auto started = std::chrono::steady_clock::now();
  auto outcome = query(connection, "SELECT 1");
  const auto waited = std::chrono::steady_clock::now() - started;
  server_->thaw();
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.error(), MysqlBackendErrc::Lost);
  EXPECT_TRUE(connection.is_closed());
  EXPECT_EQ(connection.error().code, kErrBackendLost.code);
  EXPECT_THAT(connection.error().message, HasSubstr("timed out after 300 ms"));
  EXPECT_GE(waited, 290ms);
  EXPECT_LT(waited, 3s);
}

struct LocalInfileRun {
  std::string file_name;
  bool awaited_client = false;
  MysqlConnection::State state_while_waiting = MysqlConnection::State::New;
  std::uint64_t affected_rows = 0;
  bool complete = false;
  std::string error;
};

/// LOAD DATA LOCAL: the server asks for the file, the session relays the client's packets, resumes.
rt::Task<LocalInfileRun> load_local(MysqlConnection* connection) {
  LocalInfileRun run;
  std::string payload;
  mysql::encode_com_query(payload, "LOAD DATA LOCAL INFILE 'rows.csv' INTO TABLE loaded FIELDS TERMINATED BY ','",
                          connection->capabilities());
  auto sent = co_await connection->send_command(payload);
  if (!sent) co_return run;
  auto request = co_await connection->next_response_packet();
  if (!request) co_return run;
  run.file_name = std::string(request->event.data);
  run.awaited_client = request->event.awaiting_client;
  run.state_while_waiting = connection->state();
  // What the client would send: the contents (sequence 2), then an empty packet (sequence 3).
  std::string file;
  std::uint8_t next = mysql::append_packet(file, 2, "1,a\n2,b\n");
  next = mysql::append_packet(file, next, "");
  auto relayed = co_await connection->send_wire(file);
  if (!relayed) co_return run;
  connection->resume(next);
  auto done = co_await connection->next_response_packet();
  if (!done) {
    run.error = connection->error().message;
    co_return run;
  }
  run.complete = done->event.complete;
  run.affected_rows = done->event.ok.affected_rows;
  if (done->event.phase == mysql::ResponsePhase::Err) run.error = std::string(done->event.err.error_message);
  co_return run;
}

TEST_F(MysqlBackendTest, LocalInfileWaitsForTheClientsPacketsThenCompletes) {
  MysqlConnection connection(limits_);
  ASSERT_TRUE(open(connection, key("shop", mysql::CLIENT_LOCAL_FILES)).ok()) << connection.error().message;
  const LocalInfileRun run = rt::block_on(loop_, load_local(&connection));
  EXPECT_EQ(run.file_name, "rows.csv");
  EXPECT_TRUE(run.awaited_client);
  EXPECT_EQ(run.state_while_waiting, MysqlConnection::State::AwaitingClient);
  EXPECT_TRUE(run.complete) << run.error;
  EXPECT_EQ(run.affected_rows, 2u);
  EXPECT_TRUE(connection.is_idle());
  EXPECT_EQ(value(connection, "SELECT GROUP_CONCAT(name ORDER BY id) FROM loaded"), "a,b");
}

// ---- pool ----------------------------------------------------------------------------------------

using MysqlBackendPool = MysqlBackendTest;

struct ClientStats {
  int succeeded = 0;
  std::vector<std::string> errors;
  std::size_t max_pool_size = 0;
};

rt::Task<void> one_client(MysqlPool* pool, ClientStats* stats) {
  MysqlAcquired acquired = co_await pool->acquire(rt::Deadline::after(10s), nullptr);
  if (!acquired.ok()) {
    stats->errors.push_back(acquired.error.message);
    co_return;
  }
  stats->max_pool_size = std::max(stats->max_pool_size, pool->size());
  auto outcome = co_await acquired.lease->query("SELECT SLEEP(0.02), CONNECTION_ID()");
  if (!outcome || outcome->error) {
    stats->errors.push_back(acquired.lease->error().message);
    co_return;
  }
  ++stats->succeeded;
  acquired.lease.release(true);
}

rt::Task<void> many_clients(MysqlPool* pool, int count, ClientStats* stats) {
  rt::TaskScope scope;
  // Each client's frame refers to pool and stats, which outlive the scope's join below.
  for (int i = 0; i < count; ++i) scope.spawn(one_client(pool, stats));
  co_await scope.join();
}

TEST_F(MysqlBackendPool, TwentyClientsShareTwoConnections) {
  limits_.max_connections = 2;
  MysqlServerInfo info;
  MysqlPool pool(key("shop"), address(), limits_, info);
  ClientStats stats;
  rt::block_on(loop_, many_clients(&pool, 20, &stats));
  EXPECT_EQ(stats.succeeded, 20) << (stats.errors.empty() ? "" : stats.errors.front());
  EXPECT_LE(stats.max_pool_size, 2u);
  EXPECT_EQ(pool.opened_total(), 2u);
  EXPECT_EQ(pool.idle_count(), 2u);
  EXPECT_EQ(pool.lent_count(), 0u);
  EXPECT_EQ(pool.waiting_count(), 0u);
  EXPECT_TRUE(info.known);
  EXPECT_THAT(info.server_version, HasSubstr("MariaDB"));
  pool.stop();
  rt::block_on(loop_, pool.join());
  EXPECT_EQ(pool.size(), 0u);
}

rt::Task<std::pair<MysqlAcquired, std::chrono::milliseconds>> timed_acquire(MysqlPool* pool,
                                                                             std::chrono::milliseconds wait) {
  const auto started = std::chrono::steady_clock::now();
  MysqlAcquired acquired = co_await pool->acquire(rt::Deadline::after(wait), nullptr);
  co_return std::pair{std::move(acquired), std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::steady_clock::now() - started)};
}

TEST_F(MysqlBackendPool, ExhaustedPoolTimesOutWithAClearError) {
  limits_.max_connections = 1;
  MysqlServerInfo info;
  MysqlPool pool(key("shop"), address(), limits_, info);
  auto [held, first_wait] = rt::block_on(loop_, timed_acquire(&pool, 2s));
  ASSERT_TRUE(held.ok()) << held.error.message;
  auto [refused, waited] = rt::block_on(loop_, timed_acquire(&pool, 200ms));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code, MysqlBackendErrc::PoolExhausted);
  EXPECT_EQ(refused.error.code, 1040);
  EXPECT_THAT(refused.error.message, HasSubstr("corral@127.0.0.1:" + std::to_string(server_->port()) + "/shop"));
  EXPECT_THAT(refused.error.message, HasSubstr("pool.max_connections=1"));
  EXPECT_THAT(refused.error.message, Not(HasSubstr(kPassword)));
  EXPECT_GE(waited, 190ms);
  EXPECT_EQ(pool.waiting_count(), 0u);

  // Once released, the same connection is lent again without a new open.
  const std::uint32_t id = held.lease->connection_id();
  give_back(held.lease, true);
  auto [again, again_wait] = rt::block_on(loop_, timed_acquire(&pool, 200ms));
  ASSERT_TRUE(again.ok()) << again.error.message;
  EXPECT_EQ(again.lease->connection_id(), id);
  EXPECT_EQ(pool.opened_total(), 1u);
  give_back(again.lease, true);
  pool.stop();
  rt::block_on(loop_, pool.join());
}

TEST_F(MysqlBackendPool, ReleaseInsideATransactionClosesTheConnection) {
  MysqlServerInfo info;
  MysqlPool pool(key("shop"), address(), limits_, info);
  auto [acquired, waited] = rt::block_on(loop_, timed_acquire(&pool, 2s));
  ASSERT_TRUE(acquired.ok()) << acquired.error.message;
  auto begin = query(*acquired.lease, "BEGIN");
  ASSERT_TRUE(begin.ok() && begin->ok());
  give_back(acquired.lease, true);  // the session claims clean: the pool still refuses to pool it
  EXPECT_EQ(pool.size(), 0u);
  pool.stop();
  rt::block_on(loop_, pool.join());
}

rt::Task<std::pair<std::uint32_t, std::string>> use_once(MysqlPools* pools, MysqlKey key, rt::SocketAddress address,
                                                         std::string sql) {
  MysqlAcquired acquired = co_await pools->acquire(key, address, rt::Deadline::after(5s), nullptr);
  if (!acquired.ok()) co_return std::pair{0u, "acquire failed: " + acquired.error.message};
  auto outcome = co_await acquired.lease->query(sql);
  std::string result = !outcome                ? "query failed: " + acquired.lease->error().message
                       : outcome->error        ? "query refused: " + outcome->error->message
                       : outcome->rows.empty() ? "no rows"
                                               : outcome->rows[0][0].value_or("NULL");
  const std::uint32_t id = acquired.lease->connection_id();
  acquired.lease.release(true);
  co_return std::pair{id, result};
}

TEST_F(MysqlBackendPool, IdleConnectionIsConvertedToAnotherSchemaAndCharset) {
  MysqlPools pools(limits_);
  const auto [shop_id, shop_db] = rt::block_on(loop_, use_once(&pools, key("shop"), address(), "SELECT DATABASE()"));
  ASSERT_EQ(shop_db, "shop");
  // Same credentials, other schema: the idle "shop" connection moves over with COM_INIT_DB.
  const auto [other_id, other_db] =
      rt::block_on(loop_, use_once(&pools, key("other"), address(), "SELECT DATABASE()"));
  EXPECT_EQ(other_db, "other");
  EXPECT_EQ(other_id, shop_id);
  EXPECT_EQ(pools.get(key("shop"), address()).size(), 0u);
  EXPECT_EQ(pools.get(key("other"), address()).opened_total(), 0u);
  EXPECT_EQ(pools.get(key("other"), address()).idle_count(), 1u);
  // And with a charset: COM_INIT_DB + SET NAMES.
  const auto [latin_id, latin] = rt::block_on(
      loop_,
      use_once(&pools, key("shop", 0, "latin1"), address(), "SELECT CONCAT(DATABASE(), @@character_set_client)"));
  EXPECT_EQ(latin, "shoplatin1");
  EXPECT_EQ(latin_id, shop_id);
  // Different capability bits are different credentials: never converted.
  const auto [eof_id, eof_db] = rt::block_on(
      loop_, use_once(&pools, key("shop", mysql::CLIENT_DEPRECATE_EOF), address(), "SELECT DATABASE()"));
  EXPECT_EQ(eof_db, "shop");
  EXPECT_NE(eof_id, shop_id);
  // A schema that does not exist: the server's ERR 1049 reaches the caller, the connection stays usable.
  const auto [missing_id, missing] =
      rt::block_on(loop_, use_once(&pools, key("no_such_schema", 0, "latin1"), address(), "SELECT 1"));
  EXPECT_THAT(missing, HasSubstr("no_such_schema"));
  EXPECT_EQ(pools.get(key("shop", 0, "latin1"), address()).idle_count(), 1u);
  pools.stop();
  rt::block_on(loop_, pools.join());
}

rt::Task<void> use_once_into(MysqlPools* pools, MysqlKey key, rt::SocketAddress address,
                             std::pair<std::uint32_t, std::string>* out) {
  *out = co_await use_once(pools, std::move(key), address, "SELECT DATABASE()");
}

struct SiblingHandOff {
  std::size_t waiting_in_other = 0;
  std::uint32_t held_id = 0;
  std::pair<std::uint32_t, std::string> other;
};

rt::Task<SiblingHandOff> sibling_waits_then_release(MysqlPools* pools, MysqlKey shop, MysqlKey other,
                                                    rt::SocketAddress address) {
  SiblingHandOff seen;
  MysqlAcquired held = co_await pools->acquire(shop, address, rt::Deadline::after(5s), nullptr);
  if (!held.ok()) co_return seen;
  seen.held_id = held.lease->connection_id();
  rt::TaskScope scope;
  // The waiter refers to `pools` and `seen`, which outlive the scope's join below. At the
  // credentials' bound (1), the "other" pool's acquire waits for the "shop" connection.
  scope.spawn(use_once_into(pools, other, address, &seen.other));
  seen.waiting_in_other = pools->get(other, address).waiting_count();
  held.lease.release(true);  // handed over to the sibling's waiter, which converts it
  co_await scope.join();
  co_return seen;
}

TEST_F(MysqlBackendPool, AReleasedConnectionGoesToAWaitingSiblingPool) {
  limits_.max_connections = 1;
  MysqlPools pools(limits_);
  const SiblingHandOff seen =
      rt::block_on(loop_, sibling_waits_then_release(&pools, key("shop"), key("other"), address()));
  ASSERT_NE(seen.held_id, 0u);
  EXPECT_EQ(seen.waiting_in_other, 1u);
  EXPECT_EQ(seen.other.second, "other");
  EXPECT_EQ(seen.other.first, seen.held_id) << "the same connection, converted with COM_INIT_DB";
  EXPECT_EQ(pools.get(key("shop"), address()).size(), 0u);
  EXPECT_EQ(pools.get(key("other"), address()).idle_count(), 1u);
  EXPECT_EQ(pools.get(key("other"), address()).opened_total(), 0u);
  pools.stop();
  rt::block_on(loop_, pools.join());
}

struct SlotSeen {
  bool first_slot = false;
  bool slot_while_full = false;
  bool sibling_slot_while_full = false;
  bool slot_with_a_waiter = false;
  std::string waiter;  // what the waiter got once the slot was given back
};

rt::Task<void> acquire_into(MysqlPools* pools, MysqlKey key, rt::SocketAddress address, MysqlAcquired* into) {
  *into = co_await pools->acquire(std::move(key), address, rt::Deadline::after(5s), nullptr);
}

rt::Task<SlotSeen> slots_within_the_limit(MysqlPools* pools, MysqlKey shop, MysqlKey other, rt::SocketAddress address) {
  SlotSeen seen;
  MysqlPool& pool = pools->get(shop, address);
  MysqlPoolSlot slot = pool.reserve_slot();
  seen.first_slot = static_cast<bool>(slot);
  seen.slot_while_full = static_cast<bool>(pool.reserve_slot());
  seen.sibling_slot_while_full = static_cast<bool>(pools->get(other, address).reserve_slot());
  // The slot takes the pool's only connection: an acquire waits for it, and a later slot never goes
  // ahead of that waiter.
  MysqlAcquired waited;
  rt::TaskScope scope;
  scope.spawn(acquire_into(pools, shop, address, &waited));
  seen.slot_with_a_waiter = pool.waiting_count() == 1 && static_cast<bool>(pool.reserve_slot());
  { MysqlPoolSlot given_back = std::move(slot); }
  co_await scope.join();
  seen.waiter = waited.ok() ? "lent" : waited.error.message;
  if (waited.ok()) waited.lease.release(true);
  co_return seen;
}

TEST_F(MysqlBackendPool, AReservedSlotCountsAgainstTheLimitAndItsReturnWakesAWaiter) {
  // corral's own short reads (the global timeouts) use a connection of their own in a reserved slot.
  limits_.max_connections = 1;
  MysqlPools pools(limits_);
  const SlotSeen seen = rt::block_on(loop_, slots_within_the_limit(&pools, key("shop"), key("other"), address()));
  EXPECT_TRUE(seen.first_slot);
  EXPECT_FALSE(seen.slot_while_full);
  EXPECT_FALSE(seen.sibling_slot_while_full) << "the limit holds per credentials too";
  EXPECT_FALSE(seen.slot_with_a_waiter);
  EXPECT_EQ(seen.waiter, "lent");
  EXPECT_EQ(pools.get(key("shop"), address()).size(), 1u) << "the waiter's connection, the slot gone";
  pools.stop();
  rt::block_on(loop_, pools.join());
}

rt::Task<std::string> drift_and_return(MysqlPool* pool) {
  MysqlAcquired acquired = co_await pool->acquire(rt::Deadline::after(5s), nullptr);
  if (!acquired.ok()) co_return "acquire failed: " + acquired.error.message;
  auto use = co_await acquired.lease->query("USE other");  // a relayed client statement, say
  if (!use || use->error) co_return "USE failed";
  acquired.lease.release(true);
  MysqlAcquired again = co_await pool->acquire(rt::Deadline::after(5s), nullptr);
  if (!again.ok()) co_return "second acquire failed: " + again.error.message;
  auto db = co_await again.lease->query("SELECT DATABASE()");
  again.lease.release(true);
  if (!db || db->error || db->rows.empty()) co_return "SELECT failed";
  co_return db->rows[0][0].value_or("NULL");
}

TEST_F(MysqlBackendPool, ConnectionMovedByARelayedUseIsPutBackOnNextLend) {
  MysqlServerInfo info;
  MysqlPool pool(key("shop"), address(), limits_, info);
  EXPECT_EQ(rt::block_on(loop_, drift_and_return(&pool)), "shop");
  EXPECT_EQ(pool.opened_total(), 1u);
  pool.stop();
  rt::block_on(loop_, pool.join());
}

rt::Task<std::string> database_of(MysqlConnection* connection) {
  auto db = co_await connection->query("SELECT DATABASE()");
  if (!db || db->error || db->rows.empty()) co_return "SELECT failed";
  co_return db->rows[0][0].value_or("NULL");
}

TEST_F(MysqlBackendPool, TryAcquireReadyLendsOnlyAMatchingIdleConnection) {
  MysqlServerInfo info;
  MysqlPool pool(key("shop"), address(), limits_, info);
  EXPECT_FALSE(pool.try_acquire_ready()) << "nothing idle: acquire() must open one";
  MysqlAcquired first = rt::block_on(loop_, pool.acquire(rt::Deadline::after(5s), nullptr));
  ASSERT_TRUE(first.ok()) << first.error.message;
  MysqlConnection* const opened = first.lease.get();
  give_back(first.lease, true);

  MysqlLease ready = pool.try_acquire_ready();
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready.get(), opened);
  EXPECT_EQ(pool.lent_count(), 1u);
  EXPECT_EQ(pool.idle_count(), 0u);
  EXPECT_FALSE(pool.try_acquire_ready()) << "the only connection is lent";
  // A relayed USE moves it away from the key: the fast path leaves it to acquire(), which puts it back.
  auto use = rt::block_on(loop_, ready->query("USE other", nullptr));
  ASSERT_TRUE(use.ok() && !use->error);
  give_back(ready, true);
  EXPECT_FALSE(pool.try_acquire_ready());
  EXPECT_EQ(pool.idle_count(), 1u);
  MysqlAcquired fixed = rt::block_on(loop_, pool.acquire(rt::Deadline::after(5s), nullptr));
  ASSERT_TRUE(fixed.ok()) << fixed.error.message;
  EXPECT_EQ(fixed.lease.get(), opened);
  EXPECT_EQ(rt::block_on(loop_, database_of(fixed.lease.get())), "shop");
  give_back(fixed.lease, true);

  EXPECT_EQ(pool.opened_total(), 1u);
  pool.stop();
  EXPECT_FALSE(pool.try_acquire_ready()) << "a stopped pool lends nothing";
  rt::block_on(loop_, pool.join());
}

rt::Task<void> pause(std::chrono::milliseconds duration) { co_await rt::sleep_for(duration); }

TEST_F(MysqlBackendPool, IdleConnectionsCloseAfterTheIdleTimeout) {
  limits_.idle_timeout = 200ms;
  MysqlServerInfo info;
  MysqlPool pool(key(), address(), limits_, info);
  auto [acquired, waited] = rt::block_on(loop_, timed_acquire(&pool, 2s));
  ASSERT_TRUE(acquired.ok()) << acquired.error.message;
  const auto released = std::chrono::steady_clock::now();
  give_back(acquired.lease, true);
  EXPECT_EQ(pool.idle_count(), 1u);
  // The loop runs only inside block_on: each check lets it run 10 ms first, so the idle timer can fire.
  const bool closed = poll_until(
      [&] {
        rt::block_on(loop_, pause(10ms));
        return pool.idle_count() == 0;
      },
      5s, 0ms);
  EXPECT_TRUE(closed) << "the idle connection outlived its 200 ms idle timeout by 5 s";
  EXPECT_GE(std::chrono::steady_clock::now() - released, 200ms) << "closed before its idle timeout";
  EXPECT_EQ(pool.idle_count(), 0u);
  EXPECT_EQ(pool.size(), 0u);
  pool.stop();
  rt::block_on(loop_, pool.join());
}

rt::Task<void> wait_for_connection(MysqlPool* pool, rt::CancelSource* cancel, MysqlAcquired* out) {
  *out = co_await pool->acquire(rt::Deadline::after(5s), cancel);
}

struct QueuedThen {
  std::size_t waiting_before = 0;  // waiters queued when the cancel or stop came
  MysqlAcquired acquired;          // what the queued acquire ended with
};

rt::Task<QueuedThen> acquire_cancelled(MysqlPool* pool, rt::CancelSource* source) {
  QueuedThen seen;
  rt::TaskScope scope;
  // The waiter refers to `source` and `seen`, which outlive the scope's join below. spawn() runs it
  // until it suspends in the queue, so the cancel finds it waiting there.
  scope.spawn(wait_for_connection(pool, source, &seen.acquired));
  seen.waiting_before = pool->waiting_count();
  source->cancel();
  co_await scope.join();
  co_return seen;
}

TEST_F(MysqlBackendPool, CancelledWaiterLeavesTheQueue) {
  limits_.max_connections = 1;
  MysqlServerInfo info;
  MysqlPool pool(key("shop"), address(), limits_, info);
  auto [held, held_wait] = rt::block_on(loop_, timed_acquire(&pool, 2s));
  ASSERT_TRUE(held.ok()) << held.error.message;
  rt::CancelSource source;
  const auto started = std::chrono::steady_clock::now();
  QueuedThen seen = rt::block_on(loop_, acquire_cancelled(&pool, &source));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 2s);
  EXPECT_EQ(seen.waiting_before, 1u);
  MysqlAcquired& cancelled = seen.acquired;
  ASSERT_FALSE(cancelled.ok());
  EXPECT_EQ(cancelled.code, std::errc::operation_canceled);
  EXPECT_EQ(pool.waiting_count(), 0u);
  give_back(held.lease, true);
  EXPECT_EQ(pool.idle_count(), 1u);
  pool.stop();
  rt::block_on(loop_, pool.join());
}

// ---- the wait queue: FIFO order, direct hand-off, shared deadline watcher, cancellation ----------

/// One queued acquire: records its id in `order` when it gets a connection (-id when it fails), then
/// gives the connection back at once.
/// As a session does it: MysqlPool::Turn, and acquire(turn) only for what the turn leaves over.
rt::Task<MysqlAcquired> acquire_by_turn(MysqlPool* pool, rt::Deadline deadline, rt::CancelSource* cancel) {
  MysqlPool::Turn turn(*pool, deadline, cancel);
  co_await turn;
  MysqlAcquired acquired = turn.take();
  if (!acquired.ok() && !acquired.code) acquired = co_await pool->acquire(turn);
  co_return acquired;
}

rt::Task<void> take_turn(MysqlPool* pool, int id, std::chrono::milliseconds wait, rt::CancelSource* cancel,
                         std::vector<int>* order, std::vector<MysqlAcquired>* failures) {
  // Even ids queue with a Turn, odd ones with acquire(): both share one FIFO.
  // (Not a conditional expression with an await in each branch: g++ 12 miscompiles that.)
  MysqlAcquired acquired;
  if (id % 2 == 0) {
    acquired = co_await acquire_by_turn(pool, rt::Deadline::after(wait), cancel);
  } else {
    acquired = co_await pool->acquire(rt::Deadline::after(wait), cancel);
  }
  if (!acquired.ok()) {
    order->push_back(-id);
    failures->push_back(std::move(acquired));
    co_return;
  }
  order->push_back(id);
  acquired.lease.release(true);
}

struct HandOff {
  std::size_t waiting_before = 0;
  std::size_t idle_after_release = 0;
  std::size_t lent_after_release = 0;
  bool newcomer_took_it = false;
  std::vector<int> order;
  std::vector<MysqlAcquired> failures;
};

rt::Task<HandOff> queue_then_release(MysqlPool* pool, MysqlLease* held) {
  HandOff seen;
  rt::TaskScope scope;
  // Each waiter refers to `pool` and `seen`, which outlive the scope's join below. spawn() runs a
  // waiter until it suspends in the queue, so they queue in spawn order.
  for (int id = 1; id <= 3; ++id) scope.spawn(take_turn(pool, id, 10s, nullptr, &seen.order, &seen.failures));
  seen.waiting_before = pool->waiting_count();
  held->release(true);
  // Handed straight to waiter 1: never idle, so a newcomer's fast path finds nothing to take.
  seen.idle_after_release = pool->idle_count();
  seen.lent_after_release = pool->lent_count();
  MysqlLease newcomer = pool->try_acquire_ready();
  seen.newcomer_took_it = static_cast<bool>(newcomer);
  // A newcomer's acquire() queues behind the three.
  scope.spawn(take_turn(pool, 4, 10s, nullptr, &seen.order, &seen.failures));
  co_await scope.join();
  co_return seen;
}

TEST_F(MysqlBackendPool, WaitersAreServedInArrivalOrderByDirectHandOff) {
  limits_.max_connections = 1;
  MysqlServerInfo info;
  MysqlPool pool(key("shop"), address(), limits_, info);
  auto [held, held_wait] = rt::block_on(loop_, timed_acquire(&pool, 2s));
  ASSERT_TRUE(held.ok()) << held.error.message;
  const HandOff seen = rt::block_on(loop_, queue_then_release(&pool, &held.lease));
  EXPECT_EQ(seen.waiting_before, 3u);
  EXPECT_EQ(seen.idle_after_release, 0u);
  EXPECT_EQ(seen.lent_after_release, 1u);
  EXPECT_FALSE(seen.newcomer_took_it);
  EXPECT_EQ(seen.order, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(pool.opened_total(), 1u);
  EXPECT_EQ(pool.waiting_count(), 0u);
  EXPECT_EQ(pool.idle_count(), 1u);
  pool.stop();
  rt::block_on(loop_, pool.join());
}

struct Deadlines {
  std::size_t waiting_when_short_one_failed = 0;
  MysqlAcquired short_wait;
  std::vector<int> order;
  std::vector<MysqlAcquired> failures;
};

rt::Task<Deadlines> short_deadline_behind_long_one(MysqlPool* pool, MysqlLease* held) {
  Deadlines seen;
  rt::TaskScope scope;
  // The waiter refers to `seen`, which outlives the scope's join below.
  scope.spawn(take_turn(pool, 1, 30s, nullptr, &seen.order, &seen.failures));
  // Queued second with a much earlier deadline: the watcher, asleep until the first one's deadline,
  // must wake up for it.
  seen.short_wait = co_await pool->acquire(rt::Deadline::after(200ms), nullptr);
  seen.waiting_when_short_one_failed = pool->waiting_count();
  held->release(true);  // the long waiter is still queued and gets it
  co_await scope.join();
  co_return seen;
}

TEST_F(MysqlBackendPool, EarlierDeadlineQueuedBehindALaterOneTimesOutWithErr1040) {
  limits_.max_connections = 1;
  MysqlServerInfo info;
  MysqlPool pool(key("shop"), address(), limits_, info);
  auto [held, held_wait] = rt::block_on(loop_, timed_acquire(&pool, 2s));
  ASSERT_TRUE(held.ok()) << held.error.message;
  const Deadlines seen = rt::block_on(loop_, short_deadline_behind_long_one(&pool, &held.lease));
  ASSERT_FALSE(seen.short_wait.ok());
  EXPECT_EQ(seen.short_wait.code, MysqlBackendErrc::PoolExhausted);
  EXPECT_EQ(seen.short_wait.error.code, 1040);
  EXPECT_THAT(seen.short_wait.error.message, HasSubstr("pool.max_connections=1"));
  EXPECT_EQ(seen.waiting_when_short_one_failed, 1u) << "the 30 s waiter is still queued";
  EXPECT_EQ(seen.order, (std::vector<int>{1}));
  EXPECT_EQ(pool.waiting_count(), 0u);
  pool.stop();
  rt::block_on(loop_, pool.join());
}

TEST_F(MysqlBackendPool, ATurnTimesOutWithErr1040) {
  limits_.max_connections = 1;
  MysqlServerInfo info;
  MysqlPool pool(key("shop"), address(), limits_, info);
  auto [held, held_wait] = rt::block_on(loop_, timed_acquire(&pool, 2s));
  ASSERT_TRUE(held.ok()) << held.error.message;
  MysqlAcquired refused = rt::block_on(loop_, acquire_by_turn(&pool, rt::Deadline::after(200ms), nullptr));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.code, MysqlBackendErrc::PoolExhausted);
  EXPECT_EQ(refused.error.code, 1040);
  EXPECT_THAT(refused.error.message, HasSubstr("pool.max_connections=1"));
  EXPECT_EQ(pool.waiting_count(), 0u);
  give_back(held.lease, true);
  // With an idle connection the turn lends it without waiting.
  MysqlAcquired ready = rt::block_on(loop_, acquire_by_turn(&pool, rt::Deadline::after(2s), nullptr));
  ASSERT_TRUE(ready.ok()) << ready.error.message;
  EXPECT_EQ(pool.opened_total(), 1u);
  give_back(ready.lease, true);
  pool.stop();
  rt::block_on(loop_, pool.join());
}

rt::Task<void> acquire_into(MysqlPool* pool, MysqlAcquired* out) {
  *out = co_await acquire_by_turn(pool, rt::Deadline::after(5s), nullptr);
}

rt::Task<std::string> turn_handed_a_moved_connection(MysqlPool* pool, MysqlLease* held) {
  // The holder's relayed USE moves the connection; the queued turn is handed it on release and
  // acquire(turn) puts it back to the key's schema.
  auto use = co_await (*held)->query("USE other");
  if (!use || use->error) co_return "USE failed";
  rt::TaskScope scope;
  MysqlAcquired got;
  // The waiter refers to `got`, which outlives the scope's join below.
  scope.spawn(acquire_into(pool, &got));
  held->release(true);
  co_await scope.join();
  if (!got.ok()) co_return "acquire failed: " + got.error.message;
  auto db = co_await got.lease->query("SELECT DATABASE()");
  got.lease.release(true);
  if (!db || db->error || db->rows.empty()) co_return "SELECT failed";
  co_return db->rows[0][0].value_or("NULL");
}

TEST_F(MysqlBackendPool, ATurnHandedAMovedConnectionHasItPutBack) {
  limits_.max_connections = 1;
  MysqlServerInfo info;
  MysqlPool pool(key("shop"), address(), limits_, info);
  auto [held, held_wait] = rt::block_on(loop_, timed_acquire(&pool, 2s));
  ASSERT_TRUE(held.ok()) << held.error.message;
  EXPECT_EQ(rt::block_on(loop_, turn_handed_a_moved_connection(&pool, &held.lease)), "shop");
  EXPECT_EQ(pool.opened_total(), 1u);
  pool.stop();
  rt::block_on(loop_, pool.join());
}

rt::Task<HandOff> cancel_first_then_release(MysqlPool* pool, MysqlLease* held) {
  HandOff seen;
  rt::CancelSource first_cancel;
  rt::TaskScope scope;
  // The waiters refer to `first_cancel` and `seen`, which outlive the scope's join below.
  scope.spawn(take_turn(pool, 1, 10s, &first_cancel, &seen.order, &seen.failures));
  scope.spawn(take_turn(pool, 2, 10s, nullptr, &seen.order, &seen.failures));
  seen.waiting_before = pool->waiting_count();
  // Cancelled, but its frame has not resumed yet when the release comes: the hand-off skips it.
  first_cancel.cancel();
  held->release(true);
  co_await scope.join();
  co_return seen;
}

TEST_F(MysqlBackendPool, ReleaseSkipsAWaiterCancelledInTheSameTurn) {
  limits_.max_connections = 1;
  MysqlServerInfo info;
  MysqlPool pool(key("shop"), address(), limits_, info);
  auto [held, held_wait] = rt::block_on(loop_, timed_acquire(&pool, 2s));
  ASSERT_TRUE(held.ok()) << held.error.message;
  const HandOff seen = rt::block_on(loop_, cancel_first_then_release(&pool, &held.lease));
  EXPECT_EQ(seen.waiting_before, 2u);
  EXPECT_EQ(seen.order, (std::vector<int>{-1, 2}));
  ASSERT_EQ(seen.failures.size(), 1u);
  EXPECT_EQ(seen.failures[0].code, std::errc::operation_canceled);
  EXPECT_EQ(pool.waiting_count(), 0u);
  EXPECT_EQ(pool.idle_count(), 1u);
  EXPECT_EQ(pool.opened_total(), 1u);
  pool.stop();
  rt::block_on(loop_, pool.join());
}

rt::Task<QueuedThen> acquire_while_stopping(MysqlPool* pool) {
  QueuedThen seen;
  rt::TaskScope scope;
  // The waiter refers to `seen`, which outlives the scope's join below. spawn() runs it until it
  // suspends in the queue, so the stop finds it waiting there.
  scope.spawn(wait_for_connection(pool, nullptr, &seen.acquired));
  seen.waiting_before = pool->waiting_count();
  pool->stop();
  co_await scope.join();
  co_return seen;
}

TEST_F(MysqlBackendPool, StopEndsWaitersAndJoinWaitsForLentConnections) {
  limits_.max_connections = 1;
  MysqlServerInfo info;
  MysqlPool pool(key("shop"), address(), limits_, info);
  auto [held, held_wait] = rt::block_on(loop_, timed_acquire(&pool, 2s));
  ASSERT_TRUE(held.ok()) << held.error.message;
  QueuedThen seen = rt::block_on(loop_, acquire_while_stopping(&pool));
  EXPECT_EQ(seen.waiting_before, 1u);
  MysqlAcquired& waiter = seen.acquired;
  ASSERT_FALSE(waiter.ok());
  EXPECT_EQ(waiter.code, MysqlBackendErrc::Unavailable);
  EXPECT_THAT(waiter.error.message, HasSubstr("shutting down"));
  EXPECT_TRUE(held.lease->is_closed());  // a session still reading would see its read fail
  EXPECT_EQ(pool.lent_count(), 1u);
  give_back(held.lease, true);
  EXPECT_EQ(pool.size(), 0u);
  rt::block_on(loop_, pool.join());
}

// ---- backend failure -----------------------------------------------------------------------------

rt::Task<std::pair<std::error_code, std::string>> query_on_lease(MysqlLease* lease, std::string sql) {
  auto outcome = co_await (*lease)->query(sql);
  if (!outcome) co_return std::pair{outcome.error(), (*lease)->error().message};
  co_return std::pair{std::error_code{}, std::string(outcome->error ? outcome->error->message : "ok")};
}

rt::Task<MysqlAcquired> acquire_within(MysqlPool* pool, std::chrono::milliseconds total) {
  // A session's retry: each attempt fails fast while the backend is down (backoff), then succeeds.
  const auto until = std::chrono::steady_clock::now() + total;
  for (;;) {
    MysqlAcquired acquired = co_await pool->acquire(rt::Deadline::after(1s), nullptr);
    if (acquired.ok() || std::chrono::steady_clock::now() > until) co_return acquired;
    co_await rt::sleep_for(50ms);  // the retry pace: the loop above is the polled condition
  }
}

TEST_F(MysqlBackendPool, KilledBackendFailsTheQueryAndThePoolReopensAfterRestart) {
  MysqlServerInfo info;
  MysqlPool pool(key("shop"), address(), limits_, info);
  auto [acquired, waited] = rt::block_on(loop_, timed_acquire(&pool, 2s));
  ASSERT_TRUE(acquired.ok()) << acquired.error.message;

  std::string killer_error;
  std::thread killer([&killer_error] {
    // Killed once the statement runs on the server, so the connection is lost mid-query. The server
    // is killed even when that is never seen: the query below would otherwise wait its 30 s.
    try {
      wait_until(
          [] {
            return server_->query("SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO = 'SELECT SLEEP(30)'")
                       .at(0) == "1";
          },
          10s, "SELECT SLEEP(30) in the server's process list");
    } catch (const std::exception& e) {
      killer_error = e.what();
    }
    server_->kill();
  });
  const auto [error, message] = rt::block_on(loop_, query_on_lease(&acquired.lease, "SELECT SLEEP(30)"));
  killer.join();
  EXPECT_EQ(killer_error, "");
  EXPECT_EQ(error, MysqlBackendErrc::Lost);
  EXPECT_TRUE(acquired.lease->is_closed());
  EXPECT_EQ(acquired.lease->error().code, kErrBackendLost.code);
  EXPECT_THAT(message, HasSubstr("lost connection to backend corral@127.0.0.1"));
  give_back(acquired.lease, false);
  EXPECT_EQ(pool.size(), 0u);

  // While mariadbd is down an acquire fails at once, naming the backend.
  auto [down, down_wait] = rt::block_on(loop_, timed_acquire(&pool, 2s));
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.code, MysqlBackendErrc::Unavailable);
  EXPECT_THAT(down.error.message, HasSubstr("unavailable"));
  EXPECT_LT(down_wait, 1500ms);

  server_->restart();
  MysqlAcquired back = rt::block_on(loop_, acquire_within(&pool, 10s));
  ASSERT_TRUE(back.ok()) << back.error.message;
  const auto [ok_error, ok_message] = rt::block_on(loop_, query_on_lease(&back.lease, "SELECT COUNT(*) FROM items"));
  EXPECT_FALSE(ok_error) << ok_message;
  give_back(back.lease, true);
  pool.stop();
  rt::block_on(loop_, pool.join());
}


// ---- scripted fake server: what MariaDB cannot do ------------------------------------------------

// MariaDB 10.11 has no caching_sha2_password server plugin, so its exchanges are checked against a
// scripted server on port 0 that verifies what the client sends with the codec's server-side helpers.
enum class FakeAuth {
  CachingSha2FullPath,    // greeting plugin caching_sha2, AuthMoreData 0x04, key request, RSA password
  SwitchToCachingSha2,    // greeting plugin native, AuthSwitchRequest to caching_sha2, fast path 0x03
  CachingSha2OverTls,     // CLIENT_SSL offered: SSLRequest, TLS, then 0x04 answered with the password
};

struct FakeServerLog {
  std::string user;
  std::string response_plugin;
  bool first_token_ok = false;
  bool public_key_requested = false;
  std::string decrypted_password;
  bool switched_token_ok = false;
  std::vector<std::string> queries;
  std::string failure;
  bool ssl_request = false;            // the first packet was an SSLRequest (sequence id 1)
  std::uint8_t response_sequence = 0;  // of the HandshakeResponse41
  bool response_has_ssl = false;       // CLIENT_SSL in the HandshakeResponse41
  std::string clear_password;          // what answered 0x04 over TLS
};

constexpr mysql::CapabilityFlags kFakeServerCapabilities =
    mysql::CLIENT_LONG_PASSWORD | mysql::CLIENT_FOUND_ROWS | mysql::CLIENT_LONG_FLAG | mysql::CLIENT_CONNECT_WITH_DB |
    mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_TRANSACTIONS | mysql::CLIENT_SECURE_CONNECTION |
    mysql::CLIENT_MULTI_STATEMENTS | mysql::CLIENT_MULTI_RESULTS | mysql::CLIENT_PLUGIN_AUTH |
    mysql::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA | mysql::CLIENT_CONNECT_ATTRS | mysql::CLIENT_SESSION_TRACK |
    mysql::CLIENT_DEPRECATE_EOF;

/// Reads the client's SSLRequest: exactly its 36 bytes, so the TLS ClientHello behind it stays in the
/// socket for OpenSSL. True when it was one, with sequence id 1.
rt::Task<bool> read_ssl_request(rt::TcpStream* stream, rt::ByteBuffer* in) {
  constexpr std::size_t kWire = mysql::kPacketHeaderSize + mysql::kSslRequestSize;
  while (in->size() < kWire) {
    const std::size_t want = kWire - in->size();
    auto n = co_await stream->read_some(in->writable(want).first(want), rt::Deadline::after(5s));
    if (!n || *n == 0) co_return false;
    in->commit(*n);
  }
  const std::string_view wire = in->readable();
  const bool ssl = wire[3] == 1 && mysql::is_ssl_request(wire.substr(mysql::kPacketHeaderSize));
  in->consume(kWire);
  co_return ssl;
}

/// Plays a MySQL 8 server for one connection: the login of `scenario`, then OK to every COM_QUERY.
/// `tls`: the server context for CachingSha2OverTls.
rt::Task<void> fake_server(rt::TcpListener* listener, const mysql::RsaKey* rsa, FakeAuth scenario,
                           std::string password, FakeServerLog* log, const rt::TlsContext* tls = nullptr) {
  auto accepted = co_await listener->accept();
  if (!accepted) {
    log->failure = "accept failed";
    co_return;
  }
  rt::TcpStream stream = std::move(*accepted);
  rt::ByteBuffer in;
  const std::string scramble = *mysql::generate_scramble();
  const bool over_tls = scenario == FakeAuth::CachingSha2OverTls;
  const std::string_view plugin = scenario == FakeAuth::SwitchToCachingSha2 ? mysql::kMysqlNativePassword
                                                                             : mysql::kCachingSha2Password;
  const mysql::CapabilityFlags server_caps = kFakeServerCapabilities | (over_tls ? mysql::CLIENT_SSL : 0);
  const bool greeted = co_await testing::scripted_write(
      &stream, 0, testing::scripted_greeting("8.0.36-fake", 42, scramble, server_caps, plugin));
  if (!greeted) co_return;
  if (over_tls) {
    log->ssl_request = co_await read_ssl_request(&stream, &in);
    if (!log->ssl_request) {
      log->failure = "no SSLRequest";
      co_return;
    }
    auto shaken = co_await stream.start_tls_server(*tls, rt::Deadline::after(5s));
    if (!shaken) {
      log->failure = "TLS handshake: " + shaken.error().message();
      co_return;
    }
  }

  auto response_packet = co_await testing::scripted_read(&stream, &in);
  if (!response_packet) co_return;
  log->response_sequence = response_packet->second;
  auto response = mysql::decode_handshake_response41(response_packet->first, server_caps);
  if (!response) {
    log->failure = "bad HandshakeResponse41";
    co_return;
  }
  const mysql::CapabilityFlags caps = response->capabilities;
  log->response_has_ssl = (caps & mysql::CLIENT_SSL) != 0;
  log->user = response->username;
  log->response_plugin = response->auth_plugin_name;
  std::uint8_t sequence = static_cast<std::uint8_t>(response_packet->second + 1);
  std::string more;
  if (over_tls) {
    // Full authentication on a secure connection: the password itself, NUL-terminated.
    mysql::encode_auth_more_data(more, std::string(1, static_cast<char>(mysql::kCachingSha2PerformFullAuth)));
    const bool asked = co_await testing::scripted_write(&stream, sequence, more);
    if (!asked) co_return;
    auto clear = co_await testing::scripted_read(&stream, &in);
    if (!clear) co_return;
    log->clear_password = clear->first;
    sequence = static_cast<std::uint8_t>(clear->second + 1);
    if (clear->first != password + '\0') {
      const bool refused = co_await testing::scripted_write(
          &stream, sequence, mysql::make_err(mysql::ER_ACCESS_DENIED_ERROR, "Access denied for user 'app'@'fake'"));
      (void)refused;
      co_return;
    }
  } else if (scenario == FakeAuth::CachingSha2FullPath) {
    log->first_token_ok = mysql::verify_caching_sha2_token(response->auth_response, scramble,
                                                           mysql::caching_sha2_hash(password));
    // Pretend the cache is cold: full authentication over RSA.
    more.clear();
    mysql::encode_auth_more_data(more, std::string(1, static_cast<char>(mysql::kCachingSha2PerformFullAuth)));
    const bool asked = co_await testing::scripted_write(&stream, sequence, more);
    if (!asked) co_return;
    auto request = co_await testing::scripted_read(&stream, &in);
    if (!request) co_return;
    log->public_key_requested =
        request->first == std::string(1, static_cast<char>(mysql::kCachingSha2RequestPublicKey));
    more.clear();
    mysql::encode_auth_more_data(more, *rsa->public_pem());
    const auto key_sequence = static_cast<std::uint8_t>(request->second + 1);
    const bool sent_key = co_await testing::scripted_write(&stream, key_sequence, more);
    if (!sent_key) co_return;
    auto encrypted = co_await testing::scripted_read(&stream, &in);
    if (!encrypted) co_return;
    auto decrypted = mysql::decrypt_password_rsa(*rsa, encrypted->first, scramble);
    if (decrypted) log->decrypted_password = *decrypted;
    sequence = static_cast<std::uint8_t>(encrypted->second + 1);
    if (!decrypted || *decrypted != password) {
      const bool refused = co_await testing::scripted_write(&stream, sequence,
                                               mysql::make_err(mysql::ER_ACCESS_DENIED_ERROR,
                                                               "Access denied for user 'app'@'fake'"));
      (void)refused;
      co_return;
    }
  } else {
    log->first_token_ok = mysql::verify_native_password_plain(response->auth_response, scramble, password);
    const std::string scramble2 = *mysql::generate_scramble();
    more.clear();
    mysql::encode_auth_switch_request(more, {std::string(mysql::kCachingSha2Password), scramble2 + '\0'});
    const bool switched = co_await testing::scripted_write(&stream, sequence, more);
    if (!switched) co_return;
    auto token = co_await testing::scripted_read(&stream, &in);
    if (!token) co_return;
    log->switched_token_ok =
        mysql::verify_caching_sha2_token(token->first, scramble2, mysql::caching_sha2_hash(password));
    more.clear();
    mysql::encode_auth_more_data(more, std::string(1, static_cast<char>(mysql::kCachingSha2FastAuthSuccess)));
    sequence = static_cast<std::uint8_t>(token->second + 1);
    const bool fast = co_await testing::scripted_write(&stream, sequence++, more);
    if (!fast) co_return;
  }
  std::string ok;
  mysql::OK_Packet ok_packet;
  ok_packet.status_flags = mysql::SERVER_STATUS_AUTOCOMMIT;
  mysql::encode_ok_packet(ok, ok_packet, caps);
  const bool logged_in = co_await testing::scripted_write(&stream, sequence, ok);
  if (!logged_in) co_return;
  for (;;) {
    auto command = co_await testing::scripted_read(&stream, &in);
    if (!command || command->first.empty() || command->first[0] != static_cast<char>(mysql::Command::COM_QUERY)) {
      co_return;  // COM_QUIT or EOF
    }
    log->queries.push_back(command->first.substr(1));
    const bool answered = co_await testing::scripted_write(&stream, 1, ok);
    if (!answered) co_return;
  }
}

rt::Task<void> login_against(rt::TcpListener* listener, const mysql::RsaKey* rsa, FakeAuth scenario,
                             std::string server_password, FakeServerLog* log, MysqlConnection* connection,
                             MysqlKey key, rt::Result<void>* opened, const rt::TlsContext* server_tls = nullptr) {
  rt::TaskScope scope;
  // The fake server's frame refers to listener, rsa, log and server_tls, which outlive this task (the
  // test owns them).
  scope.spawn(fake_server(listener, rsa, scenario, server_password, log, server_tls));
  *opened = co_await connection->open(key, *rt::SocketAddress::parse("127.0.0.1", listener->port()), nullptr);
  connection->close();  // COM_QUIT + FIN: the fake server's loop ends
  co_await scope.join();
}

class MysqlBackendFakeServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { rsa_ = new mysql::RsaKey(mysql::RsaKey::generate(2048).value()); }
  static void TearDownTestSuite() {
    delete rsa_;
    rsa_ = nullptr;
  }

  rt::Result<void> login(FakeAuth scenario, std::string client_password, FakeServerLog& log,
                         config::MysqlSslMode ssl_mode = config::MysqlSslMode::Disabled,
                         const rt::TlsContext* client_tls = nullptr, const rt::TlsContext* server_tls = nullptr) {
    auto listener = rt::TcpListener::bind(loop_, *rt::SocketAddress::parse("127.0.0.1", 0));
    EXPECT_TRUE(listener.ok());
    MysqlKey key{"127.0.0.1", listener->port(), "app", std::move(client_password), "", "", 0};
    key.ssl_mode = ssl_mode;
    key.tls = client_tls;
    rt::Result<void> opened;
    rt::block_on(loop_, login_against(&*listener, rsa_, scenario, "sha2-pw", &log, &connection_, key, &opened,
                                      server_tls));
    return opened;
  }

  static mysql::RsaKey* rsa_;
  config::PoolLimits limits_;
  rt::EventLoop loop_;
  MysqlConnection connection_{limits_};
};

mysql::RsaKey* MysqlBackendFakeServer::rsa_ = nullptr;

TEST_F(MysqlBackendFakeServer, CachingSha2FullPathSendsThePasswordRsaEncrypted) {
  FakeServerLog log;
  auto opened = login(FakeAuth::CachingSha2FullPath, "sha2-pw", log);
  ASSERT_TRUE(opened.ok()) << connection_.error().message << " / " << log.failure;
  EXPECT_EQ(log.user, "app");
  EXPECT_EQ(log.response_plugin, "caching_sha2_password");
  EXPECT_TRUE(log.first_token_ok);  // the fast-path token was right, the server just had no cache entry
  EXPECT_TRUE(log.public_key_requested);
  EXPECT_EQ(log.decrypted_password, "sha2-pw");
  EXPECT_EQ(connection_.auth_plugin(), "caching_sha2_password");
  EXPECT_EQ(connection_.server_info().server_version, "8.0.36-fake");
  // MySQL servers keep CLIENT_MYSQL (bit 0) set, and get no MariaDB extended bits.
  EXPECT_NE(connection_.capabilities() & mysql::CLIENT_MYSQL, 0u);
  ASSERT_EQ(log.queries.size(), 1u);
  EXPECT_THAT(log.queries[0], HasSubstr("session_track_transaction_info='CHARACTERISTICS'"));
}

TEST_F(MysqlBackendFakeServer, CachingSha2WrongPasswordKeepsTheServersError) {
  FakeServerLog log;
  auto opened = login(FakeAuth::CachingSha2FullPath, "not-the-pw", log);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(log.decrypted_password, "not-the-pw");
  EXPECT_EQ(connection_.error().code, 1045);
  EXPECT_EQ(connection_.error().sql_state, "28000");
  EXPECT_THAT(connection_.error().message, HasSubstr("Access denied for user 'app'"));
}

TEST_F(MysqlBackendFakeServer, SslRequestThenCachingSha2FullPathSendsThePasswordInsideTls) {
  corral::testing::TempDir certs("corral-mysql-backend-tls-");
  corral::testing::make_test_certificates(certs.path());
  rt::TlsOptions server_options;
  server_options.cert_file = certs.file("server.crt").string();
  server_options.key_file = certs.file("server.key").string();
  auto server_tls = rt::TlsContext::server(server_options);
  ASSERT_TRUE(server_tls.ok()) << server_tls.error();
  rt::TlsOptions client_options;
  client_options.ca_file = certs.file("ca.crt").string();  // VERIFY_IDENTITY: chain and 127.0.0.1
  auto client_tls = rt::TlsContext::client(client_options);
  ASSERT_TRUE(client_tls.ok()) << client_tls.error();
  FakeServerLog log;
  auto opened = login(FakeAuth::CachingSha2OverTls, "sha2-pw", log, config::MysqlSslMode::VerifyIdentity,
                      &*client_tls, &*server_tls);
  ASSERT_TRUE(opened.ok()) << connection_.error().message << " / " << log.failure;
  EXPECT_TRUE(log.ssl_request);
  EXPECT_EQ(log.response_sequence, 2) << "the HandshakeResponse41 follows the SSLRequest's id";
  EXPECT_TRUE(log.response_has_ssl);
  EXPECT_EQ(log.clear_password, std::string("sha2-pw") + '\0');
  EXPECT_FALSE(log.public_key_requested) << "no RSA exchange over TLS";
  EXPECT_NE(connection_.capabilities() & mysql::CLIENT_SSL, 0u);
  ASSERT_EQ(log.queries.size(), 1u) << "the session setup ran inside TLS";
}

/// The client's half of a relayed login whose client reached corral over TLS: it must never be asked
/// for a full authentication whose clear-text answer would cross a plain backend connection.
class TlsClientRelay final : public MysqlLoginRelay {
 public:
  explicit TlsClientRelay(MysqlKey key) : key_(std::move(key)) {}
  rt::Task<rt::Result<Answer>> greeted(const mysql::HandshakeV10& server) override {
    co_return Answer{&key_, std::string(mysql::kCachingSha2Password),
                     mysql::caching_sha2_token("sha2-pw", server.auth_plugin_data)};
  }
  rt::Task<rt::Result<std::string>> exchange(std::string_view payload, bool /*answered*/) override {
    exchanged.emplace_back(payload);
    co_return std::string("sha2-pw") + '\0';  // what a TLS client answers to 0x04
  }
  bool client_on_tls() const noexcept override { return true; }

  std::vector<std::string> exchanged;

 private:
  MysqlKey key_;
};

rt::Task<void> relayed_login_against(rt::TcpListener* listener, const mysql::RsaKey* rsa, FakeServerLog* log,
                                     MysqlConnection* connection, TlsClientRelay* relay, rt::Result<void>* opened) {
  rt::TaskScope scope;
  // The fake server's frame refers to listener, rsa and log, which outlive this task (the test owns them).
  scope.spawn(fake_server(listener, rsa, FakeAuth::CachingSha2FullPath, "sha2-pw", log));
  *opened = co_await connection->open_relayed(*relay, *rt::SocketAddress::parse("127.0.0.1", listener->port()),
                                              nullptr);
  connection->close();
  co_await scope.join();
}

TEST_F(MysqlBackendFakeServer, RelayedFullAuthenticationOfATlsClientOverAPlainBackendIsRefused) {
  auto listener = rt::TcpListener::bind(loop_, *rt::SocketAddress::parse("127.0.0.1", 0));
  ASSERT_TRUE(listener.ok());
  TlsClientRelay relay(MysqlKey{"127.0.0.1", listener->port(), "app", "", "", "", 0});
  FakeServerLog log;
  rt::Result<void> opened;
  rt::block_on(loop_, relayed_login_against(&*listener, rsa_, &log, &connection_, &relay, &opened));
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(connection_.error().code, 1251);
  EXPECT_THAT(connection_.error().message, HasSubstr("in clear over corral's unencrypted connection"));
  EXPECT_TRUE(relay.exchanged.empty()) << "the client was never asked for its password";
  EXPECT_EQ(log.decrypted_password, "");
}

TEST_F(MysqlBackendFakeServer, AuthSwitchToCachingSha2UsesTheNewScramble) {
  FakeServerLog log;
  auto opened = login(FakeAuth::SwitchToCachingSha2, "sha2-pw", log);
  ASSERT_TRUE(opened.ok()) << connection_.error().message << " / " << log.failure;
  EXPECT_EQ(log.response_plugin, "mysql_native_password");
  EXPECT_TRUE(log.first_token_ok);
  EXPECT_TRUE(log.switched_token_ok);
  EXPECT_EQ(connection_.auth_plugin(), "caching_sha2_password");
}

}  // namespace
}  // namespace corral::pool
