// Backoff: what a pool remembers of its last failed open, so that a backend that is down is not dialed
// by every acquire.
//
//   open fails at T with error E ──► failed(E, T): delay = min, then 2x per further failure (at most max)
//   acquire before T + delay ──► active(): fail at once with error()
//   acquire after ──► dials again        open succeeds ──► succeeded(): the next failure starts at min
//
// Used by RedisPool and MysqlPool (E is each pool's client-visible error).
#pragma once

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "runtime/event_loop.h"

namespace corral::pool {

/// "1500 ms": how pools write a duration in errors and log lines.
inline std::string milliseconds_text(rt::Clock::duration d) {
  return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()) + " ms";
}

/// Not thread-safe: one pool, one loop. `Error` is default-constructible ("no error").
template <class Error>
class Backoff {
 public:
  /// `min` and `max` bound the delay (pool.reconnect_backoff_min_ms and _max_ms).
  Backoff(rt::Clock::duration min, rt::Clock::duration max) noexcept : min_(min), max_(max) {}

  /// True until the delay after the last failed open has passed: new acquires fail at once.
  bool active(rt::Clock::time_point now = rt::Clock::now()) const noexcept { return now < retry_at_; }

  /// An open failed at `now` with `error`: the first failure waits `min`, each further one twice as
  /// long as the one before, at most `max`.
  void failed(Error error, rt::Clock::time_point now = rt::Clock::now()) {
    if (failures_++ == 0) down_since_ = now;
    delay_ = delay_ == rt::Clock::duration{} ? min_ : std::min(delay_ * 2, max_);
    retry_at_ = now + delay_;
    error_ = std::move(error);
  }

  /// An open succeeded: the backend is back, so the error is forgotten and the delay starts over.
  /// Returns how many opens had failed in a row before it (0: the backend was not down).
  unsigned succeeded() {
    delay_ = {};
    retry_at_ = {};
    error_ = Error{};
    return std::exchange(failures_, 0);
  }

  /// Failed opens in a row; 1 right after the first: the moment to say the backend is lost.
  unsigned failures() const noexcept { return failures_; }
  /// When the first of those failures happened.
  rt::Clock::time_point down_since() const noexcept { return down_since_; }

  /// The error of the last failed open (Error{} after succeeded()).
  const Error& error() const noexcept { return error_; }
  /// The delay the last failure set (for the log).
  rt::Clock::duration delay() const noexcept { return delay_; }

 private:
  rt::Clock::duration min_;
  rt::Clock::duration max_;
  rt::Clock::duration delay_{};
  rt::Clock::time_point retry_at_{};
  Error error_{};
  unsigned failures_ = 0;
  rt::Clock::time_point down_since_{};
};

}  // namespace corral::pool
