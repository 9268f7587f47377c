#include "protocols/redis/pubsub.h"

#include <array>
#include <charconv>

namespace corral::redis {

std::optional<SubscriptionKind> subscription_kind(std::string_view confirmation) {
  if (confirmation == "subscribe" || confirmation == "psubscribe" || confirmation == "unsubscribe" ||
      confirmation == "punsubscribe") {
    return SubscriptionKind::Channels;
  }
  if (confirmation == "ssubscribe" || confirmation == "sunsubscribe") return SubscriptionKind::ShardChannels;
  return std::nullopt;
}

std::optional<SubscriptionCount> subscription_count(const Reply& reply) {
  if (reply.type != ReplyType::Array && reply.type != ReplyType::Push) return std::nullopt;
  std::array<ReplyElement, 3> fields{};
  if (peek_elements(reply.bytes, fields) != 3 || fields[2].type != ReplyType::Integer) return std::nullopt;
  const auto kind = subscription_kind(fields[0].value);
  if (!kind) return std::nullopt;
  std::int64_t count = 0;
  const std::string_view digits = fields[2].value;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
  if (ec != std::errc{}) return std::nullopt;
  return SubscriptionCount{*kind, count};
}

}  // namespace corral::redis
