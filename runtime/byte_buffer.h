// ByteBuffer: a growable read buffer with a consumed front and a free back.
//
//   [consumed | readable: begin..end | writable: end..capacity]
//
// Socket reads go into writable(); parsers look at readable(); consume() drops parsed bytes. The
// readable bytes move to the front only when the free back gets too small, so a pipelined stream
// costs no memmove per request.
//
// Buffers of the initial size come from a per-thread cache of blocks: a session frees its buffer
// after every batch (an idle client holds none), and malloc/free of 16 KiB per request would cost
// more than scanning the request does. The blocks are carved from anonymous mappings, not malloc'd,
// and a spare block keeps its pages until the loop goes quiet after a burst (memory_trim.h), when
// they go back to the kernel whole (byte_buffer.cc says why not malloc).
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>
#include <utility>

namespace corral::rt {

namespace detail {
/// A block of ByteBuffer::kInitialCapacity bytes from this thread's cache (or new).
char* take_initial_block();
/// Gives a block of kInitialCapacity bytes back to this thread's cache (or frees it).
void give_initial_block(char* block) noexcept;
/// Spare blocks in this thread's cache that still hold their pages.
std::size_t cached_initial_blocks() noexcept;
/// Gives the pages of this thread's spare blocks back to the kernel (a loop gone quiet after a burst:
/// memory_trim.h); the blocks stay mapped for reuse.
void release_initial_blocks() noexcept;
}  // namespace detail

class ByteBuffer {
 public:
  /// Size of a buffer's first allocation; such blocks are cached per thread.
  static constexpr std::size_t kInitialCapacity = 16 * 1024;

  ByteBuffer() = default;
  ByteBuffer(ByteBuffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        capacity_(std::exchange(other.capacity_, 0)),
        begin_(std::exchange(other.begin_, 0)),
        end_(std::exchange(other.end_, 0)) {}
  ByteBuffer& operator=(ByteBuffer&& other) noexcept {
    if (this != &other) {
      free_storage();
      data_ = std::exchange(other.data_, nullptr);
      capacity_ = std::exchange(other.capacity_, 0);
      begin_ = std::exchange(other.begin_, 0);
      end_ = std::exchange(other.end_, 0);
    }
    return *this;
  }
  ByteBuffer(const ByteBuffer&) = delete;
  ByteBuffer& operator=(const ByteBuffer&) = delete;
  ~ByteBuffer() { free_storage(); }

  std::string_view readable() const noexcept { return {data_ + begin_, end_ - begin_}; }
  std::size_t size() const noexcept { return end_ - begin_; }
  bool empty() const noexcept { return begin_ == end_; }
  std::size_t capacity() const noexcept { return capacity_; }

  /// Free space at the back, at least `min_free` bytes (grows or compacts as needed).
  std::span<char> writable(std::size_t min_free) {
    if (capacity_ - end_ < min_free) make_room(min_free);
    return {data_ + end_, capacity_ - end_};
  }
  /// Marks `n` bytes after the readable ones as filled (after a read into writable()).
  void commit(std::size_t n) noexcept { end_ += n; }
  /// Moves every readable byte to the back of `to` (bytes read before a layer below the parser,
  /// such as decompression, started).
  void move_readable_to(ByteBuffer& to) {
    const std::size_t n = size();
    if (n == 0) return;
    std::memcpy(to.writable(n).data(), data_ + begin_, n);
    to.commit(n);
    consume(n);
  }
  /// Drops `n` parsed bytes from the front.
  void consume(std::size_t n) noexcept {
    begin_ += n;
    if (begin_ == end_) begin_ = end_ = 0;
  }
  /// Frees the memory when empty (an idle connection keeps no buffer).
  void release_if_empty() noexcept {
    if (empty()) {
      free_storage();
      data_ = nullptr;
      capacity_ = begin_ = end_ = 0;
    }
  }

 private:
  void make_room(std::size_t min_free) {
    const std::size_t used = size();
    if (begin_ > 0 && capacity_ - used >= min_free && used <= capacity_ / 2) {
      std::memmove(data_, data_ + begin_, used);
    } else {
      std::size_t capacity = capacity_ == 0 ? kInitialCapacity : capacity_ * 2;
      while (capacity - used < min_free) capacity *= 2;
      char* bigger = capacity == kInitialCapacity ? detail::take_initial_block() : new char[capacity];
      if (used) std::memcpy(bigger, data_ + begin_, used);
      free_storage();
      data_ = bigger;
      capacity_ = capacity;
    }
    begin_ = 0;
    end_ = used;
  }

  void free_storage() noexcept {
    if (data_ == nullptr) return;
    if (capacity_ == kInitialCapacity) {
      detail::give_initial_block(data_);
    } else {
      delete[] data_;
    }
  }

  char* data_ = nullptr;
  std::size_t capacity_ = 0;
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
};

}  // namespace corral::rt
