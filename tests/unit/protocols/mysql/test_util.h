// Helpers shared by the corral::mysql unit tests: byte literals, wire-stream builders and chunked
// feeding of the response scanner (every case is re-run at every split point and one byte at a time).
#pragma once

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mysql/mysql.h"

namespace corral::mysql::test {

/// Bytes from integer literals: bytes({0x01, 0xfe}).
inline std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (const int v : values) out.push_back(static_cast<char>(v));
  return out;
}

/// Lower-case hex of `data`, for readable failure messages.
inline std::string hex(std::string_view data) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : data) {
    const auto b = static_cast<unsigned char>(c);
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0x0f]);
  }
  return out;
}

/// Builds a server response as wire packets with consecutive sequence ids.
class Stream {
 public:
  explicit Stream(CapabilityFlags caps, std::uint8_t first_sequence_id = 1) : caps_(caps), seq_(first_sequence_id) {}

  Stream& packet(std::string_view payload) {
    seq_ = append_packet(wire_, seq_, payload);
    return *this;
  }
  Stream& ok(StatusFlags status = SERVER_STATUS_AUTOCOMMIT, std::uint64_t affected = 0, std::uint64_t insert_id = 0,
             std::string_view session_state = {}) {
    OK_Packet p;
    p.status_flags = status;
    p.affected_rows = affected;
    p.last_insert_id = insert_id;
    p.session_state_info = session_state;
    return ok_packet(p);
  }
  Stream& ok_packet(const OK_Packet& p) {
    std::string payload;
    encode_ok_packet(payload, p, caps_);
    return packet(payload);
  }
  Stream& err(std::uint16_t code, std::string_view state, std::string_view message) {
    std::string payload;
    encode_err_packet(payload, ERR_Packet{code, state, message}, caps_);
    return packet(payload);
  }
  Stream& eof(StatusFlags status = SERVER_STATUS_AUTOCOMMIT, std::uint16_t warnings = 0) {
    std::string payload;
    encode_eof_packet(payload, EOF_Packet{warnings, status}, caps_);
    return packet(payload);
  }
  /// The packet ending a result set: EOF, or a 0xFE OK under CLIENT_DEPRECATE_EOF.
  Stream& end(StatusFlags status = SERVER_STATUS_AUTOCOMMIT, std::uint16_t warnings = 0) {
    if (!(caps_ & CLIENT_DEPRECATE_EOF)) return eof(status, warnings);
    OK_Packet p;
    p.header = kEofHeader;
    p.status_flags = status;
    p.warnings = warnings;
    return ok_packet(p);
  }
  /// EOF after definitions: only without CLIENT_DEPRECATE_EOF.
  Stream& defs_eof(StatusFlags status = SERVER_STATUS_AUTOCOMMIT) {
    return (caps_ & CLIENT_DEPRECATE_EOF) ? *this : eof(status);
  }
  Stream& column_count(std::uint64_t n) {
    std::string payload;
    Writer(payload).lenenc_int(n);
    return packet(payload);
  }
  Stream& column(std::string_view name, ColumnType type = ColumnType::MYSQL_TYPE_VAR_STRING) {
    ColumnDefinition41 c = make_text_column(name);
    c.type = type;
    c.schema = "test";
    c.table = "t";
    c.org_table = "t";
    std::string payload;
    encode_column_definition(payload, c, caps_);
    return packet(payload);
  }
  Stream& row(std::initializer_list<TextValue> values) {
    std::string payload;
    encode_text_row(payload, std::vector<TextValue>(values));
    return packet(payload);
  }
  Stream& binary_row(std::string_view values) {
    std::string payload(1, '\0');  // binary row header
    payload.append(values);
    return packet(payload);
  }
  /// A text result set with `columns` VAR_STRING columns and `rows` rows of "r<i>c<j>".
  Stream& result_set(int columns, int rows, StatusFlags status = SERVER_STATUS_AUTOCOMMIT) {
    column_count(static_cast<std::uint64_t>(columns));
    for (int c = 0; c < columns; ++c) column("c" + std::to_string(c));
    defs_eof(status);
    for (int r = 0; r < rows; ++r) {
      std::vector<std::string> cells;
      for (int c = 0; c < columns; ++c) cells.push_back("r" + std::to_string(r) + "c" + std::to_string(c));
      std::vector<TextValue> values(cells.begin(), cells.end());
      std::string payload;
      encode_text_row(payload, values);
      packet(payload);
    }
    return end(status);
  }

  const std::string& wire() const { return wire_; }
  std::uint8_t next_sequence_id() const { return seq_; }

 private:
  CapabilityFlags caps_;
  std::uint8_t seq_;
  std::string wire_;
};

/// One scanner event, copied out (events view buffer bytes that are consumed afterwards).
struct Seen {
  ResponsePhase phase;
  bool complete;
  bool awaiting_client;
  StatusFlags status_flags;
};

struct Fed {
  std::vector<Seen> events;
  Errc error = Errc::Ok;
  std::size_t leftover = 0;  // bytes still buffered at the end
};

/// Feeds `wire` to `scanner` through scan(): the first `split` bytes, then the rest.
inline Fed feed_split(ResponseScanner& scanner, std::string_view wire, std::size_t split) {
  Fed fed;
  std::string buffer;
  const auto drain = [&] {
    while (true) {
      const ResponseScanner::ScanResult r = scanner.scan(buffer);
      if (r.status == FrameStatus::NeedMore) return true;
      if (r.status == FrameStatus::Error) {
        fed.error = r.error;
        return false;
      }
      fed.events.push_back({r.event->phase, r.event->complete, r.event->awaiting_client, r.event->status_flags});
      buffer.erase(0, r.packet.size());
    }
  };
  buffer.append(wire.substr(0, split));
  if (drain()) {
    buffer.append(wire.substr(split));
    drain();
  }
  fed.leftover = buffer.size();
  return fed;
}

/// Feeds `wire` in chunks of `chunk` bytes.
inline Fed feed_chunks(ResponseScanner& scanner, std::string_view wire, std::size_t chunk) {
  Fed fed;
  std::string buffer;
  for (std::size_t at = 0; at < wire.size() && fed.error == Errc::Ok; at += chunk) {
    buffer.append(wire.substr(at, chunk));
    while (true) {
      const ResponseScanner::ScanResult r = scanner.scan(buffer);
      if (r.status == FrameStatus::NeedMore) break;
      if (r.status == FrameStatus::Error) {
        fed.error = r.error;
        break;
      }
      fed.events.push_back({r.event->phase, r.event->complete, r.event->awaiting_client, r.event->status_flags});
      buffer.erase(0, r.packet.size());
    }
  }
  fed.leftover = buffer.size();
  return fed;
}

/// What the relay of a response saw through scan_run().
struct Ran {
  std::vector<Seen> events;       // of the runs that ended with an event
  std::string relayed;            // every run's bytes, in order
  std::size_t runs = 0;
  Errc error = Errc::Ok;
  std::size_t leftover = 0;       // bytes still buffered at the end
  bool bookkeeping_ok = true;     // every run: within the buffer; last_packet is its last packet
};

/// Feeds `wire` to `scanner` through scan_run() as the relay does: the first `split` bytes, then the
/// rest in chunks of `chunk` bytes, relaying each run.
inline Ran feed_runs(ResponseScanner& scanner, std::string_view wire, std::size_t split, std::size_t chunk) {
  Ran ran;
  std::string buffer;
  const auto drain = [&] {
    while (true) {
      const ScannedRun r = scanner.scan_run(buffer);
      if (r.status == FrameStatus::NeedMore) {
        if (r.needed <= buffer.size()) ran.bookkeeping_ok = false;
        return true;
      }
      if (r.status == FrameStatus::Error) {
        ran.error = r.error;
        return false;
      }
      const std::string_view run = std::string_view(buffer).substr(0, r.size);
      // The last packet starts at last_packet and ends the run exactly.
      if (r.size == 0 || r.size > buffer.size() || r.last_packet + kPacketHeaderSize > r.size ||
          r.last_packet + kPacketHeaderSize + header_payload_length(run.substr(r.last_packet)) != r.size) {
        ran.bookkeeping_ok = false;
        return false;
      }
      ++ran.runs;
      ran.relayed.append(run);
      if (r.has_event) {
        const ResponseEvent& e = scanner.event();
        ran.events.push_back({e.phase, e.complete, e.awaiting_client, e.status_flags});
      }
      buffer.erase(0, r.size);
    }
  };
  std::size_t at = std::min(split, wire.size());
  buffer.append(wire.substr(0, at));
  bool going = drain();
  while (going && at < wire.size()) {
    buffer.append(wire.substr(at, chunk));
    at += std::min(chunk, wire.size() - at);
    going = drain();
  }
  ran.leftover = buffer.size();
  return ran;
}

/// The events of `fed` (every packet, from scan()) that scan_run() must report: those that end the
/// response or hand over to the client, and the phases a relay has to look at.
inline std::vector<Seen> events_for_relay(const Fed& fed) {
  std::vector<Seen> out;
  for (const Seen& s : fed.events) {
    if (run_reports(s.phase, s.complete, s.awaiting_client)) out.push_back(s);
  }
  return out;
}

inline std::vector<ResponsePhase> phases(const Fed& fed) {
  std::vector<ResponsePhase> out;
  for (const Seen& s : fed.events) out.push_back(s.phase);
  return out;
}

}  // namespace corral::mysql::test
