// Fuzzes the Redis Cluster decoders (protocols/redis/cluster.h) on backend bytes: every frame the
// ReplyScanner cuts from the input goes through parse_cluster_slots, parse_redirect and
// array_elements, which never crash, never read outside the frame, and return only what the
// Cluster spec allows (slots < 16384, ranges in order, ports > 0); key_slot of any bytes is a slot.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.h"
#include "protocols/redis/cluster.h"
#include "protocols/redis/reply_scanner.h"

namespace corral::redis {
namespace {

void check_frame(std::string_view frame) {
  if (const auto ranges = parse_cluster_slots(frame)) {
    for (const SlotRange& range : *ranges) {
      FUZZ_CHECK(range.first <= range.last);
      FUZZ_CHECK(range.last < kClusterSlots);
      FUZZ_CHECK(range.master.port > 0);
      for (const NodeAddress& replica : range.replicas) FUZZ_CHECK(replica.port > 0);
    }
  }
  if (const auto redirect = parse_redirect(frame)) {
    FUZZ_CHECK(redirect->slot < kClusterSlots);
    FUZZ_CHECK(redirect->node.port > 0);
  }
  for (const ReplyElement& element : array_elements(frame, 1 << 20)) {
    FUZZ_CHECK(element.bytes.data() >= frame.data());
    FUZZ_CHECK(element.bytes.data() + element.bytes.size() <= frame.data() + frame.size());
  }
}

void run(std::string_view data) {
  FUZZ_CHECK(key_slot(data) < kClusterSlots);
  ReplyScanner scanner;
  Reply reply;
  while (!data.empty() && scanner.scan(data, reply) == ScanStatus::Frame) {
    check_frame(reply.bytes);
    data.remove_prefix(reply.size);
    scanner.reset();
  }
}

}  // namespace
}  // namespace corral::redis

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  corral::redis::run(std::string_view(reinterpret_cast<const char*>(bytes), size));
  return 0;
}
