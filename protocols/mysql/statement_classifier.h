// What the text of a COM_QUERY says, read the way the server's lexer separates code from quoted
// strings and comments (ProxySQL-style: only the statement starts and a few keywords are looked at).
//
//   SQL text ─► StatementScanner (every ';'-separated statement; quotes, `--`/`#`/`/* */` comments
//               skipped; `/*! ... */` and `/*M! ... */` executable comments read as code)
//            ─► first words of each statement + keywords anywhere ─► StatementTraits
//               effects: state the statement leaves on its connection (@user variables,
//                        CREATE TEMPORARY, LOCK TABLES / FLUSH ... LOCK / FOR EXPORT, BACKUP STAGE,
//                        BACKUP LOCK, HANDLER ... OPEN, GET_LOCK, PREPARE, SQL_CALC_FOUND_ROWS,
//                        SET TRANSACTION for the next transaction, SET @@name without a scope,
//                        the thread id it told: CONNECTION_ID())
//               ended_effects: lock state it ends (UNLOCK TABLES, BACKUP STAGE END, BACKUP UNLOCK)
//               local_infile, kill, changes_schema (DDL, statistics, statements run out of sight),
//               uses_last_insert_id, reads_previous_counts
//               read_only: one SELECT (or a SHOW of definitions) that may run on a replica
//               asks_for: the exact forms that ask about the previous statement (ROW_COUNT(),
//                         FOUND_ROWS(), SHOW WARNINGS|ERRORS, @@warning_count|@@error_count) or
//                         the server (SHOW STATUS LIKE 'Threads_connected')
//
// I/O-free and allocation-free on the usual statement; runs on every COM_QUERY. Sources: MySQL
// Reference Manual "Comments", "String Literals", "User-Defined Variables", "SHOW WARNINGS".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace corral::mysql {

/// State a statement leaves on the connection that ran it, which no other connection has (or, for
/// ConnectionId, ties to that connection in what the client now knows).
enum class StatementEffect : std::uint8_t {
  UserVariable,    // SET @x, SELECT ... INTO @x, @x := ... (not @@system variables, not 'u'@'h' accounts)
  TemporaryTable,  // CREATE TEMPORARY TABLE
  TableLock,       // LOCK TABLE(S), FLUSH ... WITH READ LOCK, FLUSH TABLES ... FOR EXPORT
  NamedLock,       // GET_LOCK()
  SqlPrepare,      // PREPARE name FROM ... (SQL-level prepared statements)
  CalcFoundRows,   // SQL_CALC_FOUND_ROWS: a following FOUND_ROWS() answers about this statement
  ConnectionId,    // CONNECTION_ID(), @@pseudo_thread_id: the client learns the id of the thread running it
  NextTransaction,  // SET TRANSACTION ... (no GLOBAL/SESSION): characteristics of the next transaction only
  // SET @@name = ... without a scope: MariaDB's tracker reports SET name and SET @@session.name but
  // not this form (10.11), so no other connection could be given the value (autocommit aside: the
  // status flags say it).
  UntrackedVariable,
  BackupStage,     // BACKUP STAGE START (or a later stage): other sessions' DDL and commits wait
  BackupLock,      // BACKUP LOCK table
  HandlerOpen,     // HANDLER t OPEN: a table handle (and its metadata lock) open on the connection
};
inline constexpr std::size_t kStatementEffectCount = 12;

/// A set of effects (bit i = StatementEffect i).
using StatementEffects = std::uint16_t;
constexpr StatementEffects effect_bit(StatementEffect effect) noexcept {
  return static_cast<StatementEffects>(1u << static_cast<unsigned>(effect));
}

/// A statement that asks about the previous statement of the same session, in one of the exact
/// forms a proxy can answer itself (anything more complex is left to the server).
enum class PreviousStatementQuery : std::uint8_t {
  None,
  RowCount,      // SELECT ROW_COUNT()
  FoundRows,     // SELECT FOUND_ROWS()
  ShowWarnings,  // SHOW WARNINGS / SHOW ERRORS
  WarningCount,  // SELECT @@[session.]warning_count / error_count, SHOW COUNT(*) WARNINGS / ERRORS
  ThreadsConnected,  // SHOW [GLOBAL] STATUS LIKE 'Threads_connected': the proxy's clients
};

/// The session_track_* variables (StatementTraits::sets_trackers).
enum SessionTracker : std::uint8_t {
  kTrackSchema = 1,             // session_track_schema
  kTrackStateChange = 2,        // session_track_state_change
  kTrackSystemVariables = 4,    // session_track_system_variables
  kTrackTransactionInfo = 8,    // session_track_transaction_info
};

/// What the text of one COM_QUERY says about the state it leaves and what it asks.
struct StatementTraits {
  StatementEffects effects = 0;      // of every ';'-separated statement together
  // Lock state the text ends: UNLOCK TABLE(S) (TableLock), BACKUP STAGE END (BackupStage), BACKUP
  // UNLOCK (BackupLock). An effect started again by a later statement of the text is in `effects`.
  StatementEffects ended_effects = 0;
  bool local_infile = false;         // LOAD DATA|XML [LOW_PRIORITY|CONCURRENT] LOCAL INFILE
  bool kill = false;                 // KILL ... (also as SET STATEMENT ... FOR KILL ...); not in a CREATE body
  bool shutdown = false;             // SHUTDOWN [WAIT FOR ALL SLAVES]: the server ends every session
  bool dynamic_kill = false;         // PREPARE ... FROM / EXECUTE IMMEDIATE of a literal that is a KILL
  // SET GLOBAL / @@global. of wait_timeout, interactive_timeout or a session_track_* variable: what
  // new sessions start with, which corral reads for its clients.
  bool sets_global_defaults = false;
  std::uint8_t sets_trackers = 0;    // SessionTracker bits: the session_track_* variables a SET assigns
  // SET @@wait_timeout = <n>: MariaDB's tracker reports SET [SESSION] wait_timeout and @@session.,
  // but not the unscoped @@ form (sys_var::update() tracks OPT_SESSION only), so the text says it.
  std::uint32_t unscoped_wait_timeout = 0;
  // What statements' results look like, or how the server plans them, may have changed: CREATE,
  // ALTER, DROP, RENAME, TRUNCATE, ANALYZE / OPTIMIZE / REPAIR TABLE (also after SET STATEMENT ...
  // FOR), and what runs out of the text's sight (CALL, EXECUTE [IMMEDIATE], BEGIN NOT ATOMIC).
  bool changes_schema = false;
  bool uses_last_insert_id = false;  // LAST_INSERT_ID(...) appears
  bool reads_previous_counts = false;
  std::string names_collation;       // SET NAMES cs COLLATE <this> (the tracker reports only the charsets)  // ROW_COUNT or FOUND_ROWS appears: answers about the previous statement
  // The text is one statement that only reads data the replicas have too, so a replica may answer
  // it: a SELECT without FOR UPDATE, LOCK IN SHARE MODE, INTO, state effects (other than
  // SQL_CALC_FOUND_ROWS), LAST_INSERT_ID/ROW_COUNT/FOUND_ROWS, sequence functions (NEXTVAL, SETVAL,
  // LASTVAL), lock functions, CONNECTION_ID or replication waits; or SHOW TABLES, DATABASES,
  // COLUMNS, FIELDS, INDEX, KEYS, CREATE ..., TABLE STATUS, CHARACTER SET, COLLATION. Conservative:
  // anything else (WITH, EXPLAIN, SHOW STATUS, several statements) is not read-only. A stored function
  // that writes cannot be seen from the text (the replica's read_only refuses it).
  bool read_only = false;
  // The text is one SELECT, DO, SET or VALUES naming no table (no FROM, no sequence function): the
  // server keeps the previous statement's warnings then (it clears them only for a statement that
  // uses tables), so SHOW WARNINGS / @@warning_count after it still see them (mariadb-client-test
  // test_bug36004). A stored function that reads tables cannot be seen; it only keeps a hold longer.
  bool keeps_diagnostics = false;
  PreviousStatementQuery asks_for = PreviousStatementQuery::None;  // only for a text of one statement
  std::string column_name;           // the column an answer to asks_for carries (the expression as typed)

  bool has(StatementEffect effect) const noexcept { return (effects & effect_bit(effect)) != 0; }
};

/// A KILL statement, read so a proxy can carry it out for the connection ids it gave its clients:
/// MariaDB's KILL [HARD | SOFT] [CONNECTION | QUERY] [ID] target | USER user (Reference: "KILL").
struct KillStatement {
  enum class Target : std::uint8_t {
    ConnectionId,  // a number: the connection id (thread id) of the greeting
    QueryId,       // KILL QUERY ID n: a query id of the server
    User,          // KILL ... USER name: every connection of an account
    Self,          // KILL [QUERY] CONNECTION_ID(): the connection running the KILL
    Expression,    // anything else (KILL @id, KILL (1 + 2)): `expression`, for the server to evaluate
  };
  bool query = false;  // KILL QUERY: only the running statement; else the connection
  Target target = Target::Expression;
  std::uint64_t id = 0;  // for ConnectionId
  /// For Expression: its text (empty when there is none, or it was not read: EXECUTE IMMEDIATE of
  /// anything but a literal), and whether it has a `?` parameter marker outside quotes.
  std::string expression;
  bool has_parameter_marker = false;
  /// The expression reads a table (a subquery with FROM) or a sequence (NEXTVAL, LASTVAL, SETVAL, NEXT
  /// | PREVIOUS VALUE FOR), which the server refuses in a KILL (ER_SUBQUERIES_NOT_SUPPORTED) before
  /// evaluating it. A stored function, which it refuses too, cannot be told from a built-in by its name.
  bool uses_table = false;
};

/// The KILL that `sql` is: one KILL statement, `SET STATEMENT ... FOR KILL ...` or `EXECUTE IMMEDIATE
/// 'KILL ...'`. nullopt when the text is anything else (several statements, a CREATE PROCEDURE body...).
std::optional<KillStatement> parse_kill(std::string_view sql);

/// A statement about a SQL-level prepared statement (MariaDB: PREPARE, EXECUTE, DEALLOCATE / DROP
/// PREPARE), read so a proxy can follow the names whose statement is a KILL.
struct SqlPreparedStatement {
  enum class Verb : std::uint8_t { Prepare, Execute, Deallocate };
  Verb verb = Verb::Prepare;
  std::string name;             // without backquotes, lower-cased: names are case-insensitive
  bool prepares_kill = false;   // PREPARE name FROM '<a KILL>' (StatementTraits::dynamic_kill)
  std::optional<KillStatement> kill;  // ... that KILL, when parse_kill() reads the literal
};

/// What `sql` does to a SQL-level prepared statement when it is one `PREPARE name FROM ...`, `EXECUTE
/// name [USING ...]` or `{DEALLOCATE | DROP} PREPARE name`; nullopt for anything else (EXECUTE
/// IMMEDIATE, several statements, a name given by a variable).
std::optional<SqlPreparedStatement> parse_sql_prepared(std::string_view sql);

/// Inspects a statement's text. Never fails: text it cannot understand simply has no traits (the
/// server's session-state tracker is the safety net for what the text does not show).
StatementTraits classify_statement(std::string_view sql);

}  // namespace corral::mysql
