// route_command / route_query: which client command goes where (relayed, answered by corral, handed to
// the prepared statements, refused), decided without I/O.
#include "proxy/mysql/command_route.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace corral::proxy {
namespace {

using mysql::Command;

TEST(RouteCommand, StatementsAndTheirHelpersAreRelayed) {
  EXPECT_EQ(route_command(Command::COM_QUERY), CommandRoute::Query);
  EXPECT_EQ(route_command(Command::COM_INIT_DB), CommandRoute::Relay);
  EXPECT_EQ(route_command(Command::COM_FIELD_LIST), CommandRoute::Relay);
  EXPECT_EQ(route_command(Command::COM_STATISTICS), CommandRoute::Relay);
  EXPECT_EQ(route_command(Command::COM_SHUTDOWN), CommandRoute::Relay) << "as the SHUTDOWN statement";
  EXPECT_EQ(route_command(Command::COM_REFRESH), CommandRoute::Relay) << "as the FLUSH statements";
  EXPECT_EQ(route_command(Command::COM_DEBUG), CommandRoute::Relay) << "the server's status, to its own error log";
}

TEST(RouteCommand, EveryComStmtGoesToThePreparedStatements) {
  for (const Command command : {Command::COM_STMT_PREPARE, Command::COM_STMT_EXECUTE, Command::COM_STMT_SEND_LONG_DATA,
                                Command::COM_STMT_CLOSE, Command::COM_STMT_RESET, Command::COM_STMT_FETCH,
                                Command::COM_STMT_BULK_EXECUTE}) {
    EXPECT_EQ(route_command(command), CommandRoute::PreparedStatement) << mysql::to_string(command);
  }
}

TEST(RouteCommand, SessionCommandsAreCorralsOwn) {
  EXPECT_EQ(route_command(Command::COM_PING), CommandRoute::Ping);
  EXPECT_EQ(route_command(Command::COM_QUIT), CommandRoute::Quit);
  EXPECT_EQ(route_command(Command::COM_SET_OPTION), CommandRoute::SetOption);
  EXPECT_EQ(route_command(Command::COM_CHANGE_USER), CommandRoute::ChangeUser);
  EXPECT_EQ(route_command(Command::COM_RESET_CONNECTION), CommandRoute::ResetConnection);
}

TEST(RouteCommand, EverythingElseIsUnsupported) {
  // ERR 1047: server administration, replication and obsolete commands would act on a shared backend.
  for (const Command command : {Command::COM_SLEEP, Command::COM_CREATE_DB, Command::COM_DROP_DB,
                                Command::COM_PROCESS_INFO, Command::COM_CONNECT,
                                Command::COM_TIME,
                                Command::COM_DELAYED_INSERT, Command::COM_BINLOG_DUMP, Command::COM_TABLE_DUMP,
                                Command::COM_CONNECT_OUT, Command::COM_REGISTER_SLAVE, Command::COM_DAEMON,
                                Command::COM_BINLOG_DUMP_GTID, Command::COM_CLONE,
                                Command::COM_SUBSCRIBE_GROUP_REPLICATION_STREAM}) {
    EXPECT_EQ(route_command(command), CommandRoute::Unsupported) << mysql::to_string(command);
  }
  EXPECT_EQ(route_command(static_cast<Command>(0x7f)), CommandRoute::Unsupported) << "a byte no command has";
}

mysql::StatementTraits traits_of(std::string_view sql) { return mysql::classify_statement(sql); }

TEST(RouteQuery, OrdinaryStatementsAreRelayed) {
  EXPECT_EQ(route_query(traits_of("SELECT c FROM sbtest1 WHERE id = 1"), false, false), QueryRoute::Relay);
  EXPECT_EQ(route_query(traits_of("SET @x = 1"), false, true), QueryRoute::Relay);
}

TEST(RouteQuery, LocalInfileIsRefusedUnlessAllowed) {
  const mysql::StatementTraits load = traits_of("LOAD DATA LOCAL INFILE 'f' INTO TABLE t");
  EXPECT_EQ(route_query(load, false, false), QueryRoute::RefuseLocalInfile);
  EXPECT_EQ(route_query(load, true, false), QueryRoute::Relay);
  EXPECT_EQ(route_query(traits_of("LOAD DATA INFILE 'f' INTO TABLE t"), false, false), QueryRoute::Relay)
      << "a server-side file is the server's business";
}

TEST(RouteQuery, KillIsCorralsOwnEvenOnAHeldConnection) {
  // The id is one corral gave: the statement never reaches a backend, in any of its forms.
  for (const char* sql : {"KILL QUERY 12", "KILL 12", "SET STATEMENT max_statement_time=1 FOR KILL 12",
                          "EXECUTE IMMEDIATE 'KILL 12'", "PREPARE s FROM 'KILL QUERY 12'", "KILL @id"}) {
    EXPECT_EQ(route_query(traits_of(sql), true, false), QueryRoute::Kill) << sql;
    EXPECT_EQ(route_query(traits_of(sql), true, true), QueryRoute::Kill) << sql;
  }
  EXPECT_EQ(route_query(traits_of("CREATE PROCEDURE p() BEGIN KILL QUERY 12; END"), true, false), QueryRoute::Relay)
      << "a routine body runs on the server, with its checks";
}

TEST(RouteCommand, ProcessKillIsCorrals) {
  EXPECT_EQ(route_command(Command::COM_PROCESS_KILL), CommandRoute::ProcessKill);
}

TEST(RouteQuery, ThreadsConnectedIsAnsweredLocallyAlwaysButConnectionIdIsTheBackends) {
  // CONNECTION_ID() is compared with processlist and INNODB_TRX ids (mtr: xa, sp-threads...).
  EXPECT_EQ(route_query(traits_of("SELECT CONNECTION_ID()"), true, false), QueryRoute::Relay);
  EXPECT_EQ(route_query(traits_of("SHOW STATUS LIKE 'Threads_connected'"), true, true), QueryRoute::AnswerLocally);
  EXPECT_EQ(route_query(traits_of("SHOW STATUS LIKE 'Threads_running'"), true, false), QueryRoute::Relay);
}

TEST(RouteQuery, QuestionsAboutThePreviousStatementAreAnsweredLocallyUnlessAConnectionIsHeld) {
  for (const char* sql : {"SELECT ROW_COUNT()", "SELECT FOUND_ROWS()", "SHOW WARNINGS", "SELECT @@warning_count",
                          "SHOW COUNT(*) ERRORS"}) {
    EXPECT_EQ(route_query(traits_of(sql), false, false), QueryRoute::AnswerLocally) << sql;
    // A held connection ran the previous statement (FOUND_ROWS after SQL_CALC_FOUND_ROWS, warnings):
    // it answers with the server's own diagnostics.
    EXPECT_EQ(route_query(traits_of(sql), false, true), QueryRoute::Relay) << sql;
  }
}

}  // namespace
}  // namespace corral::proxy
