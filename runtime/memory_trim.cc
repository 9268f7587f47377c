#include "runtime/memory_trim.h"

#include <malloc.h>

#include "runtime/byte_buffer.h"
#include "runtime/frame_pool.h"

namespace corral::rt {

namespace {

// Under AddressSanitizer malloc is ASan's, and glibc's malloc_trim() would only set up glibc's own
// arenas on a worker thread without attaching it to one: glibc then aborts when the thread exits
// ("__malloc_arena_thread_freeres: a->attached_threads > 0", seen in CI's ASan run at SIGTERM).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kTrimMalloc = false;
#else
constexpr bool kTrimMalloc = true;
#endif

}  // namespace

void trim_memory() noexcept {
  frame_pool::release_cached();
  detail::release_initial_blocks();
  if constexpr (kTrimMalloc) malloc_trim(0);
}

Task<void> trim_memory_when_quiet(CancelSource* cancel) {
  std::uint64_t at_tick = frame_pool::allocations();
  std::uint64_t at_trim = at_tick;
  for (;;) {
    const bool slept = co_await sleep_for(kTrimTick, cancel);
    if (!slept) co_return;
    const std::uint64_t now = frame_pool::allocations();
    if (should_trim(now - at_tick, now - at_trim)) {
      trim_memory();
      at_trim = now;
    }
    at_tick = now;
  }
}

}  // namespace corral::rt
