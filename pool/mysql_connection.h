// A backend MySQL connection: corral as a MySQL client, lent to one session for one statement at a time.
//
//   open():  connect ─► HandshakeV10 ◄─ ─► [ssl-mode: SSLRequest ─► TLS handshake]
//            ─► HandshakeResponse41 ─► [AuthSwitchRequest ◄─ ─► token]
//            (open_relayed(): the client's greeting answer, switch answers and more data instead)
//            [caching_sha2: AuthMoreData 0x03 fast OK | 0x04 ─► 0x02 ─► PEM ◄─ ─► RSA(pw ^ scramble)
//                                                       | 0x04 over TLS ─► password + NUL]
//            ─► OK ◄─ ─► COM_QUERY "SET SESSION session_track_... [, NAMES cs]" ─► OK ◄─ ─► Idle
//
//   session: send_command(payload) / send_command_wire(client bytes)           (sequence id 0)
//            relay: poll_response_run() ─► {run of whole wire packets, event of the last one or none}
//                   ─► relay the bytes unchanged; empty run ─► read_response_bytes(); until
//                   event->complete (awaiting_client: send_wire(client packets), resume(seq))
//            corral's own statements: next_response_packet() ─► {one wire packet, its ResponseEvent}
//            ─► Idle: status flags, session-state changes and schema of the response are kept here
//
// Reads go through the codec's ResponseScanner: a relay run covers everything buffered up to the
// next packet that matters, rows and definitions only framed and counted; packets are views into the
// read buffer, never copied. Any I/O or protocol error (or a cancelled read) closes the connection: a
// half-read response cannot be resumed, and nothing is ever re-sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "config/config.h"
#include "pool/backend_metrics.h"
#include "pool/mysql_key.h"
#include "pool/mysql_prepared.h"
#include "protocols/mysql/mysql.h"
#include "runtime/byte_buffer.h"
#include "runtime/result.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::pool {

/// Why a backend operation failed, as a category for code (the text for the client is MysqlError).
enum class MysqlBackendErrc {
  ServerError = 1,  // the server answered ERR_Packet (login refused, COM_INIT_DB failed, ...)
  Unavailable,      // cannot connect, pool in backoff, shutting down
  Protocol,         // the server sent bytes the codec refused, or a packet out of place
  Unsupported,      // the server wants something corral does not speak (auth plugin, pre-4.1)
  Lost,             // connection closed, reset, timed out or cancelled while in use
  PoolExhausted,    // no connection free within the queue timeout
  NotIdle,          // the API was used out of order (a bug in the caller)
};
std::string_view to_string(MysqlBackendErrc e) noexcept;
const std::error_category& mysql_backend_category() noexcept;
inline std::error_code make_error_code(MysqlBackendErrc e) noexcept {
  return {static_cast<int>(e), mysql_backend_category()};
}

/// A failure as the client should see it: an ERR_Packet's code, SQLSTATE and message. Errors the
/// backend sent are kept verbatim (1045 "Access denied for user ..."); errors corral makes name the
/// backend as user@host:port/schema, never the password.
struct MysqlError {
  std::uint16_t code = 0;
  std::string sql_state;
  std::string message;

  bool empty() const noexcept { return code == 0; }
  /// The ERR_Packet payload (protocol 4.1 form) to send to the client.
  std::string err_payload() const { return mysql::make_err(code, sql_state, message); }
};

// Error numbers of the failures corral reports itself (MariaDB server error reference).
inline constexpr mysql::ErrorSpec kErrBackendUnavailable{1105, "HY000", "backend unavailable"};  // ER_UNKNOWN_ERROR
inline constexpr mysql::ErrorSpec kErrPoolExhausted = mysql::ER_CON_COUNT_ERROR;                  // 1040 08004
inline constexpr mysql::ErrorSpec kErrBackendLost = mysql::ER_NET_READ_ERROR;                     // 1158 08S01
inline constexpr mysql::ErrorSpec kErrBackendProtocol = mysql::ER_NET_PACKETS_OUT_OF_ORDER;       // 1156 08S01
inline constexpr mysql::ErrorSpec kErrBackendAuthMode = mysql::ER_NOT_SUPPORTED_AUTH_MODE;        // 1251 08004

/// One wire packet of a response and what the scanner made of it.
/// Lifetime: packet.wire and the views in event point into the connection's read buffer and stay valid
/// until the next call on the connection.
struct ResponsePacket {
  mysql::WirePacket packet;
  mysql::ResponseEvent event;
};

/// Whole wire packets of a response, buffered, to relay unchanged (poll_response_run()).
/// Lifetime: wire and the views in *event point into the connection's read buffer and scanner and
/// stay valid until the next call on the connection.
struct RelayRun {
  std::string_view wire;           // one or more whole wire packets; empty: read_response_bytes() first
  std::size_t last_packet = 0;     // offset in wire of the last packet
  const mysql::ResponseEvent* event = nullptr;  // the last packet's, when it needs the relay; else null

  std::uint8_t last_sequence_id() const noexcept {
    return static_cast<std::uint8_t>(wire[last_packet + 3]);
  }
};

/// The result of a statement corral runs for itself (query()): small, owned, all rows in memory.
struct QueryOutcome {
  std::optional<MysqlError> error;  // the statement's ERR_Packet; the connection is still usable
  std::uint64_t affected_rows = 0;
  std::uint64_t last_insert_id = 0;
  std::uint16_t warnings = 0;
  mysql::StatusFlags status_flags = 0;
  std::uint32_t result_sets = 0;
  std::vector<std::string> columns;                              // names, of the last result set
  std::vector<std::vector<std::optional<std::string>>> rows;     // every result set's rows; nullopt = NULL

  bool ok() const noexcept { return !error.has_value(); }
};

/// What the server's greeting said, for the session's own greeting to clients.
struct MysqlServerInfo {
  bool known = false;
  std::string server_version;              // e.g. "5.5.5-10.11.6-MariaDB"
  mysql::CapabilityFlags capabilities = 0;  // what the server offers (MariaDB extended bits included)
  std::uint8_t character_set = 0;          // the server's default collation id
};

/// The client's half of a relayed login (auth = "backend"): the server's greeting and authentication
/// packets reach corral's client, and its answers reach the server, so the server checks the client's
/// own credentials and words its own refusal. Implemented by the proxy's login; used by open_relayed().
class MysqlLoginRelay {
 public:
  /// Whom the client logs in as and what it answered to the greeting made from the server's.
  struct Answer {
    const MysqlKey* key = nullptr;  // the relay's: user, schema, charset, capabilities; valid until the open ends
    std::string plugin;             // the client's auth plugin
    std::string auth_response;      // its token over the server's scramble
    std::uint8_t collation = 0;     // its handshake's collation, for the server to check (0: the server's default)
  };
  /// Greets the client with the server's scramble and reads its answer. An error ends the open.
  virtual rt::Task<rt::Result<Answer>> greeted(const mysql::HandshakeV10& server) = 0;
  /// Passes a server AuthSwitchRequest or AuthMoreData `payload` to the client and, when `answered`,
  /// returns the client's reply payload (else an empty string). An error ends the open.
  virtual rt::Task<rt::Result<std::string>> exchange(std::string_view payload, bool answered) = 0;
  /// True when the client reached corral over TLS: it then answers a caching_sha2_password full
  /// authentication (AuthMoreData 0x04) with its password in clear.
  virtual bool client_on_tls() const noexcept = 0;

 protected:
  ~MysqlLoginRelay() = default;
};

/// One backend connection. Not thread-safe: one loop. At most one coroutine uses it at a time (the
/// pool lends it to one session). Lifetime: owned by its MysqlPool (or a test); the stream closes with
/// it; `limits` (the config's pool limits) must outlive it.
class MysqlConnection {
 public:
  enum class State : std::uint8_t {
    New,             // not opened yet
    Opening,         // connect + handshake + auth + session setup in progress
    Idle,            // ready for a command
    Busy,            // a command was sent; its response is being read
    AwaitingClient,  // the server waits for client packets (LOCAL INFILE data): send_wire(), resume()
    Closed,          // failed or closed: never reused
  };
  static std::string_view to_string(State state) noexcept;

  explicit MysqlConnection(const config::PoolLimits& limits, const mysql::Limits& codec_limits = {});
  MysqlConnection(const MysqlConnection&) = delete;
  MysqlConnection& operator=(const MysqlConnection&) = delete;
  ~MysqlConnection();

  /// Connects to `address` and logs in as `key` (schema with CLIENT_CONNECT_WITH_DB), then turns on
  /// session state tracking and SET NAMES key.charset in one statement.
  /// Suspends until Idle, connect_timeout (for all of it) or `cancel`. On failure the connection is
  /// Closed and error() holds the reason: the server's ERR_Packet for a refused login, else corral's.
  /// Cancellation: the pending connect/read is removed; the connection closes.
  /// Lifetime: `key` must stay valid until the open completes (the pool passes its own).
  rt::Task<rt::Result<void>> open(const MysqlKey& key, rt::SocketAddress address, rt::CancelSource* cancel);
  /// open() whose authentication is the client's (auth = "backend"): `relay` learns the greeting and
  /// answers every authentication packet; the key is the one relay.greeted() returns. A refusal is the
  /// server's ERR_Packet in error(), for the relay to pass on. Afterwards scramble() and auth_plugin()
  /// are the ones the client's last token was made for.
  rt::Task<rt::Result<void>> open_relayed(MysqlLoginRelay& relay, rt::SocketAddress address, rt::CancelSource* cancel);

  /// Writes one command packet (sequence id 0; split at 16 MiB) whose payload starts with the command
  /// byte, and starts following its response. State must be Idle. Commands without a response
  /// (COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA, COM_QUIT) leave the connection Idle.
  /// Suspends while the socket buffer is full (operation_timeout, `cancel`). Any failure closes.
  rt::Task<rt::Result<void>> send_command(std::string_view payload, rt::CancelSource* cancel = nullptr);
  /// Writes `packets`, whole framed commands that get no response (COM_STMT_SEND_LONG_DATA,
  /// COM_STMT_CLOSE; each with sequence id 0), in one write: many need neither a write nor a coroutine
  /// each. State must be Idle and stays Idle. Fails as send_command(). With no response of their own
  /// they leave summary() and session_changes() to the last command that had one (a PREPARE whose
  /// warnings the client reads next, after the statements it evicted were closed).
  rt::Task<rt::Result<void>> send_silent_commands(std::string_view packets, rt::CancelSource* cancel);
  /// The same for a command packet as the client sent it (wire packets with headers, sequence ids from
  /// 0), relayed unchanged. `wire` must hold exactly one whole logical packet.
  rt::Task<rt::Result<void>> send_command_wire(std::string_view wire, rt::CancelSource* cancel = nullptr);

  /// The next wire packet of the response to the last command. Does not suspend when the packet is
  /// already buffered; otherwise suspends until it arrives, operation_timeout
  /// passes without a byte (timed_out) or `cancel` fires. After the packet with event.complete the
  /// connection is Idle and summary()/session_changes()/status_flags() describe the response.
  /// Errors (I/O, timeout, cancel, protocol) close the connection; error() has the client's text.
  /// Lifetime: see ResponsePacket.
  rt::Task<rt::Result<ResponsePacket>> next_response_packet(rt::CancelSource* cancel = nullptr);

  /// The allocation-free form of next_response_packet() for relaying big results: the next packet if
  /// it is already buffered, nullopt when more bytes are needed (then read_response_bytes()). Never
  /// suspends. Errors and lifetime as next_response_packet().
  rt::Result<std::optional<ResponsePacket>> poll_response_packet();
  /// The relay's form: every buffered whole wire packet up to and including the next one the relay
  /// must look at (event: it ends the response, hands over to the client, or is an OK / result-set
  /// end that may need rewriting), in one scan without per-row events. An empty run means more bytes
  /// are needed (read_response_bytes()). Never suspends. After a run whose event is complete the
  /// connection is Idle, as with next_response_packet(). Errors and lifetime as next_response_packet(),
  /// except that whole packets before a bad one come first as a run.
  rt::Result<RelayRun> poll_response_run();
  /// Busy only: reads what the socket has into the buffer. Suspends until at least one byte arrives,
  /// operation_timeout passes (timed_out) or `cancel` fires; any failure closes the connection.
  rt::Task<rt::Result<void>> read_response_bytes(rt::CancelSource* cancel = nullptr);
  /// read_response_bytes() in two halves, so the relay awaits the socket without a coroutine frame
  /// per read: the read (only right after poll_response_run() returned an empty run), then its
  /// outcome, which must be passed to after_response_read().
  rt::ReadAwaitable response_read(rt::CancelSource* cancel) {
    return read_into_buffer(response_needed_, io_deadline(), cancel);
  }
  rt::Result<void> after_response_read(const rt::Result<std::size_t>& n) { return after_read(n); }

  /// AwaitingClient only: writes packets the client sent (LOCAL INFILE contents and the empty packet
  /// ending them) unchanged. Suspends like send_command.
  rt::Task<rt::Result<void>> send_wire(std::string_view wire, rt::CancelSource* cancel = nullptr);
  /// AwaitingClient only: the server's next packet has `next_sequence_id`; back to Busy.
  void resume(std::uint8_t next_sequence_id) noexcept;

  /// Runs `sql` with COM_QUERY and collects its result (corral's own statements: SET NAMES, re-prepares,
  /// checks). State must be Idle. An ERR_Packet is returned in QueryOutcome::error (the connection
  /// stays Idle); transport and protocol failures are errors and close the connection.
  rt::Task<rt::Result<QueryOutcome>> query(std::string_view sql, rt::CancelSource* cancel = nullptr);

  /// True when the connection's schema and charset already are what `key` asks for.
  bool conforms_to(const MysqlKey& key) const noexcept;
  /// True when conform_to(key) can get there: a schema can be changed but not unselected; a charset
  /// can be set but the server default cannot be restored once changed.
  bool can_conform_to(const MysqlKey& key) const noexcept;
  /// Idle only: COM_INIT_DB key.schema and/or SET NAMES key.charset where they differ, then the
  /// connection belongs to `key`. Returns the outcome of the last statement run: a refusal (ERR 1049
  /// unknown database, ...) is in QueryOutcome::error and leaves the connection Idle, with what ran before
  /// the refused statement done (a refused COM_INIT_DB leaves the old schema).
  /// Suspends like query(); transport failures close the connection.
  rt::Task<rt::Result<QueryOutcome>> conform_to(const MysqlKey& key, rt::CancelSource* cancel = nullptr);

  /// Closes now (idempotent); a pending read or write resumes with an error. `reason` becomes error()
  /// unless an error is already recorded. An Idle connection says COM_QUIT first (without waiting),
  /// so the server does not log an aborted connection.
  void close(MysqlError reason = {});

  /// True when an idle connection shows no sign of the server having closed it (a FIN or an
  /// unexpected packet since the last read). Costs a syscall only when the socket saw an edge.
  bool idle_healthy() noexcept;
  /// Drops the read buffer of an idle connection (an idle connection keeps no buffer).
  void trim() noexcept;

  State state() const noexcept { return state_; }
  bool is_idle() const noexcept { return state_ == State::Idle; }
  bool is_closed() const noexcept { return state_ == State::Closed; }
  const MysqlError& error() const noexcept { return error_; }

  /// From the greeting and login.
  const MysqlServerInfo& server_info() const noexcept { return server_; }
  std::uint32_t connection_id() const noexcept { return connection_id_; }
  /// The capabilities in effect: what corral asked for (its own bits + the key's) AND what the server
  /// offered. A key bit the server lacks is missing here: the session must not promise it to clients.
  mysql::CapabilityFlags capabilities() const noexcept { return capabilities_; }
  /// False when the server has no CLIENT_SESSION_TRACK (then no session-state changes are reported).
  bool session_tracking() const noexcept { return (capabilities_ & mysql::CLIENT_SESSION_TRACK) != 0; }
  /// The auth plugin that finally logged in ("mysql_native_password", "caching_sha2_password").
  const std::string& auth_plugin() const noexcept { return auth_plugin_; }
  /// The scramble the last login token was made over (the greeting's, or an auth switch's).
  const std::string& scramble() const noexcept { return scramble_; }

  /// True while the session reports transaction characteristics (session_track_transaction_info),
  /// which the server's query cache does not work with: set up only when the session's query cache
  /// is off, and followed through what the tracker reports.
  bool tracks_transaction_characteristics() const noexcept { return tracks_transaction_characteristics_; }
  /// The statement that puts transaction-info tracking back in step with the session's query cache
  /// (off while the cache is on), when a relayed or replayed query_cache_type put them out of step.
  std::optional<std::string_view> tracking_to_match_query_cache() const noexcept;
  /// The server refused that statement: stop asking for it on this connection.
  void keep_tracking_as_is() noexcept { tracking_refused_ = true; }

  /// The schema the connection is in: the key's, then followed through SESSION_TRACK_SCHEMA changes
  /// (a relayed "USE other") and conform_to().
  const std::string& schema() const noexcept { return schema_; }
  /// The charset corral set with SET NAMES (empty: the server default); meaningful unless charset_changed().
  const std::string& charset() const noexcept { return charset_; }
  /// True when a relayed statement changed character_set_client/_connection/_results or
  /// collation_connection (SET NAMES, SET character_set_results=...) since corral last set them.
  bool charset_changed() const noexcept { return charset_changed_; }
  /// True when the session state can no longer be known: a relayed COM_CHANGE_USER or
  /// COM_RESET_CONNECTION replaced it, or a session-state block did not decode. Such a connection
  /// matches no key: close it, never pool it.
  bool state_unknown() const noexcept { return state_unknown_; }

  /// Status flags of the last OK/EOF (SERVER_STATUS_IN_TRANS, SERVER_STATUS_AUTOCOMMIT, ...).
  mysql::StatusFlags status_flags() const noexcept { return status_flags_; }
  bool in_transaction() const noexcept { return (status_flags_ & mysql::SERVER_STATUS_IN_TRANS) != 0; }
  bool autocommit() const noexcept { return (status_flags_ & mysql::SERVER_STATUS_AUTOCOMMIT) != 0; }
  /// True while autocommit is what it was right after login (a server may default to either).
  bool autocommit_as_opened() const noexcept { return autocommit() == opened_autocommit_; }
  /// The last response's summary (affected rows, last insert id, warnings, ERR, session-state block).
  const mysql::ResponseSummary& summary() const noexcept { return scanner_.summary(); }
  /// The last response's session-state changes, decoded (empty when it reported none).
  const mysql::SessionStateChanges& session_changes() const noexcept { return session_changes_; }
  /// The command whose response is being (or was last) read.
  mysql::Command command() const noexcept { return scanner_.command(); }

  /// Per-read inactivity bound of the response reads and command writes; defaults to
  /// pool.operation_timeout, and the pool puts it back when the connection is released. A session sets
  /// mysql.statement_timeout for the statements its client sent; zero means no bound.
  void set_operation_timeout(rt::Clock::duration timeout) noexcept { operation_timeout_ = timeout; }
  rt::Clock::duration operation_timeout() const noexcept { return operation_timeout_; }

  /// The statements prepared on this connection (pool/mysql_prepared.h); they die with it.
  PreparedStatements& prepared() noexcept { return prepared_; }

  /// Where the connection counts its round trips, TLS handshakes and failures (the pool's backend;
  /// null: nowhere). Set by the pool before open() or when it adopts the connection.
  void count_in(BackendCounters* counters) noexcept { counters_ = counters; }
  /// Lent to one session between its statements (a pin is in force): the pool's gauges say "pinned".
  /// Set by the session that keeps the lease; the pool clears it when the connection comes back.
  void set_held(bool held) noexcept { held_ = held; }
  bool held() const noexcept { return held_; }

  /// Set by the pool for logs and errors: "user@host:port/schema".
  const std::string& describe() const noexcept { return describe_; }
  /// The session variables a lender replayed on this connection, in the lender's canonical text (empty:
  /// none, the server's defaults). The pool never reads it: it travels with the connection from lease
  /// to lease so the next lender knows what to change or set back to DEFAULT.
  std::string& replayed_variables() noexcept { return replayed_variables_; }

  /// Pool bookkeeping: when the connection became idle.
  /// When open() started: a connection is as fresh as the session the server made for it then
  /// (global variables, privileges); the pool retires older ones after a newer login (auth = "backend").
  rt::Clock::time_point opened_at() const noexcept { return opened_at_; }
  rt::Clock::time_point idle_since() const noexcept { return idle_since_; }
  void mark_idle_since(rt::Clock::time_point t) noexcept { idle_since_ = t; }
  /// Pool bookkeeping: a number unique to the connection's last stay in an idle list (never reused by
  /// this thread), so a session can tell "still idle since I released it" from "lent to others since".
  std::uint64_t idle_stamp() const noexcept { return idle_stamp_; }
  void set_idle_stamp(std::uint64_t stamp) noexcept { idle_stamp_ = stamp; }

 private:
  struct AuthPacket {
    std::string payload;
    std::uint8_t sequence_id = 0;
  };

  rt::Task<rt::Result<AuthPacket>> read_logical(rt::Deadline deadline, rt::CancelSource* cancel);
  rt::Task<rt::Result<void>> fill(std::size_t needed, rt::Deadline deadline, rt::CancelSource* cancel);
  rt::Task<rt::Result<void>> write_bytes(std::string_view data, rt::Deadline deadline, rt::CancelSource* cancel);
  // fill() and write_bytes() in two halves, so the per-statement paths (send_command_wire,
  // read_response_bytes) await the socket directly instead of through one more coroutine frame.
  /// The read fill() starts: room for the `needed` bytes still missing, kReadChunk at least.
  rt::ReadAwaitable read_into_buffer(std::size_t needed, rt::Deadline deadline, rt::CancelSource* cancel);
  /// Takes a read's outcome: the bytes join the buffer; end of stream or an error closes the connection.
  rt::Result<void> after_read(const rt::Result<std::size_t>& n);
  /// Takes a write's outcome: an error closes the connection.
  rt::Result<void> after_write(const rt::Result<void>& written);
  rt::Task<rt::Result<void>> open_with(const MysqlKey* key, MysqlLoginRelay* relay, rt::SocketAddress address,
                                       rt::CancelSource* cancel);
  /// describe()/schema()/charset() from `key`; an invalid charset name closes the connection.
  rt::Result<void> adopt_key(const MysqlKey& key);
  /// The connection phase; returns the key logged in with (`key`, or the relay's).
  rt::Task<rt::Result<const MysqlKey*>> authenticate(const MysqlKey* key, MysqlLoginRelay* relay,
                                                     rt::Deadline& deadline, rt::CancelSource* cancel);
  /// With a key whose ssl-mode asks for TLS: SSLRequest (with `response`'s prefix and `sequence_id`,
  /// which is then advanced) and the TLS handshake; a server without CLIENT_SSL fails the open unless
  /// the mode is PREFERRED. Plain keys: nothing.
  rt::Task<rt::Result<void>> start_tls(const MysqlKey& key, const mysql::HandshakeResponse41& response,
                                       mysql::CapabilityFlags server_capabilities, std::uint8_t& sequence_id,
                                       rt::Deadline deadline, rt::CancelSource* cancel);
  rt::Task<rt::Result<void>> relay_auth_packet(MysqlLoginRelay& relay, std::string_view payload, bool answered,
                                               std::uint8_t sequence_id, rt::Deadline& deadline,
                                               rt::CancelSource* cancel);
  std::error_code fail_relay(std::error_code code);
  rt::Task<rt::Result<void>> answer_auth_more_data(std::string_view data, std::string_view password,
                                                   std::uint8_t sequence_id, rt::Deadline deadline,
                                                   rt::CancelSource* cancel);
  rt::Task<rt::Result<void>> send_auth_data(std::string_view data, std::uint8_t sequence_id, rt::Deadline deadline,
                                            rt::CancelSource* cancel);
  rt::Task<rt::Result<void>> setup_session(const MysqlKey& key, rt::CancelSource* cancel);
  rt::Task<rt::Result<QueryOutcome>> run(std::string payload, rt::CancelSource* cancel);
  rt::Result<std::string> auth_token(std::string_view plugin, const MysqlKey& key);
  /// The checks every command's write starts with: Idle, and nothing unasked for buffered.
  rt::Result<void> ready_for_command();
  /// `cursor_requested`: a COM_STMT_EXECUTE that asked for a cursor (mysql::ResponseScanner::reset()).
  rt::Result<void> begin_command(mysql::Command command, std::uint8_t first_response_sequence,
                                 bool cursor_requested);

  /// When the next socket read or write of a command gives up: operation_timeout from now, or never.
  rt::Deadline io_deadline() const noexcept {
    return operation_timeout_ == rt::Clock::duration::zero() ? rt::Deadline::never()
                                                             : rt::Deadline::after(operation_timeout_);
  }
  void say_quit() noexcept;
  // The compressed protocol (the key has CLIENT_COMPRESS), from the login's OK on: socket reads go
  // into compressed_in_ and are inflated into in_ whole compressed packets at a time; every write is
  // deflated into compressed_out_ first.
  void start_compression();
  /// Inflates the whole compressed packets in compressed_in_ into in_. False: a corrupt one.
  bool inflate_buffered();
  /// What to write for `data`: itself, or its compressed packets (in compressed_out_).
  std::string_view outgoing(std::string_view data);
  void consume_returned_packet() noexcept;
  void on_response_complete();
  void follow_session_changes();
  std::error_code fail(std::error_code code, MysqlError error);
  std::error_code fail_io(std::error_code io, std::string_view during);
  /// Counts a failure of an established connection (a failed open is the pool's to count).
  void count_error(BackendError kind) noexcept {
    if (counters_ != nullptr && state_ != State::Opening && state_ != State::Closed) counters_->error(kind);
  }
  std::error_code fail_protocol(mysql::Errc errc, std::string_view during);
  std::error_code fail_server(std::string_view payload, std::string_view during);

  const config::PoolLimits& limits_;
  mysql::Limits codec_limits_;
  State state_ = State::New;
  rt::TcpStream stream_;
  rt::ByteBuffer in_;
  std::string out_;                   // the command being written (reused)
  bool compressed_ = false;           // start_compression() was called
  std::uint8_t compressed_sequence_ = 0;  // the next compressed packet's sequence id
  rt::ByteBuffer compressed_in_;      // socket bytes not inflated yet
  std::string compressed_out_;        // the compressed packets being written (reused)
  std::string scratch_;               // multi-chunk logical packets during login
  std::size_t returned_bytes_ = 0;    // the packet or run last returned, consumed lazily
  std::size_t response_needed_ = 0;   // bytes the buffer must hold for the next packet (after NeedMore)
  mysql::ResponseScanner scanner_;
  mysql::SessionStateChanges session_changes_;
  MysqlError error_;
  MysqlServerInfo server_;
  std::string describe_;
  std::string auth_plugin_;
  std::string scramble_;
  std::string schema_;
  std::string charset_;
  std::string replayed_variables_;
  bool query_cache_on_ = false;                      // the session's query_cache_type is not OFF
  bool tracks_transaction_characteristics_ = false;  // session_track_transaction_info is not OFF
  bool tracking_refused_ = false;                    // the server refused tracking_to_match_query_cache()
  mysql::CapabilityFlags capabilities_ = 0;
  mysql::StatusFlags status_flags_ = 0;
  std::uint32_t connection_id_ = 0;
  std::string server_address_;  // "host:port": connection_id_ is registered under it from the greeting (MysqlOwnThreads)
  bool charset_changed_ = false;
  bool state_unknown_ = false;
  bool opened_autocommit_ = true;
  rt::Clock::duration operation_timeout_;
  rt::Clock::time_point idle_since_{};
  std::uint64_t idle_stamp_ = 0;
  rt::Clock::time_point opened_at_{};
  PreparedStatements prepared_;
  BackendCounters* counters_ = nullptr;         // see count_in()
  rt::Clock::time_point command_started_{};    // the loop's time when the command in flight was sent
  bool held_ = false;                          // see set_held()
};

}  // namespace corral::pool

template <>
struct std::is_error_code_enum<corral::pool::MysqlBackendErrc> : std::true_type {};
