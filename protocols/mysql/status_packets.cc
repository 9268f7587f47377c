#include "protocols/mysql/status_packets.h"

#include <algorithm>
#include <cctype>

#include "protocols/mysql/packet.h"
#include "protocols/mysql/primitives.h"

namespace corral::mysql {

bool is_result_set_terminator(std::string_view payload, CapabilityFlags caps) noexcept {
  if (payload.empty() || static_cast<std::uint8_t>(payload[0]) != kEofHeader) return false;
  // Result Set terminator rules: EOF_Packet is < 9 bytes; the 0xFE OK_Packet is < 0xFFFFFF bytes
  // (a text row starting with 0xFE needs a >= 16 MiB value and so fills a whole wire packet).
  if (caps & CLIENT_DEPRECATE_EOF) return payload.size() < kMaxPayloadChunk;
  return payload.size() < 9;
}

Result<OK_Packet> decode_ok_packet(std::string_view payload, CapabilityFlags caps) {
  Reader r(payload);
  OK_Packet ok;
  ok.header = r.int1();
  if (r.ok() && ok.header != kOkHeader && ok.header != kEofHeader) return Errc::UnexpectedPacket;
  ok.affected_rows = r.lenenc_int();
  ok.last_insert_id = r.lenenc_int();
  if (caps & CLIENT_PROTOCOL_41) {
    ok.status_flags = r.int2();
    ok.warnings = r.int2();
  } else if (caps & CLIENT_TRANSACTIONS) {
    ok.status_flags = r.int2();
  }
  if (caps & CLIENT_SESSION_TRACK) {
    // Servers omit the info string when it is empty and no state changed: absence is not an error.
    if (!r.at_end()) ok.info = r.lenenc_string();
    if ((ok.status_flags & SERVER_SESSION_STATE_CHANGED) && !r.at_end()) {
      ok.session_state_info = r.lenenc_string();
    }
  } else {
    ok.info = r.rest();
  }
  if (!r.ok()) return r.error();
  return ok;
}

void encode_ok_packet(std::string& out, const OK_Packet& ok, CapabilityFlags caps) {
  Writer w(out);
  w.int1(ok.header == kEofHeader ? kEofHeader : kOkHeader);
  w.lenenc_int(ok.affected_rows);
  w.lenenc_int(ok.last_insert_id);
  if (caps & CLIENT_PROTOCOL_41) {
    w.int2(ok.status_flags);
    w.int2(ok.warnings);
  } else if (caps & CLIENT_TRANSACTIONS) {
    w.int2(ok.status_flags);
  }
  if (caps & CLIENT_SESSION_TRACK) {
    const bool state_changed = (ok.status_flags & SERVER_SESSION_STATE_CHANGED) != 0;
    if (state_changed || !ok.info.empty()) w.lenenc_string(ok.info);
    if (state_changed) w.lenenc_string(ok.session_state_info);
  } else {
    w.bytes(ok.info);
  }
}

Result<ERR_Packet> decode_err_packet(std::string_view payload, CapabilityFlags caps) {
  Reader r(payload);
  ERR_Packet err;
  if (r.int1() != kErrHeader) return r.ok() ? Errc::UnexpectedPacket : r.error();
  err.error_code = r.int2();
  if ((caps & CLIENT_PROTOCOL_41) && r.peek() == '#') {
    r.skip(1);
    err.sql_state = r.fixed_string(5);
  }
  err.error_message = r.rest();
  if (!r.ok()) return r.error();
  return err;
}

void encode_err_packet(std::string& out, const ERR_Packet& err, CapabilityFlags caps) {
  Writer w(out);
  w.int1(kErrHeader);
  w.int2(err.error_code);
  if (caps & CLIENT_PROTOCOL_41) {
    w.int1('#');
    w.bytes(err.sql_state.size() == 5 ? err.sql_state : std::string_view("HY000"));
  }
  w.bytes(err.error_message);
}

std::string make_err(std::uint16_t code, std::string_view sql_state, std::string_view message) {
  std::string out;
  encode_err_packet(out, ERR_Packet{code, sql_state, message}, CLIENT_PROTOCOL_41);
  return out;
}

std::string make_err(const ErrorSpec& spec, std::string_view message) {
  return make_err(spec.code, spec.sql_state, message.empty() ? spec.message : message);
}

Result<EOF_Packet> decode_eof_packet(std::string_view payload, CapabilityFlags caps) {
  if (!is_eof_packet(payload)) return payload.empty() ? Errc::Truncated : Errc::UnexpectedPacket;
  Reader r(payload);
  r.skip(1);
  EOF_Packet eof;
  if (caps & CLIENT_PROTOCOL_41) {
    eof.warnings = r.int2();
    eof.status_flags = r.int2();
  }
  if (!r.ok()) return r.error();
  return eof;
}

void encode_eof_packet(std::string& out, const EOF_Packet& eof, CapabilityFlags caps) {
  Writer w(out);
  w.int1(kEofHeader);
  if (caps & CLIENT_PROTOCOL_41) {
    w.int2(eof.warnings);
    w.int2(eof.status_flags);
  }
}

namespace {

// One entry's data, by type (Session State Information). Most carry a string<lenenc> inside the
// entry's own string<lenenc>; SESSION_TRACK_STATE_CHANGE carries the bare byte '1'.
Errc decode_session_entry(SessionTrackType type, std::string_view data, SessionStateChanges& out) {
  Reader d(data);
  switch (type) {
    case SessionTrackType::SESSION_TRACK_SYSTEM_VARIABLES: {
      const std::string_view name = d.lenenc_string();
      const std::string_view value = d.lenenc_string();
      if (d.ok()) out.system_variables.emplace_back(name, value);
      break;
    }
    case SessionTrackType::SESSION_TRACK_SCHEMA: {
      const std::string_view schema = d.lenenc_string();
      if (d.ok()) out.schema.emplace(schema);
      break;
    }
    case SessionTrackType::SESSION_TRACK_STATE_CHANGE:
      // WL#6885: "a single 1/0 byte payload"; accept it also wrapped as string<lenenc>.
      out.state_changed = data == "1" || data == std::string_view("\x01" "1", 2);
      break;
    case SessionTrackType::SESSION_TRACK_GTIDS: {
      d.int1();  // encoding specification (0: plain text GTID set)
      const std::string_view gtids = d.lenenc_string();
      if (d.ok()) out.gtids.emplace(gtids);
      break;
    }
    case SessionTrackType::SESSION_TRACK_TRANSACTION_CHARACTERISTICS: {
      const std::string_view chars = d.lenenc_string();
      if (d.ok()) out.transaction_characteristics.emplace(chars);
      break;
    }
    case SessionTrackType::SESSION_TRACK_TRANSACTION_STATE: {
      const std::string_view state = d.lenenc_string();
      if (d.ok()) out.transaction_state.emplace(state);
      break;
    }
    default:
      ++out.unknown_entries;
      break;
  }
  return d.error();
}

void append_entry(std::string& out, SessionTrackType type, std::string_view data) {
  Writer w(out);
  w.int1(static_cast<std::uint8_t>(type));
  w.lenenc_string(data);
}

std::string lenenc_wrapped(std::string_view s) {
  std::string data;
  Writer(data).lenenc_string(s);
  return data;
}

}  // namespace

Result<SessionStateChanges> decode_session_state(std::string_view session_state_info) {
  SessionStateChanges changes;
  Reader r(session_state_info);
  while (r.ok() && !r.at_end()) {
    const auto type = static_cast<SessionTrackType>(r.int1());
    const std::string_view data = r.lenenc_string();
    if (!r.ok()) break;
    if (const Errc errc = decode_session_entry(type, data, changes); errc != Errc::Ok) return errc;
  }
  if (!r.ok()) return r.error();
  return changes;
}

void encode_session_state(std::string& out, const SessionStateChanges& changes) {
  for (const auto& [name, value] : changes.system_variables) {
    std::string data;
    Writer w(data);
    w.lenenc_string(name);
    w.lenenc_string(value);
    append_entry(out, SessionTrackType::SESSION_TRACK_SYSTEM_VARIABLES, data);
  }
  if (changes.schema) {
    append_entry(out, SessionTrackType::SESSION_TRACK_SCHEMA, lenenc_wrapped(*changes.schema));
  }
  if (changes.state_changed) append_entry(out, SessionTrackType::SESSION_TRACK_STATE_CHANGE, "1");
  if (changes.gtids) {
    std::string data(1, '\0');
    Writer(data).lenenc_string(*changes.gtids);
    append_entry(out, SessionTrackType::SESSION_TRACK_GTIDS, data);
  }
  if (changes.transaction_characteristics) {
    append_entry(out, SessionTrackType::SESSION_TRACK_TRANSACTION_CHARACTERISTICS,
                 lenenc_wrapped(*changes.transaction_characteristics));
  }
  if (changes.transaction_state) {
    append_entry(out, SessionTrackType::SESSION_TRACK_TRANSACTION_STATE,
                 lenenc_wrapped(*changes.transaction_state));
  }
}

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool setting_on(std::string_view value) noexcept { return value == "1" || iequals(value, "ON"); }

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trimmed(std::string_view text) noexcept {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  return text;
}

/// Whether `filter` keeps one entry (`data` is its string<lenenc> content).
bool keeps_entry(SessionTrackType type, std::string_view data, const SessionTrackFilter& filter) {
  switch (type) {
    case SessionTrackType::SESSION_TRACK_SYSTEM_VARIABLES: {
      Reader r(data);
      const std::string_view name = r.lenenc_string();
      return r.ok() && filter.keeps_variable(name);
    }
    case SessionTrackType::SESSION_TRACK_SCHEMA:
      return filter.schema;
    case SessionTrackType::SESSION_TRACK_STATE_CHANGE:
      return filter.state_change;
    case SessionTrackType::SESSION_TRACK_TRANSACTION_CHARACTERISTICS:
      return filter.transaction_characteristics;
    case SessionTrackType::SESSION_TRACK_TRANSACTION_STATE:
      return filter.transaction_state;
    default:
      return true;  // GTIDs (MySQL's) and types this codec does not know: not corral's to drop
  }
}

}  // namespace

SessionTrackFilter SessionTrackFilter::from_settings(std::string_view schema, std::string_view state_change,
                                                     std::string_view system_variables,
                                                     std::string_view transaction_info) {
  SessionTrackFilter filter;
  filter.schema = setting_on(schema);
  filter.state_change = setting_on(state_change);
  filter.transaction_characteristics = iequals(transaction_info, "CHARACTERISTICS");
  filter.transaction_state = filter.transaction_characteristics || iequals(transaction_info, "STATE");
  for (std::size_t at = 0; at <= system_variables.size();) {
    const std::size_t comma = std::min(system_variables.find(',', at), system_variables.size());
    const std::string_view name = trimmed(system_variables.substr(at, comma - at));
    if (name == "*") {
      filter.all_variables = true;
    } else if (!name.empty()) {
      filter.variables.push_back(lower(name));
    }
    at = comma + 1;
  }
  return filter;
}

bool SessionTrackFilter::keeps_variable(std::string_view name) const noexcept {
  if (all_variables) return true;
  return std::any_of(variables.begin(), variables.end(),
                     [name](const std::string& listed) { return iequals(listed, name); });
}

Result<std::string> filter_session_state(std::string_view session_state_info, const SessionTrackFilter& filter) {
  std::string kept;
  Reader r(session_state_info);
  while (r.ok() && !r.at_end()) {
    const std::size_t start = r.position();
    const auto type = static_cast<SessionTrackType>(r.int1());
    const std::string_view data = r.lenenc_string();
    if (!r.ok()) break;
    if (keeps_entry(type, data, filter)) kept.append(session_state_info.substr(start, r.position() - start));
  }
  if (!r.ok()) return r.error();
  return kept;
}

Result<ProgressReport> decode_progress_report(std::string_view payload) {
  // MariaDB "Progress Reporting": 0xFF, int<2> 0xFFFF, int<1> number of strings, int<1> stage,
  // int<1> max_stage, int<3> progress, string<lenenc> progress info.
  Reader r(payload);
  if (r.int1() != kErrHeader || r.int2() != kProgressReportCode) {
    return r.ok() ? Errc::UnexpectedPacket : r.error();
  }
  ProgressReport report;
  r.int1();
  report.stage = r.int1();
  report.max_stage = r.int1();
  report.progress = r.int3();
  report.info = r.lenenc_string();
  if (!r.ok()) return r.error();
  return report;
}

}  // namespace corral::mysql
