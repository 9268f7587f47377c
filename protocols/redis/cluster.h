// Redis Cluster's wire facts: key → hash slot, the MOVED/ASK redirections, the CLUSTER SLOTS reply.
//
//   key ──hash tag {...}──► CRC16 (XMODEM) mod 16384 ──► slot          (Redis Cluster spec, "Keys
//   "-MOVED 3999 127.0.0.1:6381" / "-ASK ..." ──parse_redirect()──► Redirect    distribution model",
//   CLUSTER SLOTS reply ──parse_cluster_slots()──► slot ranges with master and replicas  "Redirection")
//
// I/O-free: the proxy's cluster map (pool/cluster_map.h) uses these.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/redis/reply_scanner.h"

namespace corral::redis {

constexpr std::uint16_t kClusterSlots = 16384;

/// CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0), the checksum Redis Cluster hashes
/// keys with. crc16("123456789") == 0x31C3.
std::uint16_t crc16(std::string_view bytes);

/// The hash slot of `key`: CRC16 of its hash tag (the bytes between the first '{' and the first
/// '}' after it, when that is not empty), else of the whole key, modulo 16384.
std::uint16_t key_slot(std::string_view key);

/// A cluster node's address as a redirection or CLUSTER SLOTS names it.
struct NodeAddress {
  std::string host;  ///< IP (IPv6 without brackets) or announced name; "" when the node did not know its own
  std::uint16_t port = 0;
  bool operator==(const NodeAddress&) const = default;
};

/// "-MOVED <slot> <host>:<port>" (the slot lives there now) or "-ASK ..." (this one request goes
/// there, after ASKING: the slot is migrating).
struct Redirect {
  enum class Kind : std::uint8_t { Moved, Ask };
  Kind kind = Kind::Moved;
  std::uint16_t slot = 0;
  NodeAddress node;
};

/// The redirection a reply carries, or nullopt for any other reply (a malformed MOVED/ASK line,
/// a slot >= 16384 or a bad port included: it then reaches the client as the server's error).
std::optional<Redirect> parse_redirect(std::string_view reply);

/// One row of CLUSTER SLOTS: a range of slots, the master serving it, then its replicas.
struct SlotRange {
  std::uint16_t first = 0;
  std::uint16_t last = 0;
  NodeAddress master;
  std::vector<NodeAddress> replicas;
};

/// Parses a complete CLUSTER SLOTS reply (RESP2 or RESP3). nullopt when it is not the expected
/// shape (an error reply, a range outside 0..16383, a node without address...).
std::optional<std::vector<SlotRange>> parse_cluster_slots(std::string_view reply);

/// Every top-level element of a complete array or set reply, or nothing (another type, a null,
/// more than `max_count` elements). Used to merge the replies of a command split over slots.
std::vector<ReplyElement> array_elements(std::string_view frame, long long max_count);

/// Redis Cluster's error for a multi-key command whose keys are in different slots.
constexpr std::string_view kCrossSlotError = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";

}  // namespace corral::redis
