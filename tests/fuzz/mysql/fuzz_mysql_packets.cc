// libFuzzer target: PacketFramer + ResponseScanner over arbitrary backend bytes, for a command and
// capability set chosen by the first input bytes, fed in chunks; every packet the scanner accepts is
// also run through the decoders the proxy would use on it, and the relay's scan_run() must agree with
// packet-by-packet scanning. Crashes, sanitizer reports and broken invariants (__builtin_trap) are
// findings.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mysql/mysql.h"
#include "tests/fuzz/mysql/fuzz_common.h"

namespace {

using namespace corral::mysql;

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

// Decoders the proxy runs on complete packets, on whatever bytes the framer produced.
void decode_everything(std::string_view payload, CapabilityFlags caps) {
  (void)decode_ok_packet(payload, caps);
  (void)decode_err_packet(payload, caps);
  (void)decode_eof_packet(payload, caps);
  (void)decode_column_definition(payload, caps, true);
  (void)decode_com_stmt_prepare_ok(payload, caps);
  (void)decode_com_query(payload, caps);
  (void)decode_com_change_user(payload, caps);
  (void)decode_com_stmt_fetch(payload);
  (void)decode_com_field_list(payload);
  std::vector<BinaryParam> previous(3);
  StmtExecuteContext ctx;
  ctx.param_count = 3;
  ctx.previous_types = previous;
  (void)decode_com_stmt_execute(payload, ctx, caps);
  std::vector<TextValue> values;
  (void)decode_text_row(payload, 3, values);
}

void inspect(const ResponseEvent& event, CapabilityFlags caps, std::string_view payload) {
  switch (event.phase) {
    case ResponsePhase::Ok:
    case ResponsePhase::ResultSetEnd:
      if (!event.ok.session_state_info.empty()) {
        const auto decoded = decode_session_state(event.ok.session_state_info);
        // A block the decoder takes is filtered whole for a client that tracks everything (the
        // filter reads only the entries' framing, so it may also take what the decoder refuses).
        const auto all = filter_session_state(event.ok.session_state_info,
                                              SessionTrackFilter::from_settings("1", "1", "*", "CHARACTERISTICS"));
        if (decoded) check(all.ok() && *all == event.ok.session_state_info);
        const auto some = filter_session_state(event.ok.session_state_info,
                                               SessionTrackFilter::from_settings("0", "0", "autocommit", "OFF"));
        if (some) check(some->size() <= event.ok.session_state_info.size());
      }
      break;
    case ResponsePhase::ColumnDefinition:
    case ResponsePhase::ParamDefinition:
      (void)decode_column_definition(payload, caps, false);
      break;
    case ResponsePhase::Row: {
      std::vector<TextValue> values;
      (void)decode_text_row(payload, 2, values);
      break;
    }
    case ResponsePhase::Progress:
      (void)decode_progress_report(payload);
      break;
    case ResponsePhase::Err:
      check(event.complete);
      break;
    default:
      break;
  }
}

void scan_response(Command command, CapabilityFlags caps, std::size_t chunk, std::string_view wire) {
  Limits limits;
  limits.max_packet_size = 1 << 20;
  limits.max_columns = 4096;
  ResponseScanner scanner(command, caps, limits);
  std::string buffer;
  std::size_t offset = 0;  // consumed bytes at the front of buffer
  std::size_t fed = 0;
  bool stop = false;
  while (!stop && fed < wire.size()) {
    const std::size_t n = chunk == 0 ? wire.size() - fed : std::min(chunk, wire.size() - fed);
    buffer.append(wire.substr(fed, n));
    fed += n;
    while (true) {
      const std::string_view view = std::string_view(buffer).substr(offset);
      const ResponseScanner::ScanResult r = scanner.scan(view);
      if (r.status == FrameStatus::NeedMore) {
        check(r.needed > view.size());
        break;
      }
      if (r.status == FrameStatus::Error) {
        check(r.error != Errc::Ok);
        check(scanner.error() != Errc::Ok);
        stop = true;
        break;
      }
      check(r.packet.size() >= kPacketHeaderSize && r.packet.size() <= view.size());
      check(r.packet.wire.data() == view.data());
      inspect(*r.event, caps, r.packet.payload());
      offset += r.packet.size();
      if (r.event->complete) check(scanner.complete());
      if (scanner.awaiting_client()) {
        // Pretend the client answered: continue with whatever sequence id the next packet has.
        const std::string_view rest = std::string_view(buffer).substr(offset);
        scanner.resume(rest.size() >= kPacketHeaderSize ? static_cast<std::uint8_t>(rest[3])
                                                        : scanner.next_sequence_id());
      }
    }
  }
  // Once complete, the scanner accepts nothing more (an extra packet is Errc::ResponseComplete).
  if (scanner.complete() && scanner.error() != Errc::Ok) {
    check(scanner.error() == Errc::ResponseComplete || scanner.error() == Errc::PacketTooLarge);
  }
}

// After a hand-over to the client, the server's next packet: whatever sequence id it has.
std::uint8_t resume_sequence(std::string_view wire, std::size_t at, const ResponseScanner& scanner) {
  return wire.size() - at >= kPacketHeaderSize ? static_cast<std::uint8_t>(wire[at + 3]) : scanner.next_sequence_id();
}

// The relay's scan_run(), fed in chunks, must relay exactly the packets that scan() accepts one by
// one from the whole input, and leave the scanner in the same state.
void compare_runs_with_packets(Command command, CapabilityFlags caps, std::size_t chunk, std::string_view wire) {
  Limits limits;
  limits.max_packet_size = 1 << 20;
  limits.max_columns = 4096;
  ResponseScanner packets(command, caps, limits);
  std::size_t accepted = 0;
  while (true) {
    const ResponseScanner::ScanResult r = packets.scan(wire.substr(accepted));
    if (r.status != FrameStatus::Packet) break;
    accepted += r.packet.size();
    if (packets.awaiting_client()) packets.resume(resume_sequence(wire, accepted, packets));
  }
  ResponseScanner runs(command, caps, limits);
  std::size_t relayed = 0;
  std::size_t fed = 0;
  while (true) {
    const ScannedRun r = runs.scan_run(wire.substr(relayed, fed - relayed));
    if (r.status == FrameStatus::Packet) {
      check(r.size > 0 && r.size <= fed - relayed && r.last_packet + kPacketHeaderSize <= r.size);
      relayed += r.size;
      if (r.has_event && runs.awaiting_client()) runs.resume(resume_sequence(wire, relayed, runs));
      continue;
    }
    if (r.status == FrameStatus::Error || fed == wire.size()) break;
    check(r.needed > fed - relayed);
    fed += chunk == 0 ? wire.size() - fed : std::min(chunk, wire.size() - fed);
  }
  check(relayed == accepted);
  check(runs.error() == packets.error());
  check(runs.complete() == packets.complete());
  check(runs.summary().rows == packets.summary().rows);
  check(runs.summary().result_sets == packets.summary().result_sets);
  check(runs.next_sequence_id() == packets.next_sequence_id());
}

void frame_logical(CapabilityFlags caps, std::string_view wire) {
  Limits limits;
  limits.max_packet_size = 1 << 20;
  std::string scratch;
  while (!wire.empty()) {
    const LogicalPacket p = read_logical_packet(wire, limits, scratch);
    if (p.status != FrameStatus::Packet) return;
    check(p.consumed > 0 && p.consumed <= wire.size());
    check(p.payload.size() + kPacketHeaderSize <= p.consumed);
    decode_everything(p.payload, caps);
    wire.remove_prefix(p.consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  namespace fz = corral::mysql::fuzz;
  const Command command = fz::kCommands[data[0] % fz::kCommandCount];
  const CapabilityFlags caps = fz::caps_from_byte(data[1]);
  const std::size_t chunk = data[2] % 33;  // 0 = everything at once
  const std::string_view wire(reinterpret_cast<const char*>(data) + 3, size - 3);
  scan_response(command, caps, chunk, wire);
  compare_runs_with_packets(command, caps, chunk, wire);
  frame_logical(caps, wire);
  return 0;
}
