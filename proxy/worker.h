// One worker: the listeners, client sessions and backend pools that live on one EventLoop.
//
//   Worker::start ──► per listener: accept loop ──► spawn its Frontend::serve(client) in `sessions_`
//   Worker::drain ──► close listeners; `idle_` cancels sessions waiting for their next request;
//                     after the grace period `sessions_.stop()` cancels what is still running
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "config/config.h"
#include "proxy/admin.h"
#include "proxy/frontend.h"
#include "proxy/shared_state.h"
#include "runtime/event_loop.h"
#include "runtime/task.h"
#include "runtime/task_scope.h"
#include "runtime/tcp.h"

namespace corral::proxy {

class Worker {
 public:
  Worker(std::size_t index, rt::EventLoop& loop, const config::Config& config, SharedState& shared);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  /// Binds every listener (worker 0 first; others join through SO_REUSEPORT). On the loop's thread.
  rt::Result<void> bind_listeners();
  /// Starts the accept loops. On the loop's thread.
  void start();
  /// Stops accepting, ends idle sessions, waits up to `grace` for the rest, then cancels them.
  /// Calls `done()` on the loop's thread once every session has ended.
  void drain(std::chrono::milliseconds grace, std::function<void()> done);

  /// Bound port of listener `i` (for logs and tests binding port 0).
  uint16_t listener_port(std::size_t i) const { return listeners_[i].port(); }

 private:
  rt::Task<void> accept_loop(std::size_t listener_index);
  rt::Task<void> admin_loop();
  rt::Task<void> drain_task(std::chrono::milliseconds grace, std::function<void()> done);

  std::size_t index_;
  rt::EventLoop& loop_;
  const config::Config& config_;
  SharedState& shared_;
  std::vector<rt::TcpListener> listeners_;
  rt::TcpListener admin_;  // worker 0 only, when server.admin is set
  AdminEnv admin_env_;
  WorkerPools pools_;
  std::vector<std::unique_ptr<Frontend>> frontends_;  // one per listener, in config order
  rt::CancelSource idle_cancel_;
  rt::TaskScope accepting_;
  rt::TaskScope sessions_;
  rt::TaskScope control_;
};

}  // namespace corral::proxy
