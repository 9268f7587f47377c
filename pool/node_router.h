// How a session that spreads a client's keys over several Redis servers finds the server of a key:
// a Redis Cluster's slot map (ClusterMap) or a ring of independent servers (ShardMap).
//
//   key ──slot_of()──► slot ──node_of()──► node index ──pool(node, client's key)──► that node's RedisPool
//
// A "slot" is the unit keys are grouped by: a hash slot of the cluster, or a shard of the ring (one
// slot per shard). Keys in one slot live on one node, so a request whose keys share a slot runs
// there whole; its split and merge (proxy/redis/cluster_session.cc) do not depend on the router.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "pool/redis_key.h"
#include "pool/redis_pool.h"
#include "protocols/redis/cluster.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::pool {

/// Not thread-safe: one per listener per worker, on its loop.
class NodeRouter {
 public:
  static constexpr int kNoNode = -1;

  struct Node {
    redis::NodeAddress address;
    rt::SocketAddress socket;
    bool master = false;  // serves keys (a cluster's master in the last map read; every shard)
  };

  virtual ~NodeRouter() = default;

  /// The slot of `key`: its hash slot (0..16383) or its shard's index.
  virtual int slot_of(std::string_view key) const = 0;
  /// Where keys are known to live (a cluster's map was read at least once).
  virtual bool known() const noexcept = 0;
  /// The node serving `slot`, or kNoNode (no map yet, or the slot is not served).
  virtual int node_of(int slot) const noexcept = 0;
  const Node& node(int index) const { return nodes_[static_cast<std::size_t>(index)]; }
  std::size_t node_count() const noexcept { return nodes_.size(); }
  /// Every node that serves keys, once each, in node order.
  std::vector<int> masters() const;
  /// Where keyless commands go: the node serving the lowest slot. kNoNode when none.
  virtual int any_master() const = 0;
  /// The node at `address` (a redirection's target), added when new; kNoNode when it cannot be one.
  virtual int find_or_add(const redis::NodeAddress& address) = 0;
  /// A MOVED redirection: `slot` is served by `node` from now on.
  virtual void moved(std::uint16_t slot, int node) = 0;
  /// An ASK redirection was followed (counted only).
  virtual void asked() noexcept = 0;
  /// Learns again where keys live (a cluster's CLUSTER SLOTS). Suspends until done, `deadline` or
  /// `cancel`. Returns whether the placement is known afterwards.
  virtual rt::Task<bool> refresh(RedisKey base, rt::Deadline deadline, rt::CancelSource* cancel) = 0;

  /// The pool of `node` for a client whose key (at the backend URL's first address) is `base`:
  /// the same credentials, db, RESP version and TLS at the node's address.
  RedisPoolRef pool(int node, const RedisKey& base);

 protected:
  explicit NodeRouter(RedisPools& pools) : pools_(pools) {}
  NodeRouter(const NodeRouter&) = delete;
  NodeRouter& operator=(const NodeRouter&) = delete;

  RedisPools& pools_;
  std::vector<Node> nodes_;
};

}  // namespace corral::pool
