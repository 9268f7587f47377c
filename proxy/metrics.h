// Counters per listener, shared by every worker: what /metrics, /stats.json and the dashboard show.
//
//   Worker::accept_loop ──► ListenerCounters (accepted, refused, clients open) ──► admin (worker 0) reads
//
// Relaxed atomics: they feed metrics only, and change once per client connection, not per request.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace corral::proxy {

/// What a request was, for corral_requests_total: Redis commands are one class; MySQL commands are told
/// apart by how they run.
enum class RequestClass : std::uint8_t { Command, Query, Execute, Prepare, Other };
inline constexpr std::size_t kRequestClassCount = 5;
std::string_view to_string(RequestClass c) noexcept;

/// Client-seen request latency and request counts of one listener on one worker. Written by that
/// worker's loop only (relaxed load and store: no read-modify-write on the request path), summed over
/// workers when /metrics is read.
struct alignas(64) RequestStats {
  /// Upper bounds of the latency buckets, in seconds (Prometheus `le`); a last bucket is +Inf.
  static constexpr std::array<double, 16> kBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                     0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
  /// The same in nanoseconds: the request path compares integers.
  static constexpr std::array<std::uint64_t, kBounds.size()> kBoundsNs = [] {
    std::array<std::uint64_t, kBounds.size()> ns{};
    for (std::size_t i = 0; i < ns.size(); ++i) ns[i] = static_cast<std::uint64_t>(kBounds[i] * 1e9 + 0.5);
    return ns;
  }();

  /// `count` requests of class `c` that each took `took` (a pipelined batch shares one duration).
  void observe(RequestClass c, std::chrono::nanoseconds took, std::uint64_t count = 1) noexcept {
    const auto nanoseconds = static_cast<std::uint64_t>(std::max<std::int64_t>(took.count(), 0));
    std::size_t bucket = 0;
    while (bucket < kBoundsNs.size() && nanoseconds > kBoundsNs[bucket]) ++bucket;
    bump(buckets[bucket], count);
    bump(sum_ns, static_cast<std::uint64_t>(took.count()) * count);
    bump(requests[static_cast<std::size_t>(c)], count);
  }

  std::array<std::atomic<std::uint64_t>, kBounds.size() + 1> buckets{};
  std::atomic<std::uint64_t> sum_ns{0};
  std::array<std::atomic<std::uint64_t>, kRequestClassCount> requests{};

 private:
  static void bump(std::atomic<std::uint64_t>& value, std::uint64_t by) noexcept {
    value.store(value.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }
};

/// Workers a listener's request statistics have room for (server.workers is at most 256).
inline constexpr std::size_t kMaxWorkers = 256;

struct ListenerCounters {
  std::atomic<uint64_t> clients_open{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> refused{0};  // at client.max_connections
  std::atomic<uint64_t> logins_failed{0};
  std::array<RequestStats, kMaxWorkers> requests{};  // by worker index
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
