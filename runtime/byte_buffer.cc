#include "runtime/byte_buffer.h"

#include <vector>

namespace corral::rt::detail {

namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kMaxCachedBlocks = 0;  // every block freed at once: ASan sees use-after-free
#else
constexpr std::size_t kMaxCachedBlocks = 64;  // at most 1 MiB kept per thread
#endif

thread_local bool tls_cache_gone = false;  // trivially destructible: readable during thread exit

/// One thread's spare blocks; freed when the thread exits.
struct BlockCache {
  std::vector<char*> blocks;
  BlockCache() = default;
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;
  ~BlockCache() {
    tls_cache_gone = true;  // buffers destroyed later in this thread's exit free their block directly
    release();
  }

  void release() noexcept {
    for (char* block : blocks) delete[] block;
    blocks.clear();  // keeps the reserved capacity: give_initial_block() still never allocates
  }
};

thread_local BlockCache tls_cache;

}  // namespace

char* take_initial_block() {
  std::vector<char*>& blocks = tls_cache.blocks;
  if (blocks.empty()) return new char[ByteBuffer::kInitialCapacity];
  char* block = blocks.back();
  blocks.pop_back();
  return block;
}

void give_initial_block(char* block) noexcept {
  if (tls_cache_gone) {
    delete[] block;
    return;
  }
  std::vector<char*>& blocks = tls_cache.blocks;
  if (blocks.size() >= kMaxCachedBlocks) {
    delete[] block;
    return;
  }
  if (blocks.capacity() == 0) blocks.reserve(kMaxCachedBlocks);  // later pushes never allocate
  blocks.push_back(block);
}

std::size_t cached_initial_blocks() noexcept { return tls_cache_gone ? 0 : tls_cache.blocks.size(); }

void release_initial_blocks() noexcept {
  if (!tls_cache_gone) tls_cache.release();
}

}  // namespace corral::rt::detail
