// Result<T>: a value or a std::error_code, for expected failures on the data plane (STYLE.md: the data
// plane does not throw for peer closed, timeout, bad bytes, pool exhausted).
#pragma once

#include <cassert>
#include <optional>
#include <system_error>
#include <utility>

namespace corral::rt {

/// Errors of corral's own (std::errc covers timeouts, cancellation and errno values).
enum class Errc {
  Ok = 0,
  PeerClosed = 1,  // the other side closed the connection
  Stopped,         // the loop or scope is shutting down
};

const std::error_category& corral_category() noexcept;

inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), corral_category()};
}

inline std::error_code timed_out() noexcept { return std::make_error_code(std::errc::timed_out); }
inline std::error_code cancelled() noexcept { return std::make_error_code(std::errc::operation_canceled); }
inline std::error_code errno_code(int err) noexcept { return {err, std::system_category()}; }

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design, like std::expected
  Result(std::error_code error) : error_(error) { assert(error); }  // NOLINT

  bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  std::error_code error() const noexcept { return error_; }

  T& value() & { assert(ok()); return *value_; }
  T&& value() && { assert(ok()); return std::move(*value_); }
  const T& value() const& { assert(ok()); return *value_; }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  const T& operator*() const& { return value(); }

 private:
  std::optional<T> value_;
  std::error_code error_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(std::error_code error) : error_(error) {}  // NOLINT

  bool ok() const noexcept { return !error_; }
  explicit operator bool() const noexcept { return ok(); }
  std::error_code error() const noexcept { return error_; }

 private:
  std::error_code error_;
};

}  // namespace corral::rt

template <>
struct std::is_error_code_enum<corral::rt::Errc> : std::true_type {};
