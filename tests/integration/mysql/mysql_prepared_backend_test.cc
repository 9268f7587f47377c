// pool/mysql_prepared against a real mariadbd, through MysqlConnection directly (no session): backend
// statements are prepared once per connection, types bound on one connection are re-sent on another,
// long data reaches the backend statement, LRU eviction closes statements on the server, and a
// statement whose table changed still executes.
#include <optional>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "harness.h"
#include "../scripted_mysql_io.h"
#include "../shop_server.h"
#include "pool/mysql_connection.h"
#include "pool/mysql_prepared.h"
#include "protocols/mysql/command.h"
#include "protocols/mysql/primitives.h"
#include "runtime/block_on.h"
#include "runtime/task_scope.h"
#include "runtime/tcp.h"

namespace corral::pool {
namespace {

constexpr const char* kUser = "corral";
constexpr const char* kPassword = "stmt-pw";

/// What one execute gave back: the first column of each binary row (string columns only), or the ERR.
struct Executed {
  std::vector<std::optional<std::string>> values;
  std::uint16_t error_code = 0;
  std::string refusal;  // a prepare the server refused
  bool reprepared = false;
  bool cursor = false;
};

/// The first column of a binary row whose first column is a string type (Binary Protocol Resultset Row:
/// 0x00, NULL bitmap with a 2-bit offset, values).
std::optional<std::string> first_string(std::string_view payload, std::size_t columns) {
  const std::size_t bitmap = (columns + 7 + 2) / 8;
  if ((static_cast<std::uint8_t>(payload[1]) >> 2) & 1) return std::nullopt;
  mysql::Reader r(payload.substr(1 + bitmap));
  return std::string(r.lenenc_string());
}

rt::Task<Executed> execute(MysqlConnection* connection, std::shared_ptr<PreparedTemplate> statement,
                           ExecuteState* state, std::string payload, std::size_t capacity) {
  std::string wire;
  mysql::append_packet(wire, 0, payload);
  Executed out;
  auto started = co_await start_execute(*connection, statement, *state, std::span<char>(wire.data(), wire.size()),
                                        std::string_view(wire).substr(mysql::kPacketHeaderSize), capacity, false,
                                        nullptr);
  if (!started) {
    ADD_FAILURE() << "execute failed: " << connection->error().message;
    co_return out;
  }
  if (!started->refusal.empty()) {
    out.refusal = started->refusal;
    co_return out;
  }
  out.reprepared = started->reprepared;
  mysql::ResponseEvent event = started->first_event;
  std::uint64_t columns = 0;
  for (;;) {
    if (event.phase == mysql::ResponsePhase::Err) out.error_code = event.err.error_code;
    if (event.phase == mysql::ResponsePhase::ColumnCount) columns = event.column_count;
    if (event.complete) break;
    auto packet = co_await connection->next_response_packet(nullptr);
    if (!packet) {
      ADD_FAILURE() << "response failed: " << connection->error().message;
      co_return out;
    }
    if (packet->event.phase == mysql::ResponsePhase::Row) {
      out.values.push_back(first_string(packet->packet.payload(), static_cast<std::size_t>(columns)));
    }
    event = packet->event;
  }
  out.cursor = connection->summary().cursor_exists();
  co_return out;
}

mysql::BinaryParam longlong(const std::string& storage) {
  mysql::BinaryParam p;
  p.type = mysql::ColumnType::MYSQL_TYPE_LONGLONG;
  p.value = storage;
  return p;
}
mysql::BinaryParam text(const std::string& storage) {
  mysql::BinaryParam p;
  p.type = mysql::ColumnType::MYSQL_TYPE_VAR_STRING;
  p.value = storage;
  return p;
}
std::string le8(std::uint64_t v) {
  std::string out;
  mysql::Writer(out).int8(v);
  return out;
}
std::string lenenc(std::string_view s) {
  std::string out;
  mysql::Writer(out).lenenc_string(s);
  return out;
}

/// A COM_STMT_EXECUTE payload for a statement of two parameters (BIGINT, VARCHAR).
std::string execute_payload(std::uint64_t number, std::string_view word, bool bound, bool word_is_long_data = false) {
  const std::string n = le8(number);
  const std::string w = lenenc(word);
  mysql::COM_STMT_EXECUTE e;
  e.statement_id = 12345;  // the client's id: start_execute replaces it
  e.new_params_bound = bound;
  e.params = {longlong(n), text(w)};
  e.params[1].long_data = word_is_long_data;
  std::string payload;
  mysql::encode_com_stmt_execute(payload, e, 0);
  return payload;
}

class MysqlPreparedBackendTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = corral::testing::start_shop_server(
        kUser, kPassword,
        "CREATE TABLE shop.items (id INT PRIMARY KEY, name VARCHAR(20)) ENGINE=InnoDB;"
        "INSERT INTO shop.items VALUES (1, 'apple'), (2, 'pear'), (3, 'cherry')");
  }
  static void TearDownTestSuite() { server_.reset(); }

  static MysqlKey key(std::string schema = "shop") {
    return MysqlKey{"127.0.0.1", server_->port(), kUser, kPassword, std::move(schema), {}, 0};
  }
  void open(MysqlConnection& connection, const MysqlKey& k) {
    auto opened = rt::block_on(
        loop_, connection.open(k, *rt::SocketAddress::parse("127.0.0.1", server_->port()), nullptr));
    ASSERT_TRUE(opened.ok()) << connection.error().message;
  }
  static std::uint64_t global_status(const std::string& name) {
    return std::stoull(server_->query("SHOW GLOBAL STATUS LIKE '" + name + "'").at(0, 1));
  }
  Executed run(MysqlConnection& connection, const std::shared_ptr<PreparedTemplate>& statement, ExecuteState& state,
               std::string payload, std::size_t capacity = 256) {
    return rt::block_on(loop_, execute(&connection, statement, &state, std::move(payload), capacity));
  }
  PrepareOnOutcome prepare(MysqlConnection& connection, const std::shared_ptr<PreparedTemplate>& statement,
                           std::size_t capacity = 256) {
    auto outcome = rt::block_on(loop_, prepare_on(connection, statement, capacity, nullptr));
    EXPECT_TRUE(outcome.ok()) << connection.error().message;
    return outcome.ok() ? *outcome : PrepareOnOutcome{};
  }
  std::shared_ptr<PreparedTemplate> make(std::string_view sql, std::string_view schema = "shop") {
    return templates_.find_or_add(key(std::string(schema)).id(), schema, sql);
  }

  static inline std::unique_ptr<corral::testing::MariaDbServer> server_;
  config::PoolLimits limits_;
  rt::EventLoop loop_;
  PreparedTemplates templates_;
};

TEST_F(MysqlPreparedBackendTest, ASecondPrepareOfTheSameTemplateOnAConnectionIsACacheHit) {
  MysqlConnection connection(limits_);
  open(connection, key());
  auto statement = make("SELECT name FROM items WHERE id = ?");
  const std::uint64_t before = global_status("Com_stmt_prepare");
  const PrepareOnOutcome first = prepare(connection, statement);
  const PrepareOnOutcome second = prepare(connection, make("SELECT name FROM items WHERE id = ?"));
  EXPECT_TRUE(first.prepared_now);
  EXPECT_FALSE(second.prepared_now);
  EXPECT_EQ(first.statement, second.statement);
  EXPECT_EQ(global_status("Com_stmt_prepare") - before, 1u);
  EXPECT_EQ(statement->num_params, 1u);
  EXPECT_EQ(statement->num_columns, 1u);
  // PREPARE_OK + 1 parameter + EOF + 1 column + EOF, as wire packets the session can replay.
  EXPECT_GT(statement->prepare_response.size(), 12u);
  EXPECT_EQ(statement->prepare_response[4], '\0');
}

TEST_F(MysqlPreparedBackendTest, ARefusedPrepareReturnsTheServersErrAndCachesNothing) {
  MysqlConnection connection(limits_);
  open(connection, key());
  const PrepareOnOutcome outcome = prepare(connection, make("SELEKT nothing"));
  EXPECT_EQ(outcome.statement, nullptr);
  ASSERT_FALSE(outcome.refusal.empty());
  EXPECT_EQ(static_cast<std::uint8_t>(outcome.refusal[0]), 0xffu);
  EXPECT_THAT(outcome.refusal, ::testing::HasSubstr("SQL syntax"));
  EXPECT_EQ(connection.prepared().size(), 0u);
  EXPECT_TRUE(connection.is_idle());
}

TEST_F(MysqlPreparedBackendTest, TypesBoundOnOneConnectionAreResentOnAnother) {
  MysqlConnection a(limits_);
  MysqlConnection b(limits_);
  open(a, key());
  open(b, key());
  auto statement = make("SELECT CONCAT(?, '-', ?)");
  ExecuteState client;
  Executed on_a = run(a, statement, client, execute_payload(42, "abc", true));
  EXPECT_THAT(on_a.values, ::testing::ElementsAre(std::optional<std::string>("42-abc")));
  // The client binds once; its next execute has new_params_bound = 0 and lands on another connection.
  Executed on_b = run(b, statement, client, execute_payload(7, "xyz", false));
  EXPECT_EQ(on_b.error_code, 0u);
  EXPECT_THAT(on_b.values, ::testing::ElementsAre(std::optional<std::string>("7-xyz")));
  Executed again_on_a = run(a, statement, client, execute_payload(8, "q", false));
  EXPECT_THAT(again_on_a.values, ::testing::ElementsAre(std::optional<std::string>("8-q")));
}

TEST_F(MysqlPreparedBackendTest, AnotherClientsTypesOnTheSameBackendStatementAreReplacedBeforeAnUnboundExecute) {
  MysqlConnection a(limits_);
  open(a, key());
  auto statement = make("SELECT CONCAT(?, '/', ?)");
  ExecuteState first_client;
  ExecuteState second_client;
  ASSERT_THAT(run(a, statement, first_client, execute_payload(1, "one", true)).values,
              ::testing::ElementsAre(std::optional<std::string>("1/one")));
  // The second client binds (VARCHAR, VARCHAR): the backend statement now has those types.
  mysql::COM_STMT_EXECUTE e;
  const std::string s1 = lenenc("x"), s2 = lenenc("y");
  e.new_params_bound = true;
  e.params = {text(s1), text(s2)};
  std::string payload;
  mysql::encode_com_stmt_execute(payload, e, 0);
  ASSERT_THAT(run(a, statement, second_client, payload).values,
              ::testing::ElementsAre(std::optional<std::string>("x/y")));
  // The first client's unbound execute carries an 8-byte BIGINT: it must be sent with its own types.
  EXPECT_THAT(run(a, statement, first_client, execute_payload(99, "two", false)).values,
              ::testing::ElementsAre(std::optional<std::string>("99/two")));
}

TEST_F(MysqlPreparedBackendTest, LongDataIsSentToTheBackendStatementRightBeforeTheExecute) {
  MysqlConnection a(limits_);
  MysqlConnection b(limits_);
  open(a, key());
  open(b, key());
  auto statement = make("SELECT CONCAT(?, ':', ?)");
  ExecuteState client;
  ASSERT_EQ(run(a, statement, client, execute_payload(1, "short", true)).error_code, 0u);
  const std::string big(100'000, 'L');
  client.long_data.resize(2);
  client.long_data[1] = big.substr(0, 60'000);
  client.long_data[1]->append(big.substr(60'000));  // two SEND_LONG_DATA chunks, buffered together
  // On the other connection: prepared there, types re-sent, long data sent first.
  Executed executed = run(b, statement, client, execute_payload(5, "", false, true));
  ASSERT_EQ(executed.error_code, 0u);
  ASSERT_EQ(executed.values.size(), 1u);
  EXPECT_EQ(executed.values[0], "5:" + big);
  EXPECT_TRUE(client.long_data.empty());
}

TEST_F(MysqlPreparedBackendTest, EvictionClosesTheLeastRecentlyUsedStatementOnTheServer) {
  MysqlConnection connection(limits_);
  open(connection, key());
  const std::uint64_t before = global_status("Prepared_stmt_count");
  auto one = make("SELECT 1, ?");
  auto two = make("SELECT 2, ?");
  auto three = make("SELECT 3, ?");
  prepare(connection, one, 2);
  prepare(connection, two, 2);
  prepare(connection, three, 2);
  EXPECT_EQ(connection.prepared().size(), 2u);
  EXPECT_EQ(connection.prepared().find(one->id), nullptr);
  // COM_STMT_CLOSE has no response: a round trip on the same connection makes sure it was processed.
  ASSERT_TRUE(rt::block_on(loop_, connection.query("SELECT 1", nullptr)).ok());
  EXPECT_EQ(global_status("Prepared_stmt_count") - before, 2u);

  // The evicted statement still executes: it is prepared again (evicting the next one).
  ExecuteState client;
  mysql::COM_STMT_EXECUTE e;
  const std::string v = lenenc("again");
  e.new_params_bound = true;
  e.params = {text(v)};
  std::string payload;
  mysql::encode_com_stmt_execute(payload, e, 0);
  Executed executed = run(connection, one, client, payload, 2);
  EXPECT_EQ(executed.error_code, 0u);
  EXPECT_EQ(executed.values.size(), 1u);
  EXPECT_EQ(connection.prepared().size(), 2u);
  ASSERT_TRUE(rt::block_on(loop_, connection.query("SELECT 1", nullptr)).ok());
  EXPECT_EQ(global_status("Prepared_stmt_count") - before, 2u);
}

TEST_F(MysqlPreparedBackendTest, AStatementOfAnotherSchemaIsPreparedThereAndTheConnectionSwitchedBack) {
  server_->execute("CREATE TABLE IF NOT EXISTS other.things (label VARCHAR(10)); INSERT INTO other.things VALUES ('o')");
  MysqlConnection connection(limits_);
  open(connection, key("shop"));
  auto statement = make("SELECT label FROM things", "other");
  ExecuteState client;
  mysql::COM_STMT_EXECUTE e;
  std::string payload;
  mysql::encode_com_stmt_execute(payload, e, 0);
  Executed executed = run(connection, statement, client, payload);
  EXPECT_EQ(executed.error_code, 0u);
  EXPECT_THAT(executed.values, ::testing::ElementsAre(std::optional<std::string>("o")));
  EXPECT_EQ(connection.schema(), "shop");
}

TEST_F(MysqlPreparedBackendTest, AStatementStillExecutesAfterItsTableWasAltered) {
  server_->execute("CREATE TABLE shop.altered (a VARCHAR(10)); INSERT INTO shop.altered VALUES ('x')");
  MysqlConnection connection(limits_);
  open(connection, key());
  auto statement = make("SELECT * FROM altered");
  ExecuteState client;
  mysql::COM_STMT_EXECUTE e;
  std::string payload;
  mysql::encode_com_stmt_execute(payload, e, 0);
  ASSERT_EQ(run(connection, statement, client, payload).values.size(), 1u);
  server_->execute("ALTER TABLE shop.altered ADD COLUMN b INT DEFAULT 5 FIRST");
  Executed executed = run(connection, statement, client, payload);
  EXPECT_EQ(executed.error_code, 0u);
  ASSERT_EQ(executed.values.size(), 1u);
}

TEST_F(MysqlPreparedBackendTest, ACursorExecuteEndsAtTheColumnsAndMarksTheCursorOpen) {
  MysqlConnection connection(limits_);
  open(connection, key());
  auto statement = make("SELECT name FROM items ORDER BY id");
  ExecuteState client;
  mysql::COM_STMT_EXECUTE e;
  e.flags = mysql::CURSOR_TYPE_READ_ONLY;
  std::string payload;
  mysql::encode_com_stmt_execute(payload, e, 0);
  Executed executed = run(connection, statement, client, payload);
  EXPECT_EQ(executed.error_code, 0u);
  EXPECT_TRUE(executed.cursor);
  EXPECT_TRUE(executed.values.empty());
}

// ---- ERR 1615 from a scripted server -------------------------------------------------------------

// MariaDB re-prepares by itself after DDL and answers 1615 only under table-definition-cache pressure
// races (MDEV-17124), so the retry is checked against a scripted server on port 0.
struct ScriptLog {
  std::vector<std::string> commands;  // "PREPARE 1", "EXECUTE 1", "CLOSE 1", ...
  int needs_reprepare = 1;           // how many executes are answered with ERR 1615
  int ok_first = 0;                  // executes answered with OK before those
};

constexpr mysql::CapabilityFlags kScriptCapabilities =
    mysql::CLIENT_LONG_PASSWORD | mysql::CLIENT_LONG_FLAG | mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_TRANSACTIONS |
    mysql::CLIENT_SECURE_CONNECTION | mysql::CLIENT_PLUGIN_AUTH | mysql::CLIENT_DEPRECATE_EOF;

/// Plays a server that accepts any login, answers COM_QUERY with OK, prepares statements without
/// parameters or columns (ids 1, 2, ...) and answers the first `log->needs_reprepare` executes with
/// ERR 1615, later ones with OK.
rt::Task<void> script_server(rt::TcpListener* listener, ScriptLog* log) {
  auto accepted = co_await listener->accept();
  if (!accepted) co_return;
  rt::TcpStream stream = std::move(*accepted);
  rt::ByteBuffer in;
  const bool greeted = co_await testing::scripted_write(
      &stream, 0,
      testing::scripted_greeting("10.11.0-script", 7, *mysql::generate_scramble(), kScriptCapabilities,
                                 mysql::kMysqlNativePassword));
  if (!greeted) co_return;
  auto login = co_await testing::scripted_read(&stream, &in);
  if (!login) co_return;
  std::string ok;
  mysql::OK_Packet ok_packet;
  ok_packet.status_flags = mysql::SERVER_STATUS_AUTOCOMMIT;
  mysql::encode_ok_packet(ok, ok_packet, kScriptCapabilities);
  const bool logged_in = co_await testing::scripted_write(&stream, static_cast<std::uint8_t>(login->second + 1), ok);
  if (!logged_in) co_return;
  std::uint32_t next_id = 1;
  for (;;) {
    auto command = co_await testing::scripted_read(&stream, &in);
    if (!command || command->first.empty()) co_return;
    const auto code = static_cast<mysql::Command>(command->first[0]);
    std::string reply;
    if (code == mysql::Command::COM_QUERY) {
      reply = ok;
    } else if (code == mysql::Command::COM_STMT_PREPARE) {
      log->commands.push_back("PREPARE " + std::to_string(next_id));
      mysql::COM_STMT_PREPARE_OK prepared;
      prepared.statement_id = next_id++;
      mysql::encode_com_stmt_prepare_ok(reply, prepared, kScriptCapabilities);
    } else if (code == mysql::Command::COM_STMT_EXECUTE || code == mysql::Command::COM_STMT_CLOSE) {
      const bool execute = code == mysql::Command::COM_STMT_EXECUTE;
      log->commands.push_back((execute ? "EXECUTE " : "CLOSE ") +
                              std::to_string(*mysql::statement_id_of(command->first)));
      if (!execute) continue;
      if (log->ok_first > 0) {
        --log->ok_first;
        reply = ok;
      } else if (log->needs_reprepare > 0) {
        --log->needs_reprepare;
        reply = mysql::make_err(1615, "HY000", "Prepared statement needs to be re-prepared");
      } else {
        reply = ok;
      }
    } else {
      co_return;  // COM_QUIT
    }
    const bool answered = co_await testing::scripted_write(&stream, 1, reply);
    if (!answered) co_return;
  }
}

/// What MysqlStatements::execute() does for a statement already prepared on the connection: the
/// client's packet goes as it is (ready_execute()), and only an ERR 1615 as first packet hands over to
/// start_execute(), which prepares again and executes once more.
rt::Task<Executed> execute_cached(MysqlConnection* connection, std::shared_ptr<PreparedTemplate> statement,
                                  ExecuteState* state, std::string payload) {
  std::string wire;
  mysql::append_packet(wire, 0, payload);
  const std::span<char> bytes(wire.data(), wire.size());
  const std::string_view logical = std::string_view(wire).substr(mysql::kPacketHeaderSize);
  Executed out;
  if (ready_execute(*connection, *statement, *state, bytes, logical) == nullptr) {
    ADD_FAILURE() << "the statement is prepared on this connection: ready_execute() should take it";
    co_return out;
  }
  auto sent = co_await connection->send_command_wire(wire, nullptr);
  auto first = sent ? co_await connection->next_response_packet(nullptr)
                    : rt::Result<ResponsePacket>(sent.error());
  if (!first) {
    ADD_FAILURE() << "execute failed: " << connection->error().message;
    co_return out;
  }
  if (first->event.phase != mysql::ResponsePhase::Err || first->event.err.error_code != kErrNeedReprepare) {
    out.error_code = first->event.phase == mysql::ResponsePhase::Err ? first->event.err.error_code : 0;
    co_return out;
  }
  auto started = co_await start_execute(*connection, statement, *state, bytes, logical, 256, true, nullptr);
  if (!started) {
    ADD_FAILURE() << "re-execute failed: " << connection->error().message;
    co_return out;
  }
  out.reprepared = started->reprepared;
  if (started->first_event.phase == mysql::ResponsePhase::Err) out.error_code = started->first_event.err.error_code;
  co_return out;
}

/// Opens `connection` on the script's backend and executes `statement` once through start_execute();
/// when `twice`, then once more as execute_cached() does. `executed` gets the last execute's outcome.
rt::Task<void> execute_against_script(rt::TcpListener* listener, ScriptLog* log, MysqlConnection* connection,
                                      std::shared_ptr<PreparedTemplate> statement, bool twice, Executed* executed) {
  rt::TaskScope scope;
  // The script's frame refers to listener and log, which the test owns and which outlive this task.
  scope.spawn(script_server(listener, log));
  const MysqlKey key{"127.0.0.1", listener->port(), "app", "pw", "", "", 0};
  auto opened = co_await connection->open(key, *rt::SocketAddress::parse("127.0.0.1", listener->port()), nullptr);
  EXPECT_TRUE(opened.ok()) << connection->error().message;
  if (opened.ok()) {
    ExecuteState state;
    std::string payload;
    mysql::encode_com_stmt_execute(payload, mysql::COM_STMT_EXECUTE{}, 0);
    *executed = co_await execute(connection, statement, &state, payload, 256);
    if (twice) {
      EXPECT_EQ(executed->error_code, 0u);
      *executed = co_await execute_cached(connection, statement, &state, payload);
    }
  }
  connection->close();
  co_await scope.join();
}

class MysqlPreparedReprepare : public ::testing::Test {
 protected:
  Executed run(ScriptLog& log, bool twice = false) {
    auto listener = rt::TcpListener::bind(loop_, *rt::SocketAddress::parse("127.0.0.1", 0));
    EXPECT_TRUE(listener.ok());
    Executed executed;
    rt::block_on(loop_, execute_against_script(&*listener, &log, &connection_,
                                               templates_.find_or_add("k", "", "SELECT 1"), twice, &executed));
    return executed;
  }
  Executed run_twice(ScriptLog& log) { return run(log, true); }
  config::PoolLimits limits_;
  rt::EventLoop loop_;
  MysqlConnection connection_{limits_};
  PreparedTemplates templates_;
};

TEST_F(MysqlPreparedReprepare, Err1615IsAnsweredByPreparingAgainAndExecutingOnce) {
  ScriptLog log;
  const Executed executed = run(log);
  EXPECT_EQ(executed.error_code, 0u);
  EXPECT_TRUE(executed.reprepared);
  EXPECT_THAT(log.commands,
              ::testing::ElementsAre("PREPARE 1", "EXECUTE 1", "CLOSE 1", "PREPARE 2", "EXECUTE 2"));
}

TEST_F(MysqlPreparedReprepare, ASecond1615GoesToTheClientWithoutAnotherRetry) {
  ScriptLog log;
  log.needs_reprepare = 5;
  const Executed executed = run(log);
  EXPECT_EQ(executed.error_code, 1615u);
  EXPECT_THAT(log.commands,
              ::testing::ElementsAre("PREPARE 1", "EXECUTE 1", "CLOSE 1", "PREPARE 2", "EXECUTE 2"));
}

TEST_F(MysqlPreparedReprepare, Err1615OnTheFastPathIsAnsweredByPreparingAgainAndExecutingOnce) {
  ScriptLog log;
  log.ok_first = 1;
  const Executed executed = run_twice(log);
  EXPECT_EQ(executed.error_code, 0u);
  EXPECT_TRUE(executed.reprepared);
  EXPECT_THAT(log.commands, ::testing::ElementsAre("PREPARE 1", "EXECUTE 1", "EXECUTE 1", "CLOSE 1", "PREPARE 2",
                                                   "EXECUTE 2"));
}

TEST_F(MysqlPreparedReprepare, ASecond1615AfterTheFastPathGoesToTheClient) {
  ScriptLog log;
  log.ok_first = 1;
  log.needs_reprepare = 5;
  const Executed executed = run_twice(log);
  EXPECT_EQ(executed.error_code, 1615u);
  EXPECT_THAT(log.commands, ::testing::ElementsAre("PREPARE 1", "EXECUTE 1", "EXECUTE 1", "CLOSE 1", "PREPARE 2",
                                                   "EXECUTE 2"));
}

}  // namespace
}  // namespace corral::pool
