#include "pool/shard_map.h"

#include <stdexcept>

namespace corral::pool {

namespace {

std::vector<KetamaRing::Server> ring_servers(const config::BackendUrl& url) {
  std::vector<KetamaRing::Server> servers;
  for (const config::Shard& shard : url.shard_list) servers.push_back(KetamaRing::Server{shard.name, shard.weight});
  return servers;
}

}  // namespace

ShardMap::ShardMap(const config::BackendUrl& url, const std::vector<rt::SocketAddress>& addresses, RedisPools& pools)
    : NodeRouter(pools), ring_(ring_servers(url), url.hash_tag) {
  if (addresses.size() != url.shard_list.size()) throw std::logic_error("ShardMap: one address per shard");
  for (std::size_t i = 0; i < addresses.size(); ++i) {
    const config::Endpoint& endpoint = url.shard_list[i].endpoint;
    nodes_.push_back(Node{redis::NodeAddress{endpoint.host, endpoint.port}, addresses[i], true});
  }
}

rt::Task<bool> ShardMap::refresh(RedisKey, rt::Deadline, rt::CancelSource*) {
  co_return true;  // the configuration fixes the placement
}

}  // namespace corral::pool
