// What one worker's backend pools count and hold, per backend, for /metrics, /stats.json and the
// dashboard.
//
//   RedisPool / MysqlPool and their connections ──count (plain integers)──► BackendCounters
//                                                  (this worker's, one per backend label)
//   admin scrape ──post to each worker's loop──► BackendMetrics::snapshot(): the counters copied and
//                  the gauges read off the live pools ──post back──► summed over workers by label
//
// Shared-nothing: the counters are plain integers written on the request path of their own loop and
// read only there (the scrape goes to the loop), so counting costs no atomic and no lock. The gauges
// (connections by state, waiters) are not kept up to date at all: a scrape counts them from the pools.
//
// Label: one per backend server, "scheme://host:port" (redis, rediss, mysql; the host as configured,
// IPv6 bracketed): never a user, password, database or schema. The pools of every key of one server
// (per-user pools under auth = "backend", one per Redis db or MySQL schema) add up under that one
// label, so the series are bounded by the configured backends, not by clients.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "runtime/event_loop.h"
#include "runtime/latency_histogram.h"
#include "runtime/tls.h"

namespace corral::pool {

/// Backend trouble, by kind: a small fixed set (docs/CONFIGURATION.md, "Metrics").
enum class BackendError : std::uint8_t {
  ConnectFailed,  // an open failed: connect, TLS, handshake or login (the same as connects{result="failed"})
  Timeout,        // an established connection passed pool.operation_timeout (or the statement timeout)
  BackendClosed,  // the backend closed or reset an established connection
  ProtocolError,  // the backend sent bytes corral cannot parse, or a reply nobody asked for
  ServerError,    // an error reply relayed to a client (RESP -ERR..., MySQL ERR_Packet)
};
inline constexpr std::size_t kBackendErrorKinds = 5;
std::string_view to_string(BackendError kind) noexcept;

/// Connections of a backend by what they do now (a scrape's count; every connection is in one).
struct BackendGauges {
  std::uint64_t connecting = 0;  // being opened (connect, TLS, handshake, login)
  std::uint64_t idle = 0;        // open, nothing in flight, not lent
  std::uint64_t in_use = 0;      // Redis shared: requests in flight; MySQL: lent for a statement
  std::uint64_t pinned = 0;      // lent to one client between its requests (MULTI, blocking, subscribe,
                                 // MySQL transaction and the other pin reasons)
  std::uint64_t waiters = 0;     // requests waiting for a connection of the pool
  std::uint64_t pools = 0;       // pools (distinct keys) of the backend

  std::uint64_t open() const noexcept { return idle + in_use + pinned; }
  void add(const BackendGauges& other) noexcept;
};

/// A pool that can say what its connections do now (RedisPool, MysqlPool).
class PoolGaugeSource {
 public:
  virtual void add_gauges(BackendGauges& gauges) const = 0;

 protected:
  ~PoolGaugeSource() = default;
};

/// The counters of one backend on one worker (everything but the gauges). Plain data: copied by a scrape.
struct BackendFigures {
  std::uint64_t connects_ok = 0;
  std::uint64_t connects_failed = 0;
  std::uint64_t pool_timeouts = 0;  // waits for a connection that ran out of pool.queue_timeout
  std::array<std::uint64_t, kBackendErrorKinds> errors{};
  /// Backend round trips: from writing a request (a pipelined batch) to its reply's last byte.
  rt::LatencyHistogram latency;
  // The latest open attempt: the backend is up when the server answered it (even with a refusal).
  bool opened_ever = false;
  bool last_open_answered = false;
  rt::Clock::time_point last_open_at{};
};

/// One backend's counters on one worker. Not thread-safe: touched on the worker's loop only.
/// Lifetime: as long as the worker's BackendMetrics (the process), past every pool.
struct BackendCounters {
  /// An open ended: `ok`, or failed with (`answered`) or without an answer from the server.
  void opened(bool ok, bool answered) noexcept;
  void error(BackendError kind) noexcept { ++figures.errors[static_cast<std::size_t>(kind)]; }

  BackendFigures figures;
  rt::TlsHandshakeCounters tls;                   // the backend connections' handshakes
  std::unordered_set<const PoolGaugeSource*> pools;  // the live pools of this backend on this loop
};

/// One backend's figures over one worker (or, summed, over all).
struct BackendSnapshot {
  std::string label;
  BackendFigures figures;
  BackendGauges gauges;
  std::uint64_t tls_ok = 0;
  std::uint64_t tls_failed = 0;

  /// Adds `other` (the same backend on another worker): counters and gauges add up; the newer open
  /// attempt says whether the backend is up.
  void add(const BackendSnapshot& other);
};

/// "redis://host:port" for a Redis key or URL (`tls`: rediss), IPv6 hosts bracketed.
std::string redis_backend_label(std::string_view host, std::uint16_t port, bool tls);
/// "mysql://host:port".
std::string mysql_backend_label(std::string_view host, std::uint16_t port);

/// The backend counters of one worker, by label. Not thread-safe: one loop (the daemon makes it before
/// the loop runs). Lifetime: outlives every pool that counts into it.
class BackendMetrics {
 public:
  /// The counters of `label`, made on first use; the address stays valid.
  BackendCounters& backend(const std::string& label);
  /// Every backend's counters and current gauges, in label order. On the loop's thread.
  std::vector<BackendSnapshot> snapshot() const;

 private:
  std::map<std::string, std::unique_ptr<BackendCounters>> backends_;
};

/// Snapshots of several workers summed by label, in label order.
std::vector<BackendSnapshot> sum_by_backend(const std::vector<std::vector<BackendSnapshot>>& workers);

/// Registers a pool with `counters` for the scrape's gauges, and unregisters it when destroyed.
class PoolRegistration {
 public:
  PoolRegistration(BackendCounters& counters, const PoolGaugeSource& pool) : counters_(counters), pool_(pool) {
    counters_.pools.insert(&pool_);
  }
  PoolRegistration(const PoolRegistration&) = delete;
  PoolRegistration& operator=(const PoolRegistration&) = delete;
  ~PoolRegistration() { counters_.pools.erase(&pool_); }

 private:
  BackendCounters& counters_;
  const PoolGaugeSource& pool_;
};

}  // namespace corral::pool
