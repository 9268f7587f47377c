// memory_trim: when a loop gives its caches of frames and read-buffer blocks back (after a burst, once
// quiet), and that trimming really empties them.
#include "runtime/memory_trim.h"

#include <gtest/gtest.h>

#include <vector>

#include "runtime/block_on.h"
#include "runtime/byte_buffer.h"
#include "runtime/frame_pool.h"
#include "runtime/task_scope.h"

namespace corral::rt {
namespace {

using namespace std::chrono_literals;

TEST(ShouldTrim, OnlyAQuietTickAfterABurst) {
  EXPECT_TRUE(should_trim(0, kBurstFrames));
  EXPECT_TRUE(should_trim(kQuietFrames - 1, 100 * kBurstFrames));
  EXPECT_FALSE(should_trim(kQuietFrames, 100 * kBurstFrames));  // still busy: the caches serve it
  EXPECT_FALSE(should_trim(0, kBurstFrames - 1));               // a trickle: trimmed once per burst's worth
}

#if !defined(__SANITIZE_ADDRESS__)  // under ASan nothing is cached (every frame and block is freed at once)

/// `frames` frames of 256 bytes allocated, then all freed: this thread's frame cache keeps them.
void frame_burst(std::size_t frames) {
  std::vector<void*> held;
  for (std::size_t i = 0; i < frames; ++i) held.push_back(frame_pool::allocate(256));
  for (void* frame : held) frame_pool::deallocate(frame, 256);
}

/// Four read buffers used at once, then emptied: their blocks go to this thread's block cache.
void buffer_burst() {
  std::vector<ByteBuffer> buffers(4);
  for (ByteBuffer& buffer : buffers) buffer.writable(1);
}

TEST(TrimMemory, EmptiesTheFrameAndBlockCaches) {
  frame_burst(16);
  buffer_burst();
  EXPECT_GE(frame_pool::cached_bytes(), 16u * 256);
  EXPECT_GE(detail::cached_initial_blocks(), 4u);
  trim_memory();
  EXPECT_EQ(frame_pool::cached_bytes(), 0u);
  EXPECT_EQ(detail::cached_initial_blocks(), 0u);
  // The caches work as before afterwards.
  frame_burst(2);
  EXPECT_EQ(frame_pool::cached_bytes(), 2u * 256);
}

Task<void> quiet_after(std::size_t burst_frames, std::size_t* frames_left, std::size_t* blocks_left) {
  TaskScope trimmer;
  trimmer.spawn(trim_memory_when_quiet(trimmer.cancel_source()));
  frame_burst(burst_frames);
  buffer_burst();
  // The first tick sees the burst (busy), the second is quiet and trims; four ticks leave room for a
  // late timer on a loaded machine (timers fire in deadline order, so the trim comes first).
  const bool slept = co_await sleep_for(kTrimTick * 4);
  EXPECT_TRUE(slept);
  *frames_left = frame_pool::cached_bytes();
  *blocks_left = detail::cached_initial_blocks();
  trimmer.stop();
  co_await trimmer.join();
}

TEST(TrimMemoryWhenQuiet, AQuietLoopGivesABurstsCachesBack) {
  EventLoop loop;
  std::size_t frames = 1;
  std::size_t blocks = 1;
  block_on(loop, quiet_after(2 * kBurstFrames, &frames, &blocks));
  EXPECT_EQ(frames, 0u);
  EXPECT_EQ(blocks, 0u);
}

TEST(TrimMemoryWhenQuiet, KeepsTheCachesWithoutABurst) {
  trim_memory();
  EventLoop loop;
  std::size_t frames = 0;
  std::size_t blocks = 0;
  block_on(loop, quiet_after(8, &frames, &blocks));
  EXPECT_GE(frames, 8u * 256);
  EXPECT_GE(blocks, 4u);
}
#endif

}  // namespace
}  // namespace corral::rt
