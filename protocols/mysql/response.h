// The response state machine: follows a backend's response to one command, packet by packet, so the
// proxy can relay the original bytes and still know where the response ends and how it left the
// session (COM_QUERY Response, Text Resultset, Binary Protocol Resultset, COM_STMT_PREPARE Response,
// COM_STMT_FETCH Response, COM_FIELD_LIST Response, Multi-Resultset, LOCAL INFILE Request).
//
//   COM_QUERY / COM_STMT_EXECUTE / COM_PROCESS_INFO:
//     ┌─► OK ──(MORE_RESULTS_EXISTS)──┐           ERR (anywhere) ─► complete
//     │   0xFB LOCAL INFILE ─► [client sends file] ─► resume() ─► OK/ERR ...
//     │   column count ─► column def x N ─► [EOF] ─► row* ─► EOF | 0xFE OK ──(MORE_RESULTS_EXISTS)──┐
//     └────────────────────────────────────────────────────────────────────────────────────────────┘
//     COM_STMT_EXECUTE with a cursor: the EOF after the columns (or the 0xFE OK under DEPRECATE_EOF)
//     carries SERVER_STATUS_CURSOR_EXISTS and ends the response; rows come with COM_STMT_FETCH.
//   COM_STMT_PREPARE:  PREPARE_OK ─► param def x P ─► [EOF] ─► column def x C ─► [EOF]
//   COM_STMT_FETCH:    row* ─► EOF | 0xFE OK
//   COM_FIELD_LIST:    column def* ─► EOF | 0xFE OK
//   COM_STATISTICS:    one string packet
//   COM_CHANGE_USER:   OK | ERR | AuthSwitchRequest / AuthMoreData ─► [client answers] ─► resume() ...
//   others (COM_PING, COM_INIT_DB, COM_RESET_CONNECTION, COM_SET_OPTION, COM_STMT_RESET, ...):
//                      OK | EOF | ERR
//   [EOF] = only without CLIENT_DEPRECATE_EOF.
//
// The scanner sees every wire packet (a >16 MiB row arrives as several, reported as Continuation),
// validates sequence ids, never copies rows and allocates nothing per row. Relaying goes through
// scan_run(): rows and column definitions are only counted and sequence-checked, in one tight pass
// over everything buffered; only the packets that say how the response ends or what it did to the
// session (OK, EOF, ERR, LOCAL INFILE, ...) are decoded into an event.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/mysql/command.h"
#include "protocols/mysql/constants.h"
#include "protocols/mysql/errors.h"
#include "protocols/mysql/packet.h"
#include "protocols/mysql/status_packets.h"

namespace corral::mysql {

/// What one wire packet of a response is.
enum class ResponsePhase : std::uint8_t {
  Ok,                  // OK_Packet (or the EOF answering COM_SET_OPTION/COM_DEBUG)
  Err,                 // ERR_Packet: always ends the response
  Progress,            // MariaDB progress report (MARIADB_CLIENT_PROGRESS): not terminal
  ColumnCount,         // first packet of a result set
  ColumnDefinition,    // one column definition (result set, prepare, COM_FIELD_LIST)
  ColumnsEof,          // EOF_Packet after the column definitions
  Row,                 // one row, text or binary (first wire packet of it)
  Continuation,        // a later wire packet of a logical packet >= 16 MiB
  ResultSetEnd,        // EOF_Packet or 0xFE OK_Packet ending a result set / COM_FIELD_LIST / fetch
  LocalInfileRequest,  // 0xFB + file name: the client must send the file, then resume()
  PrepareOk,           // COM_STMT_PREPARE_OK
  ParamDefinition,     // one parameter definition of COM_STMT_PREPARE
  ParamsEof,           // EOF_Packet after the parameter definitions
  Statistics,          // the COM_STATISTICS string
  AuthSwitchRequest,   // COM_CHANGE_USER: the client must answer, then resume()
  AuthMoreData,        // COM_CHANGE_USER: extra auth data (awaiting_client unless fast-auth success)
};
std::string_view to_string(ResponsePhase phase) noexcept;

/// The scanner's verdict on one wire packet. Only the fields of its phase are meaningful: ok for Ok,
/// ResultSetEnd, ColumnsEof and ParamsEof; err for Err; prepare_ok for PrepareOk; data as noted.
/// Lifetime: ok/err/data view the packet's bytes; the scanner overwrites it with the next packet.
struct ResponseEvent {
  ResponsePhase phase = ResponsePhase::Ok;
  bool complete = false;          // the whole response ended with this packet
  bool awaiting_client = false;   // the server now waits for the client (LOCAL INFILE data, auth data)
  StatusFlags status_flags = 0;   // for packets that carry status (OK, EOFs, ResultSetEnd)
  std::uint64_t column_count = 0;  // ColumnCount
  OK_Packet ok;                   // Ok / ResultSetEnd (fields of an EOF_Packet land in it too)
  ERR_Packet err;                 // Err
  COM_STMT_PREPARE_OK prepare_ok;  // PrepareOk
  std::string_view data;          // LocalInfileRequest: file name; Statistics: text; Auth*: plugin data
};

/// Whether ResponseScanner::scan_run() reports a packet (has_event) rather than relay it unread: it
/// does when the packet ends the response or hands over to the client, and for every phase but column
/// counts and definitions, the EOF after them, rows, continuations, progress reports, parameter
/// definitions and the EOF after those.
bool run_reports(ResponsePhase phase, bool complete, bool awaiting_client) noexcept;

/// What the response did to the session, kept across packets (owns its strings).
struct ResponseSummary {
  bool has_status = false;           // some packet carried status flags (prepare under DEPRECATE_EOF has none)
  StatusFlags status_flags = 0;      // of the last OK/EOF: the final one once complete
  std::uint64_t affected_rows = 0;   // of the last OK
  std::uint64_t last_insert_id = 0;  // of the last OK
  std::uint16_t warnings = 0;        // of the last OK/EOF
  std::string session_state_info;    // session state blocks of every OK, concatenated (decode_session_state)
  bool failed = false;               // ended with ERR_Packet
  std::uint16_t error_code = 0;
  std::string sql_state;
  std::string error_message;
  std::uint32_t result_sets = 0;     // OKs and result sets seen (multi-results count each)
  std::uint64_t rows = 0;            // rows relayed, all result sets together
  COM_STMT_PREPARE_OK prepare_ok;    // COM_STMT_PREPARE only

  bool in_transaction() const noexcept { return (status_flags & SERVER_STATUS_IN_TRANS) != 0; }
  bool cursor_exists() const noexcept { return (status_flags & SERVER_STATUS_CURSOR_EXISTS) != 0; }
};

/// A run of whole wire packets at the start of a buffer, from ResponseScanner::scan_run().
struct ScannedRun {
  FrameStatus status = FrameStatus::NeedMore;  // Packet: a run of `size` bytes; NeedMore; Error
  std::size_t size = 0;          // Packet: bytes of whole wire packets to relay unchanged, then consume
  std::size_t last_packet = 0;   // Packet: offset of the run's last wire packet (its header has its sequence id)
  bool has_event = false;        // Packet: the last packet needs the caller; event() describes it
  std::size_t needed = kPacketHeaderSize;  // NeedMore: bytes the buffer must hold for the next packet
  Errc error = Errc::Ok;         // Error (framing or state machine)
};

/// Follows the response to one command. Contract: feed every wire packet of the response, in order,
/// each exactly once, through scan() or scan_run() (errors: BadSequence,
/// UnexpectedPacket, LimitExceeded, ResponseComplete, decode errors; errors are sticky).
/// Not thread-safe.
class ResponseScanner {
 public:
  /// `caps` are the capabilities negotiated on the backend connection; the command packet had
  /// sequence id first_sequence_id - 1.
  ResponseScanner(Command command, CapabilityFlags caps, const Limits& limits = {},
                  std::uint8_t first_sequence_id = 1);

  /// Starts over for a new command, keeping allocated memory. `cursor_requested`: the
  /// COM_STMT_EXECUTE asked for a cursor (CURSOR_TYPE_READ_ONLY), so SERVER_STATUS_CURSOR_EXISTS after
  /// its column definitions ends the response (rows come with COM_STMT_FETCH). Without the request the
  /// flag may still leak from a cursor of a compound statement (BEGIN NOT ATOMIC ... OPEN cur ...) and
  /// the rows follow as usual.
  void reset(Command command, std::uint8_t first_sequence_id = 1, bool cursor_requested = true);

  struct ScanResult {
    FrameStatus status = FrameStatus::NeedMore;
    WirePacket packet;       // Packet: the bytes to relay, then consume packet.size()
    const ResponseEvent* event = nullptr;  // Packet: event(), valid until the next packet is fed
    std::size_t needed = kPacketHeaderSize;  // NeedMore
    Errc error = Errc::Ok;   // Error (framing or state machine)
  };
  /// Frames the next wire packet at the start of `buffer` with the internal framer (which enforces
  /// Limits::max_packet_size) and classifies it.
  ScanResult scan(std::string_view buffer);

  /// Scans the whole wire packets at the start of `buffer` in one pass, up to and including the
  /// first one the caller must look at (has_event: it completes the response, hands over to the
  /// client, or is an OK / result-set end / PREPARE_OK / statistics / auth packet). Rows and column or
  /// parameter definitions get no event: they are only framed, sequence-checked and counted. A run
  /// that ends at a bad packet is returned first; the error comes with the next call. Packet when
  /// `size` > 0, else NeedMore or Error.
  ScannedRun scan_run(std::string_view buffer);

  /// The last packet's event (after scan(), or scan_run() with has_event). Lifetime: valid until the
  /// next packet is fed; its views point into that packet's bytes.
  const ResponseEvent& event() const noexcept { return event_; }

  /// Under the compressed protocol the compressed packets carry the order, and the packets' own
  /// sequence ids jump where the server flushed (net_flush() takes them up to the compressed count):
  /// they are then not checked. Kept across reset().
  void check_sequence_ids(bool checked) noexcept { sequence_checked_ = checked; }

  /// After LOCAL INFILE data or an auth reply relayed from the client: the server's next packet has
  /// `next_sequence_id`. Only valid while awaiting_client().
  void resume(std::uint8_t next_sequence_id) noexcept;  // no-op unless awaiting_client()

  /// True once the last wire packet of the response has been seen.
  bool complete() const noexcept { return state_ == State::Done && !in_continuation_; }
  /// True while the server waits for client packets (LOCAL INFILE data, auth data): call resume().
  bool awaiting_client() const noexcept { return state_ == State::AwaitClient && !in_continuation_; }
  Errc error() const noexcept { return error_; }
  std::uint8_t next_sequence_id() const noexcept { return expected_sequence_; }
  Command command() const noexcept { return command_; }
  const ResponseSummary& summary() const noexcept { return summary_; }

 private:
  enum class State : std::uint8_t {
    ResultStart,       // OK | ERR | column count | LOCAL INFILE
    ColumnDefs,
    ColumnsEof,
    Rows,
    PrepareStart,
    PrepareParams,
    PrepareParamsEof,
    PrepareColumns,
    PrepareColumnsEof,
    FieldList,
    Statistics,
    Simple,
    ChangeUser,
    AwaitClient,
    Done,
  };

  // Each classifier fills event_ (reset by classify()) and returns Errc::Ok or why the packet is refused.
  Errc classify(std::string_view payload, bool continues);
  Errc on_result_start(std::string_view payload);
  /// The status after an execute's column definitions says the cursor it asked for is open.
  bool opens_cursor(StatusFlags status) const noexcept {
    return command_ == Command::COM_STMT_EXECUTE && cursor_requested_ && (status & SERVER_STATUS_CURSOR_EXISTS) != 0;
  }
  Errc on_column_count(std::string_view payload);
  Errc on_definition(std::string_view payload, ResponsePhase phase);
  Errc on_definitions_eof(std::string_view payload, ResponsePhase phase);
  Errc on_row(std::string_view payload);
  Errc on_prepare_ok(std::string_view payload);
  Errc on_field_list(std::string_view payload);
  Errc on_statistics(std::string_view payload);
  Errc on_simple(std::string_view payload);
  Errc on_change_user(std::string_view payload);
  Errc on_err(std::string_view payload);
  Errc on_terminator(std::string_view payload, ResponsePhase phase);

  /// The fast part of scan_run(): skips the whole packets at the start of `buffer` that neither end
  /// the response nor need decoding beyond a few bytes: rows, column counts, column definitions,
  /// the EOF after them, and all but the last parameter/column definition of a prepare response.
  /// Returns the bytes skipped; `last_packet` gets the offset of the last packet skipped.
  std::size_t skip_plain_packets(std::string_view buffer, std::size_t& last_packet) noexcept;
  /// One non-empty, whole, in-sequence packet for skip_plain_packets() outside Rows: true when it was
  /// taken (the state machine moved on as the classifier would have), false to leave it to classify().
  bool skip_plain_packet(std::string_view payload) noexcept;
  bool skip_columns_eof(std::string_view payload) noexcept;
  /// scan_run()'s short cut for the EOF_Packet ending a result set, whole at the start of `buffer`:
  /// true when it was taken, event_ set as the classifier would set it; false to leave it to
  /// the framer and classify().
  bool take_result_set_eof(std::string_view buffer) noexcept;
  /// skip_plain_packets() in Rows, from offset `at`, packets no larger than `max_length`: returns
  /// the offset after the last row taken.
  std::size_t skip_rows(std::string_view buffer, std::size_t at, std::size_t max_length,
                        std::size_t& last_packet) noexcept;
  /// True when the caller must see the packet event_ describes (scan_run() ends the run with it).
  bool event_needs_caller() const noexcept;
  /// Classifies one wire packet framed by framer_ into event_.
  Errc feed(const WirePacket& packet);
  void record_ok(const OK_Packet& ok);
  void record_status(StatusFlags status, std::uint16_t warnings);
  void end_result();
  void after_column_defs();
  void after_prepare_params();
  State initial_state() const noexcept;
  bool is_progress(std::string_view payload) const noexcept;
  Errc fail(Errc errc) noexcept;

  Command command_;
  bool cursor_requested_ = true;  // see reset()
  CapabilityFlags caps_;
  Limits limits_;
  PacketFramer framer_;
  State state_ = State::ResultStart;
  State resume_state_ = State::ResultStart;
  std::uint64_t remaining_ = 0;       // definitions left in ColumnDefs / PrepareParams / PrepareColumns
  std::uint8_t expected_sequence_ = 1;
  bool sequence_checked_ = true;  // check_sequence_ids()
  bool in_continuation_ = false;
  Errc error_ = Errc::Ok;
  ResponseSummary summary_;
  ResponseEvent event_;               // of the last packet that was classified
};

}  // namespace corral::mysql
