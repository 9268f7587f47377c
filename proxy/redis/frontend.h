// The Redis side of one listener: its sessions, the local commands they share, the worker's pools.
#pragma once

#include <memory>
#include <string_view>

#include "pool/cluster_map.h"
#include "pool/node_router.h"
#include "pool/redis_pool.h"
#include "pool/shard_map.h"
#include "proxy/frontend.h"
#include "proxy/redis/local_commands.h"

namespace corral::proxy {

/// Serves Redis clients (RedisSession, proxy/redis/session.cc). Not thread-safe: lives on its worker's loop.
class RedisFrontend final : public Frontend {
 public:
  explicit RedisFrontend(const ListenerEnv& env)
      : Frontend(env),
        local_(*env.config, *env.listener, &env.shared->metrics, env.backend_tls),
        router_(make_router(env)) {}

  rt::Task<void> serve(rt::TcpStream client) override;
  std::string_view too_many_clients_reply() const override { return "-ERR max number of clients reached\r\n"; }

  const RedisLocalCommands& local_commands() const noexcept { return local_; }
  pool::RedisPools& pools() const noexcept { return env().pools->redis; }
  /// Where keys live for a redis-cluster or redis-shards backend (proxy/redis/cluster_session.h);
  /// null for one server.
  pool::NodeRouter* router() const noexcept { return router_.get(); }

 private:
  static std::unique_ptr<pool::NodeRouter> make_router(const ListenerEnv& env) {
    const config::BackendUrl& url = env.listener->backend;
    if (url.cluster) {
      return std::make_unique<pool::ClusterMap>(url, *env.backend_nodes, env.pools->redis, &env.shared->redis_cluster);
    }
    if (url.shards) return std::make_unique<pool::ShardMap>(url, *env.backend_nodes, env.pools->redis);
    return nullptr;
  }

  RedisLocalCommands local_;
  std::unique_ptr<pool::NodeRouter> router_;
};

}  // namespace corral::proxy
