#include "runtime/task_scope.h"

#include <cstdlib>
#include <exception>

#include "runtime/log.h"

namespace corral::rt {

namespace {

/// The promise of a coroutine whose frame frees itself at the end (final_suspend never suspends).
template <class Self>
struct SelfFreeingPromise {
  static void* operator new(std::size_t size) { return frame_pool::allocate(size); }
  static void operator delete(void* frame, std::size_t size) noexcept { frame_pool::deallocate(frame, size); }
  Self get_return_object() noexcept { return {}; }
  std::suspend_never initial_suspend() const noexcept { return {}; }
  std::suspend_never final_suspend() const noexcept { return {}; }
  void return_void() const noexcept {}
  void unhandled_exception() const noexcept { std::terminate(); }
};

}  // namespace

struct TaskScope::Run {
  using promise_type = SelfFreeingPromise<Run>;
};

namespace {

struct Detached {
  using promise_type = SelfFreeingPromise<Detached>;
};

/// In a catch block: an exception escaped a task nobody awaits, which is a bug.
[[noreturn]] void abort_on_escaped_exception(const char* what) noexcept {
  try {
    throw;
  } catch (const std::exception& e) {
    log::error("{} ended with an exception (a bug): {}", what, e.what());
  } catch (...) {
    log::error("{} ended with an unknown exception (a bug)", what);
  }
  std::abort();
}

Detached run_detached(Task<void> task, const char* what) {
  try {
    co_await std::move(task);
  } catch (...) {
    abort_on_escaped_exception(what);
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
  run_owned(this, std::move(task));
}

TaskScope::Run TaskScope::run_owned(TaskScope* scope, Task<void> task) {
  struct Finish {
    TaskScope* scope;
    ~Finish() { scope->task_finished(); }
  } finish{scope};
  try {
    co_await std::move(task);
  } catch (...) {
    abort_on_escaped_exception("scope task");
  }
}

void TaskScope::task_finished() {
  if (--running_ == 0 && joiner_) {
    EventLoop* loop = EventLoop::current();
    // Resume the joiner from the loop, not from inside the finishing task's frame.
    loop->schedule(std::exchange(joiner_, {}));
  }
}

}  // namespace corral::rt
