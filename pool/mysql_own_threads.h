// The server thread ids of this process's own MySQL backend connections (pooled, lent, or opened for
// one task such as a KILL or a health check), by server address.
//
//   MysqlConnection greeted ─► add(address, thread id) ... close() ─► remove(address, thread id)
//   a KILL of a thread no corral client is on ─► contains()? refused : handed to the server
//
// corral hands the server a client's KILL of a thread that is neither one of its clients nor one of
// its own connections (an event worker, a direct connection of the same account): the server then
// applies its own rule. Its own connections serve other clients, so no such KILL may name them.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <utility>

namespace corral::pool {

/// Thread-safe: connections of every worker register here, and a KILL on any worker asks.
class MysqlOwnThreads {
 public:
  /// The one registry of the process.
  static MysqlOwnThreads& of_process();

  void add(const std::string& address, std::uint32_t thread);
  void remove(const std::string& address, std::uint32_t thread);
  /// True when `thread` on the server at `address` ("host:port", as rt::SocketAddress prints it) is
  /// one of this process's connections now.
  bool contains(const std::string& address, std::uint32_t thread);

 private:
  std::mutex mutex_;
  // A multiset: after a server restart a new connection may get the thread id of an old one not yet
  // closed, and closing the old one must not unregister the new one. Guarded by mutex_.
  std::multiset<std::pair<std::string, std::uint32_t>> threads_;
};

}  // namespace corral::pool
