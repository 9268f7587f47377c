// One worker's view of a Redis Cluster: which node serves each hash slot, and a pool per node.
//
//   session ──node_of(slot)──► node index ──pool(node, client's key)──► RedisPool of that node
//   MOVED ──moved(slot, node)──► that slot now points at the node (no round trip)
//   no map yet / MOVED / a node unreachable ──refresh()──► CLUSTER SLOTS from a known node or a seed
//                                                          (one at a time, rate-limited; the others wait)
//
// Nodes are kept by address and never forgotten (a failed master may come back as a replica); the
// set is bounded by the addresses the cluster itself announced. Addresses a node announces must be
// IP literals: a name would need a blocking lookup on the loop (the seeds are resolved at start-up).
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "pool/node_router.h"
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
class ClusterMap final : public NodeRouter {
 public:
  /// Refreshes closer together than this are skipped: a burst of MOVED or connect errors costs one.
  static constexpr auto kMinRefreshInterval = std::chrono::milliseconds(100);

  /// `url`: the redis-cluster:// backend; `seeds`: its seed nodes, resolved at start-up, in its order.
  /// `counters` (may be null) count what the map sees.
  ClusterMap(const config::BackendUrl& url, const std::vector<rt::SocketAddress>& seeds, RedisPools& pools,
             ClusterCounters* counters = nullptr);

  int slot_of(std::string_view key) const override { return redis::key_slot(key); }
  bool known() const noexcept override { return known_; }
  int node_of(int slot) const noexcept override { return slots_[static_cast<std::size_t>(slot)]; }
  /// The master serving slot 0 or the first served slot after it. kNoNode when none.
  int any_master() const override;
  /// kNoNode when the address is no IP literal.
  int find_or_add(const redis::NodeAddress& address) override;
  void moved(std::uint16_t slot, int node) override;
  void asked() noexcept override;

  /// Reads the slot map again with CLUSTER SLOTS, asking the known masters, then the other nodes,
  /// then the seeds, until one answers. Skipped (true) when the last refresh was under
  /// kMinRefreshInterval ago and a map is known; while one runs, other callers wait for it.
  /// Suspends until done, `deadline` or `cancel`. Returns whether a map is known afterwards.
  rt::Task<bool> refresh(RedisKey base, rt::Deadline deadline, rt::CancelSource* cancel) override;

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

  ClusterCounters* counters_;
  std::vector<Candidate> seeds_;
  std::vector<std::int16_t> slots_;  // node index per slot, kNoNode when unserved
  bool known_ = false;
  bool refreshing_ = false;
  rt::WaitQueue refreshed_;          // callers waiting for the refresh in flight
  rt::Clock::time_point last_refresh_{};
  std::uint64_t reads_ = 0;
  rt::log::Throttle failure_log_;    // "no node answered": a line a second at most
};

}  // namespace corral::pool
