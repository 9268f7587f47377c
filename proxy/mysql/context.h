// The connection context of one MySQL client session: who the client is, what its session looks like
// to it (schema, charset, replayable variables, transaction), the answers it may ask about later
// (LAST_INSERT_ID, FOUND_ROWS, ROW_COUNT, warnings), and the pins that keep a backend connection lent.
//
//   login / COM_CHANGE_USER ──► user, backend credentials, schema, charset, capabilities ──► key()
//   statement text ──► mysql::classify_statement() ──► StatementTraits ──► pins_started_by()
//   backend response ──► learn_from_response() (status flags, session-state tracking, OK fields)
//                    ──► pins() ──► empty: the lease goes back to the pool; else it stays with the session
//
// Pure data and rules, no I/O and no SQL grammar (that is protocols/mysql/statement_classifier.h):
// unit-tested in tests/unit/proxy/mysql/context_test.cc.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/config.h"
#include "pool/mysql_key.h"
#include "protocols/mysql/constants.h"
#include "protocols/mysql/response.h"
#include "protocols/mysql/statement_classifier.h"
#include "protocols/mysql/status_packets.h"

namespace corral::proxy {

/// Why a session keeps its backend connection between statements. Each start of a pin is counted per
/// reason (admin /metrics: corral_mysql_pins_total{reason="..."}).
enum class MysqlPinReason : std::uint8_t {
  // Until the state ends (re-evaluated after every statement from the server's status and trackers).
  Transaction,                 // SERVER_STATUS_IN_TRANS: until COMMIT / ROLLBACK
  AutocommitOff,               // autocommit=0: every statement runs inside a transaction
  TransactionCharacteristics,  // SET TRANSACTION ...: applies to the connection's next transaction
  // For the next statement only: its answer depends on the previous statement's connection.
  FoundRows,                   // SQL_CALC_FOUND_ROWS, for a following FOUND_ROWS()
  Diagnostics,                 // warnings or an error, for a following SHOW WARNINGS / @@warning_count
  // Until COM_RESET_CONNECTION, COM_CHANGE_USER or disconnect (corral cannot replay them); the lock
  // pins also end with the statement that releases the lock (StatementTraits::ended_effects).
  UserVariable,                // SET @x, SELECT ... INTO @x, @x := ...
  TemporaryTable,              // CREATE TEMPORARY TABLE
  TableLock,                   // LOCK TABLES, FLUSH TABLES ... WITH READ LOCK / FOR EXPORT: until UNLOCK TABLES
  NamedLock,                   // GET_LOCK()
  BackupStage,                 // BACKUP STAGE START...: until BACKUP STAGE END
  BackupLock,                  // BACKUP LOCK t: until BACKUP UNLOCK
  Handler,                     // HANDLER t OPEN (its table's metadata lock stays with the connection)
  SqlPrepare,                  // PREPARE name FROM ... (SQL-level prepared statements)
  CharsetVariables,            // character_set_* set to values SET NAMES cannot reproduce
  UnknownStateChange,          // SESSION_TRACK_STATE_CHANGE with no cause corral knows how to replay
  // Until the last row was fetched or the statement is reset, re-executed or closed.
  Cursor,                      // COM_STMT_EXECUTE opened a cursor: COM_STMT_FETCH must reach it
};
inline constexpr std::size_t kMysqlPinReasonCount = 16;
/// The metric label: "transaction", "user_variable", ...
std::string_view to_string(MysqlPinReason reason) noexcept;

/// A set of pin reasons (bit i = MysqlPinReason i).
using MysqlPins = std::uint16_t;
constexpr MysqlPins pin_bit(MysqlPinReason reason) noexcept {
  return static_cast<MysqlPins>(1u << static_cast<unsigned>(reason));
}
/// The pins that last until the session is reset.
inline constexpr MysqlPins kStickyPins =
    pin_bit(MysqlPinReason::UserVariable) | pin_bit(MysqlPinReason::TemporaryTable) |
    pin_bit(MysqlPinReason::TableLock) | pin_bit(MysqlPinReason::NamedLock) | pin_bit(MysqlPinReason::BackupStage) |
    pin_bit(MysqlPinReason::BackupLock) | pin_bit(MysqlPinReason::Handler) | pin_bit(MysqlPinReason::SqlPrepare) |
    pin_bit(MysqlPinReason::CharsetVariables) | pin_bit(MysqlPinReason::UnknownStateChange);

/// The pins that only hold a connection for the next statement (no state is lost without them).
inline constexpr MysqlPins kOneStatementPins = pin_bit(MysqlPinReason::FoundRows) | pin_bit(MysqlPinReason::Diagnostics);

/// Pin counters shared by all workers (relaxed atomics: they only feed metrics).
using MysqlPinCounters = std::array<std::atomic<std::uint64_t>, kMysqlPinReasonCount>;

/// The pins a statement starts by its text alone (sticky ones and FoundRows), from its effects.
MysqlPins pins_started_by(const mysql::StatementTraits& traits) noexcept;
/// The lock pins a statement ends when it succeeds, from its ended effects (UNLOCK TABLES...).
MysqlPins pins_ended_by(const mysql::StatementTraits& traits) noexcept;

/// Told when a context logs in (handshake or COM_CHANGE_USER), before the client hears of it.
class MysqlLoginObserver {
 public:
  virtual void logged_in(const pool::MysqlKey& key) noexcept = 0;

 protected:
  ~MysqlLoginObserver() = default;
};

/// The state of one client session. Not thread-safe: one session.
class MysqlContext {
 public:
  /// Starts a context for `user` logged in through `listener` with the negotiated `capabilities`.
  void login(const config::Listener& listener, const config::User& user, std::string schema, std::string charset,
             mysql::CapabilityFlags capabilities, bool local_infile);
  /// auth = "backend": the client logged in to the backend as `user` itself; the key carries that user
  /// and its password `equivalent` instead of [[users]]'.
  void login_as_backend_user(const config::Listener& listener, std::string user, pool::MysqlPasswordEquivalent equivalent,
                             std::string schema, std::string charset, mysql::CapabilityFlags capabilities,
                             bool local_infile);
  /// COM_RESET_CONNECTION: back to the state right after login (user, schema and capabilities stay);
  /// every pin ends. Returns the pins that were set.
  MysqlPins reset();
  /// `observer` (optional) hears of every login(); it must outlive the context.
  void set_login_observer(MysqlLoginObserver* observer) noexcept { login_observer_ = observer; }
  /// The client TLS context for the backend URL's ssl-mode (null: plain), put in every key. It must
  /// outlive the context (ListenerEnv::backend_tls).
  void set_backend_tls(const rt::TlsContext* tls) noexcept { backend_tls_ = tls; }
  /// A reload named another backend for the session's listener: the key takes `listener`'s server,
  /// TLS (`tls`, which must outlive the key's connections) and, when the account is the URL's, its
  /// credentials. The client's own account or its [[users]] backend account stay.
  void follow_backend(const config::Listener& listener, const rt::TlsContext* tls);
  /// The listener whose backend URL the key was built from (login, or follow_backend()).
  const config::Listener* backend_listener() const noexcept { return backend_listener_; }

  /// The pool key for the next statement: backend credentials, schema, charset, format capabilities.
  const pool::MysqlKey& key() const noexcept { return key_; }
  /// Increases whenever key() changes, so a session can cache the pool it looked up.
  std::uint64_t key_version() const noexcept { return key_version_; }

  /// The [[users]] entry logged in as; nullptr with auth = "backend".
  const config::User* user() const noexcept { return user_; }
  const std::string& schema() const noexcept { return key_.schema; }
  const std::string& charset() const noexcept { return key_.charset; }
  mysql::CapabilityFlags capabilities() const noexcept { return capabilities_; }
  void set_schema(std::string schema);
  void set_charset(std::string charset);
  /// COM_SET_OPTION: CLIENT_MULTI_STATEMENTS on or off (it is part of the key).
  void set_multi_statements(bool on);

  /// Replayable session variables the client changed (name, value), sorted by name.
  const std::vector<std::pair<std::string, std::string>>& variables() const noexcept { return variables_; }
  /// The SET statement that turns a connection whose replayed variables are `applied` into one with
  /// variables(): changed ones get their value, ones the context no longer has go back to DEFAULT.
  /// Empty when nothing differs.
  std::string variables_statement(std::string_view applied) const;
  /// variables_statement() as separate assignments (name, "name = value"), to find the one a server
  /// refuses.
  std::vector<std::pair<std::string, std::string>> variables_assignments(std::string_view applied) const;
  /// Drops a variable that a backend refused to set (it is not replayed any more).
  void forget_variable(std::string_view name);
  /// variables() in one canonical string (what variables_statement() compares with).
  const std::string& variables_text() const noexcept { return variables_text_; }

  /// Learns from a finished backend response: OK fields, status flags and session-state changes.
  /// `traits` are the statement's; `result_set` is true when the response ended with a result set (ROW_COUNT()
  /// is then -1 and FOUND_ROWS() its row count) rather than an OK.
  void learn_from_response(const mysql::ResponseSummary& summary, const mysql::SessionStateChanges& changes,
                           mysql::StatusFlags status_flags, const mysql::StatementTraits& traits, bool result_set);
  /// Prepared statements: a cursor is open on the backend connection (kept in pins() from the next
  /// learn_from_response() on) or no longer is (the pin ends at once).
  void set_cursor_open(bool open) noexcept;
  /// After a statement corral could not finish (backend lost): no transaction, no held answers.
  void forget_backend_state();

  /// The server's wait_timeout for this session: what the client set (the tracker reports it), else
  /// what it got at login (set_login_wait_timeout()); zero when unknown. The server closes a session
  /// idle for that long; through corral, corral does (docs/CONFIGURATION.md, client.idle_timeout_ms).
  std::chrono::seconds wait_timeout() const noexcept { return wait_timeout_; }
  /// The wait_timeout a server gives a new session: its global interactive_timeout for a client that
  /// logged in with CLIENT_INTERACTIVE, else its global wait_timeout. The session's unless the client
  /// set its own; the session's again after a reset.
  void set_login_wait_timeout(std::chrono::seconds timeout) noexcept {
    login_wait_timeout_ = timeout;
    if (!wait_timeout_set_) wait_timeout_ = timeout;
  }

  /// The reports the client's own session_track_* settings let through: corral's backend connections
  /// track everything, so a client would otherwise get reports it did not ask for. The server's
  /// defaults (set_default_trackers()) until the client sets its own (set_client_trackers()), and
  /// again after a reset; nullopt while unknown (every report goes through).
  const std::optional<mysql::SessionTrackFilter>& trackers() const noexcept { return trackers_; }
  void set_default_trackers(const mysql::SessionTrackFilter& defaults) {
    default_trackers_ = defaults;
    if (!trackers_set_) trackers_ = defaults;
  }
  void set_client_trackers(mysql::SessionTrackFilter trackers) {
    trackers_ = std::move(trackers);
    trackers_set_ = true;
  }

  /// The pins in force now; empty means the backend connection can go back to its pool.
  MysqlPins pins() const noexcept { return pins_; }
  bool pinned() const noexcept { return pins_ != 0; }
  /// True when the backend connection holds state of the session (more than a one-statement hold).
  bool holds_session_state() const noexcept { return (pins_ & ~kOneStatementPins) != 0; }
  /// The sticky part of pins(): state that ends only with a reset.
  bool has_sticky_state() const noexcept { return (pins_ & kStickyPins) != 0; }
  /// Pins set by the last learn_from_response() that were not set before it (to count them).
  MysqlPins started_pins() const noexcept { return started_pins_; }
  /// State of the session that neither the key nor variables_text() says (an untracked SET @@x, a
  /// charset combination SET NAMES cannot express, an unexplained change the tracker reported): in
  /// force while pinned by UnknownStateChange or CharsetVariables, and counted by each statement that
  /// changed it, so a prepared statement's template can be the session's own for as long as it holds.
  bool has_unsaid_state() const noexcept { return (pins_ & kUnsaidStatePins) != 0; }
  std::uint64_t unsaid_state_changes() const noexcept { return unsaid_state_changes_; }

  mysql::StatusFlags status_flags() const noexcept { return status_flags_; }
  /// auth = "backend", right after login: whether the server started the session with autocommit (its
  /// global autocommit may be 0), for the OK that ends the login and what follows.
  void started_with_autocommit(bool autocommit) noexcept {
    if (autocommit) {
      status_flags_ |= mysql::SERVER_STATUS_AUTOCOMMIT;
    } else {
      status_flags_ &= static_cast<mysql::StatusFlags>(~mysql::SERVER_STATUS_AUTOCOMMIT);
    }
  }
  bool in_transaction() const noexcept { return (status_flags_ & mysql::SERVER_STATUS_IN_TRANS) != 0; }

  // What later statements may ask about the previous one.
  std::uint64_t last_insert_id() const noexcept { return last_insert_id_; }
  std::int64_t row_count() const noexcept { return row_count_; }
  std::uint64_t found_rows() const noexcept { return found_rows_; }
  /// The GTID of the session's last commit, as the server's tracker reported it (MariaDB
  /// "domain-server-sequence"); empty until one was reported.
  const std::string& last_gtid() const noexcept { return last_gtid_; }
  /// True when the previous statement left warnings or an error in the diagnostics area.
  bool has_diagnostics() const noexcept { return (pins_ & pin_bit(MysqlPinReason::Diagnostics)) != 0; }
  /// True when the backend answered the last statement relayed with an ERR.
  bool last_statement_failed() const noexcept { return last_statement_failed_; }
  /// True when the previous statement used SQL_CALC_FOUND_ROWS.
  bool calc_found_rows_pending() const noexcept { return (pins_ & pin_bit(MysqlPinReason::FoundRows)) != 0; }

 private:
  /// The login is complete (the key names the session's account): a fresh session, and the observer told.
  void logged_in();
  /// What both logins share: capabilities, charset and the key of the listener's backend.
  void start(const config::Listener& listener, std::string charset, mysql::CapabilityFlags capabilities,
             bool local_infile);
  /// The character_set_* / collation_connection values one response's trackers reported (SET NAMES
  /// reports all of them at once): read right after that response, never kept.
  struct CharsetReport {
    std::optional<std::string> client;
    std::optional<std::string> connection;
    std::optional<std::string> results;
    std::optional<std::string> collation;
    bool any() const noexcept { return client || connection || results || collation; }
  };
  void learn_variable(const std::string& name, const std::string& value, CharsetReport& charsets);
  void learn_wait_timeout(std::string_view value);
  void set_client_wait_timeout(std::uint32_t seconds);
  /// After a response whose trackers reported charsets: the key's charset, or a pin when the
  /// reported combination cannot be said with SET NAMES.
  MysqlPins learn_charsets(const CharsetReport& charsets);
  void set_variable(const std::string& name, const std::string& value);
  void rebuild_variables_text();
  void key_changed() noexcept { ++key_version_; }

  const config::User* user_ = nullptr;
  MysqlLoginObserver* login_observer_ = nullptr;
  pool::MysqlKey key_;
  const rt::TlsContext* backend_tls_ = nullptr;  // see set_backend_tls()
  const config::Listener* backend_listener_ = nullptr;  // see backend_listener()
  std::string login_charset_;
  mysql::CapabilityFlags capabilities_ = 0;
  bool local_infile_ = false;
  std::uint64_t key_version_ = 0;
  std::vector<std::pair<std::string, std::string>> variables_;
  std::string variables_text_;
  mysql::StatusFlags status_flags_ = mysql::SERVER_STATUS_AUTOCOMMIT;
  MysqlPins pins_ = 0;
  MysqlPins started_pins_ = 0;
  bool transaction_characteristics_ = false;  // SET TRANSACTION ... waits for the next transaction
  std::uint64_t unsaid_state_changes_ = 0;     // see has_unsaid_state()
  static constexpr MysqlPins kUnsaidStatePins =
      pin_bit(MysqlPinReason::UnknownStateChange) | pin_bit(MysqlPinReason::CharsetVariables);
  bool last_statement_failed_ = false;
  bool cursor_open_ = false;                  // a prepared statement's cursor waits for COM_STMT_FETCH
  std::uint64_t last_insert_id_ = 0;
  std::string last_gtid_;  // the tracker's last_gtid (causal reads)
  std::int64_t row_count_ = -1;
  std::uint64_t found_rows_ = 0;
  std::chrono::seconds login_wait_timeout_{0};  // set_login_wait_timeout()
  std::chrono::seconds wait_timeout_{0};        // wait_timeout()
  bool wait_timeout_set_ = false;               // the client set wait_timeout since login or reset
  std::optional<mysql::SessionTrackFilter> default_trackers_;  // set_default_trackers()
  std::optional<mysql::SessionTrackFilter> trackers_;          // trackers()
  bool trackers_set_ = false;                                  // the client set its own since login or reset
};

}  // namespace corral::proxy
