// Structured, levelled logging through fmt: one line per event, as text or as JSON (server.log_format),
//   2026-11-23T09:30:00.123Z INFO  [w1] accepted client peer=127.0.0.1:51234
//   {"time":"2026-11-23T09:30:00.123Z","level":"info","thread":"w1","message":"accepted client peer=..."}
// Lines go to stderr with one write each so lines of different threads never interleave.
#pragma once

#include <fmt/format.h>

#include <atomic>
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
