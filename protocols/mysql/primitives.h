// Basic data types of the protocol ("Protocol::Basic Data Types"): fixed-length little-endian
// integers, length-encoded integers and strings, NUL-terminated strings, rest-of-packet strings.
//
// Reader walks one payload and never reads past it: the first failure is remembered ("sticky") and
// every later read returns zero or an empty view, so a decoder reads all fields and checks ok() once.
// Writer appends to a std::string.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/mysql/errors.h"

namespace corral::mysql {

/// Length-encoded integer prefixes (Protocol::LengthEncodedInteger).
inline constexpr std::uint8_t kLenencNull = 0xfb;  // NULL in a text row, LOCAL INFILE marker as a column count
inline constexpr std::uint8_t kLenenc2 = 0xfc;
inline constexpr std::uint8_t kLenenc3 = 0xfd;
inline constexpr std::uint8_t kLenenc8 = 0xfe;

/// Bounds-checked reader over one payload. Not thread-safe. Lifetime: views it returns point into the
/// payload it was given.
class Reader {
 public:
  explicit Reader(std::string_view payload) noexcept : data_(payload) {}

  std::uint8_t int1();
  std::uint16_t int2();
  std::uint32_t int3();
  std::uint32_t int4();
  std::uint64_t int6();
  std::uint64_t int8();

  /// Reads int<lenenc>. NULL (0xFB) and 0xFF fail with Errc::BadLenenc.
  std::uint64_t lenenc_int();
  /// Reads int<lenenc> where 0xFB means NULL (returns nullopt without failing).
  std::optional<std::uint64_t> lenenc_int_or_null();
  /// Reads string<lenenc>; a length past the payload fails with Errc::LengthPastPayload.
  std::string_view lenenc_string();
  /// Reads string<lenenc> where a 0xFB prefix means NULL.
  std::optional<std::string_view> lenenc_string_or_null();
  /// Reads string<NUL> (without the terminator); no terminator fails with Errc::MissingNul.
  std::string_view nul_string();
  /// Reads string<fix> of `n` bytes; fewer left fails with Errc::Truncated.
  std::string_view fixed_string(std::size_t n);
  /// Reads string<EOF>: everything left.
  std::string_view rest() noexcept;
  /// Skips `n` bytes; fewer left fails with Errc::Truncated.
  void skip(std::size_t n);

  /// The next byte without consuming it, or 0 at the end.
  std::uint8_t peek() const noexcept { return at_end() ? 0 : static_cast<std::uint8_t>(data_[pos_]); }
  bool at_end() const noexcept { return pos_ >= data_.size(); }
  std::size_t remaining() const noexcept { return ok() ? data_.size() - pos_ : 0; }
  std::size_t position() const noexcept { return pos_; }
  bool ok() const noexcept { return error_ == Errc::Ok; }
  Errc error() const noexcept { return error_; }
  /// Records a failure found by the caller (a bad value); keeps the first one.
  void fail(Errc errc) noexcept;

 private:
  bool need(std::size_t n, Errc errc = Errc::Truncated) noexcept;
  std::uint64_t little_endian(std::size_t n) noexcept;
  /// What an ..._or_null() read that began at `start` returned, where a value is required: NULL
  /// fails with Errc::BadLenenc at `start`.
  template <class T>
  T not_null(std::size_t start, std::optional<T> value) noexcept;

  std::string_view data_;
  std::size_t pos_ = 0;
  Errc error_ = Errc::Ok;
};

/// Appends protocol data types to a std::string. Not thread-safe. Lifetime: refers to `out`.
class Writer {
 public:
  explicit Writer(std::string& out) noexcept : out_(out) {}

  void int1(std::uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void int2(std::uint16_t v) { little_endian(v, 2); }
  void int3(std::uint32_t v) { little_endian(v, 3); }
  void int4(std::uint32_t v) { little_endian(v, 4); }
  void int6(std::uint64_t v) { little_endian(v, 6); }
  void int8(std::uint64_t v) { little_endian(v, 8); }
  /// Writes int<lenenc> in its shortest form.
  void lenenc_int(std::uint64_t v);
  /// Writes the NULL marker 0xFB (text-row NULL).
  void lenenc_null() { int1(kLenencNull); }
  void lenenc_string(std::string_view s);
  /// Writes `s` and a NUL. `s` must not contain NUL (it would end the string early for the reader).
  void nul_string(std::string_view s);
  void bytes(std::string_view s) { out_.append(s); }
  void zeros(std::size_t n) { out_.append(n, '\0'); }

  std::string& out() noexcept { return out_; }

 private:
  void little_endian(std::uint64_t v, std::size_t n);

  std::string& out_;
};

/// Bytes int<lenenc> takes for `v`.
constexpr std::size_t lenenc_int_size(std::uint64_t v) noexcept {
  return v < 251 ? 1 : v < (1ULL << 16) ? 3 : v < (1ULL << 24) ? 4 : 9;
}

}  // namespace corral::mysql
