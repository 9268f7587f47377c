// Pub/sub replies corral reads while it relays a subscribed connection.
//
//   (un)subscribe confirmation ["subscribe" | "psubscribe" | ... , channel, count]
//        ──subscription_count()──► {Channels | ShardChannels, count}
//
// Redis reports one count for channels and patterns together and another for shard channels
// (Pub/Sub docs, "Format of pushed messages"); a connection is out of subscribe mode only when both
// are 0. RESP2 sends the confirmation as an array, RESP3 as a push.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "protocols/redis/reply_scanner.h"

namespace corral::redis {

/// Which subscriptions a confirmation counts.
enum class SubscriptionKind : std::uint8_t {
  Channels,       ///< SUBSCRIBE / PSUBSCRIBE / UNSUBSCRIBE / PUNSUBSCRIBE: channels and patterns
  ShardChannels,  ///< SSUBSCRIBE / SUNSUBSCRIBE
};

/// The kind a confirmation's first element names ("subscribe", "sunsubscribe"..., lower case as
/// redis-server sends it); nullopt for any other word ("message", "pong"...).
std::optional<SubscriptionKind> subscription_kind(std::string_view confirmation);

struct SubscriptionCount {
  SubscriptionKind kind;
  std::int64_t count;  ///< subscriptions of that kind left on the connection
};

/// The count a complete (un)subscribe confirmation reports; nullopt for any other reply (messages,
/// the subscribe-mode PING reply, replies to commands).
std::optional<SubscriptionCount> subscription_count(const Reply& reply);

}  // namespace corral::redis
