// Where a MySQL client command goes, decided from the command byte and the statement's traits alone
// (no I/O), so the session's dispatch is a switch over these answers and the rules are unit-tested.
//
//   mysql::Command ─► route_command() ─► Query ─► route_query(traits, ...) ─► Relay | AnswerLocally
//                                       │                                    | RefuseLocalInfile | Kill
//                                       ├► Relay (COM_INIT_DB, COM_FIELD_LIST, COM_STATISTICS, COM_SHUTDOWN,
//                                       │         COM_REFRESH, COM_DEBUG)
//                                       ├► PreparedStatement (COM_STMT_*) ─► MysqlStatements
//                                       ├► Ping | Quit | SetOption | ChangeUser | ResetConnection | ProcessKill (corral)
//                                       └► Unsupported ─► ERR 1047 08S01
#pragma once

#include <cstdint>

#include "protocols/mysql/constants.h"
#include "protocols/mysql/statement_classifier.h"

namespace corral::proxy {

/// Who handles a client command.
enum class CommandRoute : std::uint8_t {
  Query,              // COM_QUERY: classified, then route_query()
  Relay,              // relayed to a backend connection as it is
  PreparedStatement,  // COM_STMT_*: the session's prepared statements
  Ping,               // COM_PING: OK from corral
  Quit,               // COM_QUIT: the connection closes
  SetOption,          // COM_SET_OPTION: multi-statements on/off, part of the pool key
  ChangeUser,         // COM_CHANGE_USER: the session ends, the new user logs in
  ResetConnection,    // COM_RESET_CONNECTION: the session's state ends, the user stays
  ProcessKill,        // COM_PROCESS_KILL: KILL CONNECTION of a corral connection id
  Unsupported,        // ERR 1047: every other command (replication, COM_PROCESS_INFO...)
};

/// What becomes of a COM_QUERY.
enum class QueryRoute : std::uint8_t {
  Relay,              // to a backend connection
  AnswerLocally,      // asks about the previous statement, answered from the context
  RefuseLocalInfile,  // ERR 1148: LOAD DATA LOCAL without mysql.local_infile
  Kill,               // KILL of a corral connection id (backend thread ids are shared by many clients)
};

/// Who handles `command`. Inline, as route_query(): dispatch runs them on every command.
constexpr CommandRoute route_command(mysql::Command command) noexcept {
  switch (command) {
    case mysql::Command::COM_QUERY:
      return CommandRoute::Query;
    case mysql::Command::COM_INIT_DB:
    case mysql::Command::COM_FIELD_LIST:
    case mysql::Command::COM_STATISTICS:
    // The server checks the SHUTDOWN privilege of the backend connection's account, as for the
    // SHUTDOWN statement, which is relayed like any other.
    case mysql::Command::COM_SHUTDOWN:
    // mysql_refresh(): FLUSH PRIVILEGES / LOGS / TABLES / HOSTS / STATUS... in one byte of flags (the
    // server reads no more). Each is as global as the FLUSH statement it stands for, which is relayed
    // to one connection too; none takes a lock that stays with the connection (FLUSH TABLES WITH READ
    // LOCK has no flag within that byte), so the lease ends as after any statement.
    case mysql::Command::COM_REFRESH:
    // mysql_dump_debug_info(): the server writes its status to its own error log (SUPER checked there).
    case mysql::Command::COM_DEBUG:
      return CommandRoute::Relay;
    case mysql::Command::COM_STMT_PREPARE:
    case mysql::Command::COM_STMT_EXECUTE:
    case mysql::Command::COM_STMT_SEND_LONG_DATA:
    case mysql::Command::COM_STMT_CLOSE:
    case mysql::Command::COM_STMT_RESET:
    case mysql::Command::COM_STMT_FETCH:
    case mysql::Command::COM_STMT_BULK_EXECUTE:
      return CommandRoute::PreparedStatement;
    case mysql::Command::COM_PING:
      return CommandRoute::Ping;
    case mysql::Command::COM_QUIT:
      return CommandRoute::Quit;
    case mysql::Command::COM_SET_OPTION:
      return CommandRoute::SetOption;
    case mysql::Command::COM_CHANGE_USER:
      return CommandRoute::ChangeUser;
    case mysql::Command::COM_RESET_CONNECTION:
      return CommandRoute::ResetConnection;
    case mysql::Command::COM_PROCESS_KILL:
      return CommandRoute::ProcessKill;
    default:
      return CommandRoute::Unsupported;
  }
}

/// `local_infile_allowed` is mysql.local_infile; `holds_backend` is true while the session keeps a
/// backend connection (which then answers questions about the previous statement itself).
constexpr QueryRoute route_query(const mysql::StatementTraits& traits, bool local_infile_allowed,
                                 bool holds_backend) noexcept {
  if (traits.local_infile && !local_infile_allowed) return QueryRoute::RefuseLocalInfile;
  if (traits.kill || traits.dynamic_kill) return QueryRoute::Kill;
  if (traits.asks_for == mysql::PreviousStatementQuery::ThreadsConnected) return QueryRoute::AnswerLocally;
  if (traits.asks_for != mysql::PreviousStatementQuery::None && !holds_backend) return QueryRoute::AnswerLocally;
  return QueryRoute::Relay;
}

}  // namespace corral::proxy
