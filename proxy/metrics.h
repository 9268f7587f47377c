// Counters per listener, shared by every worker, and every worker's backend figures: what /metrics,
// /stats.json and the dashboard show.
//
//   Worker::accept_loop ──► ListenerCounters (accepted, refused, clients open) ──► admin (worker 0) reads
//   pools of worker N ──► its pool::BackendMetrics ◄──post── admin: backends() ──► summed by backend
//
// Listener counters are relaxed atomics: they feed metrics only, and change once per client connection,
// not per request (request statistics are per-worker shards). Backend figures stay on their worker's
// loop; a scrape asks each loop for a copy (pool/backend_metrics.h).
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
#include <optional>
#include <vector>

#include "config/config.h"
#include "pool/backend_metrics.h"
#include "runtime/event_loop.h"
#include "runtime/latency_histogram.h"
#include "runtime/task.h"
#include "runtime/tls.h"

namespace corral::proxy {

/// What a request was, for corral_requests_total: Redis commands are one class; MySQL commands are told
/// apart by how they run.
enum class RequestClass : std::uint8_t { Command, Query, Execute, Prepare, Other };
inline constexpr std::size_t kRequestClassCount = 5;
std::string_view to_string(RequestClass c) noexcept;

/// Client-seen request latency and request counts of one listener on one worker. Written by that
/// worker's loop only (relaxed load and store: no read-modify-write on the request path), summed over
/// workers when /metrics is read.
/// Buckets: runtime/latency_histogram.h.
struct alignas(64) RequestStats {
  /// `count` requests of class `c` that each took `took` (a pipelined batch shares one duration).
  void observe(RequestClass c, std::chrono::nanoseconds took, std::uint64_t count = 1) noexcept {
    const auto nanoseconds = static_cast<std::uint64_t>(std::max<std::int64_t>(took.count(), 0));
    bump(buckets[rt::latency_bucket(nanoseconds)], count);
    bump(sum_ns, static_cast<std::uint64_t>(took.count()) * count);
    bump(requests[static_cast<std::size_t>(c)], count);
  }

  std::array<std::atomic<std::uint64_t>, rt::kLatencyBuckets> buckets{};
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
  std::atomic<uint64_t> logins_ok{0};      // AUTH / HELLO AUTH, an implicit Redis login, MySQL logins
  std::atomic<uint64_t> logins_failed{0};
  rt::TlsHandshakeCounters tls;  // the clients' handshakes (TLS listeners)
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

  /// Start-up only, before the workers run: the backend figures of the worker on `loop`, which its
  /// pools count into. Lifetime: as long as the registry.
  pool::BackendMetrics& add_worker(rt::EventLoop& loop);
  /// Every worker's backend figures, summed by backend. Suspends until each worker's loop made its
  /// copy; nullopt when one did not before `deadline` or `cancel` fired (a late answer is dropped).
  rt::Task<std::optional<std::vector<pool::BackendSnapshot>>> backends(rt::Deadline deadline,
                                                                       rt::CancelSource* cancel) const;

 private:
  struct WorkerBackends {
    rt::EventLoop* loop;
    pool::BackendMetrics metrics;  // touched on `loop` only
  };

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<ListenerCounters>> listeners_;  // guarded by mutex_
  std::vector<std::unique_ptr<WorkerBackends>> workers_;               // fixed once the workers run
};

/// The backend label of `url` in the backend families: "scheme://host:port" (pool/backend_metrics.h).
std::string backend_label(const config::BackendUrl& url);

/// A login that succeeded: counted for the listener.
void record_login(MetricsRegistry& metrics, const std::string& listener);

/// A refused login: counted for the listener and logged with the user, the client's address and why
/// (callers never pass a password, token or hash).
void record_failed_login(MetricsRegistry& metrics, const std::string& listener, std::string_view user,
                         std::string_view from, std::string_view reason);

}  // namespace corral::proxy
