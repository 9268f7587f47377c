// Recycles coroutine frames: every Task's frame comes from here.
//
//   Task body called ──operator new(size)──► this thread's free list for size's class ──(empty)──► malloc
//   frame destroyed  ──operator delete──────► back on this thread's list (up to a cap) ──(full)──► free
//
// A request on the Redis path runs a few short coroutines (flush, write_output...), each with a frame
// too large for glibc's per-thread cache, so plain malloc/free cost ~500 instructions per frame.
// Frames are reused on the thread that frees them: a loop allocates and frees on its own thread.
// Under AddressSanitizer frames go straight to malloc/free so use-after-free of a frame is still caught.
#pragma once

#include <cstddef>

namespace corral::rt::frame_pool {

/// Memory for a coroutine frame of `size` bytes. Throws std::bad_alloc like operator new.
void* allocate(std::size_t size);
/// Returns a frame from allocate(size) (same size). Thread-safe in the sense that any thread may
/// free a frame: it goes to that thread's list.
void deallocate(void* frame, std::size_t size) noexcept;

}  // namespace corral::rt::frame_pool
