// ByteBuffer: reads, consumption, growth, and the per-thread cache of initial blocks.
#include "runtime/byte_buffer.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace corral::rt {
namespace {

void put(ByteBuffer& buffer, std::string_view bytes) {
  auto space = buffer.writable(bytes.size());
  std::memcpy(space.data(), bytes.data(), bytes.size());
  buffer.commit(bytes.size());
}

TEST(ByteBuffer, KeepsUnconsumedBytesAcrossGrowth) {
  ByteBuffer buffer;
  put(buffer, "head");
  buffer.consume(2);
  const std::string big(ByteBuffer::kInitialCapacity * 3, 'x');
  put(buffer, big);
  EXPECT_EQ(buffer.readable(), "ad" + big);
  EXPECT_GE(buffer.capacity(), big.size() + 2);
}

TEST(ByteBuffer, ReleaseFreesOnlyWhenEmpty) {
  ByteBuffer buffer;
  put(buffer, "abc");
  buffer.release_if_empty();
  EXPECT_EQ(buffer.readable(), "abc");
  buffer.consume(3);
  buffer.release_if_empty();
  EXPECT_EQ(buffer.capacity(), 0u);
}

TEST(ByteBuffer, ReleasedInitialBlockIsReusedOnTheSameThread) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the block cache is off under AddressSanitizer";
#else
  ByteBuffer first;
  const char* block = first.writable(1).data();
  first.release_if_empty();
  ByteBuffer second;
  EXPECT_EQ(second.writable(1).data(), block) << "a 16 KiB block was freed and allocated again";
#endif
}

TEST(ByteBuffer, ReleasedBlocksGiveTheirPagesBackAndStayReusable) {
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "the block cache is off under AddressSanitizer";
#else
  detail::release_initial_blocks();
  // More spare blocks than a burst of 64 buffers: every one is kept for reuse until the loop is quiet.
  std::vector<ByteBuffer> burst(100);
  for (ByteBuffer& buffer : burst) put(buffer, "login");
  const char* first = burst.front().readable().data();
  burst.clear();
  EXPECT_GE(detail::cached_initial_blocks(), 100u);
  detail::release_initial_blocks();
  EXPECT_EQ(detail::cached_initial_blocks(), 0u);
  // The block is still mapped and handed out again, and its old bytes are gone with its pages
  // (MADV_DONTNEED: fresh zero pages), which is how the memory went back to the kernel.
  bool reused = false;
  std::vector<ByteBuffer> again(100);
  for (ByteBuffer& buffer : again) {
    const char* data = buffer.writable(5).data();
    if (data != first) continue;
    reused = true;
    EXPECT_EQ(std::string(data, 5), std::string(5, '\0'));
  }
  EXPECT_TRUE(reused);
#endif
}

TEST(ByteBuffer, MoveTransfersTheBytes) {
  ByteBuffer source;
  put(source, "payload");
  ByteBuffer target = std::move(source);
  EXPECT_EQ(target.readable(), "payload");
  EXPECT_EQ(source.capacity(), 0u);  // NOLINT(bugprone-use-after-move): moved-from is empty
  ByteBuffer assigned;
  put(assigned, "old");
  assigned = std::move(target);
  EXPECT_EQ(assigned.readable(), "payload");
}

}  // namespace
}  // namespace corral::rt
