// classify_statement: the state a COM_QUERY text leaves, what it asks about the previous statement,
// and that quotes and comments are skipped (every case also with random leading whitespace/comments).
#include "protocols/mysql/statement_classifier.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace corral::mysql {
namespace {

TEST(ClassifyStatement, UserVariablesButNotSystemVariablesOrAccounts) {
  EXPECT_TRUE(classify_statement("SET @x := 1").has(StatementEffect::UserVariable));
  EXPECT_TRUE(classify_statement("select a into @v from t").has(StatementEffect::UserVariable));
  EXPECT_TRUE(classify_statement("SELECT (@n := @n + 1) FROM t").has(StatementEffect::UserVariable));
  EXPECT_EQ(classify_statement("SELECT @@session.sql_mode, @@autocommit").effects, 0);
  EXPECT_EQ(classify_statement("CREATE USER 'u'@'%' IDENTIFIED BY 'p'").effects, 0);
  EXPECT_EQ(classify_statement("GRANT ALL ON *.* TO app@localhost").effects, 0);
  EXPECT_EQ(classify_statement("SELECT 'mail@example.com', \"a@b\", `c@d` FROM t").effects, 0);
  EXPECT_EQ(classify_statement("SELECT 1 -- @x\n").effects, 0);
  EXPECT_EQ(classify_statement("SELECT 1 /* @x */").effects, 0);
  // mysqldump's executable comments are code.
  EXPECT_TRUE(classify_statement("/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE */").has(StatementEffect::UserVariable));
}

TEST(ClassifyStatement, UnreplayableStatementsAreRecognisedInEveryStatementOfABatch) {
  EXPECT_TRUE(classify_statement("create temporary table t (a int)").has(StatementEffect::TemporaryTable));
  EXPECT_TRUE(classify_statement("SELECT 1; CREATE TEMPORARY TABLE t (a int)").has(StatementEffect::TemporaryTable));
  EXPECT_TRUE(classify_statement("LOCK TABLES t READ").has(StatementEffect::TableLock));
  EXPECT_TRUE(classify_statement("FLUSH TABLES t WITH READ LOCK").has(StatementEffect::TableLock));
  EXPECT_TRUE(classify_statement("SELECT GET_LOCK('a', 1)").has(StatementEffect::NamedLock));
  EXPECT_TRUE(classify_statement("PREPARE s FROM 'SELECT 1'").has(StatementEffect::SqlPrepare));
  EXPECT_TRUE(classify_statement("SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1").has(StatementEffect::CalcFoundRows));
  EXPECT_EQ(classify_statement("SELECT 'CREATE TEMPORARY TABLE', 'LOCK TABLES'").effects, 0);
  EXPECT_EQ(classify_statement("CREATE TABLE temporary_stuff (a int)").effects, 0);
  EXPECT_EQ(classify_statement("UNLOCK TABLES").effects, 0);
  EXPECT_TRUE(classify_statement("FLUSH TABLES t1, t2 FOR EXPORT").has(StatementEffect::TableLock));
  EXPECT_TRUE(classify_statement("backup stage start").has(StatementEffect::BackupStage));
  EXPECT_TRUE(classify_statement("BACKUP STAGE BLOCK_COMMIT").has(StatementEffect::BackupStage));
  EXPECT_TRUE(classify_statement("BACKUP LOCK t1").has(StatementEffect::BackupLock));
  EXPECT_TRUE(classify_statement("EXECUTE IMMEDIATE 'LOCK TABLES t1 WRITE'").has(StatementEffect::TableLock));
  EXPECT_TRUE(classify_statement("execute immediate \"backup stage start\"").has(StatementEffect::BackupStage));
  EXPECT_EQ(classify_statement("SELECT 'BACKUP STAGE START', 'FOR EXPORT'").effects, 0);
  EXPECT_EQ(classify_statement("FLUSH TABLES t1").effects, 0);
  EXPECT_TRUE(classify_statement("HANDLER t1 OPEN").has(StatementEffect::HandlerOpen));
  EXPECT_TRUE(classify_statement("handler test.t1 open as h").has(StatementEffect::HandlerOpen));
  EXPECT_TRUE(classify_statement("HANDLER `t 1` OPEN").has(StatementEffect::HandlerOpen));
  EXPECT_EQ(classify_statement("HANDLER t1 READ FIRST").effects, 0);
  EXPECT_EQ(classify_statement("HANDLER t1 CLOSE").effects, 0);
}

TEST(ClassifyStatement, StatementsThatReleaseLocks) {
  using E = StatementEffect;
  EXPECT_EQ(classify_statement("UNLOCK TABLES").ended_effects, effect_bit(E::TableLock));
  EXPECT_EQ(classify_statement("unlock table").ended_effects, effect_bit(E::TableLock));
  EXPECT_EQ(classify_statement("BACKUP STAGE END").ended_effects, effect_bit(E::BackupStage));
  EXPECT_EQ(classify_statement("BACKUP UNLOCK").ended_effects, effect_bit(E::BackupLock));
  EXPECT_EQ(classify_statement("EXECUTE IMMEDIATE 'UNLOCK TABLES'").ended_effects, effect_bit(E::TableLock));
  EXPECT_EQ(classify_statement("SELECT 'UNLOCK TABLES'").ended_effects, 0);
  // The last statement of a text wins.
  const StatementTraits relock = classify_statement("UNLOCK TABLES; LOCK TABLES t1 READ");
  EXPECT_TRUE(relock.has(E::TableLock));
  EXPECT_EQ(relock.ended_effects, effect_bit(E::TableLock));
  EXPECT_EQ(classify_statement("LOCK TABLES t1 READ; UNLOCK TABLES").effects, 0);
  // A procedure body's UNLOCK runs when the procedure is called, not now.
  EXPECT_EQ(classify_statement("CREATE PROCEDURE p() BEGIN SELECT 1; UNLOCK TABLES; END").ended_effects, 0);
}

TEST(ClassifyStatement, AnUnscopedAtAtAssignmentIsNotTrackedByTheServer) {
  EXPECT_TRUE(classify_statement("SET @@sql_mode = 'ANSI_QUOTES'").has(StatementEffect::UntrackedVariable));
  EXPECT_TRUE(classify_statement("set @@time_zone:='+01:00'").has(StatementEffect::UntrackedVariable));
  EXPECT_TRUE(classify_statement("SET sql_mode = '', @@max_join_size = 10").has(StatementEffect::UntrackedVariable));
  // The server's tracker reports these forms; reads are no assignment; autocommit is in the status flags.
  EXPECT_EQ(classify_statement("SET @@session.sql_mode = ''").effects, 0);
  EXPECT_EQ(classify_statement("SET @@local.sql_mode = ''").effects, 0);
  EXPECT_EQ(classify_statement("SET sql_mode = @@global.sql_mode").effects, 0);
  EXPECT_EQ(classify_statement("SELECT @@sql_mode = 'x'").effects, 0);
  EXPECT_EQ(classify_statement("SET @@autocommit = 0").effects, 0);
  EXPECT_EQ(classify_statement("SET @@global.sql_mode = ''").effects, 0);
}

TEST(ClassifyStatement, SetTransactionWithoutScopeIsForTheNextTransactionOnly) {
  EXPECT_TRUE(classify_statement("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE").has(StatementEffect::NextTransaction));
  EXPECT_TRUE(classify_statement("set transaction read only").has(StatementEffect::NextTransaction));
  EXPECT_TRUE(classify_statement("SELECT 1; SET TRANSACTION READ WRITE").has(StatementEffect::NextTransaction));
  EXPECT_TRUE(
      classify_statement("EXECUTE IMMEDIATE 'SET TRANSACTION READ ONLY'").has(StatementEffect::NextTransaction));
  // A scope makes it the session's (or the server's) default: the variables tracker reports that.
  EXPECT_EQ(classify_statement("SET SESSION TRANSACTION READ ONLY").effects, 0);
  EXPECT_EQ(classify_statement("SET GLOBAL TRANSACTION ISOLATION LEVEL READ COMMITTED").effects, 0);
  EXPECT_EQ(classify_statement("SELECT 'SET TRANSACTION READ ONLY'").effects, 0);
  EXPECT_EQ(classify_statement("START TRANSACTION READ ONLY").effects, 0);
}

TEST(ClassifyStatement, LocalInfileKillAndLastInsertId) {
  EXPECT_TRUE(classify_statement("LOAD DATA LOCAL INFILE 'f' INTO TABLE t").local_infile);
  EXPECT_TRUE(classify_statement("load data low_priority local infile 'f' into table t").local_infile);
  EXPECT_FALSE(classify_statement("LOAD DATA INFILE 'f' INTO TABLE t").local_infile);
  EXPECT_TRUE(classify_statement("SHUTDOWN").shutdown);
  EXPECT_TRUE(classify_statement("shutdown wait for all slaves").shutdown);
  EXPECT_FALSE(classify_statement("SELECT 'SHUTDOWN'").shutdown);
  EXPECT_FALSE(classify_statement("CREATE PROCEDURE p() BEGIN SELECT 1; SHUTDOWN; END").shutdown);
  EXPECT_TRUE(classify_statement("KILL QUERY 12").kill);
  EXPECT_FALSE(classify_statement("SELECT 'KILL 1'").kill);
  EXPECT_TRUE(classify_statement("INSERT INTO c VALUES (LAST_INSERT_ID(), 1)").uses_last_insert_id);
  EXPECT_FALSE(classify_statement("SELECT 'LAST_INSERT_ID()'").uses_last_insert_id);
}

TEST(ClassifyStatement, DefinitionsThatChangeWhatResultsLookLike) {
  EXPECT_TRUE(classify_statement("CREATE TABLE t1 (a INT)").changes_schema);
  EXPECT_TRUE(classify_statement("create or replace view v as select 1").changes_schema);
  EXPECT_TRUE(classify_statement("/* c */ alter table t1 add b int").changes_schema);
  EXPECT_TRUE(classify_statement("SELECT 1; DROP TABLE t1").changes_schema);
  EXPECT_TRUE(classify_statement("RENAME TABLE t1 TO t2").changes_schema);
  EXPECT_TRUE(classify_statement("/*!40101 DROP TABLE t1 */").changes_schema);
  EXPECT_FALSE(classify_statement("SELECT 'DROP TABLE t1'").changes_schema);
  EXPECT_FALSE(classify_statement("INSERT INTO created VALUES (1)").changes_schema);
  EXPECT_FALSE(classify_statement("SELECT * FROM t1").changes_schema);
  // Statistics and table rebuilds change plans; procedures and prepared or compound statements may
  // run any of the above where the text does not show it.
  EXPECT_TRUE(classify_statement("TRUNCATE TABLE t1").changes_schema);
  EXPECT_TRUE(classify_statement("analyze table t1 persistent for all").changes_schema);
  EXPECT_TRUE(classify_statement("ANALYZE NO_WRITE_TO_BINLOG TABLE t1").changes_schema);
  EXPECT_TRUE(classify_statement("OPTIMIZE TABLE t1").changes_schema);
  EXPECT_TRUE(classify_statement("REPAIR LOCAL TABLE t1").changes_schema);
  EXPECT_TRUE(classify_statement("CALL p1()").changes_schema);
  EXPECT_TRUE(classify_statement("EXECUTE IMMEDIATE 'ALTER TABLE t1 ADD c INT'").changes_schema);
  EXPECT_TRUE(classify_statement("EXECUTE s").changes_schema);
  EXPECT_TRUE(classify_statement("BEGIN NOT ATOMIC SELECT 1; END").changes_schema);
  EXPECT_TRUE(classify_statement("SET STATEMENT lock_wait_timeout = 1 FOR ALTER TABLE t1 ADD c INT").changes_schema);
  EXPECT_FALSE(classify_statement("ANALYZE SELECT * FROM t1").changes_schema);
  EXPECT_FALSE(classify_statement("BEGIN").changes_schema);
  EXPECT_FALSE(classify_statement("SET STATEMENT max_statement_time = 1 FOR SELECT 'DROP'").changes_schema);
}

TEST(ClassifyStatement, KillInEveryFormTheTextShows) {
  EXPECT_TRUE(classify_statement("SET STATEMENT max_statement_time = 5 FOR KILL QUERY 12").kill);
  EXPECT_FALSE(classify_statement("SET STATEMENT max_statement_time = 5 FOR SELECT 'KILL'").kill);
  EXPECT_TRUE(classify_statement("EXECUTE IMMEDIATE 'KILL 12'").dynamic_kill);
  EXPECT_TRUE(classify_statement("prepare s from \"kill connection 3\"").dynamic_kill);
  EXPECT_FALSE(classify_statement("PREPARE s FROM 'SELECT 1'").dynamic_kill);
  EXPECT_FALSE(classify_statement("EXECUTE IMMEDIATE 'SELECT \\'KILL 1\\''").dynamic_kill);
  // A routine's body runs later on the server (tenants are isolated there by their backend accounts).
  EXPECT_FALSE(classify_statement("create procedure p() begin declare id int; kill query id; end").kill);
  EXPECT_TRUE(classify_statement("SELECT 1; KILL 3").kill);
}

TEST(ClassifyStatement, ReadingTheThreadIdIsNoticedInEveryForm) {
  // The session publishes the thread id it told the client, for a later KILL of it.
  EXPECT_TRUE(classify_statement("SELECT CONNECTION_ID()").has(StatementEffect::ConnectionId));
  EXPECT_TRUE(classify_statement("select connection_id() + 0 as id").has(StatementEffect::ConnectionId));
  EXPECT_TRUE(classify_statement("SELECT @@pseudo_thread_id    ").has(StatementEffect::ConnectionId));
  EXPECT_TRUE(classify_statement("SELECT @@session.PSEUDO_THREAD_ID").has(StatementEffect::ConnectionId));
  EXPECT_FALSE(classify_statement("SELECT 'CONNECTION_ID()'").has(StatementEffect::ConnectionId));
  EXPECT_FALSE(classify_statement("SELECT 1 /* CONNECTION_ID() */").has(StatementEffect::ConnectionId));
  EXPECT_FALSE(classify_statement("SELECT CONNECTION_ID()").read_only) << "a replica's thread is not the session's";
}

TEST(ClassifyStatement, AnUnscopedWaitTimeoutSetIsRead) {
  EXPECT_EQ(classify_statement("set @@wait_timeout=1").unscoped_wait_timeout, 1u);
  EXPECT_EQ(classify_statement("SET @@WAIT_TIMEOUT := 30, @@time_zone = '+00:00'").unscoped_wait_timeout, 30u);
  EXPECT_EQ(classify_statement("SET @@session.wait_timeout = 5").unscoped_wait_timeout, 0u) << "the tracker reports it";
  EXPECT_EQ(classify_statement("SET @@wait_timeout = @x").unscoped_wait_timeout, 0u);
  EXPECT_EQ(classify_statement("SET @@wait_timeout = 10e2").unscoped_wait_timeout, 0u);
  EXPECT_EQ(classify_statement("SELECT @@wait_timeout = 5").unscoped_wait_timeout, 0u);
}

TEST(ClassifyStatement, SettingAGlobalSessionDefaultIsNoticed) {
  EXPECT_TRUE(classify_statement("SET @@global.wait_timeout= 2").sets_global_defaults);
  EXPECT_TRUE(classify_statement("set global interactive_timeout = 10").sets_global_defaults);
  EXPECT_TRUE(classify_statement("SET time_zone = '+00:00', GLOBAL wait_timeout = DEFAULT").sets_global_defaults);
  EXPECT_FALSE(classify_statement("SET SESSION wait_timeout = 2").sets_global_defaults);
  EXPECT_FALSE(classify_statement("SELECT @@global.wait_timeout").sets_global_defaults);
  EXPECT_FALSE(classify_statement("SET GLOBAL max_connections = 10; SELECT @@wait_timeout").sets_global_defaults);
  EXPECT_TRUE(classify_statement("SET GLOBAL session_track_state_change = ON").sets_global_defaults);
  EXPECT_TRUE(classify_statement("set @@global.SESSION_TRACK_SYSTEM_VARIABLES = '*'").sets_global_defaults);
}

TEST(ClassifyStatement, TheSessionTrackersASetAssignsAreSeen) {
  EXPECT_EQ(classify_statement("SET @@session.session_track_system_variables='character_set_connection'")
                .sets_trackers,
            kTrackSystemVariables);
  EXPECT_EQ(classify_statement("set session_track_state_change = 1, autocommit = 0").sets_trackers, kTrackStateChange);
  EXPECT_EQ(classify_statement("SET SESSION session_track_schema:=OFF, session_track_transaction_info='STATE'")
                .sets_trackers,
            kTrackSchema | kTrackTransactionInfo);
  EXPECT_EQ(classify_statement("SET @@session.session_track_system_variables= @save").sets_trackers,
            kTrackSystemVariables);
  // Read, not assigned.
  EXPECT_EQ(classify_statement("SET @save = @@session_track_system_variables").sets_trackers, 0);
  EXPECT_EQ(classify_statement("SELECT @@session_track_system_variables").sets_trackers, 0);
  EXPECT_EQ(classify_statement("SET NAMES utf8").sets_trackers, 0);
  EXPECT_FALSE(classify_statement("SET @save = @@global.session_track_schema").sets_global_defaults);
}

TEST(ClassifyStatement, TheCollationOfSetNames) {
  EXPECT_EQ(classify_statement("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_520_ci").names_collation,
            "utf8mb4_unicode_520_ci");
  EXPECT_EQ(classify_statement("set names latin1 collate latin1_bin;").names_collation, "latin1_bin");
  EXPECT_EQ(classify_statement("SET NAMES utf8mb4").names_collation, "");
}

TEST(ClassifyStatement, AStatementThatNamesNoTableKeepsThePreviousWarnings) {
  for (const char* sql : {"select 1", "SELECT @@warning_count", "DO SLEEP(0)", "SET @a = 1;", "VALUES (1), (2)",
                          "SELECT 'FROM t' AS `from`", "SET STATEMENT max_statement_time = 1 FOR SELECT 1",
                          "/* FROM */ SELECT (SELECT 2)"}) {
    EXPECT_TRUE(classify_statement(sql).keeps_diagnostics) << sql;
  }
  for (const char* sql : {"SELECT * FROM t", "select a from dual", "DROP TABLE IF EXISTS t", "INSERT INTO t VALUES (1)",
                          "SET @a = (SELECT MAX(a) FROM t)", "SELECT NEXTVAL(s)", "SET @v = NEXT VALUE FOR s",
                          "SET STATEMENT max_statement_time = 1 FOR INSERT INTO t VALUES (1)", "SELECT 1; SELECT 2",
                          "SHOW WARNINGS", "CALL p()"}) {
    EXPECT_FALSE(classify_statement(sql).keeps_diagnostics) << sql;
  }
}

TEST(ParseKill, TheConnectionIdAndWhatEnds) {
  const auto plain = parse_kill("KILL 42");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->query);
  EXPECT_EQ(plain->target, KillStatement::Target::ConnectionId);
  EXPECT_EQ(plain->id, 42u);
  const auto query = parse_kill(" kill hard query 7 ; ");
  ASSERT_TRUE(query);
  EXPECT_TRUE(query->query);
  EXPECT_EQ(query->id, 7u);
  EXPECT_EQ(parse_kill("KILL SOFT CONNECTION 8")->id, 8u);
  EXPECT_EQ(parse_kill("SET STATEMENT max_statement_time=1 FOR KILL QUERY 9")->id, 9u);
  EXPECT_TRUE(parse_kill("SET STATEMENT max_statement_time=1 FOR KILL QUERY 9")->query);
  EXPECT_EQ(parse_kill("EXECUTE IMMEDIATE 'KILL QUERY 10'")->id, 10u);
  EXPECT_EQ(parse_kill("KILL QUERY ID 11")->target, KillStatement::Target::QueryId);
  EXPECT_EQ(parse_kill("KILL CONNECTION USER app")->target, KillStatement::Target::User);
  EXPECT_EQ(parse_kill("KILL @id")->target, KillStatement::Target::Expression);
  EXPECT_EQ(parse_kill("KILL CONNECTION_ID()")->target, KillStatement::Target::Self);
  EXPECT_TRUE(parse_kill("kill query connection_id()")->query);
  EXPECT_EQ(parse_kill("KILL 99999999999999999999")->target, KillStatement::Target::Expression);
  EXPECT_FALSE(parse_kill("PREPARE s FROM 'KILL 3'")) << "not a KILL carried out now";
  EXPECT_FALSE(parse_kill("SELECT 1; KILL 3"));
  EXPECT_FALSE(parse_kill("SELECT 1"));
}

TEST(ParseKill, AnExpressionKeepsItsTextForTheServerToEvaluate) {
  const auto expression = parse_kill("KILL  (('x' IN ( SELECT 1)) MOD 44) ;");
  ASSERT_TRUE(expression);
  EXPECT_EQ(expression->target, KillStatement::Target::Expression);
  EXPECT_EQ(expression->expression, "(('x' IN ( SELECT 1)) MOD 44)");
  EXPECT_FALSE(expression->has_parameter_marker);
  const auto query = parse_kill("kill hard query @id");
  EXPECT_TRUE(query->query);
  EXPECT_EQ(query->expression, "@id");
  EXPECT_EQ(parse_kill("SET STATEMENT max_statement_time=1 FOR KILL @a + 1")->expression, "@a + 1");
  EXPECT_EQ(parse_kill("EXECUTE IMMEDIATE 'KILL @b'")->expression, "@b");
  EXPECT_EQ(parse_kill("EXECUTE IMMEDIATE CONCAT('KILL ', @id)")->expression, "") << "not read: refused";
  EXPECT_EQ(parse_kill("KILL QUERY")->expression, "");
  EXPECT_EQ(parse_kill("KILL 42")->expression, "") << "a number needs no evaluation";
  EXPECT_TRUE(parse_kill("KILL ?")->has_parameter_marker);
  EXPECT_TRUE(parse_kill("KILL QUERY (? + 1)")->has_parameter_marker);
  EXPECT_FALSE(parse_kill("KILL LENGTH('?')")->has_parameter_marker);
  EXPECT_FALSE(parse_kill("KILL LENGTH('it\\'s?')")->has_parameter_marker);
  EXPECT_FALSE(parse_kill("KILL `a?`")->has_parameter_marker);
}

TEST(ParseKill, AnExpressionThatReadsATableOrASequenceIsTold) {
  // The server refuses those in a KILL (mtr main.parser), and allows a subquery without a table (main.sp-bugs).
  EXPECT_TRUE(parse_kill("KILL ( SELECT 1 ) + LASTVAL(s)")->uses_table);
  EXPECT_TRUE(parse_kill("KILL LASTVAL(s)")->uses_table);
  EXPECT_TRUE(parse_kill("KILL (SELECT id FROM t LIMIT 1)")->uses_table);
  EXPECT_TRUE(parse_kill("KILL NEXT VALUE FOR s")->uses_table);
  EXPECT_FALSE(parse_kill("KILL  (('x' IN ( SELECT 1)) MOD 44)")->uses_table);
  EXPECT_FALSE(parse_kill("KILL LENGTH('from')")->uses_table) << "a word inside a string";
  EXPECT_FALSE(parse_kill("KILL @fromage")->uses_table);
}

TEST(ClassifyStatement, ReadsOfThePreviousStatementsCountsAnywhere) {
  EXPECT_TRUE(classify_statement("SELECT LAST_INSERT_ID(), ROW_COUNT()").reads_previous_counts);
  EXPECT_TRUE(classify_statement("INSERT INTO t VALUES (FOUND_ROWS())").reads_previous_counts);
  EXPECT_FALSE(classify_statement("SELECT 'ROW_COUNT()'").reads_previous_counts);
  EXPECT_FALSE(classify_statement("SELECT LAST_INSERT_ID()").reads_previous_counts);
  EXPECT_EQ(classify_statement("SHOW STATUS LIKE 'Threads_connected'").asks_for,
            PreviousStatementQuery::ThreadsConnected);
}

TEST(ClassifyStatement, QuestionsAboutThePreviousStatementOnlyInTheExactForms) {
  const StatementTraits row_count = classify_statement("  select row_count() ; ");
  EXPECT_EQ(row_count.asks_for, PreviousStatementQuery::RowCount);
  EXPECT_EQ(row_count.column_name, "row_count()");
  EXPECT_EQ(classify_statement("SELECT FOUND_ROWS()").asks_for, PreviousStatementQuery::FoundRows);
  EXPECT_EQ(classify_statement("SHOW WARNINGS").asks_for, PreviousStatementQuery::ShowWarnings);
  EXPECT_EQ(classify_statement("show errors").asks_for, PreviousStatementQuery::ShowWarnings);
  EXPECT_EQ(classify_statement("SELECT @@warning_count").asks_for, PreviousStatementQuery::WarningCount);
  EXPECT_EQ(classify_statement("SHOW COUNT(*) WARNINGS").column_name, "@@session.warning_count");
  EXPECT_EQ(classify_statement("SELECT ROW_COUNT() + 1").asks_for, PreviousStatementQuery::None);
  EXPECT_EQ(classify_statement("SHOW WARNINGS LIMIT 1").asks_for, PreviousStatementQuery::None);
  EXPECT_EQ(classify_statement("SELECT 1; SHOW WARNINGS").asks_for, PreviousStatementQuery::None);
}

TEST(ClassifyStatement, KeywordsMatchInAnyCaseAndOnlyWhole) {
  // The scanner compares words by length first: each keyword, in lower and mixed case, next to words of
  // the same length that are not keywords.
  EXPECT_TRUE(classify_statement("select get_lock('a', 1)").has(StatementEffect::NamedLock));
  EXPECT_EQ(classify_statement("select get_lick('a', 1), get_lock_x(1)").effects, 0);
  EXPECT_TRUE(classify_statement("select Sql_Calc_Found_Rows a from t").has(StatementEffect::CalcFoundRows));
  EXPECT_EQ(classify_statement("select sql_calc_found_rowz a from t").effects, 0);
  EXPECT_TRUE(classify_statement("select last_insert_id()").uses_last_insert_id);
  EXPECT_FALSE(classify_statement("select last_insert_ix()").uses_last_insert_id);
  EXPECT_TRUE(classify_statement("flush tables t with read Lock").has(StatementEffect::TableLock));
  EXPECT_EQ(classify_statement("flush tables t with read lick").effects, 0);
  EXPECT_EQ(classify_statement("select found_rows()").asks_for, PreviousStatementQuery::FoundRows);
  EXPECT_EQ(classify_statement("select Row_Count()").asks_for, PreviousStatementQuery::RowCount);
  EXPECT_EQ(classify_statement("show count(*) Errors").column_name, "@@session.error_count");
  EXPECT_EQ(classify_statement("show Warnings").asks_for, PreviousStatementQuery::ShowWarnings);
  EXPECT_EQ(classify_statement("SELECT @@Session.Error_Count").asks_for, PreviousStatementQuery::WarningCount);
  EXPECT_EQ(classify_statement("SELECT c FROM sbtest1 WHERE id=5000").effects, 0);
  EXPECT_EQ(classify_statement("SELECT c FROM sbtest1 WHERE id=5000").asks_for, PreviousStatementQuery::None);
}

/// One statement and every trait classify_statement() gives it.
struct Case {
  std::string sql;
  StatementEffects effects = 0;
  bool local_infile = false;
  bool kill = false;
  bool uses_last_insert_id = false;
  PreviousStatementQuery asks_for = PreviousStatementQuery::None;
};

const std::vector<Case>& cases() {
  using E = StatementEffect;
  using Q = PreviousStatementQuery;
  static const std::vector<Case> all = {
      {"SELECT c FROM sbtest1 WHERE id=5000"},
      {"SET @x := 1", effect_bit(E::UserVariable)},
      {"SELECT 'a@b', `c@d` FROM t WHERE u = 'u'@'h'"},
      {"SELECT @@session.sql_mode"},
      {"/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE */", effect_bit(E::UserVariable)},
      {"CREATE TEMPORARY TABLE t (a int)", effect_bit(E::TemporaryTable)},
      {"SELECT 1; LOCK TABLES t READ", effect_bit(E::TableLock)},
      {"FLUSH TABLES WITH READ LOCK", effect_bit(E::TableLock)},
      {"SELECT GET_LOCK('a', 1), @v", effect_bit(E::NamedLock) | effect_bit(E::UserVariable)},
      {"PREPARE s FROM 'SELECT 1'", effect_bit(E::SqlPrepare)},
      {"SELECT SQL_CALC_FOUND_ROWS * FROM t", effect_bit(E::CalcFoundRows)},
      {"SET TRANSACTION ISOLATION LEVEL READ COMMITTED", effect_bit(E::NextTransaction)},
      {"LOAD DATA LOCAL INFILE 'f' INTO TABLE t", 0, true},
      {"KILL QUERY 12", 0, false, true},
      {"INSERT INTO c VALUES (LAST_INSERT_ID(), 1)", 0, false, false, true},
      {"SELECT ROW_COUNT()", 0, false, false, false, Q::RowCount},
      {"select found_rows();", 0, false, false, false, Q::FoundRows},
      {"SHOW WARNINGS", 0, false, false, false, Q::ShowWarnings},
      {"SELECT @@error_count", 0, false, false, false, Q::WarningCount},
      {"SHOW COUNT(*) ERRORS", 0, false, false, false, Q::WarningCount},
  };
  return all;
}

void expect_traits(const Case& c, const std::string& sql, PreviousStatementQuery asks_for) {
  const StatementTraits traits = classify_statement(sql);
  EXPECT_EQ(traits.effects, c.effects) << sql;
  EXPECT_EQ(traits.local_infile, c.local_infile) << sql;
  EXPECT_EQ(traits.kill, c.kill) << sql;
  EXPECT_EQ(traits.uses_last_insert_id, c.uses_last_insert_id) << sql;
  EXPECT_EQ(traits.asks_for, asks_for) << sql;
}

/// A random run of what the server's lexer skips before a statement: whitespace, and (when
/// `with_comments`) comments of every kind.
std::string random_prefix(std::mt19937& random, bool with_comments) {
  static const char* const kSpaces[] = {" ", "\t", "\n", "\r\n"};
  static const char* const kComments[] = {"/* x; @v 'q */ ", "-- @v ;\n", "# KILL 1\n", "/**/", "--\n"};
  std::string prefix;
  const int pieces = std::uniform_int_distribution<int>(1, 4)(random);
  for (int i = 0; i < pieces; ++i) {
    const bool comment = with_comments && std::uniform_int_distribution<int>(0, 1)(random) == 1;
    if (comment) {
      prefix += kComments[std::uniform_int_distribution<std::size_t>(0, std::size(kComments) - 1)(random)];
    } else {
      prefix += kSpaces[std::uniform_int_distribution<std::size_t>(0, std::size(kSpaces) - 1)(random)];
    }
  }
  return prefix;
}

TEST(ClassifyStatement, EveryCaseAsItIs) {
  for (const Case& c : cases()) expect_traits(c, c.sql, c.asks_for);
}

class ClassifyStatementPrefixed : public ::testing::TestWithParam<unsigned> {};

TEST_P(ClassifyStatementPrefixed, LeadingWhitespaceChangesNothing) {
  std::mt19937 random(GetParam());
  for (const Case& c : cases()) expect_traits(c, random_prefix(random, false) + c.sql, c.asks_for);
}

TEST_P(ClassifyStatementPrefixed, LeadingCommentsChangeNothingButTheExactForms) {
  // A comment is code the server skips, so the state a statement leaves is seen through it; the
  // questions about the previous statement are recognised only in their exact forms (the server
  // answers the others, from the connection the previous statement ran on).
  std::mt19937 random(GetParam());
  for (const Case& c : cases()) {
    const std::string prefix = random_prefix(random, true);
    const bool whitespace_only = prefix.find_first_not_of(" \t\r\n") == std::string::npos;
    expect_traits(c, prefix + c.sql, whitespace_only ? c.asks_for : PreviousStatementQuery::None);
  }
}

INSTANTIATE_TEST_SUITE_P(Seeds, ClassifyStatementPrefixed, ::testing::Range(1u, 17u));

/// Statements and whether a replica may answer them (StatementTraits::read_only).
struct ReadOnlyCase {
  const char* sql;
  bool read_only;
};

constexpr ReadOnlyCase kReadOnlyCases[] = {
    {"SELECT c FROM sbtest1 WHERE id=5000", true},
    {"select a, b from t where x in (select y from u) order by a limit 10", true},
    {"(SELECT 1) UNION (SELECT 2)", true},
    {"SELECT @@session.sql_mode, @@server_id", true},
    {"SELECT SQL_CALC_FOUND_ROWS * FROM t LIMIT 1", true},  // the found_rows hold keeps the replica's connection
    {"SELECT 'FOR UPDATE', `into`, \"LOCK\" FROM t", true},  // quoted words are data
    {"SELECT 1 -- FOR UPDATE\n", true},
    {"SELECT updated_at, statuses FROM t", true},  // only whole keywords count
    {"SELECT c FROM t;", true},
    {"SHOW TABLES", true},
    {"show full tables from app", true},
    {"SHOW DATABASES", true},
    {"SHOW COLUMNS FROM t", true},
    {"SHOW FULL COLUMNS FROM t", true},
    {"SHOW INDEX FROM t", true},
    {"SHOW CREATE TABLE t", true},
    {"SHOW TABLE STATUS", true},
    {"SHOW COLLATION LIKE 'utf8%'", true},
    {"SELECT * FROM t FOR UPDATE", false},
    {"SELECT * FROM t LOCK IN SHARE MODE", false},
    {"SELECT * FROM t FOR SHARE", false},
    {"SELECT a INTO @v FROM t", false},
    {"SELECT a FROM t INTO OUTFILE '/tmp/x'", false},
    {"SELECT @v", false},  // user variables live on one connection
    {"SELECT GET_LOCK('a', 1)", false},
    {"SELECT RELEASE_LOCK('a')", false},
    {"SELECT IS_USED_LOCK('a')", false},
    {"SELECT NEXTVAL(s)", false},
    {"SELECT SETVAL(s, 10)", false},
    {"SELECT LASTVAL(s)", false},
    {"SELECT LAST_INSERT_ID()", false},
    {"SELECT ROW_COUNT()", false},
    {"SELECT FOUND_ROWS()", false},
    {"SELECT CONNECTION_ID()", false},
    {"SELECT MASTER_GTID_WAIT('0-1-5', 1)", false},
    {"SELECT 1; SELECT 2", false},
    {"SELECT 1; DELETE FROM t", false},
    {"INSERT INTO t SELECT * FROM u", false},
    {"UPDATE t SET a = 1", false},
    {"DELETE FROM t", false},
    {"WITH x AS (SELECT 1) SELECT * FROM x", false},
    {"EXPLAIN SELECT 1", false},
    {"SHOW STATUS", false},
    {"SHOW GLOBAL VARIABLES", false},
    {"SHOW PROCESSLIST", false},
    {"SHOW FULL PROCESSLIST", false},
    {"SHOW SLAVE STATUS", false},
    {"SHOW MASTER STATUS", false},
    {"SHOW WARNINGS", false},
    {"SET NAMES utf8mb4", false},
    {"BEGIN", false},
    {"", false},
};

TEST(ClassifyStatement, ReadOnlyOnlyForPlainReads) {
  for (const ReadOnlyCase& c : kReadOnlyCases) EXPECT_EQ(classify_statement(c.sql).read_only, c.read_only) << c.sql;
}

TEST_P(ClassifyStatementPrefixed, ReadOnlySeenThroughLeadingCommentsAndWhitespace) {
  std::mt19937 random(GetParam());
  for (const ReadOnlyCase& c : kReadOnlyCases) {
    const std::string sql = random_prefix(random, true) + c.sql;
    EXPECT_EQ(classify_statement(sql).read_only, c.read_only) << sql;
  }
}

TEST(ClassifyStatement, ReadOnlyInExecutableComments) {
  // mysqldump-style executable comments are code: what they hide counts.
  EXPECT_FALSE(classify_statement("SELECT * FROM t /*!50000 FOR UPDATE */").read_only);
  EXPECT_TRUE(classify_statement("/*!40001 SELECT */ 1").read_only);
}

TEST(ParseSqlPrepared, NamesAndTheKillAPrepareHolds) {
  using Verb = SqlPreparedStatement::Verb;
  const auto prepare = parse_sql_prepared("prepare stmt1 from ' KILL QUERY 7 '");
  ASSERT_TRUE(prepare.has_value());
  EXPECT_EQ(prepare->verb, Verb::Prepare);
  EXPECT_EQ(prepare->name, "stmt1");
  EXPECT_TRUE(prepare->prepares_kill);
  ASSERT_TRUE(prepare->kill.has_value());
  EXPECT_EQ(prepare->kill->id, 7u);
  EXPECT_TRUE(prepare->kill->query);
  const auto other = parse_sql_prepared("PREPARE `S` FROM 'SELECT 1'");
  ASSERT_TRUE(other.has_value());
  EXPECT_EQ(other->name, "s");
  EXPECT_FALSE(other->prepares_kill);
  EXPECT_FALSE(parse_sql_prepared("PREPARE s FROM @k")->prepares_kill) << "a variable's text is not seen";
  const auto execute = parse_sql_prepared("EXECUTE Stmt1 USING @a");
  ASSERT_TRUE(execute.has_value());
  EXPECT_EQ(execute->verb, Verb::Execute);
  EXPECT_EQ(execute->name, "stmt1");
  EXPECT_EQ(parse_sql_prepared("DEALLOCATE PREPARE stmt1")->verb, Verb::Deallocate);
  EXPECT_EQ(parse_sql_prepared("drop prepare `stmt1`")->name, "stmt1");
  EXPECT_FALSE(parse_sql_prepared("EXECUTE IMMEDIATE 'KILL 5'").has_value());
  EXPECT_FALSE(parse_sql_prepared("EXECUTE s; SELECT 1").has_value());
  EXPECT_FALSE(parse_sql_prepared("SELECT 1").has_value());
  EXPECT_FALSE(parse_sql_prepared("EXECUTE").has_value());
}

}  // namespace
}  // namespace corral::mysql
