// The binary protocol's prepared statements for one MySQL client session (COM_STMT_*). Statement ids
// the client sees are corral's; backend statements are prepared lazily on whichever backend connection
// runs an execute (pool/mysql_prepared.h).
//
//   COM_STMT_PREPARE ─► template (worker-wide, by pool key + variables + definition changes + schema +
//                       text; a session with temporary tables has its own)
//        known response: answered here (statement id rewritten), no backend round trip
//        else: exchange.backend_for_statement() ─► prepare_on() ─► the backend's response, relayed
//   COM_STMT_EXECUTE ─► exchange.ready_backend() | backend_for_statement()
//        ─► ready_execute() (prepared there: id rewritten in place, the client's bytes sent)
//           | start_execute() (prepare there if needed, long data, types re-sent, one re-prepare on
//             ERR 1615) ─► exchange.relay_response() ─► exchange.end_statement()
//        a READ_ONLY cursor the server opened pins the connection (MysqlPinReason::Cursor)
//   COM_STMT_BULK_EXECUTE ─► exchange.backend_for_statement() ─► start_bulk_execute() (as start_execute())
//        ─► exchange.relay_response() ─► exchange.end_statement()
//   COM_STMT_FETCH ─► the cursor's connection ─► relay; the pin ends when the server sent the last row
//   COM_STMT_SEND_LONG_DATA ─► buffered here (mysql.max_packet_size per statement), sent before EXECUTE
//   COM_STMT_RESET ─► long data dropped; OK here, or relayed when a cursor is open (closes it)
//   COM_STMT_CLOSE ─► forgotten here; the last client statement of a template retires it (its backend
//                     statements are closed at each connection's next PREPARE)
//   a KILL: prepared here (no backend); the session carries out each execute (kill_to_execute())
//
// Backends, relaying and the client's replies are the exchange's (exchange.h); this file knows only
// the statements. Cursors live on the lent connection and end with the lease (LeaseBoundState).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "pool/mysql_prepared.h"
#include "protocols/mysql/command.h"
#include "protocols/mysql/statement_classifier.h"
#include "proxy/mysql/exchange.h"
#include "runtime/task.h"

namespace corral::proxy {

/// Commands without a response a session handles before it lets the loop run other sessions.
inline constexpr std::size_t kSilentCommandsPerTurn = 64;

/// Statements one session may hold open: MariaDB's default max_prepared_stmt_count (for the whole
/// server there; per session here, since corral answers most PREPAREs itself).
inline constexpr std::size_t kMaxStatementsPerSession = 16382;
/// ER_MAX_PREPARED_STMT_COUNT_REACHED, worded like the server's.
inline constexpr mysql::ErrorSpec kErrTooManyStatements{
    1461, "42000", "Can't create more than max_prepared_stmt_count statements (current value: 16382)"};
/// ER_WRONG_ARGUMENTS as mariadbd words it for a COM_STMT_EXECUTE without its NULL bitmap.
inline constexpr mysql::ErrorSpec kErrExecuteArguments{1210, "HY000", "Incorrect arguments to mysqld_stmt_execute"};
/// ER_STMT_HAS_NO_OPEN_CURSOR: COM_STMT_FETCH on a statement without an open cursor.
inline constexpr mysql::ErrorSpec kErrNoOpenCursor{1421, "HY000", "The statement has no open cursor"};

/// The statement id MariaDB reads as "the statement this session prepared last" (Connector/C's
/// mariadb_stmt_execute_direct() sends its COM_STMT_EXECUTE with it right behind the PREPARE).
inline constexpr std::uint32_t kLastPreparedStatementId = 0xffffffff;

/// One session's prepared statements. Not thread-safe: one session.
class MysqlStatements final : public LeaseBoundState {
 public:
  /// `max_prepared_per_connection` caps each backend connection's statements (mysql.*);
  /// `max_long_data` caps the COM_STMT_SEND_LONG_DATA bytes buffered per statement.
  /// `schema_changes` counts the definition changes (DDL) of all sessions (SharedState).
  /// `share`: mysql.share_prepared_statements (false: each client statement gets a template of its own).
  MysqlStatements(std::size_t max_prepared_per_connection, std::size_t max_long_data,
                  std::atomic<std::uint64_t>& schema_changes, bool share) noexcept
      : max_prepared_per_connection_(max_prepared_per_connection),
        max_long_data_(max_long_data),
        schema_changes_(schema_changes),
        share_(share) {}

  /// Handles one COM_STMT_* command. Returns false when the session must close (the client is gone,
  /// or the backend failed while the session held state that is now lost).
  /// Lifetime: `exchange`, `command` and `packet` must outlive the returned task.
  rt::Task<bool> handle(MysqlExchange& exchange, const mysql::CommandPacket& command, const ClientPacket& packet);

  /// The KILL a COM_STMT_EXECUTE packet runs, when it names a prepared KILL: the session carries it
  /// out as it does the KILL query (handle() is never given such an execute), or nullptr.
  const mysql::KillStatement* kill_to_execute(const ClientPacket& packet) const noexcept;

  /// Forgets every statement (COM_RESET_CONNECTION, COM_CHANGE_USER: the server would drop them too).
  void clear() noexcept;
  /// The session gives its backend connection back: cursors on it end (the backend statements are
  /// marked closed while the connection is still the session's). True when a cursor was open.
  bool lease_ending() noexcept override;
  std::size_t size() const noexcept { return statements_.size(); }

 private:
  struct Statement {
    pool::TemplateHold prepared;
    pool::ExecuteState execute;            // bound types and long data between executes
    bool long_data_overflow = false;       // more than max_long_data bytes: the next execute fails
    pool::BackendStatement* cursor = nullptr;  // the backend statement with this statement's open cursor
    bool changes_schema = false;           // DDL: each execute makes cached PREPARE answers stale
    bool read_only = false;                // a read a replica may answer (StatementTraits::read_only)
    mysql::StatementEffects effects = 0;   // state each execute leaves on its connection (GET_LOCK,
                                           // @x :=, CREATE TEMPORARY...): pins it, as for a query
    mysql::StatementEffects ended_effects = 0;  // lock state each execute ends (UNLOCK TABLES...)
    bool uses_last_insert_id = false;      // LAST_INSERT_ID(...) in the text: the client's, on any connection
    bool reads_previous_counts = false;    // ROW_COUNT() / FOUND_ROWS(): the previous statement's connection
    std::string names_collation;           // SET NAMES cs COLLATE <this>: each execute sets it (the
                                           // tracker reports only the charsets)
    std::optional<mysql::KillStatement> kill;  // a KILL corral carries out: no template (prepared is
                                               // null), no parameters; executes go to the session
    std::uint32_t unscoped_wait_timeout = 0;   // SET @@wait_timeout = n (StatementTraits: untracked)
    bool keeps_diagnostics = false;            // names no table (StatementTraits::keeps_diagnostics)
  };

  /// COM_STMT_CLOSE and COM_STMT_SEND_LONG_DATA: no response; every so often a loop turn.
  rt::Task<bool> handle_silent(MysqlExchange& exchange, const mysql::CommandPacket& command,
                               const ClientPacket& packet);
  /// COM_STMT_BULK_EXECUTE (MariaDB array binding): as an execute, on the primary, without cursors.
  rt::Task<bool> bulk_execute(MysqlExchange& exchange, const ClientPacket& packet);
  rt::Task<bool> prepare(MysqlExchange& exchange, const ClientPacket& packet);
  /// COM_STMT_PREPARE of a KILL: answered here, never prepared on a server (a corral connection id
  /// there could name a backend thread serving another client).
  rt::Task<bool> prepare_kill(MysqlExchange& exchange, const ClientPacket& packet, std::string_view sql);
  /// A statement id not in use (never 0).
  std::uint32_t take_id() noexcept;
  rt::Task<bool> execute(MysqlExchange& exchange, const ClientPacket& packet);
  rt::Task<bool> fetch(MysqlExchange& exchange, const ClientPacket& packet);
  rt::Task<bool> reset(MysqlExchange& exchange, const ClientPacket& packet);
  rt::Task<bool> close(MysqlExchange& exchange, const ClientPacket& packet);
  void send_long_data(const ClientPacket& packet);
  rt::Task<void> yield_every_few(MysqlExchange& exchange);
  /// The backend failed under a command (transport error, mysql.statement_timeout_ms): its ERR goes
  /// to the client now, not with the client's next command. Returns false when the session must close.
  static rt::Task<bool> fail(MysqlExchange& exchange, pool::MysqlConnection& backend, std::uint8_t reply_sequence);
  /// After relay_response() lost the backend mid-response (its ERR is queued): as fail().
  static rt::Task<bool> lost(MysqlExchange& exchange);

  /// What else than the text decides which template a PREPARE shares (PreparedTemplates::find_or_add()):
  /// the pool key, the session variables, the count of definition changes (a PREPARE after one gets a
  /// template of its own: the server's answer and plans as of now, not a statement prepared before),
  /// and for a session with temporary tables the session itself (its `t1` may not be everyone's).
  std::string template_context(MysqlExchange& exchange, std::uint64_t schema_changes) const;
  /// After the first packet of an execute's response: a result with another column count than the
  /// template's means the definitions changed where corral did not see it (directly on the server, in
  /// an event): counted as a change, so later PREPAREs of every text ask the server again.
  void check_columns(const pool::PreparedTemplate& prepared, const mysql::ResponseEvent& first) noexcept;
  /// Queues the template's PREPARE response for the client under `client_id`.
  static void answer_prepare(MysqlExchange& exchange, const pool::PreparedTemplate& prepared,
                             std::uint32_t client_id, std::uint8_t first_sequence_id);
  Statement* find(std::uint32_t client_id) noexcept;
  /// `client_id`, or the last prepared statement's id for kLastPreparedStatementId.
  std::uint32_t resolve(std::uint32_t client_id) const noexcept {
    return client_id == kLastPreparedStatementId ? last_prepared_ : client_id;
  }
  /// find(), or nullptr after queueing ER_UNKNOWN_STMT_HANDLER as the server words it: "Unknown
  /// prepared statement handler (7) given to mysqld_stmt_execute". `client_id` 0 (the packet had
  /// none) finds nothing: no statement is given id 0.
  Statement* find_or_refuse(MysqlExchange& exchange, const ClientPacket& packet, std::uint32_t client_id,
                            std::string_view command);
  void close_cursor(Statement& statement) noexcept;
  /// The context's cursor pin follows open_cursors_ (call after opening or closing cursors).
  void sync_cursor_pin(MysqlExchange& exchange) const noexcept;

  std::size_t max_prepared_per_connection_;
  std::size_t max_long_data_;
  std::atomic<std::uint64_t>& schema_changes_;
  bool share_;
  std::uint64_t own_templates_ = 0;  // PREPAREs of the session: without sharing, each one's template is its own
  std::unordered_map<std::uint32_t, Statement> statements_;  // by the id the client sees
  std::uint32_t next_id_ = 1;
  std::uint32_t last_prepared_ = 0;  // the last PREPARE's statement (0: it failed, or none yet), as mariadbd
  std::size_t open_cursors_ = 0;
  std::size_t silent_commands_ = 0;  // COM_STMT_CLOSE / SEND_LONG_DATA handled, for yield_every_few()
};

}  // namespace corral::proxy
