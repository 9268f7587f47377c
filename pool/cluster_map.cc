#include "pool/cluster_map.h"

#include <algorithm>
#include <utility>

#include "pool/reply_sink.h"
#include "protocols/redis/encoder.h"

namespace corral::pool {

namespace {

/// A CLUSTER SLOTS reply lists at most 16384 ranges of a few nodes: far below this.
constexpr std::size_t kMaxSlotsReply = 64 * 1024 * 1024;

std::string text_of(const redis::NodeAddress& address) {
  return address.host.find(':') != std::string::npos ? "[" + address.host + "]:" + std::to_string(address.port)
                                                     : address.host + ":" + std::to_string(address.port);
}

}  // namespace

ClusterMap::ClusterMap(const config::BackendUrl& url, const std::vector<rt::SocketAddress>& seeds, RedisPools& pools,
                       ClusterCounters* counters)
    : NodeRouter(pools), counters_(counters), slots_(redis::kClusterSlots, kNoNode) {
  for (std::size_t i = 0; i < url.cluster_seeds.size() && i < seeds.size(); ++i) {
    const config::Endpoint& seed = url.cluster_seeds[i];
    seeds_.push_back(Candidate{redis::NodeAddress{seed.host, seed.port}, seeds[i]});
  }
}

int ClusterMap::any_master() const {
  for (const std::int16_t node : slots_) {
    if (node != kNoNode) return node;
  }
  return kNoNode;
}

int ClusterMap::find_or_add(const redis::NodeAddress& address) {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].address == address) return static_cast<int>(i);
  }
  const std::optional<rt::SocketAddress> socket = rt::SocketAddress::parse(address.host, address.port);
  if (!socket) return kNoNode;
  nodes_.push_back(Node{address, *socket, false});
  return static_cast<int>(nodes_.size() - 1);
}

void ClusterMap::moved(std::uint16_t slot, int node) {
  slots_[slot] = static_cast<std::int16_t>(node);
  nodes_[static_cast<std::size_t>(node)].master = true;
  if (counters_ != nullptr) counters_->moved.fetch_add(1, std::memory_order_relaxed);
}

void ClusterMap::asked() noexcept {
  if (counters_ != nullptr) counters_->ask.fetch_add(1, std::memory_order_relaxed);
}

std::vector<ClusterMap::Candidate> ClusterMap::candidates() const {
  std::vector<Candidate> out;
  for (const bool masters_first : {true, false}) {
    for (const Node& node : nodes_) {
      if (node.master == masters_first) out.push_back(Candidate{node.address, node.socket});
    }
  }
  for (const Candidate& seed : seeds_) {
    const bool known = std::any_of(out.begin(), out.end(), [&](const Candidate& c) { return c.address == seed.address; });
    if (!known) out.push_back(seed);
  }
  return out;
}

rt::Task<bool> ClusterMap::refresh(RedisKey base, rt::Deadline deadline, rt::CancelSource* cancel) {
  if (refreshing_) {
    const bool woken = co_await refreshed_.wait(deadline, cancel);
    co_return woken && known_;
  }
  const auto now = rt::Clock::now();
  if (known_ && now - last_refresh_ < kMinRefreshInterval) co_return true;
  last_refresh_ = now;
  refreshing_ = true;
  // Whatever ends this frame (an answer, every node failing, cancellation) lets the waiters go.
  struct Done {
    ClusterMap& map;
    ~Done() {
      map.refreshing_ = false;
      map.refreshed_.notify_all();
    }
  } done{*this};
  std::string failures;
  for (const Candidate& candidate : candidates()) {
    const std::optional<std::string> reply = co_await ask(candidate, base, deadline, cancel);
    if (!reply) {
      failures += " " + text_of(candidate.address);
      continue;
    }
    const auto ranges = redis::parse_cluster_slots(*reply);
    if (!ranges || ranges->empty()) {
      failures += " " + text_of(candidate.address);
      continue;
    }
    apply(*ranges, candidate.address);
    co_return true;
  }
  if (counters_ != nullptr) counters_->map_read_failures.fetch_add(1, std::memory_order_relaxed);
  if (failure_log_.allow()) {
    rt::log::warn("redis-cluster: no node answered CLUSTER SLOTS (asked:{}); keeping the last map{}", failures,
                  failure_log_.suppressed_text());
  }
  co_return known_;
}

rt::Task<std::optional<std::string>> ClusterMap::ask(Candidate candidate, RedisKey base, rt::Deadline deadline,
                                                     rt::CancelSource* cancel) {
  base.host = candidate.address.host;
  base.port = candidate.address.port;
  RedisPoolRef pool = pools_.get(base, candidate.socket);
  RedisConnection* connection = pool->ready_shared();
  if (connection == nullptr) {
    Acquired acquired = co_await pool->shared(deadline, cancel);
    if (acquired.connection == nullptr) co_return std::nullopt;
    connection = acquired.connection;
  }
  // A sink of its own: the reply is corral's. The FIFO entry keeps it alive if this frame goes first.
  ReplySinkRef sink = make_reply_sink(SIZE_MAX, kMaxSlotsReply);
  std::string request;
  redis::encode_command(request, {"CLUSTER", "SLOTS"});
  connection->submit(request, *sink);
  while (sink->outstanding() > 0) {
    const bool woken = co_await sink->wait(deadline, cancel);
    if (!woken) co_return std::nullopt;
  }
  std::string reply;
  sink->take_output(reply);
  co_return reply;
}

void ClusterMap::apply(const std::vector<redis::SlotRange>& ranges, const redis::NodeAddress& from) {
  std::vector<std::int16_t> slots(redis::kClusterSlots, kNoNode);
  std::vector<bool> master(nodes_.size(), false);
  for (const redis::SlotRange& range : ranges) {
    redis::NodeAddress address = range.master;
    if (address.host.empty()) address.host = from.host;  // a node that does not know its own address
    const int node = find_or_add(address);
    if (node == kNoNode) continue;
    master.resize(nodes_.size(), false);
    master[static_cast<std::size_t>(node)] = true;
    for (const redis::NodeAddress& replica : range.replicas) {
      if (!replica.host.empty()) find_or_add(replica);
    }
    std::fill(slots.begin() + range.first, slots.begin() + range.last + 1, static_cast<std::int16_t>(node));
  }
  master.resize(nodes_.size(), false);
  std::size_t changed = 0;
  for (std::size_t s = 0; s < slots.size(); ++s) changed += slots[s] != slots_[s] ? 1 : 0;
  const bool first = !known_;
  slots_ = std::move(slots);
  for (std::size_t i = 0; i < nodes_.size(); ++i) nodes_[i].master = master[i];
  known_ = true;
  ++reads_;
  if (counters_ != nullptr) {
    counters_->map_reads.fetch_add(1, std::memory_order_relaxed);
    if (!first) counters_->slot_moves.fetch_add(changed, std::memory_order_relaxed);
  }
  if (first) {
    rt::log::info("redis-cluster: slot map read from {}: masters {}", text_of(from), describe_masters());
  } else if (changed > 0) {
    rt::log::info("redis-cluster: slot map read from {}: {} slots changed owner; masters now {}", text_of(from),
                  changed, describe_masters());
  }
}

std::string ClusterMap::describe_masters() const {
  std::string out;
  for (const int node : masters()) {
    std::size_t served = 0;
    for (const std::int16_t owner : slots_) served += owner == node ? 1 : 0;
    out += (out.empty() ? "" : ", ") + text_of(nodes_[static_cast<std::size_t>(node)].address) + " (" +
           std::to_string(served) + " slots)";
  }
  return out.empty() ? "none" : out;
}

}  // namespace corral::pool
