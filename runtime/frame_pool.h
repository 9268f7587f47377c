// Recycles coroutine frames: every Task's frame comes from here.
//
//   Task body called ──operator new(size)──► this thread's free list for size's class ──(empty)──► malloc
//   frame destroyed  ──operator delete──────► back on this thread's list (up to a cap) ──(full)──► free
//
// A request on the Redis path runs a few short coroutines (flush, write_output...), each with a frame
// too large for glibc's per-thread cache, so plain malloc/free cost ~500 instructions per frame.
// Frames are reused on the thread that frees them: a loop allocates and frees on its own thread.
// Under AddressSanitizer frames go straight to malloc/free so use-after-free of a frame is still caught.
// A loop that goes quiet after a burst gives its cached frames back (runtime/memory_trim.h).
#pragma once

#include <cstddef>
#include <cstdint>

namespace corral::rt::frame_pool {

/// Memory for a coroutine frame of `size` bytes. Throws std::bad_alloc like operator new.
void* allocate(std::size_t size);
/// Returns a frame from allocate(size) (same size). Thread-safe in the sense that any thread may
/// free a frame: it goes to that thread's list.
void deallocate(void* frame, std::size_t size) noexcept;

/// Frames this thread has allocated so far (from its cache or from malloc): how busy its loop is.
std::uint64_t allocations() noexcept;
/// Bytes of freed frames this thread keeps for reuse.
std::size_t cached_bytes() noexcept;
/// Frees every frame this thread keeps for reuse (to malloc, which may return the memory to the
/// kernel: memory_trim.h). Later allocations refill the cache as before.
void release_cached() noexcept;

}  // namespace corral::rt::frame_pool
