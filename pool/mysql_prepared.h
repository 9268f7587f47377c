// Prepared statements on backend connections: corral-wide statement templates, each backend
// connection's cache of the statements it prepared (LRU, capped), and the COM_STMT_EXECUTE rewrite
// that makes a client's execute right for whichever backend statement runs it.
//
//   client PREPARE "sql" ─► PreparedTemplates::find_or_add(pool key + variables, schema, sql) ─► PreparedTemplate
//        (one per distinct statement per worker; holds the backend's PREPARE response for local answers)
//   client EXECUTE ─► lent connection ─► connection.prepared().find(template id)
//        hit:  backend statement id ─► rewrite the id in the client's packet (and re-send the types
//              when this backend statement last saw other ones) ─► relay
//        miss: prepare_on(connection, template): [COM_STMT_CLOSE of the LRU one] COM_STMT_PREPARE ─► cache
//
// Templates are shared (std::shared_ptr) by client statements and by the backend caches that prepared
// them; the registry only holds weak references. A text's template is shared while some client holds
// a statement of it (TemplateHold); when the last one is closed the template retires: the next PREPARE
// of the text is the server's again, as on a direct connection (MariaDB keeps choices of a statement's
// first execution for the later ones), and each backend cache closes it at its next PREPARE.
// Everything here is per worker: not thread-safe, one loop.
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "protocols/mysql/mysql.h"
#include "runtime/result.h"
#include "runtime/event_loop.h"
#include "runtime/task.h"

namespace corral::pool {

class MysqlConnection;

/// One distinct prepared statement: SQL text prepared in one schema for one pool key.
struct PreparedTemplate {
  std::uint64_t id = 0;            // worker-unique and never reused: backend caches are keyed by it
  std::string sql;                 // the text as the client sent it
  std::string schema;              // the schema at PREPARE time: unqualified names resolve there
  std::uint16_t num_params = 0;    // of the last backend COM_STMT_PREPARE_OK
  std::uint16_t num_columns = 0;
  /// The last backend COM_STMT_PREPARE response (wire packets, from PREPARE_OK to the last definition),
  /// replayed to clients that prepare the same text; empty until one backend prepared it.
  std::string prepare_response;
  /// The warnings of the last backend PREPARE (a deprecated type...). They live on the connection that
  /// prepared it: a PREPARE that warned is not answered from the cache, so SHOW WARNINGS can show them.
  std::uint16_t prepare_warnings = 0;
  /// Client statements holding this template (TemplateHold).
  std::uint32_t holders = 0;
  /// The last client statement holding it is closed: the registry no longer finds it (the next PREPARE
  /// of the text is the server's, as on a direct connection), and each backend connection that has it
  /// closes it at its next PREPARE (PreparedStatements::add).
  bool retired = false;
};

/// A client statement's hold on its template. While any client holds a text's template, PREPAREs of
/// the text share it (and its backend statements); when the last hold goes, the template retires.
/// Move-only; an empty hold (a statement corral answers itself) holds nothing.
class TemplateHold {
 public:
  TemplateHold() noexcept = default;
  explicit TemplateHold(std::shared_ptr<PreparedTemplate> prepared) noexcept : prepared_(std::move(prepared)) {
    if (prepared_) ++prepared_->holders;
  }
  TemplateHold(TemplateHold&& other) noexcept = default;
  TemplateHold& operator=(TemplateHold&& other) noexcept {
    if (this != &other) {
      release();
      prepared_ = std::move(other.prepared_);
    }
    return *this;
  }
  TemplateHold(const TemplateHold&) = delete;
  TemplateHold& operator=(const TemplateHold&) = delete;
  ~TemplateHold() { release(); }

  const std::shared_ptr<PreparedTemplate>& shared() const noexcept { return prepared_; }
  PreparedTemplate& operator*() const noexcept { return *prepared_; }
  PreparedTemplate* operator->() const noexcept { return prepared_.get(); }
  explicit operator bool() const noexcept { return prepared_ != nullptr; }

 private:
  void release() noexcept {
    if (prepared_ && --prepared_->holders == 0) prepared_->retired = true;
    prepared_.reset();
  }

  std::shared_ptr<PreparedTemplate> prepared_;
};

/// The worker's templates by what makes a statement distinct. Holds weak references: a template lives
/// while a client statement or a backend cache uses it, and is found while a client holds it (a
/// retired one is replaced). Not thread-safe.
class PreparedTemplates {
 public:
  /// The template for `sql` prepared in `schema`, made if needed. `context_id` holds what else decides
  /// how the text parses and runs: the pool key id (credentials, charset, format capabilities) and the
  /// session variables the client set (sql_mode changes what "a" means). The caller holds the result
  /// at once (TemplateHold), before it suspends.
  std::shared_ptr<PreparedTemplate> find_or_add(std::string_view context_id, std::string_view schema,
                                                std::string_view sql);
  /// Templates in the map, expired ones not yet swept included (tests).
  std::size_t size() const noexcept { return by_key_.size(); }

 private:
  void sweep_expired();

  std::unordered_map<std::string, std::weak_ptr<PreparedTemplate>> by_key_;
  std::uint64_t next_id_ = 1;
  std::size_t sweep_at_ = 64;  // sweep expired entries when the map grows past this
};

/// One backend statement on one connection.
struct BackendStatement {
  std::shared_ptr<PreparedTemplate> statement;
  std::uint32_t backend_id = 0;
  std::uint16_t num_params = 0;  // as this backend prepared it
  /// The parameter type block (COM_STMT_EXECUTE, new_params_bound = 1) this backend statement last
  /// saw; executes without types need the same one, else corral re-sends the client's.
  std::string bound_types;
  bool cursor_open = false;      // a COM_STMT_EXECUTE opened a cursor that is not exhausted yet
  /// An execute that carried long data failed: the server keeps that long data (and an error such as
  /// a sum beyond max_allowed_packet, which fails every later execute) until COM_STMT_RESET, which
  /// start_execute() sends before the statement's next use (by any client sharing it).
  bool stale_long_data = false;
};

/// The statements one backend connection prepared, least recently used last. Not thread-safe.
class PreparedStatements {
 public:
  /// The statement for `template_id`, marked most recently used; nullptr if this connection has none.
  BackendStatement* find(std::uint64_t template_id) noexcept;
  /// Records a statement the connection just prepared. Retired statements (PreparedTemplate::retired)
  /// are dropped, and when that makes more than `capacity`, the least recently used statements without
  /// an open cursor too; their backend ids are appended to `evicted` (the caller closes them with
  /// COM_STMT_CLOSE).
  BackendStatement& add(std::shared_ptr<PreparedTemplate> statement, std::uint32_t backend_id,
                        std::uint16_t num_params, std::size_t capacity, std::vector<std::uint32_t>& evicted);
  /// Forgets the statement of `template_id` (after the backend closed it); returns its backend id.
  std::optional<std::uint32_t> erase(std::uint64_t template_id);
  std::size_t size() const noexcept { return by_template_.size(); }
  void clear() noexcept;

 private:
  std::list<BackendStatement> lru_;  // front: most recently used
  std::unordered_map<std::uint64_t, std::list<BackendStatement>::iterator> by_template_;
};

/// Where the parts of a COM_STMT_EXECUTE payload are (COM_STMT_EXECUTE; Binary Protocol Value).
/// Offsets are into the payload (command byte at 0).
struct ExecuteLayout {
  std::uint8_t flags = 0;               // cursor type (+ PARAMETER_COUNT_AVAILABLE)
  std::size_t param_count = 0;          // parameters in the packet
  std::size_t bound_flag_at = 0;        // offset of new_params_bound (when param_count > 0)
  bool new_params_bound = false;
  std::string_view types;               // the type block when new_params_bound (names included under
                                        // CLIENT_QUERY_ATTRIBUTES)
  std::size_t values_at = 0;            // offset of the first value
};
/// Finds the parts of a COM_STMT_EXECUTE payload of a statement with `num_params` parameters without
/// copying or allocating. Errc::Truncated and friends when the packet is shorter than its own counts.
mysql::Result<ExecuteLayout> scan_execute(std::string_view payload, std::uint16_t num_params,
                                          mysql::CapabilityFlags caps);
/// Appends to `out` the payload of `payload` (an execute without types) for `statement_id` with
/// `types` inserted and new_params_bound set.
void append_execute_with_types(std::string& out, std::string_view payload, const ExecuteLayout& layout,
                               std::uint32_t statement_id, std::string_view types);

/// COM_STMT_BULK_EXECUTE's flags (MariaDB: COM_STMT_BULK_EXECUTE, "bulk flags").
inline constexpr std::uint16_t kBulkSendUnitResults = 64;  // a result set of ids and counts per row
inline constexpr std::uint16_t kBulkSendTypes = 128;       // a type block follows the flags

/// Where the parts of a COM_STMT_BULK_EXECUTE payload are: int<1> 0xfa, int<4> statement id, int<2>
/// flags, with kBulkSendTypes 2 bytes (type, flags) per parameter, then the rows (an indicator and
/// maybe a value per parameter), which only the server reads. Offsets are into the payload.
struct BulkLayout {
  std::uint16_t flags = 0;
  std::string_view types;  // the type block when flags has kBulkSendTypes
  std::size_t rows_at = 0; // offset of the first row
};
/// Finds the parts of a COM_STMT_BULK_EXECUTE payload of a statement with `num_params` parameters.
/// Errc::Truncated when it is shorter than its flags and type block.
mysql::Result<BulkLayout> scan_bulk_execute(std::string_view payload, std::uint16_t num_params);
/// Appends to `out` the payload of `payload` (a bulk execute without types) for `statement_id` with
/// `types` inserted and kBulkSendTypes set.
void append_bulk_with_types(std::string& out, std::string_view payload, const BulkLayout& layout,
                            std::uint32_t statement_id, std::string_view types);

/// What prepare_on() did: the cached or new statement, or the server's refusal.
struct PrepareOnOutcome {
  BackendStatement* statement = nullptr;  // null when the server refused (then `refusal` says why)
  std::string refusal;                    // the server's ERR_Packet payload (syntax error, unknown table...)
  bool prepared_now = false;              // false: it was already cached on this connection
};

/// Makes sure `connection` has `statement` prepared: a cache hit returns at once; otherwise the least
/// recently used statements over `capacity` are closed and COM_STMT_PREPARE runs (in the template's
/// schema: a connection in another schema is switched there and back with COM_INIT_DB). The response
/// refreshes the template's metadata and cached PREPARE response.
/// Suspends while the backend answers (operation timeout of the connection, `cancel`). Transport or
/// protocol failures close the connection and are errors (connection.error() has the client's text).
/// Lifetime: `statement` (a reference, so an awaited call passes no temporary with a destructor:
/// see the g++ 12 note in docs/ARCHITECTURE.md) must outlive the call.
rt::Task<rt::Result<PrepareOnOutcome>> prepare_on(MysqlConnection& connection,
                                                  const std::shared_ptr<PreparedTemplate>& statement,
                                                  std::size_t capacity, rt::CancelSource* cancel);

/// What a client's statement carries from one COM_STMT_EXECUTE to the next (owned by the session's
/// statement table).
struct ExecuteState {
  std::string types;  // the parameter type block the client last bound (new_params_bound = 1)
  /// COM_STMT_SEND_LONG_DATA bytes per parameter since the last execute (nullopt: none sent; an empty
  /// string was sent and counts). Sent to the backend statement right before the execute.
  std::vector<std::optional<std::string>> long_data;
  std::size_t long_data_bytes = 0;
  /// The largest COM_STMT_SEND_LONG_DATA the client sent: the backend gets the bytes in pieces no
  /// larger, so each packet fits its max_allowed_packet as the client's own did (one packet of the
  /// whole would not), and the server's own limit on the sum gives its own error at the execute.
  std::size_t long_data_piece = 0;

  void clear_long_data() noexcept {
    long_data.clear();
    long_data_bytes = 0;
    long_data_piece = 0;
  }
};

/// The start of an execute's response, or why it never reached the backend.
struct ExecuteStart {
  std::string refusal;                    // a (re-)prepare the server refused: its ERR_Packet payload
  BackendStatement* statement = nullptr;  // the backend statement that runs it
  mysql::WirePacket first;                // the first response packet and its event: views into the
  mysql::ResponseEvent first_event;       // connection's buffer, valid until the next call on it
  bool reprepared = false;                // ERR 1615 came back once; corral prepared again and re-sent
};

/// Runs a client's COM_STMT_BULK_EXECUTE of `statement` on `connection` as start_execute() runs an
/// execute (prepared there if needed, the backend's statement id), then reads the first response
/// packet. The types: a bulk that carries them records them as the statement's bound types (the server
/// keeps them for later executes too); one without them gets the client's last bound types inserted
/// when this backend statement last saw others. No retry after ERR 1615: it goes to the client.
/// Suspends like prepare_on(); transport and protocol failures close the connection and are errors.
/// Lifetime: `statement`, `state`, `wire` and `payload` must outlive the call.
rt::Task<rt::Result<ExecuteStart>> start_bulk_execute(MysqlConnection& connection,
                                                      const std::shared_ptr<PreparedTemplate>& statement,
                                                      ExecuteState& state, std::span<char> wire,
                                                      std::string_view payload, std::size_t capacity,
                                                      rt::CancelSource* cancel);

/// ER_NEED_REPREPARE: the server refused to run a statement whose tables changed since PREPARE.
inline constexpr std::uint16_t kErrNeedReprepare = 1615;

/// start_execute()'s common case without a coroutine: when `connection` has `statement` prepared, the
/// client buffered no long data and its packet can go as it is (it carries its types, or the backend
/// statement last saw the types it bound), records the types, rewrites the statement id in `wire` and
/// returns the backend statement; the caller sends `wire` and reads the response (ERR 1615 included).
/// nullptr when start_execute() has work to do (nothing is sent either way).
BackendStatement* ready_execute(MysqlConnection& connection, const PreparedTemplate& statement, ExecuteState& state,
                                std::span<char> wire, std::string_view payload);

/// Runs a client's COM_STMT_EXECUTE of `statement` on `connection`: prepares it there if needed, sends
/// the long data the client buffered, then the execute with the backend's statement id, re-sending the
/// client's bound types when the backend statement last saw others, and reads the first response
/// packet. When that is ERR 1615 the statement did not run: it is closed, prepared again and the
/// execute re-sent, once. `wire` is the client's packet as received (its statement id is rewritten in
/// place); `payload` is its logical payload. Long data is cleared once sent. `after_need_reprepare`: an
/// execute of the cached backend statement already came back with ERR 1615 (ready_execute()'s path):
/// the statement is closed and prepared again first, and a second 1615 goes to the client.
/// Suspends like prepare_on(); transport and protocol failures close the connection and are errors.
/// Lifetime: `statement`, `state`, `wire` and `payload` must outlive the call.
rt::Task<rt::Result<ExecuteStart>> start_execute(MysqlConnection& connection,
                                                 const std::shared_ptr<PreparedTemplate>& statement,
                                                 ExecuteState& state, std::span<char> wire,
                                                 std::string_view payload, std::size_t capacity,
                                                 bool after_need_reprepare, rt::CancelSource* cancel);

/// Closes and forgets the backend statement of `template_id` on `connection` (COM_STMT_CLOSE has no
/// response, so this only writes). Used after ERR 1615 before preparing it again.
rt::Task<rt::Result<void>> close_on(MysqlConnection& connection, std::uint64_t template_id,
                                    rt::CancelSource* cancel);

}  // namespace corral::pool
