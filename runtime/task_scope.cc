#include "runtime/task_scope.h"

#include <cstdlib>
#include <exception>

#include "runtime/log.h"

namespace corral::rt {

namespace {

/// The frame of a detached coroutine frees itself at the end (final_suspend never suspends).
struct Detached {
  struct promise_type {
    const char* what = "";
    static void* operator new(std::size_t size) { return frame_pool::allocate(size); }
    static void operator delete(void* frame, std::size_t size) noexcept { frame_pool::deallocate(frame, size); }
    Detached get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() const noexcept { return {}; }
    std::suspend_never final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() const noexcept { std::terminate(); }
  };
};

Detached run_detached(Task<void> task, const char* what) {
  try {
    co_await std::move(task);
  } catch (const std::exception& e) {
    log::error("{} ended with an exception (a bug): {}", what, e.what());
    std::abort();
  } catch (...) {
    log::error("{} ended with an unknown exception (a bug)", what);
    std::abort();
  }
}

}  // namespace

void spawn_detached(Task<void> task, const char* what) { run_detached(std::move(task), what); }

TaskScope::~TaskScope() {
  if (running_ != 0) {
    log::error("task scope destroyed with {} running tasks (a bug: join() first)", running_);
    std::abort();
  }
}

void TaskScope::spawn(Task<void> task) {
  ++running_;
  // The scope outlives its tasks (joined before destruction), so the raw pointer stays valid.
  spawn_detached(run_owned(this, std::move(task)), "scope task");
}

Task<void> TaskScope::run_owned(TaskScope* scope, Task<void> task) {
  struct Finish {
    TaskScope* scope;
    ~Finish() { scope->task_finished(); }
  } finish{scope};
  co_await std::move(task);
}

void TaskScope::task_finished() {
  if (--running_ == 0 && joiner_) {
    EventLoop* loop = EventLoop::current();
    // Resume the joiner from the loop, not from inside the finishing task's frame.
    loop->schedule(std::exchange(joiner_, {}));
  }
}

}  // namespace corral::rt
