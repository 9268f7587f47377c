// RedisServerPauses: the CLIENT PAUSEs corral forwarded, per backend server, shared by every worker.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace corral::proxy {

/// While a backend server may be paused, a request sent to it may be held back by the server (a
/// write under PAUSE WRITE, anything under PAUSE ALL). The session then marks such a request like a
/// script (RedisConnection::submit's runs_script): other clients' requests do not queue behind it on
/// the same shared connection, and no operation timeout fails it, as a paused client waits direct.
/// Only pauses sent through corral are known; UNPAUSE through corral ends one early.
class RedisServerPauses {
 public:
  using Clock = std::chrono::steady_clock;

  void paused(const std::string& backend, Clock::time_point until) {
    std::lock_guard lock(mutex_);
    Clock::time_point& end = until_[backend];
    end = std::max(end, until);
    const int64_t ns = until.time_since_epoch().count();
    int64_t latest = latest_.load(std::memory_order_relaxed);
    while (latest < ns && !latest_.compare_exchange_weak(latest, ns, std::memory_order_relaxed)) {
    }
  }

  void unpaused(const std::string& backend) {
    std::lock_guard lock(mutex_);
    until_.erase(backend);
  }

  /// Whether a pause was forwarded that may not have ended: one relaxed load (the hot path).
  bool any() const { return latest_.load(std::memory_order_relaxed) != 0; }

  bool active(const std::string& backend) {
    const int64_t latest = latest_.load(std::memory_order_relaxed);
    if (latest == 0) return false;
    const Clock::time_point now = Clock::now();
    if (now.time_since_epoch().count() > latest) {
      std::lock_guard lock(mutex_);
      if (latest_.load(std::memory_order_relaxed) == latest) {
        latest_.store(0, std::memory_order_relaxed);
        until_.clear();
      }
      return false;
    }
    std::lock_guard lock(mutex_);
    const auto found = until_.find(backend);
    return found != until_.end() && now < found->second;
  }

 private:
  std::atomic<int64_t> latest_{0};  // the latest end of any pause (steady clock ns), 0: none
  std::mutex mutex_;
  std::map<std::string, Clock::time_point> until_;  // guarded by mutex_
};

}  // namespace corral::proxy
