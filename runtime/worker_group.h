// WorkerGroup: N threads, each running its own EventLoop (shared-nothing: a worker's sessions, listeners
// and backend pools live on its loop only).
//
//   main thread ──start()──► [w0: loop.run()] [w1: loop.run()] ...
//   main thread ──post(i, fn)──► worker i's eventfd ──► fn runs on worker i
//   main thread ──stop_and_join()──► every loop stops, threads joined
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "runtime/event_loop.h"

namespace corral::rt {

class WorkerGroup {
 public:
  /// Creates `count` loops (0: one per CPU) on `backend`. Threads start in start().
  explicit WorkerGroup(std::size_t count, IoBackend backend = IoBackend::Epoll);
  WorkerGroup(const WorkerGroup&) = delete;
  WorkerGroup& operator=(const WorkerGroup&) = delete;
  ~WorkerGroup();

  std::size_t size() const noexcept { return loops_.size(); }
  EventLoop& loop(std::size_t index) { return *loops_[index]; }

  /// Starts one thread per loop; `on_start(index)` runs first on each worker's thread.
  void start(std::function<void(std::size_t)> on_start = {});
  /// Stops every loop and joins the threads. Idempotent.
  void stop_and_join();

 private:
  std::vector<std::unique_ptr<EventLoop>> loops_;
  std::vector<std::thread> threads_;
};

}  // namespace corral::rt
