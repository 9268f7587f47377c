// The Redis side of one listener: its sessions, the local commands they share, the worker's pools.
#pragma once

#include <memory>
#include <string_view>

#include "pool/cluster_map.h"
#include "pool/redis_pool.h"
#include "proxy/frontend.h"
#include "proxy/redis/local_commands.h"

namespace corral::proxy {

/// Serves Redis clients (RedisSession, proxy/redis/session.cc). Not thread-safe: lives on its worker's loop.
class RedisFrontend final : public Frontend {
 public:
  explicit RedisFrontend(const ListenerEnv& env)
      : Frontend(env),
        local_(*env.config, *env.listener, &env.shared->metrics, env.backend_tls),
        cluster_(env.listener->backend.cluster
                     ? std::make_unique<pool::ClusterMap>(env.listener->backend, env.backend_address, env.pools->redis,
                                                        &env.shared->redis_cluster)
                     : nullptr) {}

  rt::Task<void> serve(rt::TcpStream client) override;
  std::string_view too_many_clients_reply() const override { return "-ERR max number of clients reached\r\n"; }

  const RedisLocalCommands& local_commands() const noexcept { return local_; }
  pool::RedisPools& pools() const noexcept { return env().pools->redis; }
  /// The slot map of a redis-cluster backend (proxy/redis/cluster_session.h); null for one server.
  pool::ClusterMap* cluster_map() const noexcept { return cluster_.get(); }

 private:
  RedisLocalCommands local_;
  std::unique_ptr<pool::ClusterMap> cluster_;
};

}  // namespace corral::proxy
