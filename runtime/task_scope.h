// TaskScope: owns the coroutines spawned for one purpose (the sessions of a listener, say) so that
// shutdown can stop them and wait for all of them to finish.
//
//   spawn(task) ──► running count +1 ──► task ends ──► count -1 ──► (count == 0) wakes join()
//   stop() ──► the scope's CancelSource fires: every wait that uses cancel_source() ends with operation_canceled
#pragma once

#include <coroutine>
#include <cstddef>

#include "runtime/event_loop.h"
#include "runtime/task.h"

namespace corral::rt {

/// Not thread-safe: one loop. Lifetime: must outlive its tasks; join() before destroying it.
class TaskScope {
 public:
  TaskScope() = default;
  TaskScope(const TaskScope&) = delete;
  TaskScope& operator=(const TaskScope&) = delete;
  ~TaskScope();

  /// Starts `task` now; it runs until its first suspension before spawn() returns.
  void spawn(Task<void> task);

  /// What tasks of this scope pass to their waits so that stop() reaches them.
  CancelSource* cancel_source() noexcept { return &cancel_; }

  /// Cancels every wait of the scope's tasks (and later ones); tasks then run to their end.
  void stop() { cancel_.cancel(); }
  bool stopping() const noexcept { return cancel_.cancelled(); }

  std::size_t running() const noexcept { return running_; }

  /// Suspends until no task of the scope is running.
  struct JoinAwaitable {
    TaskScope& scope;
    bool await_ready() const noexcept { return scope.running_ == 0; }
    void await_suspend(std::coroutine_handle<> handle) noexcept { scope.joiner_ = handle; }
    void await_resume() const noexcept {}
  };
  JoinAwaitable join() noexcept { return JoinAwaitable{*this}; }

 private:
  struct Run;  // the self-freeing coroutine that runs one task of the scope (task_scope.cc)
  /// Runs `task`, then counts it finished: one frame besides the task's own.
  static Run run_owned(TaskScope* scope, Task<void> task);
  void task_finished();

  CancelSource cancel_;
  std::size_t running_ = 0;
  std::coroutine_handle<> joiner_;
};

}  // namespace corral::rt
