#include "pool/mysql_own_threads.h"

namespace corral::pool {

MysqlOwnThreads& MysqlOwnThreads::of_process() {
  // Never destroyed: connections closed during static destruction still find it.
  static MysqlOwnThreads* const registry = new MysqlOwnThreads();
  return *registry;
}

void MysqlOwnThreads::add(const std::string& address, std::uint32_t thread) {
  const std::lock_guard lock(mutex_);
  threads_.emplace(address, thread);
}

void MysqlOwnThreads::remove(const std::string& address, std::uint32_t thread) {
  const std::lock_guard lock(mutex_);
  const auto it = threads_.find({address, thread});
  if (it != threads_.end()) threads_.erase(it);
}

bool MysqlOwnThreads::contains(const std::string& address, std::uint32_t thread) {
  const std::lock_guard lock(mutex_);
  return threads_.contains({address, thread});
}

}  // namespace corral::pool
