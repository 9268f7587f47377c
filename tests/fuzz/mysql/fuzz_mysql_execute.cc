// libFuzzer target: pool::scan_execute and append_execute_with_types over arbitrary COM_STMT_EXECUTE
// payloads (what a client sends corral), for a parameter count and CLIENT_QUERY_ATTRIBUTES chosen by
// the first two input bytes; with bit 1 the same for COM_STMT_BULK_EXECUTE (scan_bulk_execute,
// append_bulk_with_types). Invariants: the layout stays inside the payload, and taking the types out
// of a bound execute and putting them back rebuilds it byte for byte (statement id aside).
//   input: [num_params][flags: bit 0 = CLIENT_QUERY_ATTRIBUTES, bit 1 = bulk][payload...]
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pool/mysql_prepared.h"

namespace {

using namespace corral;

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

/// The bulk execute's invariants (the payload's first byte is taken as 0xfa).
void check_bulk(std::string_view payload, std::uint16_t num_params) {
  std::string bulk(payload);
  if (!bulk.empty()) bulk[0] = '\xfa';
  const auto layout = pool::scan_bulk_execute(bulk, num_params);
  if (!layout) return;
  check(layout->rows_at <= bulk.size());
  if ((layout->flags & pool::kBulkSendTypes) == 0) return;
  check(layout->types.size() == 2u * num_params);
  // Without its types and flag, then with them put back: the same packet.
  std::string untyped(bulk.substr(0, 5));
  const auto untyped_flags = static_cast<std::uint16_t>(layout->flags & ~pool::kBulkSendTypes);
  untyped.push_back(static_cast<char>(untyped_flags & 0xff));
  untyped.push_back(static_cast<char>(untyped_flags >> 8));
  untyped.append(bulk.substr(layout->rows_at));
  const auto untyped_layout = pool::scan_bulk_execute(untyped, num_params);
  check(untyped_layout.ok());
  std::string rebuilt;
  pool::append_bulk_with_types(rebuilt, untyped, *untyped_layout, 0x01020304, layout->types);
  check(rebuilt.size() == bulk.size());
  check(rebuilt.substr(5) == bulk.substr(5));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const auto num_params = static_cast<std::uint16_t>(data[0]);
  const mysql::CapabilityFlags caps = (data[1] & 1) ? mysql::CLIENT_QUERY_ATTRIBUTES : 0;
  const std::string_view payload(reinterpret_cast<const char*>(data + 2), size - 2);
  if (data[1] & 2) {
    check_bulk(payload, num_params);
    return 0;
  }
  const auto layout = pool::scan_execute(payload, num_params, caps);
  if (!layout) return 0;
  check(layout->values_at <= payload.size());
  if (layout->param_count == 0) return 0;
  check(layout->bound_flag_at < layout->values_at);
  if (!layout->new_params_bound) return 0;
  check(layout->types.data() == payload.data() + layout->bound_flag_at + 1);
  check(layout->bound_flag_at + 1 + layout->types.size() == layout->values_at);

  // The same execute as a client sends it later (new_params_bound = 0, no types) ...
  std::string unbound(payload.substr(0, layout->bound_flag_at));
  unbound.push_back('\0');
  unbound.append(payload.substr(layout->values_at));
  const auto unbound_layout = pool::scan_execute(unbound, num_params, caps);
  check(unbound_layout.ok());
  check(!unbound_layout->new_params_bound);
  // ... gets its types back for a backend statement that has not seen them.
  std::string rebuilt;
  const std::uint32_t statement_id = 0x01020304;
  pool::append_execute_with_types(rebuilt, unbound, *unbound_layout, statement_id, layout->types);
  // Any non-zero new_params_bound byte means "bound"; corral writes 1.
  std::string expected(payload);
  expected[layout->bound_flag_at] = '\x01';
  check(rebuilt.size() == expected.size());
  check(rebuilt.substr(0, 1) == expected.substr(0, 1));
  check(rebuilt.substr(5) == expected.substr(5));
  return 0;
}
