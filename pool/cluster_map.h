// One worker's view of a Redis Cluster: which node serves each hash slot, and a pool per node.
//
//   session ──node_of(slot)──► node index ──pool(node, client's key)──► RedisPool of that node
//   MOVED ──moved(slot, node)──► that slot now points at the node (no round trip)
//   no map yet / MOVED / a node unreachable ──refresh()──► CLUSTER SLOTS from a known node or a seed
//                                                          (one at a time, rate-limited; the others wait)
//
// Nodes are kept by address and never forgotten (a failed master may come back as a replica); the
// set is bounded by the addresses the cluster itself announced. Addresses must be IP literals: a
// name would need a blocking lookup on the loop (the first seed is resolved at start-up).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "pool/redis_key.h"
#include "pool/redis_pool.h"
#include "protocols/redis/cluster.h"
#include "runtime/log.h"
#include "runtime/notify.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::pool {

/// What the cluster maps of every worker saw, for metrics (relaxed atomics, shared by the workers).
struct ClusterCounters {
  std::atomic<std::uint64_t> map_reads{0};          // CLUSTER SLOTS read
  std::atomic<std::uint64_t> map_read_failures{0};  // refreshes no node answered
  std::atomic<std::uint64_t> slot_moves{0};         // slots whose master changed from one read to the next
  std::atomic<std::uint64_t> moved{0};              // MOVED redirections followed
  std::atomic<std::uint64_t> ask{0};                // ASK redirections followed
};

/// Not thread-safe: one per listener per worker, on its loop. Lifetime: `pools` (and `counters`) outlive it.
class ClusterMap {
 public:
  static constexpr int kNoNode = -1;
  /// Refreshes closer together than this are skipped: a burst of MOVED or connect errors costs one.
  static constexpr auto kMinRefreshInterval = std::chrono::milliseconds(100);

  struct Node {
    redis::NodeAddress address;
    rt::SocketAddress socket;
    bool master = false;  // serves at least one slot in the last map read
  };

  /// `url`: the redis-cluster:// backend (its seeds); `first_seed`: its first seed, resolved at start-up.
  /// `counters` (may be null) count what the map sees.
  ClusterMap(const config::BackendUrl& url, const rt::SocketAddress& first_seed, RedisPools& pools,
             ClusterCounters* counters = nullptr);
  ClusterMap(const ClusterMap&) = delete;
  ClusterMap& operator=(const ClusterMap&) = delete;

  /// A slot map was read at least once.
  bool known() const noexcept { return known_; }
  /// The node serving `slot`, or kNoNode (no map yet, or the slot is not served).
  int node_of(std::uint16_t slot) const noexcept { return slots_[slot]; }
  const Node& node(int index) const { return nodes_[static_cast<std::size_t>(index)]; }
  std::size_t node_count() const noexcept { return nodes_.size(); }
  /// Every node that serves slots, once each, in node order.
  std::vector<int> masters() const;
  /// The master serving slot 0 or the first served slot after it: where keyless commands go. kNoNode when none.
  int any_master() const;
  /// The node at `address`, added when new; kNoNode when the address is no IP literal.
  int find_or_add(const redis::NodeAddress& address);
  /// A MOVED redirection: `slot` is served by `node` from now on.
  void moved(std::uint16_t slot, int node);
  /// An ASK redirection was followed (counted only: ASK leaves the map as it is).
  void asked() noexcept;

  /// The pool of `node` for a client whose key (at the first seed) is `base`: the same credentials,
  /// RESP version and TLS at the node's address.
  RedisPoolRef pool(int node, const RedisKey& base);

  /// Reads the slot map again with CLUSTER SLOTS, asking the known masters, then the other nodes,
  /// then the seeds, until one answers. Skipped (true) when the last refresh was under
  /// kMinRefreshInterval ago and a map is known; while one runs, other callers wait for it.
  /// Suspends until done, `deadline` or `cancel`. Returns whether a map is known afterwards.
  rt::Task<bool> refresh(RedisKey base, rt::Deadline deadline, rt::CancelSource* cancel);

  /// How often the map was read (each successful refresh), for tests and metrics.
  std::uint64_t reads() const noexcept { return reads_; }

 private:
  struct Candidate {
    redis::NodeAddress address;
    rt::SocketAddress socket;
  };
  /// Where to ask: masters, then the other nodes, then the seeds not among them.
  std::vector<Candidate> candidates() const;
  /// The CLUSTER SLOTS reply of one node, or nullopt when it could not be asked.
  rt::Task<std::optional<std::string>> ask(Candidate candidate, RedisKey base, rt::Deadline deadline,
                                           rt::CancelSource* cancel);
  /// Installs a new map read from `from`; logs what changed.
  void apply(const std::vector<redis::SlotRange>& ranges, const redis::NodeAddress& from);
  std::string describe_masters() const;

  RedisPools& pools_;
  ClusterCounters* counters_;
  std::vector<Candidate> seeds_;
  std::vector<Node> nodes_;
  std::vector<std::int16_t> slots_;  // node index per slot, kNoNode when unserved
  bool known_ = false;
  bool refreshing_ = false;
  rt::WaitQueue refreshed_;          // callers waiting for the refresh in flight
  rt::Clock::time_point last_refresh_{};
  std::uint64_t reads_ = 0;
  rt::log::Throttle failure_log_;    // "no node answered": a line a second at most
};

}  // namespace corral::pool
