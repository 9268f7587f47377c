// ServerInfoCache: what each backend server told about itself, by address, shared by all the pools of
// one worker that connect to that address (one per key: user, db, schema...).
//
//   pools.get(key, address) ──► pool holds info = cache.of(address)   (one entry per address)
//   pool opens a connection ──► learns into info (Redis: HELLO version, CONFIG GET databases;
//                               MySQL: the greeting's version, capabilities, collation)
//   sessions answer locally from it (HELLO, SELECT range, the MySQL greeting to clients)
#pragma once

#include <string>
#include <unordered_map>

#include "runtime/tcp.h"

namespace corral::pool {

/// Not thread-safe: one per worker. `Info` is default-constructible and starts as "not known yet".
template <class Info>
class ServerInfoCache {
 public:
  /// The entry for `address`, created empty on first use. Lifetime: the reference stays valid while
  /// the cache lives (entries are never erased, and a map node does not move when the map grows), so
  /// a pool may keep it.
  Info& of(const rt::SocketAddress& address) { return by_address_[address.to_string()]; }

 private:
  std::unordered_map<std::string, Info> by_address_;  // by SocketAddress::to_string()
};

}  // namespace corral::pool
