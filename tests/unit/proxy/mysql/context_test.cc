// MysqlContext: which statement traits pin, which state is replayed, how pins start and end with the
// server's status flags and session-state tracking.
#include "proxy/mysql/context.h"

#include <gtest/gtest.h>

#include "protocols/mysql/auth.h"

namespace corral::proxy {
namespace {

bool has(MysqlPins pins, MysqlPinReason reason) { return (pins & pin_bit(reason)) != 0; }

TEST(PinsStartedBy, EveryEffectOfTheTextStartsItsPin) {
  using mysql::StatementEffect;
  const auto pins_of = [](StatementEffect effect) {
    mysql::StatementTraits traits;
    traits.effects = mysql::effect_bit(effect);
    return pins_started_by(traits);
  };
  EXPECT_EQ(pins_of(StatementEffect::UserVariable), pin_bit(MysqlPinReason::UserVariable));
  EXPECT_EQ(pins_of(StatementEffect::TemporaryTable), pin_bit(MysqlPinReason::TemporaryTable));
  EXPECT_EQ(pins_of(StatementEffect::TableLock), pin_bit(MysqlPinReason::TableLock));
  EXPECT_EQ(pins_of(StatementEffect::NamedLock), pin_bit(MysqlPinReason::NamedLock));
  EXPECT_EQ(pins_of(StatementEffect::SqlPrepare), pin_bit(MysqlPinReason::SqlPrepare));
  EXPECT_EQ(pins_of(StatementEffect::CalcFoundRows), pin_bit(MysqlPinReason::FoundRows));
  EXPECT_EQ(pins_of(StatementEffect::NextTransaction), pin_bit(MysqlPinReason::TransactionCharacteristics));
  EXPECT_EQ(pins_of(StatementEffect::UntrackedVariable), pin_bit(MysqlPinReason::UnknownStateChange));
  EXPECT_EQ(pins_of(StatementEffect::ConnectionId), 0) << "a KILL of the told id follows the client instead";
  EXPECT_EQ(pins_of(StatementEffect::BackupStage), pin_bit(MysqlPinReason::BackupStage));
  EXPECT_EQ(pins_of(StatementEffect::BackupLock), pin_bit(MysqlPinReason::BackupLock));
  EXPECT_EQ(pins_of(StatementEffect::HandlerOpen), pin_bit(MysqlPinReason::Handler));
  EXPECT_EQ(pins_started_by(mysql::classify_statement("SELECT c FROM t WHERE id = 1")), 0);
  EXPECT_EQ(pins_started_by(mysql::classify_statement("SET @a = 1; LOCK TABLES t WRITE")),
            pin_bit(MysqlPinReason::UserVariable) | pin_bit(MysqlPinReason::TableLock));
}

TEST(PinsEndedBy, OnlyTheLockTheStatementReleases) {
  EXPECT_EQ(pins_ended_by(mysql::classify_statement("UNLOCK TABLES")), pin_bit(MysqlPinReason::TableLock));
  EXPECT_EQ(pins_ended_by(mysql::classify_statement("BACKUP STAGE END")), pin_bit(MysqlPinReason::BackupStage));
  EXPECT_EQ(pins_ended_by(mysql::classify_statement("BACKUP UNLOCK")), pin_bit(MysqlPinReason::BackupLock));
  EXPECT_EQ(pins_ended_by(mysql::classify_statement("SELECT RELEASE_LOCK('a')")), 0) << "other named locks may stay";
  EXPECT_EQ(pins_ended_by(mysql::classify_statement("DROP TEMPORARY TABLE t")), 0) << "other tables may stay";
}

class MysqlContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    listener_.protocol = config::Protocol::Mysql;
    listener_.backend.protocol = config::Protocol::Mysql;
    listener_.backend.host = "db";
    listener_.backend.port = 3306;
    listener_.backend.user = "proxy";
    listener_.backend.password = "pw";
    user_.name = "app";
    context_.login(listener_, user_, "shop", "utf8mb4",
                   mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_LOCAL_FILES | mysql::CLIENT_DEPRECATE_EOF, false);
  }

  /// Feeds one response: OK with `status`, optional session-state changes.
  void respond(mysql::StatusFlags status, const mysql::SessionStateChanges& changes = {},
               const mysql::StatementTraits& traits = {}, bool failed = false, std::uint16_t warnings = 0) {
    mysql::ResponseSummary summary;
    summary.has_status = !failed;
    summary.status_flags = status;
    summary.failed = failed;
    summary.warnings = warnings;
    if (changes.schema || !changes.system_variables.empty() || changes.state_changed ||
        changes.transaction_characteristics) {
      mysql::encode_session_state(summary.session_state_info, changes);
    }
    context_.learn_from_response(summary, changes, status, traits, false);
  }

  config::Listener listener_;
  config::User user_;
  MysqlContext context_;
};

constexpr mysql::StatusFlags kAutocommit = mysql::SERVER_STATUS_AUTOCOMMIT;
constexpr mysql::StatusFlags kInTransaction = mysql::SERVER_STATUS_AUTOCOMMIT | mysql::SERVER_STATUS_IN_TRANS;

TEST_F(MysqlContextTest, KeyComesFromTheListenerUserAndSession) {
  const pool::MysqlKey& key = context_.key();
  EXPECT_EQ(key.user, "proxy");
  EXPECT_EQ(key.schema, "shop");
  EXPECT_EQ(key.charset, "utf8mb4");
  EXPECT_EQ(key.capabilities & mysql::CLIENT_LOCAL_FILES, 0u) << "mysql.local_infile is off";
  user_.backend_user = "reader";
  user_.backend_password = "rpw";
  context_.login(listener_, user_, "", "", 0, false);
  EXPECT_EQ(context_.key().user, "reader");
  EXPECT_EQ(context_.key().password, "rpw");
}

TEST_F(MysqlContextTest, BackendUserLoginKeysByTheClientsOwnCredentials) {
  const std::string sha1(mysql::kSha1Length, '\x7f');
  context_.login_as_backend_user(listener_, "bob", {sha1}, "app", "", mysql::CLIENT_DEPRECATE_EOF, false);
  const pool::MysqlKey bob = context_.key();
  EXPECT_EQ(bob.user, "bob");
  EXPECT_EQ(bob.password, "") << "the listener's URL password is not bob's";
  EXPECT_EQ(bob.password_sha1, sha1);
  EXPECT_EQ(bob.schema, "app");
  EXPECT_EQ(context_.user(), nullptr);
  EXPECT_EQ(bob.describe().find(sha1), std::string::npos);
  // Another password of the same user, or none, is another pool; and a clear password never collides
  // with a SHA1 of the same bytes.
  context_.login_as_backend_user(listener_, "bob", {std::string(mysql::kSha1Length, '\x01')}, "app", "", 0, false);
  EXPECT_NE(context_.key().credentials_id(), bob.credentials_id());
  context_.login_as_backend_user(listener_, "bob", {}, "app", "", mysql::CLIENT_DEPRECATE_EOF, false);
  EXPECT_NE(context_.key().credentials_id(), bob.credentials_id());
  pool::MysqlKey clear = bob;
  clear.password = sha1;
  clear.password_sha1.clear();
  EXPECT_NE(clear.credentials_id(), bob.credentials_id());
  // A mysql_old_password hash is a credential of its own, never mistaken for a SHA1 or a clear password.
  const std::string old_hash(8, '\x7f');
  context_.login_as_backend_user(listener_, "bob", {{}, old_hash}, "app", "", mysql::CLIENT_DEPRECATE_EOF, false);
  EXPECT_EQ(context_.key().old_password_hash, old_hash);
  EXPECT_EQ(context_.key().password_sha1, "");
  EXPECT_NE(context_.key().credentials_id(), bob.credentials_id());
  pool::MysqlKey as_sha1 = context_.key();
  as_sha1.password_sha1 = old_hash;
  as_sha1.old_password_hash.clear();
  EXPECT_NE(as_sha1.credentials_id(), context_.key().credentials_id());
  EXPECT_EQ(context_.key().describe().find(old_hash), std::string::npos);
}

TEST_F(MysqlContextTest, TransactionPinsUntilTheServerSaysItEnded) {
  respond(kInTransaction);
  EXPECT_TRUE(has(context_.pins(), MysqlPinReason::Transaction));
  EXPECT_TRUE(has(context_.started_pins(), MysqlPinReason::Transaction));
  respond(kInTransaction);
  EXPECT_EQ(context_.started_pins(), 0) << "counted once per pin";
  respond(kAutocommit);
  EXPECT_FALSE(context_.pinned());
  respond(0);  // autocommit=0
  EXPECT_TRUE(has(context_.pins(), MysqlPinReason::AutocommitOff));
  respond(kAutocommit);
  EXPECT_FALSE(context_.pinned());
}

// LOCK TABLES, FLUSH ... WITH READ LOCK, BACKUP STAGE and BACKUP LOCK hold their connection until the
// statement that releases them succeeded; then the connection may serve others again.
TEST_F(MysqlContextTest, LockPinsEndWithTheStatementThatReleasesTheLock) {
  const struct {
    const char* take;
    const char* release;
    MysqlPinReason reason;
  } kLocks[] = {
      {"LOCK TABLES t1 WRITE", "UNLOCK TABLES", MysqlPinReason::TableLock},
      {"FLUSH TABLES WITH READ LOCK", "unlock tables", MysqlPinReason::TableLock},
      {"FLUSH TABLES t1 FOR EXPORT", "UNLOCK TABLES", MysqlPinReason::TableLock},
      {"EXECUTE IMMEDIATE 'LOCK TABLES t1 READ'", "EXECUTE IMMEDIATE 'UNLOCK TABLES'", MysqlPinReason::TableLock},
      {"BACKUP STAGE START", "BACKUP STAGE END", MysqlPinReason::BackupStage},
      {"BACKUP LOCK t1", "BACKUP UNLOCK", MysqlPinReason::BackupLock},
  };
  for (const auto& lock : kLocks) {
    respond(kAutocommit, {}, mysql::classify_statement(lock.take));
    EXPECT_EQ(context_.pins(), pin_bit(lock.reason)) << lock.take;
    respond(kAutocommit, {}, mysql::classify_statement("SELECT 1"));
    EXPECT_EQ(context_.pins(), pin_bit(lock.reason)) << lock.take;
    respond(kAutocommit, {}, mysql::classify_statement(lock.release), /*failed=*/true);
    EXPECT_TRUE(has(context_.pins(), lock.reason)) << lock.release << " failed: the lock may still be held";
    respond(kAutocommit, {}, mysql::classify_statement(lock.release));
    EXPECT_FALSE(context_.pinned()) << lock.release;
  }
  // Another lock pin stays: UNLOCK TABLES does not end a backup stage.
  respond(kAutocommit, {}, mysql::classify_statement("BACKUP STAGE START"));
  respond(kAutocommit, {}, mysql::classify_statement("LOCK TABLES t1 READ"));
  respond(kAutocommit, {}, mysql::classify_statement("UNLOCK TABLES"));
  EXPECT_EQ(context_.pins(), pin_bit(MysqlPinReason::BackupStage));
  // Within one text, the last statement wins.
  respond(kAutocommit, {}, mysql::classify_statement("BACKUP STAGE END; BACKUP STAGE START"));
  EXPECT_EQ(context_.pins(), pin_bit(MysqlPinReason::BackupStage));
  respond(kAutocommit, {}, mysql::classify_statement("BACKUP STAGE START; BACKUP STAGE END"));
  EXPECT_FALSE(context_.pinned());
}

TEST_F(MysqlContextTest, StickyPinsLastUntilReset) {
  mysql::StatementTraits traits;
  traits.effects = mysql::effect_bit(mysql::StatementEffect::UserVariable);
  respond(kAutocommit, {}, traits);
  respond(kAutocommit);
  EXPECT_TRUE(has(context_.pins(), MysqlPinReason::UserVariable));
  EXPECT_TRUE(context_.holds_session_state());
  context_.reset();
  EXPECT_FALSE(context_.pinned());
}

TEST_F(MysqlContextTest, OneStatementHoldsForFoundRowsAndDiagnostics) {
  mysql::StatementTraits calc;
  calc.effects = mysql::effect_bit(mysql::StatementEffect::CalcFoundRows);
  respond(kAutocommit, {}, calc);
  EXPECT_TRUE(context_.calc_found_rows_pending());
  EXPECT_FALSE(context_.holds_session_state());
  respond(kAutocommit);
  EXPECT_FALSE(context_.pinned());
  respond(kAutocommit, {}, {}, false, 2);
  EXPECT_TRUE(context_.has_diagnostics());
  respond(kAutocommit, {}, {}, true);
  EXPECT_TRUE(context_.has_diagnostics());
  respond(kAutocommit);
  EXPECT_FALSE(context_.pinned());
}

TEST_F(MysqlContextTest, ReadingTheDiagnosticsKeepsThemHeld) {
  respond(kAutocommit, {}, {}, false, 1);
  ASSERT_TRUE(context_.has_diagnostics());
  respond(kAutocommit, {}, mysql::classify_statement("SHOW WARNINGS"));
  EXPECT_TRUE(context_.has_diagnostics());
  respond(kAutocommit, {}, mysql::classify_statement("SELECT @@warning_count"));
  EXPECT_TRUE(context_.has_diagnostics());
  respond(kAutocommit, {}, mysql::classify_statement("SELECT c FROM t"));
  EXPECT_FALSE(context_.pinned());
  // Without diagnostics held, SHOW WARNINGS holds nothing.
  respond(kAutocommit, {}, mysql::classify_statement("SHOW WARNINGS"));
  EXPECT_FALSE(context_.pinned());
}

TEST_F(MysqlContextTest, SetTransactionThatNoTrackerReportsStaysPending) {
  const mysql::StatementTraits set_transaction = mysql::classify_statement("SET TRANSACTION READ ONLY");
  respond(kAutocommit, {}, set_transaction);  // an untracked connection reports nothing
  EXPECT_TRUE(has(context_.pins(), MysqlPinReason::TransactionCharacteristics));
  respond(kAutocommit | mysql::SERVER_STATUS_IN_TRANS);
  respond(kAutocommit);
  EXPECT_TRUE(has(context_.pins(), MysqlPinReason::TransactionCharacteristics));
  respond(kAutocommit, {}, set_transaction, true);  // refused: nothing more pending than before
  context_.reset();
  respond(kAutocommit, {}, set_transaction, true);
  EXPECT_FALSE(has(context_.pins(), MysqlPinReason::TransactionCharacteristics));
  // A tracking connection says when they are used up.
  mysql::SessionStateChanges pending;
  pending.transaction_characteristics = "SET TRANSACTION READ ONLY;";
  respond(kAutocommit, pending, set_transaction);
  mysql::SessionStateChanges used_up;
  used_up.transaction_characteristics = "";
  respond(kAutocommit, used_up);
  EXPECT_FALSE(context_.pinned());
}

TEST_F(MysqlContextTest, TrackedSchemaCharsetAndVariablesAreLearned) {
  const std::uint64_t version = context_.key_version();
  mysql::SessionStateChanges changes;
  changes.schema = "other";
  changes.state_changed = true;
  changes.system_variables = {{"character_set_client", "latin1"},
                              {"character_set_connection", "latin1"},
                              {"character_set_results", "latin1"},
                              {"collation_connection", "latin1_swedish_ci"},
                              {"character_set_database", "utf8mb4"},
                              {"time_zone", "+01:00"},
                              {"sql_mode", "ANSI_QUOTES"}};
  respond(kAutocommit, changes);
  EXPECT_EQ(context_.schema(), "other");
  EXPECT_EQ(context_.charset(), "latin1");
  EXPECT_GT(context_.key_version(), version);
  ASSERT_EQ(context_.variables().size(), 2u);
  EXPECT_EQ(context_.variables()[0].first, "sql_mode");
  EXPECT_EQ(context_.variables()[1].first, "time_zone");
  EXPECT_FALSE(context_.pinned()) << "all of it is replayable";
  // A connection without them gets both; one with an extra variable gets it set back to DEFAULT.
  EXPECT_EQ(context_.variables_statement(""), "SET SESSION sql_mode = 'ANSI_QUOTES', time_zone = '+01:00'");
  EXPECT_EQ(context_.variables_statement("sql_mode=ANSI_QUOTES\nwait_timeout=10\n"),
            "SET SESSION time_zone = '+01:00', wait_timeout = DEFAULT");
  EXPECT_EQ(context_.variables_statement(context_.variables_text()), "");
  context_.reset();
  EXPECT_EQ(context_.variables_statement("sql_mode=ANSI_QUOTES\n"), "SET SESSION sql_mode = DEFAULT");
  EXPECT_EQ(context_.charset(), "utf8mb4") << "back to the login charset";
}

TEST_F(MysqlContextTest, ReadOnlyVariablesTheTrackerReportsAreNotReplayed) {
  mysql::SessionStateChanges changes;
  changes.system_variables = {{"last_gtid", "0-1-5"}, {"in_transaction", "0"}, {"time_zone", "+01:00"}};
  respond(kAutocommit, changes);
  EXPECT_EQ(context_.variables_statement(""), "SET SESSION time_zone = '+01:00'");
  EXPECT_EQ(context_.last_gtid(), "0-1-5") << "kept for causal reads";
}

TEST_F(MysqlContextTest, TheSessionsWaitTimeoutIsTheClientsOwnElseTheLoginDefault) {
  EXPECT_EQ(context_.wait_timeout().count(), 0) << "unknown until the session learns the server's default";
  context_.set_login_wait_timeout(std::chrono::seconds(28800));
  EXPECT_EQ(context_.wait_timeout().count(), 28800);
  mysql::SessionStateChanges changes;
  changes.system_variables = {{"wait_timeout", "5"}};
  respond(kAutocommit, changes);
  EXPECT_EQ(context_.wait_timeout().count(), 5);
  EXPECT_EQ(context_.variables_statement(""), "SET SESSION wait_timeout = 5") << "replayed as before";
  context_.set_login_wait_timeout(std::chrono::seconds(2));
  EXPECT_EQ(context_.wait_timeout().count(), 5) << "the client's own value stays";
  changes.system_variables = {{"wait_timeout", "not a number"}};
  respond(kAutocommit, changes);
  EXPECT_EQ(context_.wait_timeout().count(), 5);
  context_.reset();
  EXPECT_EQ(context_.wait_timeout().count(), 2) << "a reset session has the login default again";
  mysql::StatementTraits unscoped = mysql::classify_statement("SET @@wait_timeout = 7");
  respond(kAutocommit, {}, unscoped);
  EXPECT_EQ(context_.wait_timeout().count(), 7) << "SET @@wait_timeout, which the tracker does not report";
}

TEST_F(MysqlContextTest, AVariableARefusedReplayNamesIsForgotten) {
  mysql::SessionStateChanges changes;
  changes.system_variables = {{"sql_log_bin", "0"}, {"time_zone", "+01:00"}};
  respond(kAutocommit, changes);
  const auto assignments = context_.variables_assignments("wait_timeout=10\n");
  ASSERT_EQ(assignments.size(), 3u);
  EXPECT_EQ(assignments[0].first, "sql_log_bin");
  EXPECT_EQ(assignments[0].second, "sql_log_bin = 0");
  EXPECT_EQ(assignments[2].second, "wait_timeout = DEFAULT");
  context_.forget_variable("sql_log_bin");
  EXPECT_EQ(context_.variables_statement(""), "SET SESSION time_zone = '+01:00'");
  EXPECT_EQ(context_.variables_text(), "time_zone=+01:00\n");
}

TEST_F(MysqlContextTest, ANonDefaultCollationOfTheSessionIsPartOfTheKey) {
  mysql::SessionStateChanges names;
  // SET NAMES cs COLLATE c: the tracker reports the three charsets, the collation is in the text.
  names.system_variables = {{"character_set_client", "utf8mb4"},
                            {"character_set_connection", "utf8mb4"},
                            {"character_set_results", "utf8mb4"}};
  respond(kAutocommit, names, mysql::classify_statement("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_ci"));
  EXPECT_EQ(context_.charset(), "utf8mb4 COLLATE utf8mb4_unicode_520_ci");
  EXPECT_EQ(context_.key().charset, "utf8mb4 COLLATE utf8mb4_unicode_520_ci");
  EXPECT_FALSE(context_.pinned());
  mysql::SessionStateChanges unrelated;
  unrelated.system_variables = {{"time_zone", "+01:00"}};
  respond(kAutocommit, unrelated);
  EXPECT_EQ(context_.charset(), "utf8mb4 COLLATE utf8mb4_unicode_520_ci") << "kept until the collation changes";
  mysql::SessionStateChanges collation_only;
  collation_only.system_variables = {{"collation_connection", "utf8mb4_bin"}};
  respond(kAutocommit, collation_only);
  EXPECT_EQ(context_.charset(), "utf8mb4 COLLATE utf8mb4_bin") << "SET collation_connection is reported";
  names.system_variables = {{"character_set_client", "utf8mb4"},
                            {"character_set_connection", "utf8mb4"},
                            {"character_set_results", "utf8mb4"}};
  respond(kAutocommit, names, mysql::classify_statement("SET NAMES utf8mb4"));
  EXPECT_EQ(context_.charset(), "utf8mb4") << "SET NAMES alone gives the default collation";
  names.system_variables = {{"character_set_client", "latin1"},
                            {"character_set_connection", "latin1"},
                            {"character_set_results", "latin1"},
                            {"collation_connection", "latin1_swedish_ci"}};
  respond(kAutocommit, names);
  EXPECT_EQ(context_.charset(), "latin1");
}

TEST_F(MysqlContextTest, ACollationOfAnotherCharsetPins) {
  // SET collation_connection = ucs2_general_ci (mtr main.sp-ucs2): the tracker reports only the
  // collation, and SET NAMES <client charset> COLLATE ucs2_general_ci would be refused (1253).
  mysql::SessionStateChanges collation_only;
  collation_only.system_variables = {{"collation_connection", "ucs2_general_ci"}};
  const std::string before = context_.charset();
  respond(kAutocommit, collation_only);
  EXPECT_TRUE(has(context_.pins(), MysqlPinReason::CharsetVariables));
  EXPECT_EQ(context_.charset(), before);
}

TEST_F(MysqlContextTest, OneCharsetVariableSetAloneLeavesTheOthersAsTheyWere) {
  // mtr main.mysql_cp932: SET character_set_client = cp932 with utf8 results; no SET NAMES says that.
  const std::string before = context_.charset();
  mysql::SessionStateChanges client_only;
  client_only.system_variables = {{"character_set_client", "cp932"}};
  respond(kAutocommit, client_only);
  EXPECT_TRUE(has(context_.pins(), MysqlPinReason::CharsetVariables));
  EXPECT_EQ(context_.charset(), before);
}

TEST_F(MysqlContextTest, ValuesAreQuotedUnlessNumeric) {
  mysql::SessionStateChanges changes;
  changes.system_variables = {{"wait_timeout", "600"}, {"lc_time_names", "it's"}};
  respond(kAutocommit, changes);
  EXPECT_EQ(context_.variables_statement(""), "SET SESSION lc_time_names = 'it\\'s', wait_timeout = 600");
}

TEST_F(MysqlContextTest, UnexpressibleCharsetAndUnknownStateChangesPin) {
  mysql::SessionStateChanges results_only;
  results_only.system_variables = {{"character_set_results", ""}};
  respond(kAutocommit, results_only);
  EXPECT_TRUE(has(context_.pins(), MysqlPinReason::CharsetVariables));
  context_.reset();
  mysql::SessionStateChanges unexplained;
  unexplained.state_changed = true;
  respond(kAutocommit, unexplained);
  EXPECT_TRUE(has(context_.pins(), MysqlPinReason::UnknownStateChange));
  context_.reset();
  mysql::SessionStateChanges tracker_off;
  tracker_off.system_variables = {{"session_track_schema", "OFF"}};
  respond(kAutocommit, tracker_off);
  EXPECT_TRUE(has(context_.pins(), MysqlPinReason::UnknownStateChange));
}

TEST_F(MysqlContextTest, SetTransactionPinsUntilTheCharacteristicsAreUsedUp) {
  mysql::SessionStateChanges set;
  set.transaction_characteristics = "SET TRANSACTION ISOLATION LEVEL SERIALIZABLE;";
  respond(kAutocommit, set);
  EXPECT_TRUE(has(context_.pins(), MysqlPinReason::TransactionCharacteristics));
  mysql::SessionStateChanges used;
  used.transaction_characteristics = "";
  respond(kAutocommit, used);
  EXPECT_FALSE(context_.pinned());
}

// The `cursor` pin: a prepared statement's open cursor keeps the backend connection from the next
// response on, and the pin ends as soon as the cursor does (last row, reset, close).
class MysqlCursorPin : public MysqlContextTest {
 protected:
  /// Feeds the end of a result set, as an execute or a fetch on a cursor gives.
  void respond() {
    mysql::ResponseSummary summary;
    summary.has_status = true;
    summary.status_flags = mysql::SERVER_STATUS_AUTOCOMMIT;
    context_.learn_from_response(summary, {}, summary.status_flags, mysql::StatementTraits{}, true);
  }
  bool cursor_pinned() const { return (context_.pins() & pin_bit(MysqlPinReason::Cursor)) != 0; }
};

TEST_F(MysqlCursorPin, AnOpenCursorPinsFromTheResponseOnAndIsCountedOnce) {
  context_.set_cursor_open(true);
  respond();
  EXPECT_TRUE(cursor_pinned());
  EXPECT_EQ(context_.started_pins(), pin_bit(MysqlPinReason::Cursor));
  EXPECT_TRUE(context_.holds_session_state()) << "losing the connection loses the cursor";
  respond();  // a COM_STMT_FETCH that did not reach the last row
  EXPECT_TRUE(cursor_pinned());
  EXPECT_EQ(context_.started_pins(), 0) << "a pin in force is not counted again";
}

TEST_F(MysqlCursorPin, ThePinEndsWhenTheCursorDoes) {
  context_.set_cursor_open(true);
  respond();
  context_.set_cursor_open(false);
  EXPECT_FALSE(context_.pinned()) << "COM_STMT_CLOSE has no response to learn from: the pin ends at once";
  respond();
  EXPECT_FALSE(cursor_pinned());
}

TEST_F(MysqlCursorPin, ResetAndALostBackendEndTheCursor) {
  context_.set_cursor_open(true);
  respond();
  context_.reset();
  respond();
  EXPECT_FALSE(cursor_pinned());
  context_.set_cursor_open(true);
  respond();
  context_.forget_backend_state();
  respond();
  EXPECT_FALSE(cursor_pinned());
}

TEST(MysqlPinReasonNames, CursorHasAMetricLabel) { EXPECT_EQ(to_string(MysqlPinReason::Cursor), "cursor"); }

TEST(MysqlPinReasonNames, BackupPinsHaveMetricLabels) {
  EXPECT_EQ(to_string(MysqlPinReason::BackupStage), "backup_stage");
  EXPECT_EQ(to_string(MysqlPinReason::BackupLock), "backup_lock");
  EXPECT_EQ(to_string(MysqlPinReason::Handler), "handler");
}

}  // namespace
}  // namespace corral::proxy
