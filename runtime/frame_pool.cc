#include "runtime/frame_pool.h"

#include <array>
#include <cstdlib>
#include <new>
#include <utility>

namespace corral::rt::frame_pool {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kPooling = false;
#else
constexpr bool kPooling = true;
#endif

constexpr std::size_t kGranule = 64;         // size classes are multiples of this
constexpr std::size_t kClasses = 64;         // pooled frames: up to 4 KiB
constexpr std::size_t kMaxCachedBytes = 1024 * 1024;  // what one thread keeps at most, all classes together

struct FreeFrame {
  FreeFrame* next;
};

thread_local bool tls_lists_gone = false;  // trivially destructible: readable during thread exit
thread_local std::uint64_t tls_allocations = 0;  // allocate() calls on this thread

/// One thread's free frames, by size class. Frees everything when the thread exits.
struct FreeLists {
  std::array<FreeFrame*, kClasses> head{};
  std::size_t cached_bytes = 0;

  FreeLists() = default;
  FreeLists(const FreeLists&) = delete;
  FreeLists& operator=(const FreeLists&) = delete;
  ~FreeLists() {
    tls_lists_gone = true;  // frames freed later in this thread's exit go straight to free()
    release();
  }

  void release() noexcept {
    for (FreeFrame*& frame : head) {
      while (frame != nullptr) std::free(std::exchange(frame, frame->next));
    }
    cached_bytes = 0;
  }
};

thread_local FreeLists tls_lists;

/// Size class of `size` bytes, or kClasses when it is too large to pool.
constexpr std::size_t class_of(std::size_t size) { return size == 0 ? 0 : (size - 1) / kGranule; }

void* allocate_fresh(std::size_t bytes) {
  void* memory = std::malloc(bytes);
  if (memory == nullptr) throw std::bad_alloc();
  return memory;
}

}  // namespace

void* allocate(std::size_t size) {
  ++tls_allocations;
  const std::size_t index = class_of(size);
  if (!kPooling || index >= kClasses || tls_lists_gone) return allocate_fresh(size);
  FreeLists& lists = tls_lists;
  if (FreeFrame* frame = lists.head[index]) {
    lists.head[index] = frame->next;
    lists.cached_bytes -= (index + 1) * kGranule;
    return frame;
  }
  return allocate_fresh((index + 1) * kGranule);  // the class's full size: any frame of the class fits
}

void deallocate(void* frame, std::size_t size) noexcept {
  const std::size_t index = class_of(size);
  if (!kPooling || index >= kClasses || tls_lists_gone) {
    std::free(frame);
    return;
  }
  FreeLists& lists = tls_lists;
  const std::size_t bytes = (index + 1) * kGranule;
  if (lists.cached_bytes + bytes > kMaxCachedBytes) {
    std::free(frame);
    return;
  }
  lists.head[index] = new (frame) FreeFrame{lists.head[index]};
  lists.cached_bytes += bytes;
}

std::uint64_t allocations() noexcept { return tls_allocations; }

std::size_t cached_bytes() noexcept { return tls_lists_gone ? 0 : tls_lists.cached_bytes; }

void release_cached() noexcept {
  if (!tls_lists_gone) tls_lists.release();
}

}  // namespace corral::rt::frame_pool
