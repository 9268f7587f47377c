// A real Redis Cluster on free loopback ports, for integration tests.
//
//   RedisCluster(options) ──► N RedisServer (--cluster-enabled yes, nodes.conf in each one's dir)
//     ──► redis-cli --cluster create host:port... --cluster-replicas R --cluster-yes
//     ──► wait: CLUSTER INFO says cluster_state:ok on every node, and every node sees every slot;
//               every master's replicas are online (synced), so a replica can take over
//   nodes()[i]: the servers (kill() one for a failover test)   seeds(): "redis-cluster://h:p,h:p,..."
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "redis_server.h"

namespace corral::testing {

struct RedisClusterOptions {
  std::size_t masters = 3;
  std::size_t replicas_per_master = 1;
  /// cluster-node-timeout: how long a master must be unreachable before its replica takes over.
  std::chrono::milliseconds node_timeout{1000};
  /// requirepass and masterauth of every node (the harness and redis-cli use it too); empty: none.
  std::string password{};
  /// More arguments for every node.
  std::vector<std::string> extra_args{};
  std::chrono::milliseconds ready_timeout{60000};
};

/// Starts masters × (1 + replicas) redis-server nodes in cluster mode on 127.0.0.1, joins them with
/// redis-cli --cluster create and returns once every node reports cluster_state:ok and agrees on the
/// slot owners. Throws HarnessError (with redis-cli's output) when the cluster does not form.
/// Lifetime: the destructor kills every node and removes their directories. Not thread-safe.
class RedisCluster {
 public:
  explicit RedisCluster(RedisClusterOptions options = {});
  RedisCluster(RedisCluster&&) noexcept = default;
  RedisCluster& operator=(RedisCluster&&) noexcept = default;

  std::vector<RedisServer>& nodes() { return nodes_; }
  /// "redis-cluster://[:password@]127.0.0.1:P1,127.0.0.1:P2,...": every node as a seed.
  std::string url() const;
  /// "redis-cluster://127.0.0.1:P" with one node only.
  std::string url_of(std::size_t node) const;

  /// The node (index into nodes()) that is master of `slot` now, as node `asked` sees it (CLUSTER SLOTS);
  /// throws when that node does not know one.
  std::size_t master_of(std::uint16_t slot, std::size_t asked = 0);
  /// The index of the node listening on `port`, or nodes().size().
  std::size_t index_of(std::uint16_t port) const;
  /// CLUSTER KEYSLOT `key`, asked of node 0.
  std::uint16_t keyslot(std::string_view key);
  /// Runs one command on the node that masters `key`'s slot now and returns the raw reply.
  std::string command_for_key(std::string_view key, const std::vector<std::string>& args);

  /// Waits until every running node reports cluster_state:ok and agrees with every other on the
  /// master of every slot range. Throws HarnessError after `timeout`.
  void wait_consistent(std::chrono::milliseconds timeout);

 private:
  /// Waits until every master has its replicas connected and synced (state=online).
  void wait_replicas_online(std::chrono::milliseconds timeout);

  RedisClusterOptions options_;
  std::vector<RedisServer> nodes_;
};

}  // namespace corral::testing
