#include "pool/node_router.h"

namespace corral::pool {

std::vector<int> NodeRouter::masters() const {
  std::vector<int> out;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].master) out.push_back(static_cast<int>(i));
  }
  return out;
}

RedisPoolRef NodeRouter::pool(int node, const RedisKey& base) {
  const Node& n = nodes_[static_cast<std::size_t>(node)];
  RedisKey key = base;
  key.host = n.address.host;
  key.port = n.address.port;
  return pools_.get(key, n.socket);
}

}  // namespace corral::pool
