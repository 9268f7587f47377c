// ByteBuffer: a growable read buffer with a consumed front and a free back.
//
//   [consumed | readable: begin..end | writable: end..capacity]
//
// Socket reads go into writable(); parsers look at readable(); consume() drops parsed bytes. The
// readable bytes move to the front only when the free back gets too small, so a pipelined stream
// costs no memmove per request.
#pragma once

#include <cstddef>
#include <cstring>
#include <memory>
#include <span>
#include <string_view>

namespace corral::rt {

class ByteBuffer {
 public:
  ByteBuffer() = default;

  std::string_view readable() const noexcept { return {data_.get() + begin_, end_ - begin_}; }
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  std::size_t capacity() const noexcept { return capacity_; }

  /// Free space at the back, at least `min_free` bytes (grows or compacts as needed).
  std::span<char> writable(std::size_t min_free) {
    if (capacity_ - end_ < min_free) make_room(min_free);
    return {data_.get() + end_, capacity_ - end_};
  }
  /// Marks `n` bytes after the readable ones as filled (after a read into writable()).
  void commit(std::size_t n) noexcept { end_ += n; }
  /// Drops `n` parsed bytes from the front.
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  /// Frees the memory when empty (an idle connection keeps no buffer).
  void release_if_empty() noexcept {
    if (empty()) {
      data_.reset();
      capacity_ = begin_ = end_ = 0;
    }
  }

 private:
  void make_room(std::size_t min_free) {
    const std::size_t used = size();
    if (begin_ > 0 && capacity_ - used >= min_free && used <= capacity_ / 2) {
      std::memmove(data_.get(), data_.get() + begin_, used);
    } else {
      std::size_t capacity = capacity_ == 0 ? kInitialCapacity : capacity_ * 2;
      while (capacity - used < min_free) capacity *= 2;
      auto bigger = std::make_unique_for_overwrite<char[]>(capacity);
      if (used) std::memcpy(bigger.get(), data_.get() + begin_, used);
      data_ = std::move(bigger);
      capacity_ = capacity;
    }
    begin_ = 0;
    end_ = used;
  }

  static constexpr std::size_t kInitialCapacity = 16 * 1024;

  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace corral::rt
