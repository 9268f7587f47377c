// One MySQL client connection: corral as the server. A coroutine logs the client in, then reads one
// command at a time and answers it locally or relays it to a backend connection lent for it.
//
//   run(): login.handshake() ─► loop: client.read_packet() ─► dispatch() ─► consume the packet
//   dispatch(): route_command() (command_route.h)
//     Query ─► classify_statement() ─► route_query(): refused (LOCAL INFILE off) | KILL carried out
//                                                   | answered from the context | exchange.relay_statement()
//     Relay (COM_INIT_DB, COM_FIELD_LIST, COM_STATISTICS) ─► exchange.relay_statement()
//     PreparedStatement (COM_STMT_*) ─► statements.handle(); the execute of a prepared KILL ─► KILL
//     Ping, Quit, SetOption, ResetConnection ─► answered here; ChangeUser ─► session ended, login.change_user()
//     Unsupported ─► ERR 1047
//
// The pieces: client_channel.h (the client's packets), login.h (connection phase, COM_CHANGE_USER
// auth), exchange.h (backend leases and relaying), statements.h (COM_STMT_*), context.h (what the
// client's session is). The session owns them all; none of them knows the session.
#pragma once

#include <string>
#include <unordered_map>

#include "protocols/mysql/mysql.h"
#include "proxy/frontend.h"
#include "proxy/mysql/client_channel.h"
#include "proxy/mysql/client_table.h"
#include "proxy/mysql/context.h"
#include "proxy/mysql/exchange.h"
#include "proxy/mysql/frontend.h"
#include "proxy/mysql/login.h"
#include "proxy/mysql/statements.h"
#include "runtime/task.h"
#include "runtime/task_scope.h"
#include "runtime/tcp.h"

namespace corral::proxy {

class MysqlSession final : private MysqlKillable, private MysqlLoginObserver {
 public:
  MysqlSession(rt::TcpStream client, MysqlFrontend& frontend);
  MysqlSession(const MysqlSession&) = delete;
  MysqlSession& operator=(const MysqlSession&) = delete;

  /// Serves the client until it quits, fails, is killed, or the worker stops.
  rt::Task<void> run();

 private:
  /// A KILL from any worker, handed to this session's loop (client_table.h).
  void kill(MysqlKillScope scope) noexcept override;
  /// The backend account KILLs of this session are checked against (set before the client's OK).
  void logged_in(const pool::MysqlKey& key) noexcept override;
  rt::Task<void> serve_commands();
  /// When the client's next command must arrive: its session's wait_timeout, as the server would
  /// close it, or client.idle_timeout_ms if that is shorter.
  rt::Deadline idle_deadline() const;
  /// Gives the context the wait_timeout and session trackers the server gives a new session
  /// (MysqlFrontend::GlobalDefaults, read again on a connection of its own, within
  /// pool.max_connections, when stale: at most once per worker per kTtl or SET GLOBAL). Called when
  /// the session's first command has arrived, before it runs, so a client that never sends one costs
  /// the backend nothing; until then client.idle_timeout_ms applies. Without an answer (no slot free,
  /// another session reading) the next command asks again, and the client gets every report.
  rt::Task<void> learn_login_defaults();
  /// Gives the context the cached defaults; false when they are stale.
  bool apply_login_defaults();
  /// A command starts: watch_client() runs until it ends (end_watch()).
  void start_watch();
  /// While a command runs, waits for the client's socket and treats a hang-up as a KILL CONNECTION of
  /// the session, so the statement it left on a backend ends as it does when a direct client goes
  /// away (mtr main.dirty_close). Not kept between commands: an idle session holds no watcher frame.
  rt::Task<void> watch_client();
  /// What the session does after a command.
  enum class Step { Next, Close };

  rt::Task<Step> dispatch(const ClientPacket& packet);
  /// What observe_request() needs of a command, taken before it runs.
  struct RequestNote {
    RequestClass kind;
    std::string statement;  // COM_QUERY, when the slow-request log is on: what it may show
  };
  RequestNote note_request(std::string_view payload) const;
  /// Counts the command in the listener's request statistics and logs it when it was slow.
  void observe_request(const RequestNote& note, rt::Clock::time_point started);
  rt::Task<Step> handle_query(const ClientPacket& packet);
  rt::Task<Step> answer_locally(const mysql::StatementTraits& traits);
  /// The step after a relayed COM_SHUTDOWN or SHUTDOWN statement (`go_on`: relay_statement()'s answer).
  Step after_shutdown(bool go_on) const noexcept;
  rt::Task<Step> handle_set_option(const ClientPacket& packet);
  rt::Task<Step> handle_change_user(const ClientPacket& packet);
  rt::Task<Step> handle_reset_connection(const ClientPacket& packet);
  /// KILL [QUERY | CONNECTION] <corral connection id> (a statement, or COM_PROCESS_KILL).
  rt::Task<Step> handle_kill(const ClientPacket& packet, std::string_view sql, const mysql::StatementTraits& traits);
  /// PREPARE name FROM 'KILL ...': relayed (the server holds the name), and the name remembered so
  /// that corral carries out each EXECUTE of it (follow_sql_prepared()).
  rt::Task<Step> prepare_sql_kill(const ClientPacket& packet, const mysql::SqlPreparedStatement& prepared,
                                  const mysql::StatementTraits& traits);
  /// Follows the names of sql_prepared_kills_ through a query: the KILL an EXECUTE of one runs, or
  /// nullptr (a new PREPARE or a DEALLOCATE of a name forgets it).
  const mysql::KillStatement* follow_sql_prepared(std::string_view sql);
  /// A KILL kill_refusal() accepts: of a query or of the prepared statement protocol.
  rt::Task<Step> carry_out_kill(const ClientPacket& packet, const mysql::KillStatement& kill);
  /// The thread id a KILL <expression> names, as the server evaluates it in the session. Without an
  /// id the evaluation failed (the client's error queued), and without go_on the session must close
  /// (the backend was lost with the session's state on it).
  struct KillTarget {
    std::optional<std::uint64_t> id;
    bool go_on = true;
  };
  rt::Task<KillTarget> evaluate_kill_target(const ClientPacket& packet, std::string_view expression);
  rt::Task<Step> kill_client(const ClientPacket& packet, std::uint64_t id, MysqlKillScope scope);
  /// A KILL of a thread no corral client is on: true when the server may decide it, which is when the
  /// client logs in with its own backend account (auth = "backend") and the thread is none of corral's
  /// own connections (pool/mysql_own_threads.h), e.g. an event worker of the account.
  bool may_hand_kill_to_server(std::uint32_t thread) const;
  /// Runs KILL [QUERY | CONNECTION] `id_text` on the session's backend connection, the server's answer
  /// the client's (1094 when no such thread, 1095 when not the account's own).
  rt::Task<Step> kill_on_server(const ClientPacket& packet, const std::string& id_text, MysqlKillScope scope);
  /// Writes the queued reply: Next, or Close when the client is gone.
  rt::Task<Step> reply();

  const ListenerEnv& env_;
  rt::CancelSource cancel_;          // under the worker's stop
  MysqlContext context_;
  MysqlClientChannel client_;
  MysqlStatements statements_;       // COM_STMT_*: the client's prepared statements
  MysqlExchange exchange_;           // backend leases and relaying, for commands and statements
  MysqlLogin login_;
  rt::TaskScope side_tasks_;  // KILLs sent to the backend for this session, watch_client(); joined before run() ends
  bool watcher_running_ = false;  // watch_client() has not ended yet
  bool login_defaults_known_ = false;  // learn_login_defaults() gave the context its value
  bool prepares_global_defaults_ = false;  // a COM_STMT_PREPARE of a SET GLOBAL of a session default
  MysqlFrontend& frontend_;
  // SQL-level statements the server prepared from a KILL, by name (SqlPreparedStatement::name): their
  // EXECUTE is carried out by corral, never by the server. Ends with the session's state.
  std::unordered_map<std::string, mysql::KillStatement> sql_prepared_kills_;
};

}  // namespace corral::proxy
