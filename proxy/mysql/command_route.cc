#include "proxy/mysql/command_route.h"

namespace corral::proxy {

CommandRoute route_command(mysql::Command command) noexcept {
  switch (command) {
    case mysql::Command::COM_QUERY:
      return CommandRoute::Query;
    case mysql::Command::COM_INIT_DB:
    case mysql::Command::COM_FIELD_LIST:
    case mysql::Command::COM_STATISTICS:
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
    default:
      return CommandRoute::Unsupported;
  }
}

QueryRoute route_query(const mysql::StatementTraits& traits, bool local_infile_allowed, bool holds_backend) noexcept {
  if (traits.local_infile && !local_infile_allowed) return QueryRoute::RefuseLocalInfile;
  if (traits.kill) return QueryRoute::RefuseKill;
  if (traits.asks_for != mysql::PreviousStatementQuery::None && !holds_backend) return QueryRoute::AnswerLocally;
  return QueryRoute::Relay;
}

}  // namespace corral::proxy
