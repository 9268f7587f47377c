// block_on: runs a Task to completion on a loop from ordinary code (tests, start-up), returning its
// value or rethrowing its exception. The loop runs on the calling thread until the task ends.
#pragma once

#include <exception>
#include <optional>
#include <utility>

#include "runtime/event_loop.h"
#include "runtime/task.h"

namespace corral::rt {

namespace detail {
template <class T>
Task<void> finish_then_stop(EventLoop* loop, Task<T> task, std::optional<T>* out, std::exception_ptr* error) {
  try {
    out->emplace(co_await std::move(task));
  } catch (...) {
    *error = std::current_exception();
  }
  loop->stop();
}

inline Task<void> finish_then_stop_void(EventLoop* loop, Task<void> task, std::exception_ptr* error) {
  try {
    co_await std::move(task);
  } catch (...) {
    *error = std::current_exception();
  }
  loop->stop();
}
}  // namespace detail

/// Runs `task` on `loop` (on this thread) until it completes. Not for use from inside a running loop.
template <class T>
T block_on(EventLoop& loop, Task<T> task) {
  std::optional<T> out;
  std::exception_ptr error;
  // The locals outlive the task: run() returns only after the task stopped the loop.
  loop.post([&] { spawn_detached(detail::finish_then_stop(&loop, std::move(task), &out, &error), "block_on"); });
  loop.run();
  if (error) std::rethrow_exception(error);
  return std::move(*out);
}

inline void block_on(EventLoop& loop, Task<void> task) {
  std::exception_ptr error;
  loop.post([&] { spawn_detached(detail::finish_then_stop_void(&loop, std::move(task), &error), "block_on"); });
  loop.run();
  if (error) std::rethrow_exception(error);
}

}  // namespace corral::rt
