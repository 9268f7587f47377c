#include "runtime/memory_trim.h"

#include <malloc.h>

#include "runtime/byte_buffer.h"
#include "runtime/frame_pool.h"

namespace corral::rt {

void trim_memory() noexcept {
  frame_pool::release_cached();
  detail::release_initial_blocks();
  malloc_trim(0);
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
