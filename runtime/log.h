// Structured, levelled logging through fmt: one line per event, as text or as JSON (server.log_format),
//   2026-11-23T09:30:00.123Z INFO  [w1] accepted client peer=127.0.0.1:51234
//   {"time":"2026-11-23T09:30:00.123Z","level":"info","thread":"w1","message":"accepted client peer=..."}
// Lines go to stderr with one write each so lines of different threads never interleave.
#pragma once

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <utility>
#include <string>
#include <string_view>

namespace corral::rt::log {

enum class Level { Trace, Debug, Info, Warn, Error };
enum class Format { Text, Json };

void set_level(Level level) noexcept;
void set_format(Format format) noexcept;
Level level() noexcept;
/// Names this thread in log lines ("main", "w0", ...).
void set_thread_name(std::string_view name);

void write(Level level, std::string_view message);

/// One line as write() prints it (newline included): `time` is UTC "YYYY-MM-DDTHH:MM:SS.mmmZ".
std::string format_line(Format format, Level level, std::string_view time, std::string_view thread,
                        std::string_view message);

template <class... Args>
void emit(Level lvl, fmt::format_string<Args...> format, Args&&... args) {
  if (lvl < level()) return;
  write(lvl, fmt::format(format, std::forward<Args>(args)...));
}

/// At most one line per interval for an event that may repeat for every request (a pool timeout under
/// overload): allow() says whether to log now, and the next line logged says how many were left out.
/// Not thread-safe: one per pool or session, on its loop.
class Throttle {
 public:
  explicit Throttle(std::chrono::steady_clock::duration interval = std::chrono::seconds(1)) : interval_(interval) {}

  bool allow(std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now()) {
    if (logged_once_ && now - last_ < interval_) {
      ++suppressed_;
      return false;
    }
    logged_once_ = true;
    last_ = now;
    return true;
  }
  /// " (N more like it not logged)" once after lines were left out, else "".
  std::string suppressed_text() {
    if (suppressed_ == 0) return {};
    return fmt::format(" ({} more like it not logged)", std::exchange(suppressed_, 0));
  }

 private:
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point last_{};
  bool logged_once_ = false;
  uint64_t suppressed_ = 0;
};

template <class... Args>
void trace(fmt::format_string<Args...> f, Args&&... a) { emit(Level::Trace, f, std::forward<Args>(a)...); }
template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... a) { emit(Level::Debug, f, std::forward<Args>(a)...); }
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... a) { emit(Level::Info, f, std::forward<Args>(a)...); }
template <class... Args>
void warn(fmt::format_string<Args...> f, Args&&... a) { emit(Level::Warn, f, std::forward<Args>(a)...); }
template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... a) { emit(Level::Error, f, std::forward<Args>(a)...); }

}  // namespace corral::rt::log
