#include "protocols/mysql/response.h"

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

void ResponseScanner::reset(Command command, std::uint8_t first_sequence_id) {
  command_ = command;
  state_ = initial_state();
  resume_state_ = State::ResultStart;
  remaining_ = 0;
  expected_sequence_ = first_sequence_id;
  in_continuation_ = false;
  error_ = Errc::Ok;
  framer_.reset();
  std::string keep_state = std::move(summary_.session_state_info);
  std::string keep_sql_state = std::move(summary_.sql_state);
  std::string keep_message = std::move(summary_.error_message);
  keep_state.clear();
  keep_sql_state.clear();
  keep_message.clear();
  summary_ = ResponseSummary{};
  summary_.session_state_info = std::move(keep_state);
  summary_.sql_state = std::move(keep_sql_state);
  summary_.error_message = std::move(keep_message);
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

Result<ResponseEvent> ResponseScanner::fail(Errc errc) noexcept {
  error_ = errc;
  return errc;
}

Result<ResponseEvent> ResponseScanner::on_packet(const WirePacket& packet) {
  if (error_ != Errc::Ok) return error_;
  if (packet.wire.size() < kPacketHeaderSize) return fail(Errc::Truncated);
  // The chunks of a logical packet belong to it even when its first chunk ended the response.
  if (!in_continuation_) {
    if (state_ == State::Done) return fail(Errc::ResponseComplete);
    if (state_ == State::AwaitClient) return fail(Errc::UnexpectedPacket);
  }
  if (packet.sequence_id != expected_sequence_) return fail(Errc::BadSequence);
  ++expected_sequence_;
  const bool continues = packet.continues();
  if (in_continuation_) {
    in_continuation_ = continues;
    ResponseEvent event;
    event.phase = ResponsePhase::Continuation;
    event.complete = complete();
    event.awaiting_client = awaiting_client();
    return event;
  }
  Result<ResponseEvent> event = classify(packet.payload(), continues);
  if (!event) return fail(event.error());
  in_continuation_ = continues;
  if (continues) {
    // Completion (or the hand-over to the client) happens with the logical packet's last chunk.
    event->complete = false;
    event->awaiting_client = false;
  }
  return event;
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
  Result<ResponseEvent> event = on_packet(frame.packet);
  if (!event) {
    result.status = FrameStatus::Error;
    result.error = event.error();
    return result;
  }
  result.event = *event;
  return result;
}

void ResponseScanner::resume(std::uint8_t next_sequence_id) noexcept {
  if (!awaiting_client()) return;
  state_ = resume_state_;
  expected_sequence_ = next_sequence_id;
}

Result<ResponseEvent> ResponseScanner::classify(std::string_view payload, bool continues) {
  // Only rows, definitions and free-form strings can legitimately span wire packets; a status
  // packet that does could not be decoded from its first chunk and is refused.
  Result<ResponseEvent> event = ResponseEvent{};
  switch (state_) {
    case State::ResultStart: event = on_result_start(payload); break;
    case State::ColumnDefs: event = on_definition(payload, ResponsePhase::ColumnDefinition); break;
    case State::ColumnsEof: event = on_definitions_eof(payload, ResponsePhase::ColumnsEof); break;
    case State::Rows: event = on_row(payload); break;
    case State::PrepareStart: event = on_prepare_ok(payload); break;
    case State::PrepareParams: event = on_definition(payload, ResponsePhase::ParamDefinition); break;
    case State::PrepareParamsEof: event = on_definitions_eof(payload, ResponsePhase::ParamsEof); break;
    case State::PrepareColumns: event = on_definition(payload, ResponsePhase::ColumnDefinition); break;
    case State::PrepareColumnsEof: event = on_definitions_eof(payload, ResponsePhase::ColumnsEof); break;
    case State::FieldList: event = on_field_list(payload); break;
    case State::Statistics:
      if (first_byte(payload) == kErrHeader) {
        event = on_err(payload);
      } else {
        ResponseEvent stats;
        stats.phase = ResponsePhase::Statistics;
        stats.data = payload;
        stats.complete = true;
        state_ = State::Done;
        event = stats;
      }
      break;
    case State::Simple: event = on_simple(payload); break;
    case State::ChangeUser: event = on_change_user(payload); break;
    case State::AwaitClient:
    case State::Done: return Errc::UnexpectedPacket;
  }
  if (!event) return event;
  if (continues) {
    switch (event->phase) {
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
  return event;
}

bool ResponseScanner::is_progress(std::string_view payload) const noexcept {
  return (caps_ & MARIADB_CLIENT_PROGRESS) && payload.size() >= 3 &&
         first_byte(payload) == kErrHeader && static_cast<std::uint8_t>(payload[1]) == 0xff &&
         static_cast<std::uint8_t>(payload[2]) == 0xff;
}

Result<ResponseEvent> ResponseScanner::on_err(std::string_view payload) {
  ResponseEvent event;
  if (is_progress(payload)) {
    event.phase = ResponsePhase::Progress;
    return event;
  }
  Result<ERR_Packet> err = decode_err_packet(payload, caps_);
  if (!err) return err.error();
  event.phase = ResponsePhase::Err;
  event.err = *err;
  event.complete = true;
  summary_.failed = true;
  summary_.error_code = err->error_code;
  summary_.sql_state.assign(err->sql_state);
  summary_.error_message.assign(err->error_message);
  state_ = State::Done;
  return event;
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

void ResponseScanner::end_result(ResponseEvent& event) {
  // Multi-resultset: a terminal packet with SERVER_MORE_RESULTS_EXISTS is followed by another result.
  if (event.status_flags & SERVER_MORE_RESULTS_EXISTS) {
    state_ = State::ResultStart;
  } else {
    state_ = State::Done;
    event.complete = true;
  }
}

Result<ResponseEvent> ResponseScanner::on_result_start(std::string_view payload) {
  switch (first_byte(payload)) {
    case kOkHeader: {
      if (payload.empty()) return Errc::Truncated;
      Result<OK_Packet> ok = decode_ok_packet(payload, caps_);
      if (!ok) return ok.error();
      ResponseEvent event;
      event.phase = ResponsePhase::Ok;
      event.ok = *ok;
      event.status_flags = ok->status_flags;
      record_ok(*ok);
      ++summary_.result_sets;
      end_result(event);
      return event;
    }
    case kErrHeader:
      return on_err(payload);
    case kLocalInfileHeader: {
      // LOCAL INFILE Request: only a text query can ask for it.
      if (command_ != Command::COM_QUERY) return Errc::UnexpectedPacket;
      ResponseEvent event;
      event.phase = ResponsePhase::LocalInfileRequest;
      event.data = payload.substr(1);
      event.awaiting_client = true;
      state_ = State::AwaitClient;
      resume_state_ = State::ResultStart;
      return event;
    }
    case kEofHeader:
      return Errc::UnexpectedPacket;
    default:
      return on_column_count(payload);
  }
}

Result<ResponseEvent> ResponseScanner::on_column_count(std::string_view payload) {
  Reader r(payload);
  const std::uint64_t count = r.lenenc_int();
  bool metadata_follows = true;
  // MySQL CLIENT_OPTIONAL_RESULTSET_METADATA / MariaDB MARIADB_CLIENT_CACHE_METADATA add a byte
  // saying whether column definitions follow (0 = they do not).
  if (caps_ & (CLIENT_OPTIONAL_RESULTSET_METADATA | MARIADB_CLIENT_CACHE_METADATA)) metadata_follows = r.int1() != 0;
  if (!r.ok()) return r.error();
  if (count == 0) return Errc::BadValue;
  if (count > limits_.max_columns) return Errc::LimitExceeded;
  ResponseEvent event;
  event.phase = ResponsePhase::ColumnCount;
  event.column_count = count;
  ++summary_.result_sets;
  remaining_ = metadata_follows ? count : 0;
  if (remaining_ > 0) {
    state_ = State::ColumnDefs;
  } else {
    after_column_defs();
  }
  return event;
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

Result<ResponseEvent> ResponseScanner::on_definition(std::string_view payload, ResponsePhase phase) {
  if (first_byte(payload) == kErrHeader) return on_err(payload);
  if (payload.empty()) return Errc::Truncated;
  ResponseEvent event;
  event.phase = phase;
  if (--remaining_ == 0) {
    after_column_defs();
    event.complete = state_ == State::Done;
  }
  return event;
}

Result<ResponseEvent> ResponseScanner::on_definitions_eof(std::string_view payload, ResponsePhase phase) {
  if (first_byte(payload) == kErrHeader) return on_err(payload);
  Result<EOF_Packet> eof = decode_eof_packet(payload, caps_);
  if (!eof) return eof.error();
  ResponseEvent event;
  event.phase = phase;
  event.status_flags = eof->status_flags;
  event.ok.header = kEofHeader;
  event.ok.status_flags = eof->status_flags;
  event.ok.warnings = eof->warnings;
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
      if (command_ == Command::COM_STMT_EXECUTE && (eof->status_flags & SERVER_STATUS_CURSOR_EXISTS)) {
        state_ = State::Done;
      } else {
        state_ = State::Rows;
      }
      break;
  }
  event.complete = state_ == State::Done;
  return event;
}

Result<ResponseEvent> ResponseScanner::on_terminator(std::string_view payload, ResponsePhase phase) {
  ResponseEvent event;
  event.phase = phase;
  // Under CLIENT_DEPRECATE_EOF the terminator is an OK_Packet with the 0xFE header; a 0xFE packet
  // too short to be one is still read as a (legacy) EOF_Packet.
  if ((caps_ & CLIENT_DEPRECATE_EOF) && payload.size() >= kMinOkSize) {
    Result<OK_Packet> ok = decode_ok_packet(payload, caps_);
    if (!ok) return ok.error();
    event.ok = *ok;
    record_ok(*ok);
  } else {
    Result<EOF_Packet> eof = decode_eof_packet(payload, caps_);
    if (!eof) return eof.error();
    event.ok.header = kEofHeader;
    event.ok.status_flags = eof->status_flags;
    event.ok.warnings = eof->warnings;
    record_status(eof->status_flags, eof->warnings);
  }
  event.status_flags = event.ok.status_flags;
  return event;
}

Result<ResponseEvent> ResponseScanner::on_row(std::string_view payload) {
  if (first_byte(payload) == kErrHeader) return on_err(payload);
  if (is_result_set_terminator(payload, caps_)) {
    Result<ResponseEvent> event = on_terminator(payload, ResponsePhase::ResultSetEnd);
    if (event) end_result(*event);
    return event;
  }
  if (payload.empty()) return Errc::Truncated;
  ResponseEvent event;
  event.phase = ResponsePhase::Row;
  ++summary_.rows;
  return event;
}

Result<ResponseEvent> ResponseScanner::on_prepare_ok(std::string_view payload) {
  if (first_byte(payload) == kErrHeader) return on_err(payload);
  Result<COM_STMT_PREPARE_OK> ok = decode_com_stmt_prepare_ok(payload, caps_);
  if (!ok) return ok.error();
  if (ok->num_columns > limits_.max_columns || ok->num_params > limits_.max_params) return Errc::LimitExceeded;
  summary_.prepare_ok = *ok;
  ++summary_.result_sets;
  ResponseEvent event;
  event.phase = ResponsePhase::PrepareOk;
  event.prepare_ok = *ok;
  if (ok->num_params > 0 && ok->metadata_follows) {
    remaining_ = ok->num_params;
    state_ = State::PrepareParams;
  } else {
    after_prepare_params();
  }
  event.complete = state_ == State::Done;
  return event;
}

Result<ResponseEvent> ResponseScanner::on_field_list(std::string_view payload) {
  if (first_byte(payload) == kErrHeader) return on_err(payload);
  if (is_result_set_terminator(payload, caps_)) {
    Result<ResponseEvent> event = on_terminator(payload, ResponsePhase::ResultSetEnd);
    if (event) {
      state_ = State::Done;
      event->complete = true;
    }
    return event;
  }
  if (payload.empty()) return Errc::Truncated;
  ResponseEvent event;
  event.phase = ResponsePhase::ColumnDefinition;
  return event;
}

Result<ResponseEvent> ResponseScanner::on_simple(std::string_view payload) {
  Result<ResponseEvent> event = ResponseEvent{};
  switch (first_byte(payload)) {
    case kErrHeader:
      return on_err(payload);
    case kOkHeader: {
      if (payload.empty()) return Errc::Truncated;
      Result<OK_Packet> ok = decode_ok_packet(payload, caps_);
      if (!ok) return ok.error();
      event->ok = *ok;
      event->status_flags = ok->status_flags;
      record_ok(*ok);
      break;
    }
    case kEofHeader:
      // COM_SET_OPTION and COM_DEBUG answer with EOF_Packet (a 0xFE OK_Packet under DEPRECATE_EOF).
      event = on_terminator(payload, ResponsePhase::Ok);
      if (!event) return event;
      break;
    default:
      return Errc::UnexpectedPacket;
  }
  event->phase = ResponsePhase::Ok;
  event->complete = true;
  ++summary_.result_sets;
  state_ = State::Done;
  return event;
}

Result<ResponseEvent> ResponseScanner::on_change_user(std::string_view payload) {
  ResponseEvent event;
  switch (classify_auth_packet(payload)) {
    case AuthPacketKind::Ok: {
      Result<OK_Packet> ok = decode_ok_packet(payload, caps_);
      if (!ok) return ok.error();
      event.phase = ResponsePhase::Ok;
      event.ok = *ok;
      event.status_flags = ok->status_flags;
      event.complete = true;
      record_ok(*ok);
      state_ = State::Done;
      return event;
    }
    case AuthPacketKind::Err:
      return on_err(payload);
    case AuthPacketKind::AuthSwitchRequest:
      event.phase = ResponsePhase::AuthSwitchRequest;
      event.data = payload.substr(1);
      event.awaiting_client = true;
      break;
    case AuthPacketKind::AuthMoreData:
      event.phase = ResponsePhase::AuthMoreData;
      event.data = payload.substr(1);
      // caching_sha2_password's fast-auth success is followed by the server's OK, not a client reply.
      event.awaiting_client = !(event.data.size() == 1 &&
                                static_cast<std::uint8_t>(event.data[0]) == kCachingSha2FastAuthSuccess);
      break;
    case AuthPacketKind::Unknown:
      return Errc::UnexpectedPacket;
  }
  if (event.awaiting_client) {
    state_ = State::AwaitClient;
    resume_state_ = State::ChangeUser;
  }
  return event;
}

}  // namespace corral::mysql
