// Counters per listener, shared by every worker: what /metrics, /stats.json and the dashboard show.
//
//   Worker::accept_loop ──► ListenerCounters (accepted, refused, clients open) ──► admin (worker 0) reads
//
// Relaxed atomics: they feed metrics only, and change once per client connection, not per request.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corral::proxy {

struct ListenerCounters {
  std::atomic<uint64_t> clients_open{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused{0};  // at client.max_connections
  std::atomic<uint64_t> logins_failed{0};
};

/// The counters of every listener name ever configured (a reload may add and remove listeners; a name
/// that comes back continues its counters, as Prometheus counters should). Thread-safe.
class MetricsRegistry {
 public:
  /// The counters of listener `name`, made on first use. Lifetime: as long as the registry.
  ListenerCounters& listener(const std::string& name);
  /// Every listener's counters, by name.
  std::vector<std::pair<std::string, const ListenerCounters*>> listeners() const;

 private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<ListenerCounters>> listeners_;  // guarded by mutex_
};

/// A refused login: counted for the listener and logged with the user, the client's address and why
/// (callers never pass a password, token or hash).
void record_failed_login(MetricsRegistry& metrics, const std::string& listener, std::string_view user,
                         std::string_view from, std::string_view reason);

}  // namespace corral::proxy
