// Latency histograms with fixed Prometheus buckets, shared by the client-seen request statistics
// (proxy/metrics.h) and the backend round trips (pool/backend_metrics.h).
//
//   request path: observe(took, count) ──► bucket counters (plain integers, one loop)
//   scrape: copies summed over workers ──► `le` buckets, _sum, _count
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

#include "runtime/event_loop.h"

namespace corral::rt {

/// Upper bounds of the latency buckets, in seconds (Prometheus `le`); a last bucket is +Inf.
inline constexpr std::array<double, 16> kLatencyBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                          0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                                          1,      2.5,     5,      10};
/// The same in nanoseconds: the request path compares integers.
inline constexpr std::array<std::uint64_t, kLatencyBounds.size()> kLatencyBoundsNs = [] {
  std::array<std::uint64_t, kLatencyBounds.size()> ns{};
  for (std::size_t i = 0; i < ns.size(); ++i) ns[i] = static_cast<std::uint64_t>(kLatencyBounds[i] * 1e9 + 0.5);
  return ns;
}();
/// Buckets of a histogram: one per bound and +Inf.
inline constexpr std::size_t kLatencyBuckets = kLatencyBounds.size() + 1;

/// The bucket `nanoseconds` falls in (the last one is +Inf).
inline std::size_t latency_bucket(std::uint64_t nanoseconds) noexcept {
  std::size_t bucket = 0;
  while (bucket < kLatencyBoundsNs.size() && nanoseconds > kLatencyBoundsNs[bucket]) ++bucket;
  return bucket;
}

/// A latency histogram of plain counters. Not thread-safe: written and read on one loop (a scrape
/// copies it there).
struct LatencyHistogram {
  /// `count` events that each took `took` (negative durations count as zero).
  void observe(Clock::duration took, std::uint64_t count = 1) noexcept {
    const auto nanoseconds = static_cast<std::uint64_t>(
        std::max<std::int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(took).count(), 0));
    buckets[latency_bucket(nanoseconds)] += count;
    sum_ns += nanoseconds * count;
  }
  /// Adds `other`'s events to these (summing workers).
  void add(const LatencyHistogram& other) noexcept {
    for (std::size_t i = 0; i < buckets.size(); ++i) buckets[i] += other.buckets[i];
    sum_ns += other.sum_ns;
  }
  std::uint64_t count() const noexcept {
    std::uint64_t total = 0;
    for (const std::uint64_t n : buckets) total += n;
    return total;
  }

  std::array<std::uint64_t, kLatencyBuckets> buckets{};  // not cumulative: events per bucket
  std::uint64_t sum_ns = 0;
};

}  // namespace corral::rt
