// Pure logic of pool/mysql_prepared: template identity, the per-connection LRU and the
// COM_STMT_EXECUTE rewrite (the backend round trips are tested against mariadbd in
// tests/integration/mysql/mysql_prepared_backend_test.cc).
#include "pool/mysql_prepared.h"

#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "pool/mysql_connection.h"
#include "protocols/mysql/command.h"
#include "protocols/mysql/packet.h"

namespace corral::pool {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

TEST(MysqlPreparedTemplates, SameTextSchemaAndPoolShareOneTemplate) {
  PreparedTemplates templates;
  auto a = templates.find_or_add("pool1", "shop", "SELECT ?");
  auto b = templates.find_or_add("pool1", "shop", "SELECT ?");
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->sql, "SELECT ?");
  EXPECT_EQ(a->schema, "shop");
  EXPECT_NE(a->id, templates.find_or_add("pool2", "shop", "SELECT ?")->id);
  EXPECT_NE(a->id, templates.find_or_add("pool1", "other", "SELECT ?")->id);
  EXPECT_NE(a->id, templates.find_or_add("pool1", "shop", "SELECT ? ")->id);
  // Length prefixes: ("shop", "x") and ("shopx", "") must not collide.
  EXPECT_NE(templates.find_or_add("p", "shopx", "")->id, templates.find_or_add("p", "shop", "x")->id);
}

TEST(MysqlPreparedTemplates, AReleasedTemplateIsForgottenAndItsIdNeverReused) {
  PreparedTemplates templates;
  std::uint64_t first_id = 0;
  {
    auto t = templates.find_or_add("p", "", "SELECT 1");
    first_id = t->id;
  }
  auto again = templates.find_or_add("p", "", "SELECT 1");
  EXPECT_NE(again->id, first_id);
}

TEST(MysqlPreparedTemplates, ATemplateIsSharedWhileHeldAndRetiresWithItsLastHold) {
  PreparedTemplates templates;
  TemplateHold first(templates.find_or_add("p", "", "SELECT 1"));
  TemplateHold second(templates.find_or_add("p", "", "SELECT 1"));
  EXPECT_EQ(first.shared(), second.shared());
  EXPECT_EQ(first->holders, 2u);
  const std::shared_ptr<PreparedTemplate> cached = first.shared();  // as a backend cache keeps it
  first = TemplateHold();
  EXPECT_FALSE(cached->retired);
  EXPECT_EQ(TemplateHold(templates.find_or_add("p", "", "SELECT 1")).shared(), cached) << "still held by second";
  TemplateHold moved(std::move(second));
  EXPECT_EQ(cached->holders, 1u) << "a move carries the hold";
  moved = TemplateHold();
  EXPECT_TRUE(cached->retired);
  // The next PREPARE of the text gets a template of its own, so the server prepares it anew.
  TemplateHold next(templates.find_or_add("p", "", "SELECT 1"));
  EXPECT_NE(next->id, cached->id);
  EXPECT_FALSE(next->retired);
}

TEST(MysqlPreparedTemplates, ExpiredEntriesAreSweptSoTheMapStaysBounded) {
  PreparedTemplates templates;
  for (int i = 0; i < 10'000; ++i) templates.find_or_add("p", "", "SELECT " + std::to_string(i));
  EXPECT_LT(templates.size(), 200u);
}

class MysqlPreparedStatementsTest : public ::testing::Test {
 protected:
  std::shared_ptr<PreparedTemplate> make(std::string sql) { return templates_.find_or_add("p", "", sql); }
  PreparedTemplates templates_;
  PreparedStatements statements_;
  std::vector<std::uint32_t> evicted_;
};

TEST_F(MysqlPreparedStatementsTest, FindReturnsWhatWasAddedUnderTheTemplateId) {
  auto t = make("SELECT 1");
  statements_.add(t, 41, 0, 4, evicted_);
  ASSERT_NE(statements_.find(t->id), nullptr);
  EXPECT_EQ(statements_.find(t->id)->backend_id, 41u);
  EXPECT_EQ(statements_.find(t->id + 1000), nullptr);
  EXPECT_THAT(evicted_, IsEmpty());
}

TEST_F(MysqlPreparedStatementsTest, OverCapacityTheLeastRecentlyUsedIsEvicted) {
  auto a = make("a"), b = make("b"), c = make("c"), d = make("d");
  statements_.add(a, 1, 0, 3, evicted_);
  statements_.add(b, 2, 0, 3, evicted_);
  statements_.add(c, 3, 0, 3, evicted_);
  ASSERT_NE(statements_.find(a->id), nullptr);  // a is now the most recently used; b the least
  statements_.add(d, 4, 0, 3, evicted_);
  EXPECT_THAT(evicted_, ElementsAre(2u));
  EXPECT_EQ(statements_.size(), 3u);
  EXPECT_EQ(statements_.find(b->id), nullptr);
  EXPECT_NE(statements_.find(a->id), nullptr);
}

TEST_F(MysqlPreparedStatementsTest, AStatementWithAnOpenCursorIsNotEvicted) {
  auto a = make("a"), b = make("b"), c = make("c");
  statements_.add(a, 1, 0, 2, evicted_).cursor_open = true;
  statements_.add(b, 2, 0, 2, evicted_);
  statements_.add(c, 3, 0, 2, evicted_);
  EXPECT_THAT(evicted_, ElementsAre(2u));
  EXPECT_NE(statements_.find(a->id), nullptr);
}

TEST_F(MysqlPreparedStatementsTest, TheNewestStaysEvenWhenEverythingElseHasACursor) {
  auto a = make("a"), b = make("b");
  statements_.add(a, 1, 0, 1, evicted_).cursor_open = true;
  statements_.add(b, 2, 0, 1, evicted_);
  EXPECT_THAT(evicted_, IsEmpty());
  EXPECT_EQ(statements_.size(), 2u);
}

TEST_F(MysqlPreparedStatementsTest, TheCacheKeepsItsTemplatesAlive) {
  TemplateHold holder(make("kept"));  // a client still holds the text
  std::uint64_t id = 0;
  {
    TemplateHold t(make("kept"));
    id = t->id;
    statements_.add(t.shared(), 7, 0, 4, evicted_);
  }
  holder = TemplateHold();  // the last hold goes: only the connection's cache keeps the template now
  EXPECT_TRUE(statements_.find(id)->statement->retired);  // alive until that connection closes it
  EXPECT_EQ(statements_.erase(id), std::optional<std::uint32_t>(7));
  EXPECT_EQ(statements_.erase(id), std::nullopt);
}

TEST_F(MysqlPreparedStatementsTest, ARetiredStatementIsClosedAtTheConnectionsNextPrepare) {
  auto kept = make("kept");
  {
    TemplateHold held(make("closed"));
    statements_.add(held.shared(), 3, 0, 4, evicted_);
  }  // its last client statement closed: retired
  statements_.add(kept, 4, 0, 4, evicted_);
  EXPECT_THAT(evicted_, ElementsAre(3u));
  EXPECT_EQ(statements_.size(), 1u);
  EXPECT_NE(statements_.find(kept->id), nullptr);
}

TEST_F(MysqlPreparedStatementsTest, ReAddingATemplateReplacesAndClosesTheOldStatement) {
  auto a = make("a");
  statements_.add(a, 1, 0, 4, evicted_);
  statements_.add(a, 9, 0, 4, evicted_);
  EXPECT_THAT(evicted_, ElementsAre(1u));
  EXPECT_EQ(statements_.find(a->id)->backend_id, 9u);
  EXPECT_EQ(statements_.size(), 1u);
}

// ---- COM_STMT_EXECUTE ----------------------------------------------------------------------------

mysql::COM_STMT_EXECUTE two_params(bool bound) {
  mysql::COM_STMT_EXECUTE e;
  e.statement_id = 5;
  e.flags = mysql::CURSOR_TYPE_NO_CURSOR;
  e.new_params_bound = bound;
  mysql::BinaryParam p0;
  p0.type = mysql::ColumnType::MYSQL_TYPE_LONGLONG;
  p0.value = std::string_view("\x2a\0\0\0\0\0\0\0", 8);
  mysql::BinaryParam p1;
  p1.type = mysql::ColumnType::MYSQL_TYPE_VAR_STRING;
  p1.value = "\x03" "abc";
  e.params = {p0, p1};
  return e;
}

TEST(MysqlPreparedExecute, ScanFindsTypesAndValues) {
  std::string payload;
  mysql::encode_com_stmt_execute(payload, two_params(true), 0);
  auto layout = scan_execute(payload, 2, 0);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->param_count, 2u);
  EXPECT_TRUE(layout->new_params_bound);
  EXPECT_EQ(layout->types, std::string_view("\x08\x00\xfd\x00", 4));
  EXPECT_EQ(payload.substr(layout->values_at).size(), 8u + 4u);
}

TEST(MysqlPreparedExecute, WithoutParametersThereIsNothingToScan) {
  std::string payload;
  mysql::COM_STMT_EXECUTE e;
  e.statement_id = 3;
  mysql::encode_com_stmt_execute(payload, e, 0);
  auto layout = scan_execute(payload, 0, 0);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->param_count, 0u);
  EXPECT_EQ(layout->values_at, payload.size());
}

TEST(MysqlPreparedExecute, TypesAreInsertedIntoAnExecuteThatHadNone) {
  std::string with_types;
  mysql::encode_com_stmt_execute(with_types, two_params(true), 0);
  std::string without_types;
  mysql::encode_com_stmt_execute(without_types, two_params(false), 0);
  auto bound = scan_execute(with_types, 2, 0);
  auto unbound = scan_execute(without_types, 2, 0);
  ASSERT_TRUE(bound.ok() && unbound.ok());
  EXPECT_FALSE(unbound->new_params_bound);

  std::string rebuilt;
  append_execute_with_types(rebuilt, without_types, *unbound, 77, bound->types);
  mysql::COM_STMT_EXECUTE expected = two_params(true);
  expected.statement_id = 77;
  std::string wanted;
  mysql::encode_com_stmt_execute(wanted, expected, 0);
  EXPECT_EQ(rebuilt, wanted);
}

TEST(MysqlPreparedExecute, ShortPacketsAreRefusedNotOverread) {
  std::string payload;
  mysql::encode_com_stmt_execute(payload, two_params(true), 0);
  const auto whole = scan_execute(payload, 2, 0);
  ASSERT_TRUE(whole.ok());
  for (std::size_t cut = 0; cut < whole->values_at; ++cut) {
    // Up to the values: every prefix is too short for the counts the packet itself announces.
    EXPECT_FALSE(scan_execute(std::string_view(payload).substr(0, cut), 2, 0).ok()) << cut;
  }
  EXPECT_EQ(scan_execute("\x03", 0, 0).error(), mysql::Errc::UnexpectedPacket);

  mysql::COM_STMT_EXECUTE named = two_params(true);
  named.params[0].name = "a";
  std::string with_names;
  mysql::encode_com_stmt_execute(with_names, named, mysql::CLIENT_QUERY_ATTRIBUTES);
  const auto whole_named = scan_execute(with_names, 2, mysql::CLIENT_QUERY_ATTRIBUTES);
  ASSERT_TRUE(whole_named.ok());
  for (std::size_t cut = 0; cut < whole_named->values_at; ++cut) {
    EXPECT_FALSE(scan_execute(std::string_view(with_names).substr(0, cut), 2, mysql::CLIENT_QUERY_ATTRIBUTES).ok())
        << cut;
  }
}

// ---- COM_STMT_BULK_EXECUTE -----------------------------------------------------------------------

/// A bulk execute of statement 5 with two parameters and two rows: (42, NULL), (7, 'abc').
std::string bulk_payload(bool with_types) {
  std::string payload("\xfa\x05\x00\x00\x00", 5);
  payload.append(with_types ? std::string("\x80\x00", 2) : std::string("\x00\x00", 2));
  if (with_types) payload.append("\x08\x00\xfd\x00", 4);  // LONGLONG, VAR_STRING
  payload.append(std::string("\x00\x2a\0\0\0\0\0\0\0\x01", 10));  // NONE 42, NULL
  payload.append(std::string("\x00\x07\0\0\0\0\0\0\0\x00\x03" "abc", 15));  // NONE 7, NONE "abc"
  return payload;
}

TEST(MysqlPreparedBulkExecute, ScanFindsFlagsTypesAndRows) {
  const std::string payload = bulk_payload(true);
  const auto layout = scan_bulk_execute(payload, 2);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->flags, kBulkSendTypes);
  EXPECT_EQ(layout->types, std::string_view("\x08\x00\xfd\x00", 4));
  EXPECT_EQ(layout->rows_at, 11u);
  const auto untyped = scan_bulk_execute(bulk_payload(false), 2);
  ASSERT_TRUE(untyped.ok());
  EXPECT_TRUE(untyped->types.empty());
  EXPECT_EQ(untyped->rows_at, 7u);
}

TEST(MysqlPreparedBulkExecute, TypesAreInsertedIntoABulkThatHadNone) {
  const std::string without_types = bulk_payload(false);
  const auto layout = scan_bulk_execute(without_types, 2);
  ASSERT_TRUE(layout.ok());
  std::string rebuilt;
  append_bulk_with_types(rebuilt, without_types, *layout, 5, std::string_view("\x08\x00\xfd\x00", 4));
  EXPECT_EQ(rebuilt, bulk_payload(true));
}

TEST(MysqlPreparedBulkExecute, ShortPacketsAreRefusedNotOverread) {
  const std::string payload = bulk_payload(true);
  for (std::size_t cut = 0; cut < 11; ++cut) {
    // Up to the rows: every prefix lacks the flags or part of the type block it announces.
    EXPECT_FALSE(scan_bulk_execute(std::string_view(payload).substr(0, cut), 2).ok()) << cut;
  }
  EXPECT_EQ(scan_bulk_execute("\x17\x05\x00\x00\x00\x00\x00", 2).error(), mysql::Errc::UnexpectedPacket);
}

TEST(MysqlPreparedExecute, QueryAttributesCarryACountAndNames) {
  mysql::COM_STMT_EXECUTE e = two_params(true);
  e.params[0].name = "a";
  e.params[1].name = "bb";
  std::string payload;
  mysql::encode_com_stmt_execute(payload, e, mysql::CLIENT_QUERY_ATTRIBUTES);
  auto layout = scan_execute(payload, 2, mysql::CLIENT_QUERY_ATTRIBUTES);
  ASSERT_TRUE(layout.ok());
  EXPECT_EQ(layout->param_count, 2u);
  EXPECT_EQ(layout->types, std::string_view("\x08\x00\x01" "a" "\xfd\x00\x02" "bb", 9));
}

// ---- ready_execute: the execute hot path without a coroutine -------------------------------------

class MysqlReadyExecuteTest : public ::testing::Test {
 protected:
  /// The client's execute of two_params(bound) as wire bytes (header included), id 5.
  void client_packet(bool bound) {
    std::string payload;
    mysql::encode_com_stmt_execute(payload, two_params(bound), 0);
    wire_.clear();
    mysql::append_packet(wire_, 0, payload);
  }
  std::span<char> wire() { return {wire_.data(), wire_.size()}; }
  std::string_view payload() const { return std::string_view(wire_).substr(mysql::kPacketHeaderSize); }
  BackendStatement& prepare_here(std::uint32_t backend_id) {
    std::vector<std::uint32_t> evicted;
    return connection_.prepared().add(statement_, backend_id, 2, 16, evicted);
  }

  config::PoolLimits limits_;
  MysqlConnection connection_{limits_};
  PreparedTemplates templates_;
  std::shared_ptr<PreparedTemplate> statement_ = templates_.find_or_add("k", "", "SELECT ?, ?");
  ExecuteState state_;
  std::string wire_;
};

TEST_F(MysqlReadyExecuteTest, ACachedStatementGetsItsBackendIdAndRecordsTheBoundTypes) {
  BackendStatement& backend = prepare_here(41);
  client_packet(true);
  EXPECT_EQ(ready_execute(connection_, *statement_, state_, wire(), payload()), &backend);
  EXPECT_EQ(*mysql::statement_id_of(payload()), 41u) << "rewritten in place";
  EXPECT_EQ(state_.types, std::string_view("\x08\x00\xfd\x00", 4));
  EXPECT_EQ(backend.bound_types, state_.types);
  // The next execute without types goes as it is: this backend statement knows them.
  client_packet(false);
  EXPECT_EQ(ready_execute(connection_, *statement_, state_, wire(), payload()), &backend);
  EXPECT_EQ(*mysql::statement_id_of(payload()), 41u);
}

TEST_F(MysqlReadyExecuteTest, WorkForStartExecuteLeavesThePacketAlone) {
  client_packet(true);
  EXPECT_EQ(ready_execute(connection_, *statement_, state_, wire(), payload()), nullptr) << "not prepared here";
  EXPECT_EQ(*mysql::statement_id_of(payload()), 5u);

  BackendStatement& backend = prepare_here(41);
  state_.long_data.resize(1);
  state_.long_data[0].emplace("blob");
  EXPECT_EQ(ready_execute(connection_, *statement_, state_, wire(), payload()), nullptr) << "long data to send";
  state_.clear_long_data();

  // Types bound on another connection: an execute without them must be re-encoded with them.
  state_.types.assign("\x08\x00\xfd\x00", 4);
  backend.bound_types.clear();
  client_packet(false);
  EXPECT_EQ(ready_execute(connection_, *statement_, state_, wire(), payload()), nullptr) << "types to re-send";
  EXPECT_EQ(*mysql::statement_id_of(payload()), 5u);

  wire_.resize(mysql::kPacketHeaderSize + 6);  // cut inside the iteration count
  EXPECT_EQ(ready_execute(connection_, *statement_, state_, wire(), payload()), nullptr) << "malformed";
}

}  // namespace
}  // namespace corral::pool
