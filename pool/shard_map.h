// The servers of a redis-shards:// backend: independent redis-servers, each key on the one its
// ketama ring picks (pool/ketama_ring.h), twemproxy's model for users without Redis Cluster.
//
//   key ──KetamaRing::server_of()──► shard index == slot == node ──pool()──► that server's RedisPool
//
// The placement is fixed by the configuration: a shard that is down fails the requests for its keys
// (its pool's error) and is never replaced by another, which would move its keys (twemproxy's
// auto_eject_hosts is not offered, see docs/CONFIGURATION.md).
#pragma once

#include <string_view>
#include <vector>

#include "config/config.h"
#include "pool/ketama_ring.h"
#include "pool/node_router.h"

namespace corral::pool {

/// Not thread-safe: one per listener per worker, on its loop. Lifetime: `pools` outlives it.
class ShardMap final : public NodeRouter {
 public:
  /// `url`: the redis-shards:// backend; `addresses`: its shards, resolved at start-up, in its order.
  ShardMap(const config::BackendUrl& url, const std::vector<rt::SocketAddress>& addresses, RedisPools& pools);

  int slot_of(std::string_view key) const override { return static_cast<int>(ring_.server_of(key)); }
  bool known() const noexcept override { return true; }
  int node_of(int slot) const noexcept override { return slot; }
  int any_master() const override { return 0; }
  /// A standalone server never redirects: a MOVED or ASK from one goes to the client as it is.
  int find_or_add(const redis::NodeAddress&) override { return kNoNode; }
  void moved(std::uint16_t, int) override {}
  void asked() noexcept override {}
  rt::Task<bool> refresh(RedisKey, rt::Deadline, rt::CancelSource*) override;

 private:
  KetamaRing ring_;
};

}  // namespace corral::pool
