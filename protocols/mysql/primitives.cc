#include "protocols/mysql/primitives.h"

namespace corral::mysql {

void Reader::fail(Errc errc) noexcept {
  if (error_ == Errc::Ok) error_ = errc;
}

bool Reader::need(std::size_t n, Errc errc) noexcept {
  if (!ok()) return false;
  if (data_.size() - pos_ < n) {
    fail(errc);
    return false;
  }
  return true;
}

std::uint64_t Reader::little_endian(std::size_t n) noexcept {
  if (!need(n)) return 0;
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    v |= static_cast<std::uint64_t>(static_cast<std::uint8_t>(data_[pos_ + i])) << (8 * i);
  }
  pos_ += n;
  return v;
}

std::uint8_t Reader::int1() { return static_cast<std::uint8_t>(little_endian(1)); }
std::uint16_t Reader::int2() { return static_cast<std::uint16_t>(little_endian(2)); }
std::uint32_t Reader::int3() { return static_cast<std::uint32_t>(little_endian(3)); }
std::uint32_t Reader::int4() { return static_cast<std::uint32_t>(little_endian(4)); }
std::uint64_t Reader::int6() { return little_endian(6); }
std::uint64_t Reader::int8() { return little_endian(8); }

std::optional<std::uint64_t> Reader::lenenc_int_or_null() {
  // Protocol::LengthEncodedInteger: < 0xFB is the value; 0xFC/0xFD/0xFE prefix 2/3/8 bytes.
  if (!need(1)) return 0;
  const auto prefix = static_cast<std::uint8_t>(data_[pos_]);
  if (prefix < kLenencNull) {
    ++pos_;
    return prefix;
  }
  if (prefix == kLenencNull) {
    ++pos_;
    return std::nullopt;
  }
  if (prefix == 0xff) {
    fail(Errc::BadLenenc);
    return 0;
  }
  const std::size_t width = prefix == kLenenc2 ? 2 : prefix == kLenenc3 ? 3 : 8;
  if (!need(1 + width)) return 0;
  ++pos_;
  return little_endian(width);
}

template <class T>
T Reader::not_null(std::size_t start, std::optional<T> value) noexcept {
  if (value) return *value;
  pos_ = start;
  fail(Errc::BadLenenc);
  return T{};
}

std::uint64_t Reader::lenenc_int() {
  const std::size_t start = pos_;
  return not_null(start, lenenc_int_or_null());
}

std::optional<std::string_view> Reader::lenenc_string_or_null() {
  const auto length = lenenc_int_or_null();
  if (!ok()) return std::string_view{};
  if (!length) return std::nullopt;
  // Compare before narrowing: a 64-bit length from the wire must never wrap into a small one.
  if (*length > data_.size() - pos_) {
    fail(Errc::LengthPastPayload);
    return std::string_view{};
  }
  return fixed_string(static_cast<std::size_t>(*length));
}

std::string_view Reader::lenenc_string() {
  const std::size_t start = pos_;
  return not_null(start, lenenc_string_or_null());
}

std::string_view Reader::nul_string() {
  if (!ok()) return {};
  const std::size_t end = data_.find('\0', pos_);
  if (end == std::string_view::npos) {
    fail(Errc::MissingNul);
    return {};
  }
  const std::string_view s = data_.substr(pos_, end - pos_);
  pos_ = end + 1;
  return s;
}

std::string_view Reader::fixed_string(std::size_t n) {
  if (!need(n)) return {};
  const std::string_view s = data_.substr(pos_, n);
  pos_ += n;
  return s;
}

std::string_view Reader::rest() noexcept {
  if (!ok()) return {};
  const std::string_view s = data_.substr(pos_);
  pos_ = data_.size();
  return s;
}

void Reader::skip(std::size_t n) {
  if (need(n)) pos_ += n;
}

void Writer::little_endian(std::uint64_t v, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void Writer::lenenc_int(std::uint64_t v) {
  if (v < kLenencNull) {
    int1(static_cast<std::uint8_t>(v));
  } else if (v < (1ULL << 16)) {
    int1(kLenenc2);
    little_endian(v, 2);
  } else if (v < (1ULL << 24)) {
    int1(kLenenc3);
    little_endian(v, 3);
  } else {
    int1(kLenenc8);
    little_endian(v, 8);
  }
}

void Writer::lenenc_string(std::string_view s) {
  lenenc_int(s.size());
  out_.append(s);
}

void Writer::nul_string(std::string_view s) {
  out_.append(s);
  out_.push_back('\0');
}

}  // namespace corral::mysql
