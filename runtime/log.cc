#include "runtime/log.h"

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <string>

#include "runtime/json.h"

namespace corral::rt::log {

namespace {
std::atomic<Level> g_level{Level::Info};
std::atomic<Format> g_format{Format::Text};
thread_local std::string tls_thread_name = "main";

std::string_view level_name(Level level) {
  switch (level) {
    case Level::Trace: return "TRACE";
    case Level::Debug: return "DEBUG";
    case Level::Info: return "INFO ";
    case Level::Warn: return "WARN ";
    case Level::Error: return "ERROR";
  }
  return "?????";
}

std::string_view json_level_name(Level level) {
  switch (level) {
    case Level::Trace: return "trace";
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warn";
    case Level::Error: return "error";
  }
  return "unknown";
}
}  // namespace

void set_level(Level level) noexcept { g_level.store(level, std::memory_order_relaxed); }
Level level() noexcept { return g_level.load(std::memory_order_relaxed); }
void set_format(Format format) noexcept { g_format.store(format, std::memory_order_relaxed); }
void set_thread_name(std::string_view name) { tls_thread_name = name; }

std::string format_line(Format format, Level level, std::string_view time, std::string_view thread,
                        std::string_view message) {
  if (format == Format::Json) {
    return fmt::format(R"({{"time":"{}","level":"{}","thread":{},"message":{}}})"
                       "\n",
                       time, json_level_name(level), json_string(thread), json_string(message));
  }
  return fmt::format("{} {} [{}] {}\n", time, level_name(level), thread, message);
}

void write(Level lvl, std::string_view message) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  ::gmtime_r(&seconds, &utc);
  const std::string time = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                                       utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec, millis);
  const std::string line = format_line(g_format.load(std::memory_order_relaxed), lvl, time, tls_thread_name, message);
  // One write(2) per line: atomic with respect to other threads' lines for pipes and files.
  [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace corral::rt::log
