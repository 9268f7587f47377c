#include "protocols/redis/cluster.h"

#include <array>
#include <charconv>
#include <span>


namespace corral::redis {

namespace {

/// CRC16 over the 256 byte values, built at compile time from the polynomial.
constexpr std::array<std::uint16_t, 256> make_crc16_table() {
  std::array<std::uint16_t, 256> table{};
  for (unsigned byte = 0; byte < 256; ++byte) {
    auto crc = static_cast<std::uint16_t>(byte << 8);
    for (int bit = 0; bit < 8; ++bit) {
      crc = (crc & 0x8000) != 0 ? static_cast<std::uint16_t>((crc << 1) ^ 0x1021) : static_cast<std::uint16_t>(crc << 1);
    }
    table[byte] = crc;
  }
  return table;
}

constexpr auto kCrc16Table = make_crc16_table();

template <typename Int>
std::optional<Int> parse_int(std::string_view text) {
  Int value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

/// "host:port", the port after the last ':' (an IPv6 host has colons of its own).
std::optional<NodeAddress> parse_node_address(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const auto port = parse_int<std::uint16_t>(text.substr(colon + 1));
  if (!port || *port == 0) return std::nullopt;
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return NodeAddress{std::string(host), *port};
}

/// The element count of the aggregate header at the start of `frame` ("*3\r\n"), or -1.
long long aggregate_length(std::string_view frame) {
  if (frame.empty() || (frame.front() != '*' && frame.front() != '~')) return -1;
  const std::size_t crlf = frame.find("\r\n");
  if (crlf == std::string_view::npos) return -1;
  return parse_int<long long>(frame.substr(1, crlf - 1)).value_or(-1);
}


/// One node of a CLUSTER SLOTS row: [ip, port, id, ...].
std::optional<NodeAddress> parse_slots_node(const ReplyElement& element) {
  constexpr long long kMaxNodeFields = 64;  // ip, port, id, hostname metadata: a handful
  const std::vector<ReplyElement> fields = array_elements(element.bytes, kMaxNodeFields);
  if (fields.size() < 2) return std::nullopt;
  const auto port = parse_int<std::uint16_t>(fields[1].value);
  if (!port || *port == 0) return std::nullopt;
  return NodeAddress{std::string(fields[0].value), *port};
}

}  // namespace

std::vector<ReplyElement> array_elements(std::string_view frame, long long max_count) {
  const long long count = aggregate_length(frame);
  if (count <= 0 || count > max_count) return {};
  std::vector<ReplyElement> elements(static_cast<std::size_t>(count));
  if (peek_elements(frame, elements) != elements.size()) return {};
  return elements;
}

std::uint16_t crc16(std::string_view bytes) {
  std::uint16_t crc = 0;
  for (const char c : bytes) {
    const auto index = static_cast<std::uint8_t>((crc >> 8) ^ static_cast<std::uint8_t>(c));
    crc = static_cast<std::uint16_t>((crc << 8) ^ kCrc16Table[index]);
  }
  return crc;
}

std::uint16_t key_slot(std::string_view key) {
  const std::size_t open = key.find('{');
  if (open != std::string_view::npos) {
    const std::size_t close = key.find('}', open + 1);
    if (close != std::string_view::npos && close > open + 1) key = key.substr(open + 1, close - open - 1);
  }
  return static_cast<std::uint16_t>(crc16(key) & (kClusterSlots - 1));
}

std::optional<Redirect> parse_redirect(std::string_view reply) {
  Redirect redirect;
  if (reply.starts_with("-MOVED ")) {
    redirect.kind = Redirect::Kind::Moved;
    reply.remove_prefix(7);
  } else if (reply.starts_with("-ASK ")) {
    redirect.kind = Redirect::Kind::Ask;
    reply.remove_prefix(5);
  } else {
    return std::nullopt;
  }
  if (!reply.ends_with("\r\n")) return std::nullopt;
  reply.remove_suffix(2);
  const std::size_t space = reply.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto slot = parse_int<std::uint16_t>(reply.substr(0, space));
  if (!slot || *slot >= kClusterSlots) return std::nullopt;
  auto node = parse_node_address(reply.substr(space + 1));
  if (!node) return std::nullopt;
  redirect.slot = *slot;
  redirect.node = std::move(*node);
  return redirect;
}

std::optional<std::vector<SlotRange>> parse_cluster_slots(std::string_view reply) {
  if (reply == "*0\r\n") return std::vector<SlotRange>{};  // a cluster with no slots assigned yet
  const std::vector<ReplyElement> rows = array_elements(reply, kClusterSlots);
  if (rows.empty()) return std::nullopt;
  std::vector<SlotRange> ranges;
  ranges.reserve(rows.size());
  constexpr long long kMaxRowFields = 2 + 256;  // start, end, a master and its replicas
  for (const ReplyElement& row : rows) {
    const std::vector<ReplyElement> fields = array_elements(row.bytes, kMaxRowFields);
    if (fields.size() < 3) return std::nullopt;
    const auto first = parse_int<std::uint16_t>(fields[0].value);
    const auto last = parse_int<std::uint16_t>(fields[1].value);
    if (!first || !last || *first > *last || *last >= kClusterSlots) return std::nullopt;
    SlotRange range{*first, *last, {}, {}};
    for (std::size_t i = 2; i < fields.size(); ++i) {
      auto node = parse_slots_node(fields[i]);
      if (!node) return std::nullopt;
      if (i == 2) {
        range.master = std::move(*node);
      } else {
        range.replicas.push_back(std::move(*node));
      }
    }
    ranges.push_back(std::move(range));
  }
  return ranges;
}

}  // namespace corral::redis
