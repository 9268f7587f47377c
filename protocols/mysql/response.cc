#include "protocols/mysql/response.h"

#include <algorithm>
#include <bit>
#include <cstring>

#include "protocols/mysql/auth.h"
#include "protocols/mysql/handshake.h"
#include "protocols/mysql/primitives.h"

namespace corral::mysql {

namespace {

std::uint8_t first_byte(std::string_view payload) noexcept {
  return payload.empty() ? 0 : static_cast<std::uint8_t>(payload[0]);
}

// Minimum OK_Packet: header, two 1-byte lenencs, status, warnings.
constexpr std::size_t kMinOkSize = 7;
// EOF_Packet (protocol 4.1): 0xFE, warnings int<2>, status_flags int<2>.
constexpr std::size_t kEofPayloadSize = 5;

// The 4-byte packet header (int<3> payload length, int<1> sequence id) as one little-endian integer.
std::uint32_t packet_header(const unsigned char* header) noexcept {
  std::uint32_t value = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&value, header, sizeof value);
  } else {
    value = static_cast<std::uint32_t>(header[0]) | static_cast<std::uint32_t>(header[1]) << 8 |
            static_cast<std::uint32_t>(header[2]) << 16 | static_cast<std::uint32_t>(header[3]) << 24;
  }
  return value;
}

std::uint16_t eof_int2(std::string_view payload, std::size_t at) noexcept {
  return static_cast<std::uint16_t>(static_cast<std::uint8_t>(payload[at]) |
                                    static_cast<std::uint8_t>(payload[at + 1]) << 8);
}

}  // namespace

std::string_view to_string(ResponsePhase phase) noexcept {
  switch (phase) {
    case ResponsePhase::Ok: return "Ok";
    case ResponsePhase::Err: return "Err";
    case ResponsePhase::Progress: return "Progress";
    case ResponsePhase::ColumnCount: return "ColumnCount";
    case ResponsePhase::ColumnDefinition: return "ColumnDefinition";
    case ResponsePhase::ColumnsEof: return "ColumnsEof";
    case ResponsePhase::Row: return "Row";
    case ResponsePhase::Continuation: return "Continuation";
    case ResponsePhase::ResultSetEnd: return "ResultSetEnd";
    case ResponsePhase::LocalInfileRequest: return "LocalInfileRequest";
    case ResponsePhase::PrepareOk: return "PrepareOk";
    case ResponsePhase::ParamDefinition: return "ParamDefinition";
    case ResponsePhase::ParamsEof: return "ParamsEof";
    case ResponsePhase::Statistics: return "Statistics";
    case ResponsePhase::AuthSwitchRequest: return "AuthSwitchRequest";
    case ResponsePhase::AuthMoreData: return "AuthMoreData";
  }
  return "Unknown";
}

ResponseScanner::ResponseScanner(Command command, CapabilityFlags caps, const Limits& limits,
                                 std::uint8_t first_sequence_id)
    : command_(command), caps_(caps), limits_(limits), framer_(limits) {
  reset(command, first_sequence_id);
}

void ResponseScanner::reset(Command command, std::uint8_t first_sequence_id, bool cursor_requested) {
  command_ = command;
  cursor_requested_ = cursor_requested;
  state_ = initial_state();
  resume_state_ = State::ResultStart;
  remaining_ = 0;
  expected_sequence_ = first_sequence_id;
  in_continuation_ = false;
  error_ = Errc::Ok;
  framer_.reset();
  // Field by field, not `summary_ = {}`: the strings keep their memory and a response that did not
  // fail or change session state costs no string work at all.
  summary_.has_status = false;
  summary_.status_flags = 0;
  summary_.affected_rows = 0;
  summary_.last_insert_id = 0;
  summary_.warnings = 0;
  summary_.session_state_info.clear();
  summary_.failed = false;
  summary_.error_code = 0;
  summary_.sql_state.clear();
  summary_.error_message.clear();
  summary_.result_sets = 0;
  summary_.rows = 0;
  summary_.prepare_ok = {};
}

ResponseScanner::State ResponseScanner::initial_state() const noexcept {
  if (!expects_response(command_)) return State::Done;
  switch (command_) {
    case Command::COM_QUERY:
    case Command::COM_STMT_EXECUTE:
    case Command::COM_STMT_BULK_EXECUTE:
    case Command::COM_PROCESS_INFO:
      return State::ResultStart;
    case Command::COM_STMT_PREPARE:
      return State::PrepareStart;
    case Command::COM_STMT_FETCH:
      return State::Rows;
    case Command::COM_FIELD_LIST:
      return State::FieldList;
    case Command::COM_STATISTICS:
      return State::Statistics;
    case Command::COM_CHANGE_USER:
      return State::ChangeUser;
    default:
      return State::Simple;
  }
}

Errc ResponseScanner::fail(Errc errc) noexcept {
  error_ = errc;
  return errc;
}

Errc ResponseScanner::feed(const WirePacket& packet) {
  if (error_ != Errc::Ok) return error_;
  if (packet.wire.size() < kPacketHeaderSize) return fail(Errc::Truncated);
  // The chunks of a logical packet belong to it even when its first chunk ended the response.
  if (!in_continuation_) {
    if (state_ == State::Done) return fail(Errc::ResponseComplete);
    if (state_ == State::AwaitClient) return fail(Errc::UnexpectedPacket);
  }
  if (sequence_checked_ && packet.sequence_id != expected_sequence_) return fail(Errc::BadSequence);
  expected_sequence_ = static_cast<std::uint8_t>(packet.sequence_id + 1);
  const bool continues = packet.continues();
  if (in_continuation_) {
    in_continuation_ = continues;
    event_ = ResponseEvent{};
    event_.phase = ResponsePhase::Continuation;
    event_.complete = complete();
    event_.awaiting_client = awaiting_client();
    return Errc::Ok;
  }
  const Errc errc = classify(packet.payload(), continues);
  if (errc != Errc::Ok) return fail(errc);
  in_continuation_ = continues;
  if (continues) {
    // Completion (or the hand-over to the client) happens with the logical packet's last chunk.
    event_.complete = false;
    event_.awaiting_client = false;
  }
  return Errc::Ok;
}

ResponseScanner::ScanResult ResponseScanner::scan(std::string_view buffer) {
  ScanResult result;
  if (error_ != Errc::Ok) {
    result.status = FrameStatus::Error;
    result.error = error_;
    return result;
  }
  const FrameResult frame = framer_.next(buffer);
  result.status = frame.status;
  result.needed = frame.needed;
  if (frame.status == FrameStatus::Error) {
    error_ = frame.error;
    result.error = frame.error;
    return result;
  }
  if (frame.status == FrameStatus::NeedMore) return result;
  result.packet = frame.packet;
  const Errc errc = feed(frame.packet);
  if (errc != Errc::Ok) {
    result.status = FrameStatus::Error;
    result.error = errc;
    return result;
  }
  result.event = &event_;
  return result;
}

ScannedRun ResponseScanner::scan_run(std::string_view buffer) {
  ScannedRun run;
  for (;;) {
    if (error_ != Errc::Ok) {
      // Whole packets before the bad one are good: the caller relays them first.
      if (run.size == 0) {
        run.status = FrameStatus::Error;
        run.error = error_;
      }
      return run;
    }
    std::size_t last_skipped = 0;
    const std::size_t skipped = skip_plain_packets(buffer.substr(run.size), last_skipped);
    if (skipped > 0) {
      run.status = FrameStatus::Packet;
      run.last_packet = run.size + last_skipped;
      run.size += skipped;
    }
    if (take_result_set_eof(buffer.substr(run.size))) {
      run.status = FrameStatus::Packet;
      run.last_packet = run.size;
      run.size += kPacketHeaderSize + kEofPayloadSize;
      if (event_needs_caller()) {
        run.has_event = true;
        return run;
      }
      continue;
    }
    const FrameResult frame = framer_.next(buffer.substr(run.size));
    if (frame.status == FrameStatus::NeedMore) {
      run.needed = frame.needed;
      return run;
    }
    if (frame.status == FrameStatus::Error) {
      error_ = frame.error;
      continue;
    }
    if (feed(frame.packet) != Errc::Ok) continue;
    run.status = FrameStatus::Packet;
    run.last_packet = run.size;
    run.size += frame.packet.size();
    if (event_needs_caller()) {
      run.has_event = true;
      return run;
    }
  }
}

std::size_t ResponseScanner::skip_plain_packets(std::string_view buffer, std::size_t& last_packet) noexcept {
  // Anything unusual - an empty or >= 16 MiB packet, a sequence error, a packet not wholly buffered,
  // a packet skip_plain_packet() does not take - is left to the full classifier, which then sees
  // it exactly as it would have without this pass.
  if (in_continuation_) return 0;
  const std::size_t max_length = std::min<std::size_t>(limits_.max_packet_size, kMaxPayloadChunk - 1);
  const char* const begin = buffer.data();
  const std::size_t size = buffer.size();
  std::size_t at = 0;
  while (size - at > kPacketHeaderSize) {
    // Rows are most of the packets: they get a loop of their own, which ends this pass.
    if (state_ == State::Rows) return skip_rows(buffer, at, max_length, last_packet);
    const std::size_t length = header_payload_length(std::string_view(begin + at, kPacketHeaderSize));
    if (length == 0 || length > max_length || size - at - kPacketHeaderSize < length) break;
    const auto sequence = static_cast<std::uint8_t>(begin[at + 3]);
    if (sequence_checked_ && sequence != expected_sequence_) break;
    if (!skip_plain_packet(std::string_view(begin + at + kPacketHeaderSize, length))) break;
    expected_sequence_ = static_cast<std::uint8_t>(sequence + 1);
    last_packet = at;
    at += kPacketHeaderSize + length;
  }
  return at;
}

std::size_t ResponseScanner::skip_rows(std::string_view buffer, std::size_t at, std::size_t max_length,
                                       std::size_t& last_packet) noexcept {
  // The conditions of skip_plain_packets() for rows, on locals: a row starts with neither 0xFE
  // (maybe the terminator) nor 0xFF (ERR).
  const auto* const bytes = reinterpret_cast<const unsigned char*>(buffer.data());
  const std::size_t size = buffer.size();
  std::uint8_t sequence = expected_sequence_;
  std::uint64_t rows = 0;
  std::size_t last = last_packet;
  while (size - at > kPacketHeaderSize) {
    const unsigned char* const packet = bytes + at;
    const std::uint32_t header = packet_header(packet);
    const std::size_t length = header & kMaxPayloadChunk;
    if (length - 1 >= max_length || size - at - kPacketHeaderSize < length) break;  // also length == 0
    if (((header >> 24) != sequence && sequence_checked_) || packet[kPacketHeaderSize] >= kEofHeader) break;
    sequence = static_cast<std::uint8_t>((header >> 24) + 1);
    ++rows;
    last = at;
    at += kPacketHeaderSize + length;
  }
  expected_sequence_ = sequence;
  summary_.rows += rows;
  last_packet = last;
  return at;
}

bool ResponseScanner::skip_plain_packet(std::string_view payload) noexcept {
  const auto first = static_cast<std::uint8_t>(payload[0]);
  switch (state_) {
    case State::ResultStart:
      // The usual column count: one byte (below 0xFB), without a metadata flag after it.
      if (payload.size() != 1 || first == kOkHeader || first >= kLocalInfileHeader || first > limits_.max_columns ||
          (caps_ & (CLIENT_OPTIONAL_RESULTSET_METADATA | MARIADB_CLIENT_CACHE_METADATA))) {
        return false;
      }
      ++summary_.result_sets;
      remaining_ = first;
      state_ = State::ColumnDefs;
      return true;
    case State::ColumnDefs:
      if (first == kErrHeader) return false;
      // The last definition leads to ColumnsEof or Rows, never to the end of the response.
      if (--remaining_ == 0) after_column_defs();
      return true;
    case State::PrepareParams:
    case State::PrepareColumns:
      // The last one may end the response (COM_STMT_PREPARE under CLIENT_DEPRECATE_EOF).
      if (first == kErrHeader || remaining_ <= 1) return false;
      --remaining_;
      return true;
    case State::ColumnsEof:
      return skip_columns_eof(payload);
    default:
      return false;
  }
}

bool ResponseScanner::skip_columns_eof(std::string_view payload) noexcept {
  if (payload.size() != kEofPayloadSize || static_cast<std::uint8_t>(payload[0]) != kEofHeader ||
      !(caps_ & CLIENT_PROTOCOL_41)) {
    return false;
  }
  const std::uint16_t warnings = eof_int2(payload, 1);
  const StatusFlags status = eof_int2(payload, 3);
  // A cursor ends the response here: the caller must see that.
  if (opens_cursor(status)) return false;
  record_status(status, warnings);
  state_ = State::Rows;
  return true;
}

bool ResponseScanner::take_result_set_eof(std::string_view buffer) noexcept {
  // Only the 4.1 EOF_Packet; under CLIENT_DEPRECATE_EOF the terminator is an OK_Packet, decoded by
  // the classifier.
  constexpr std::size_t kWhole = kPacketHeaderSize + kEofPayloadSize;
  if (state_ != State::Rows || in_continuation_ || buffer.size() < kWhole ||
      (caps_ & (CLIENT_DEPRECATE_EOF | CLIENT_PROTOCOL_41)) != CLIENT_PROTOCOL_41) {
    return false;
  }
  const auto sequence = static_cast<std::uint8_t>(buffer[3]);
  if (header_payload_length(buffer) != kEofPayloadSize || (sequence_checked_ && sequence != expected_sequence_) ||
      static_cast<std::uint8_t>(buffer[kPacketHeaderSize]) != kEofHeader || limits_.max_packet_size < kEofPayloadSize) {
    return false;
  }
  const std::string_view payload = buffer.substr(kPacketHeaderSize, kEofPayloadSize);
  expected_sequence_ = static_cast<std::uint8_t>(sequence + 1);
  event_ = ResponseEvent{};
  event_.phase = ResponsePhase::ResultSetEnd;
  event_.ok.header = kEofHeader;
  event_.ok.warnings = eof_int2(payload, 1);
  event_.ok.status_flags = eof_int2(payload, 3);
  event_.status_flags = event_.ok.status_flags;
  record_status(event_.ok.status_flags, event_.ok.warnings);
  end_result();
  return true;
}

bool run_reports(ResponsePhase phase, bool complete, bool awaiting_client) noexcept {
  if (complete || awaiting_client) return true;
  switch (phase) {
    case ResponsePhase::ColumnCount:
    case ResponsePhase::ColumnDefinition:
    case ResponsePhase::ColumnsEof:
    case ResponsePhase::Row:
    case ResponsePhase::Continuation:
    case ResponsePhase::Progress:
    case ResponsePhase::ParamDefinition:
    case ResponsePhase::ParamsEof:
      return false;
    default:
      return true;
  }
}

bool ResponseScanner::event_needs_caller() const noexcept {
  return run_reports(event_.phase, event_.complete, event_.awaiting_client);
}

void ResponseScanner::resume(std::uint8_t next_sequence_id) noexcept {
  if (!awaiting_client()) return;
  state_ = resume_state_;
  expected_sequence_ = next_sequence_id;
}

Errc ResponseScanner::classify(std::string_view payload, bool continues) {
  // Only rows, definitions and free-form strings can legitimately span wire packets; a status
  // packet that does could not be decoded from its first chunk and is refused.
  event_ = ResponseEvent{};
  Errc errc = Errc::Ok;
  switch (state_) {
    case State::ResultStart: errc = on_result_start(payload); break;
    case State::ColumnDefs: errc = on_definition(payload, ResponsePhase::ColumnDefinition); break;
    case State::ColumnsEof: errc = on_definitions_eof(payload, ResponsePhase::ColumnsEof); break;
    case State::Rows: errc = on_row(payload); break;
    case State::PrepareStart: errc = on_prepare_ok(payload); break;
    case State::PrepareParams: errc = on_definition(payload, ResponsePhase::ParamDefinition); break;
    case State::PrepareParamsEof: errc = on_definitions_eof(payload, ResponsePhase::ParamsEof); break;
    case State::PrepareColumns: errc = on_definition(payload, ResponsePhase::ColumnDefinition); break;
    case State::PrepareColumnsEof: errc = on_definitions_eof(payload, ResponsePhase::ColumnsEof); break;
    case State::FieldList: errc = on_field_list(payload); break;
    case State::Statistics: errc = on_statistics(payload); break;
    case State::Simple: errc = on_simple(payload); break;
    case State::ChangeUser: errc = on_change_user(payload); break;
    case State::AwaitClient:
    case State::Done: return Errc::UnexpectedPacket;
  }
  if (errc != Errc::Ok) return errc;
  if (continues) {
    switch (event_.phase) {
      case ResponsePhase::Row:
      case ResponsePhase::ColumnDefinition:
      case ResponsePhase::ParamDefinition:
      case ResponsePhase::Statistics:
      case ResponsePhase::LocalInfileRequest:
      case ResponsePhase::AuthMoreData:
        break;
      default:
        return Errc::UnexpectedPacket;
    }
  }
  return Errc::Ok;
}

bool ResponseScanner::is_progress(std::string_view payload) const noexcept {
  return (caps_ & MARIADB_CLIENT_PROGRESS) && payload.size() >= 3 &&
         first_byte(payload) == kErrHeader && static_cast<std::uint8_t>(payload[1]) == 0xff &&
         static_cast<std::uint8_t>(payload[2]) == 0xff;
}

Errc ResponseScanner::on_err(std::string_view payload) {
  if (is_progress(payload)) {
    event_.phase = ResponsePhase::Progress;
    return Errc::Ok;
  }
  Result<ERR_Packet> err = decode_err_packet(payload, caps_);
  if (!err) return err.error();
  event_.phase = ResponsePhase::Err;
  event_.err = *err;
  event_.complete = true;
  summary_.failed = true;
  summary_.error_code = err->error_code;
  summary_.sql_state.assign(err->sql_state);
  summary_.error_message.assign(err->error_message);
  state_ = State::Done;
  return Errc::Ok;
}

Errc ResponseScanner::on_statistics(std::string_view payload) {
  if (first_byte(payload) == kErrHeader) return on_err(payload);
  event_.phase = ResponsePhase::Statistics;
  event_.data = payload;
  event_.complete = true;
  state_ = State::Done;
  return Errc::Ok;
}

void ResponseScanner::record_status(StatusFlags status, std::uint16_t warnings) {
  summary_.has_status = true;
  summary_.status_flags = status;
  summary_.warnings = warnings;
}

void ResponseScanner::record_ok(const OK_Packet& ok) {
  record_status(ok.status_flags, ok.warnings);
  summary_.affected_rows = ok.affected_rows;
  summary_.last_insert_id = ok.last_insert_id;
  if ((ok.status_flags & SERVER_SESSION_STATE_CHANGED) && !ok.session_state_info.empty()) {
    summary_.session_state_info.append(ok.session_state_info);
  }
}

void ResponseScanner::end_result() {
  // Multi-resultset: a terminal packet with SERVER_MORE_RESULTS_EXISTS is followed by another result.
  if (event_.status_flags & SERVER_MORE_RESULTS_EXISTS) {
    state_ = State::ResultStart;
  } else {
    state_ = State::Done;
    event_.complete = true;
  }
}

Errc ResponseScanner::on_result_start(std::string_view payload) {
  switch (first_byte(payload)) {
    case kOkHeader: {
      if (payload.empty()) return Errc::Truncated;
      Result<OK_Packet> ok = decode_ok_packet(payload, caps_);
      if (!ok) return ok.error();
      event_.phase = ResponsePhase::Ok;
      event_.ok = *ok;
      event_.status_flags = ok->status_flags;
      record_ok(*ok);
      ++summary_.result_sets;
      end_result();
      return Errc::Ok;
    }
    case kErrHeader:
      return on_err(payload);
    case kLocalInfileHeader:
      // LOCAL INFILE Request: a text query's, or MariaDB's answer to an execute of a prepared LOAD
      // DATA LOCAL INFILE.
      if (command_ != Command::COM_QUERY && command_ != Command::COM_STMT_EXECUTE) return Errc::UnexpectedPacket;
      event_.phase = ResponsePhase::LocalInfileRequest;
      event_.data = payload.substr(1);
      event_.awaiting_client = true;
      state_ = State::AwaitClient;
      resume_state_ = State::ResultStart;
      return Errc::Ok;
    case kEofHeader:
      return Errc::UnexpectedPacket;
    default:
      return on_column_count(payload);
  }
}

Errc ResponseScanner::on_column_count(std::string_view payload) {
  Reader r(payload);
  const std::uint64_t count = r.lenenc_int();
  bool metadata_follows = true;
  // MySQL CLIENT_OPTIONAL_RESULTSET_METADATA / MariaDB MARIADB_CLIENT_CACHE_METADATA add a byte
  // saying whether column definitions follow (0 = they do not).
  if (caps_ & (CLIENT_OPTIONAL_RESULTSET_METADATA | MARIADB_CLIENT_CACHE_METADATA)) metadata_follows = r.int1() != 0;
  if (!r.ok()) return r.error();
  if (count == 0) return Errc::BadValue;
  if (count > limits_.max_columns) return Errc::LimitExceeded;
  event_.phase = ResponsePhase::ColumnCount;
  event_.column_count = count;
  ++summary_.result_sets;
  remaining_ = metadata_follows ? count : 0;
  if (remaining_ > 0) {
    state_ = State::ColumnDefs;
  } else {
    after_column_defs();
  }
  return Errc::Ok;
}

void ResponseScanner::after_column_defs() {
  const bool eof = !(caps_ & CLIENT_DEPRECATE_EOF);
  switch (state_) {
    case State::PrepareColumns:
      state_ = eof ? State::PrepareColumnsEof : State::Done;
      break;
    case State::PrepareParams:
      if (eof) {
        state_ = State::PrepareParamsEof;
      } else {
        after_prepare_params();
      }
      break;
    default:
      state_ = eof ? State::ColumnsEof : State::Rows;
      break;
  }
}

void ResponseScanner::after_prepare_params() {
  const COM_STMT_PREPARE_OK& ok = summary_.prepare_ok;
  if (ok.num_columns > 0 && ok.metadata_follows) {
    remaining_ = ok.num_columns;
    state_ = State::PrepareColumns;
  } else {
    state_ = State::Done;
  }
}

Errc ResponseScanner::on_definition(std::string_view payload, ResponsePhase phase) {
  if (first_byte(payload) == kErrHeader) return on_err(payload);
  if (payload.empty()) return Errc::Truncated;
  event_.phase = phase;
  if (--remaining_ == 0) {
    after_column_defs();
    event_.complete = state_ == State::Done;
  }
  return Errc::Ok;
}

Errc ResponseScanner::on_definitions_eof(std::string_view payload, ResponsePhase phase) {
  if (first_byte(payload) == kErrHeader) return on_err(payload);
  Result<EOF_Packet> eof = decode_eof_packet(payload, caps_);
  if (!eof) return eof.error();
  event_.phase = phase;
  event_.status_flags = eof->status_flags;
  event_.ok.header = kEofHeader;
  event_.ok.status_flags = eof->status_flags;
  event_.ok.warnings = eof->warnings;
  record_status(eof->status_flags, eof->warnings);
  switch (state_) {
    case State::PrepareParamsEof:
      after_prepare_params();
      break;
    case State::PrepareColumnsEof:
      state_ = State::Done;
      break;
    default:
      // A cursor opened by COM_STMT_EXECUTE: no rows follow; they come with COM_STMT_FETCH.
      if (opens_cursor(eof->status_flags)) {
        state_ = State::Done;
      } else {
        state_ = State::Rows;
      }
      break;
  }
  event_.complete = state_ == State::Done;
  return Errc::Ok;
}

Errc ResponseScanner::on_terminator(std::string_view payload, ResponsePhase phase) {
  event_.phase = phase;
  // Under CLIENT_DEPRECATE_EOF the terminator is an OK_Packet with the 0xFE header; a 0xFE packet
  // too short to be one is still read as a (legacy) EOF_Packet.
  if ((caps_ & CLIENT_DEPRECATE_EOF) && payload.size() >= kMinOkSize) {
    Result<OK_Packet> ok = decode_ok_packet(payload, caps_);
    if (!ok) return ok.error();
    event_.ok = *ok;
    record_ok(*ok);
  } else {
    Result<EOF_Packet> eof = decode_eof_packet(payload, caps_);
    if (!eof) return eof.error();
    event_.ok.header = kEofHeader;
    event_.ok.status_flags = eof->status_flags;
    event_.ok.warnings = eof->warnings;
    record_status(eof->status_flags, eof->warnings);
  }
  event_.status_flags = event_.ok.status_flags;
  return Errc::Ok;
}

Errc ResponseScanner::on_row(std::string_view payload) {
  if (first_byte(payload) == kErrHeader) return on_err(payload);
  if (is_result_set_terminator(payload, caps_)) {
    const Errc errc = on_terminator(payload, ResponsePhase::ResultSetEnd);
    if (errc == Errc::Ok) end_result();
    return errc;
  }
  if (payload.empty()) return Errc::Truncated;
  event_.phase = ResponsePhase::Row;
  ++summary_.rows;
  return Errc::Ok;
}

Errc ResponseScanner::on_prepare_ok(std::string_view payload) {
  if (first_byte(payload) == kErrHeader) return on_err(payload);
  Result<COM_STMT_PREPARE_OK> ok = decode_com_stmt_prepare_ok(payload, caps_);
  if (!ok) return ok.error();
  if (ok->num_columns > limits_.max_columns || ok->num_params > limits_.max_params) return Errc::LimitExceeded;
  summary_.prepare_ok = *ok;
  summary_.warnings = ok->warning_count;  // the parse warned (a deprecated type...): SHOW WARNINGS has them
  ++summary_.result_sets;
  event_.phase = ResponsePhase::PrepareOk;
  event_.prepare_ok = *ok;
  if (ok->num_params > 0 && ok->metadata_follows) {
    remaining_ = ok->num_params;
    state_ = State::PrepareParams;
  } else {
    after_prepare_params();
  }
  event_.complete = state_ == State::Done;
  return Errc::Ok;
}

Errc ResponseScanner::on_field_list(std::string_view payload) {
  if (first_byte(payload) == kErrHeader) return on_err(payload);
  if (is_result_set_terminator(payload, caps_)) {
    const Errc errc = on_terminator(payload, ResponsePhase::ResultSetEnd);
    if (errc == Errc::Ok) {
      state_ = State::Done;
      event_.complete = true;
    }
    return errc;
  }
  if (payload.empty()) return Errc::Truncated;
  event_.phase = ResponsePhase::ColumnDefinition;
  return Errc::Ok;
}

Errc ResponseScanner::on_simple(std::string_view payload) {
  switch (first_byte(payload)) {
    case kErrHeader:
      return on_err(payload);
    case kOkHeader: {
      if (payload.empty()) return Errc::Truncated;
      Result<OK_Packet> ok = decode_ok_packet(payload, caps_);
      if (!ok) return ok.error();
      event_.ok = *ok;
      event_.status_flags = ok->status_flags;
      record_ok(*ok);
      break;
    }
    case kEofHeader: {
      // COM_SET_OPTION and COM_DEBUG answer with EOF_Packet (a 0xFE OK_Packet under DEPRECATE_EOF).
      const Errc errc = on_terminator(payload, ResponsePhase::Ok);
      if (errc != Errc::Ok) return errc;
      break;
    }
    default:
      return Errc::UnexpectedPacket;
  }
  event_.phase = ResponsePhase::Ok;
  event_.complete = true;
  ++summary_.result_sets;
  state_ = State::Done;
  return Errc::Ok;
}

Errc ResponseScanner::on_change_user(std::string_view payload) {
  switch (classify_auth_packet(payload)) {
    case AuthPacketKind::Ok: {
      Result<OK_Packet> ok = decode_ok_packet(payload, caps_);
      if (!ok) return ok.error();
      event_.phase = ResponsePhase::Ok;
      event_.ok = *ok;
      event_.status_flags = ok->status_flags;
      event_.complete = true;
      record_ok(*ok);
      state_ = State::Done;
      return Errc::Ok;
    }
    case AuthPacketKind::Err:
      return on_err(payload);
    case AuthPacketKind::AuthSwitchRequest:
      event_.phase = ResponsePhase::AuthSwitchRequest;
      event_.data = payload.substr(1);
      event_.awaiting_client = true;
      break;
    case AuthPacketKind::AuthMoreData:
      event_.phase = ResponsePhase::AuthMoreData;
      event_.data = payload.substr(1);
      // caching_sha2_password's fast-auth success is followed by the server's OK, not a client reply.
      event_.awaiting_client = !(event_.data.size() == 1 &&
                                 static_cast<std::uint8_t>(event_.data[0]) == kCachingSha2FastAuthSuccess);
      break;
    case AuthPacketKind::Unknown:
      return Errc::UnexpectedPacket;
  }
  if (event_.awaiting_client) {
    state_ = State::AwaitClient;
    resume_state_ = State::ChangeUser;
  }
  return Errc::Ok;
}

}  // namespace corral::mysql
