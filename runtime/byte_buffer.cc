#include "runtime/byte_buffer.h"

#include <sys/mman.h>

#include <new>
#include <vector>

namespace corral::rt::detail {

namespace {

constexpr std::size_t kBlock = ByteBuffer::kInitialCapacity;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSlabs = false;  // every block from new[] and freed at once: ASan sees use-after-free
#else
constexpr bool kSlabs = true;
#endif

/// Blocks are carved from anonymous mappings of this many (a system call per 16 new blocks), not from
/// malloc: a burst of logins holds hundreds of blocks at once, and malloc'd ones sat between the
/// sessions' own allocations, where a trim gives back only the pages wholly inside a free chunk (the
/// page with the chunk's header stays). A spare block here gives back all its pages.
constexpr std::size_t kSlabBlocks = 16;

thread_local bool tls_cache_gone = false;  // trivially destructible: readable during thread exit

char* map(std::size_t bytes) {
  void* memory = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (memory == MAP_FAILED) throw std::bad_alloc();
  return static_cast<char*>(memory);
}

/// One thread's spare blocks. Slabs are never unmapped while the process runs (a block may be freed
/// by another thread than the one that mapped it); a thread that exits unmaps its own spares.
struct BlockCache {
  std::vector<char*> resident;  // spares with their pages, reused first
  std::vector<char*> released;  // spares whose pages went back to the kernel (fresh zero pages on use)

  BlockCache() = default;
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;
  ~BlockCache() {
    tls_cache_gone = true;  // blocks freed later in this thread's exit are unmapped directly
    for (char* block : resident) munmap(block, kBlock);
    for (char* block : released) munmap(block, kBlock);
  }

  char* take() {
    if (!resident.empty()) return pop(resident);
    if (released.empty()) map_slab();
    return pop(released);
  }

  void give(char* block) noexcept {
    try {
      resident.push_back(block);
    } catch (const std::bad_alloc&) {
      munmap(block, kBlock);  // no room to list it: unmapped instead (that part of its slab is gone)
    }
  }

  void release_pages() noexcept {
    for (char* block : resident) madvise(block, kBlock, MADV_DONTNEED);
    try {
      released.insert(released.end(), resident.begin(), resident.end());
    } catch (const std::bad_alloc&) {
      for (char* block : resident) munmap(block, kBlock);
    }
    resident.clear();
  }

 private:
  static char* pop(std::vector<char*>& blocks) noexcept {
    char* block = blocks.back();
    blocks.pop_back();
    return block;
  }

  void map_slab() {
    released.reserve(released.size() + kSlabBlocks);  // the throwing part first: a mapped slab is always listed
    char* slab = map(kSlabBlocks * kBlock);
    for (std::size_t i = kSlabBlocks; i-- > 0;) released.push_back(slab + i * kBlock);
  }
};

thread_local BlockCache tls_cache;

}  // namespace

char* take_initial_block() {
  if (!kSlabs) return static_cast<char*>(::operator new(kBlock));
  if (tls_cache_gone) return map(kBlock);  // a buffer made during this thread's exit: unmapped when freed
  return tls_cache.take();
}

void give_initial_block(char* block) noexcept {
  if (!kSlabs) {
    ::operator delete(block);
  } else if (tls_cache_gone) {
    munmap(block, kBlock);
  } else {
    tls_cache.give(block);
  }
}

std::size_t cached_initial_blocks() noexcept { return tls_cache_gone ? 0 : tls_cache.resident.size(); }

void release_initial_blocks() noexcept {
  if (!tls_cache_gone) tls_cache.release_pages();
}

}  // namespace corral::rt::detail
