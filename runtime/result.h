// Result<T, E>: a value or an error, for expected failures (STYLE.md: the data plane does not throw for
// peer closed, timeout, bad bytes, pool exhausted).
//
//   runtime, pool, proxy: rt::Result<T>     value or std::error_code
//   protocols/mysql:      mysql::Result<T>  value or mysql::Errc (an alias of rt::Result<T, mysql::Errc>)
//
// Header-only (the template needs nothing of corral_runtime), so the sans-IO codecs use it without
// linking the runtime. error() of a value is E{}, "no error" (std::error_code{}, mysql::Errc::Ok).
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace corral::rt {

/// Errors of corral's own (std::errc covers timeouts, cancellation and errno values).
enum class Errc {
  Ok = 0,
  PeerClosed = 1,  // the other side closed the connection
  Stopped,         // the loop or scope is shutting down
};

std::string_view to_string(Errc e) noexcept;
const std::error_category& corral_category() noexcept;

/// The std::error_category of an error enum `E` of corral's: a name, and as message the enum's
/// to_string(E) (found by argument-dependent lookup), so each enum's texts are written once.
/// Lifetime: keep one static instance per enum, returned by the enum's `..._category()` function.
template <class E>
class EnumCategory final : public std::error_category {
 public:
  explicit constexpr EnumCategory(const char* name) noexcept : name_(name) {}
  const char* name() const noexcept override { return name_; }
  std::string message(int value) const override { return std::string(to_string(static_cast<E>(value))); }

 private:
  const char* name_;
};

inline std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), corral_category()};
}

inline std::error_code timed_out() noexcept { return std::make_error_code(std::errc::timed_out); }
inline std::error_code cancelled() noexcept { return std::make_error_code(std::errc::operation_canceled); }
inline std::error_code errno_code(int err) noexcept { return {err, std::system_category()}; }

/// Whether `e` is an error: std::error_code says so itself (any value but 0), an enum by differing from
/// its zero value.
template <class E>
constexpr bool is_error(const E& e) noexcept {
  if constexpr (std::is_constructible_v<bool, E>) {
    return static_cast<bool>(e);
  } else {
    return e != E{};
  }
}

/// A value or why there is none; [[nodiscard]]: dropping one drops a failure unseen.
template <class T, class E = std::error_code>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}  // NOLINT: implicit by design, like std::expected
  Result(E error) : error_(error) { assert(is_error(error)); }  // NOLINT

  bool ok() const noexcept { return value_.has_value(); }
  explicit operator bool() const noexcept { return ok(); }
  E error() const noexcept { return error_; }

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
  E error_{};
};

template <class E>
class [[nodiscard]] Result<void, E> {
 public:
  Result() = default;
  Result(E error) : error_(error) {}  // NOLINT

  bool ok() const noexcept { return !is_error(error_); }
  explicit operator bool() const noexcept { return ok(); }
  E error() const noexcept { return error_; }

 private:
  E error_{};
};

}  // namespace corral::rt

template <>
struct std::is_error_code_enum<corral::rt::Errc> : std::true_type {};
