// Gives memory back to the kernel when a loop goes quiet after a burst.
//
//   every kTrimTick, on the loop's thread: frames allocated since the last tick (frame_pool::allocations())
//     busy (≥ kQuietFrames per tick)            ─► nothing: the caches are what keep a busy loop fast
//     quiet, and ≥ kBurstFrames since last trim ─► frame_pool::release_cached() (to malloc)
//                                                  ─► spare 16 KiB read-buffer blocks: their pages
//                                                     (byte_buffer.h; the blocks stay mapped)
//                                                  ─► malloc_trim(0): free pages inside malloc's arenas
//                                                     go back to the kernel (MADV_DONTNEED)
//
// Why: a burst (2,000 MySQL logins, 200 at a time) leaves the thread's caches of coroutine frames and
// read buffers full, and its malloc arena holding the burst's freed transient memory between the
// sessions that stay. None of that returns to the kernel by itself, so an idle proxy would keep the
// burst's peak as resident memory. docs/BENCHMARKS.md ("MySQL idle memory") has the measurements.
#pragma once

#include <chrono>
#include <cstdint>

#include "runtime/event_loop.h"
#include "runtime/task.h"

namespace corral::rt {

inline constexpr std::chrono::milliseconds kTrimTick{250};
/// Fewer frames than this in one tick is a quiet loop (an idle worker allocates none).
inline constexpr std::uint64_t kQuietFrames = 64;
/// At least this many frames since the last trim make a burst worth trimming after: a loop serving a
/// trickle of requests trims once per this many frames, never per tick.
inline constexpr std::uint64_t kBurstFrames = 1024;

/// Whether to trim now, given the frames allocated in the last tick and since the last trim.
constexpr bool should_trim(std::uint64_t frames_in_tick, std::uint64_t frames_since_trim) noexcept {
  return frames_in_tick < kQuietFrames && frames_since_trim >= kBurstFrames;
}

/// Frees this thread's cached frames, gives the pages of its spare read-buffer blocks back, then asks
/// malloc to return free pages to the kernel. Costs a walk of malloc's free lists (well under a
/// millisecond at idle).
void trim_memory() noexcept;

/// Watches this loop's activity every kTrimTick and calls trim_memory() when should_trim() says so,
/// until `cancel` fires. Lifetime: `cancel` outlives the task.
Task<void> trim_memory_when_quiet(CancelSource* cancel);

}  // namespace corral::rt
