// One worker: the listeners, client sessions and backend pools that live on one EventLoop.
//
//   Worker::start ──► per listener: accept loop ──► spawn the current generation's Frontend::serve(client)
//   Worker::prepare_reload / commit_reload ──► a new Generation for new clients; listeners kept, added or
//                     removed; the previous generation retires when its last session ends
//   Worker::drain ──► close listeners; `idle_` cancels sessions waiting for their next request;
//                     after the grace period every generation's sessions are cancelled
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <list>
#include <map>
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

/// Everything a worker builds from one configuration: its backend pools, one frontend per listener and
/// the sessions those serve. Sessions keep the generation they started in (their frontend, pools and
/// configuration) to their end, so a reload never changes anything under a running session.
struct Generation {
  Generation(std::shared_ptr<const LoadedConfig> loaded_config, SharedState& shared, pool::BackendMetrics* metrics)
      : loaded(std::move(loaded_config)), pools(loaded->config, shared, metrics) {}

  std::shared_ptr<const LoadedConfig> loaded;
  WorkerPools pools;
  std::vector<std::unique_ptr<Frontend>> frontends;  // one per listener, in config order
  AdminEnv admin_env;                                // worker 0's admin endpoint: this configuration's backends
  rt::TaskScope sessions;                            // the client sessions and admin requests it serves
};

class Worker {
 public:
  Worker(std::size_t index, rt::EventLoop& loop, std::shared_ptr<const LoadedConfig> config, SharedState& shared);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  /// Binds every listener (worker 0 first; others join through SO_REUSEPORT) and builds the first
  /// generation. On the loop's thread.
  rt::Result<void> bind_listeners();
  /// Starts the accept loops. On the loop's thread.
  void start();

  /// Reload, phase 1: builds the generation for `next` and binds the listeners it adds (a listener is
  /// the same when name, address and protocol are). Nothing changes for clients yet. On the loop's thread.
  rt::Result<void> prepare_reload(std::shared_ptr<const LoadedConfig> next);
  /// Phase 2, after every worker prepared: new clients go to the new generation, listeners gone from it
  /// stop accepting (their sessions go on), the old generation retires once its sessions ended.
  void commit_reload();
  /// Phase 2 when a worker failed to prepare: forgets what prepare_reload() made.
  void abort_reload();

  /// Stops accepting, ends idle sessions, waits up to `grace` for the rest, then cancels them.
  /// Calls `done()` on the loop's thread once every session has ended.
  void drain(std::chrono::milliseconds grace, std::function<void()> done);

 private:
  /// One listening socket and its accept loop; kept across reloads while its listener stays.
  struct ListenerSlot {
    std::string name;
    config::Endpoint address;
    config::Protocol protocol;
    rt::TcpListener socket;
    ListenerCounters* counters = nullptr;  // SharedState::metrics, by name
    Frontend* frontend = nullptr;         // of the current generation
    rt::TaskScope* sessions = nullptr;    // where accepted clients run: the current generation's
    rt::TaskScope accepting;
  };

  rt::Result<std::unique_ptr<ListenerSlot>> bind_slot(const config::Listener& listener,
                                                      const rt::SocketAddress& address) const;
  /// The frontends of `generation`, one per listener of its configuration.
  rt::Result<void> build_frontends(Generation& generation);
  /// Points every MySQL listener's target at `loaded` (the configuration now current); listeners it
  /// does not have get none. Logs a backend that changed under a kept listener.
  void point_mysql_targets(const std::shared_ptr<const LoadedConfig>& loaded);
  /// The target of a MySQL listener by its name (made on first use, pointed at nothing until a
  /// configuration with it is committed); null for a Redis listener.
  const MysqlBackendTarget* mysql_target_for(const config::Listener& listener);
  rt::Task<void> accept_loop(ListenerSlot* slot);
  rt::Task<void> admin_loop();
  rt::Task<void> retire(Generation* generation);
  rt::Task<void> stop_slot(std::unique_ptr<ListenerSlot> slot);
  rt::Task<void> drain_task(std::chrono::milliseconds grace, std::function<void()> done);
  /// Cancels every generation's sessions once `grace` has passed (unless `cancel` fires first).
  rt::Task<void> hard_stop_after(std::chrono::milliseconds grace, rt::CancelSource* cancel);

  std::size_t index_;
  rt::EventLoop& loop_;
  SharedState& shared_;
  pool::BackendMetrics* backend_metrics_;  // this worker's, in SharedState::metrics
  // By listener name, kept across reloads; declared before the generations, whose sessions read them.
  std::map<std::string, std::unique_ptr<MysqlBackendTarget>> mysql_targets_;
  std::unique_ptr<Generation> current_;
  std::list<std::unique_ptr<Generation>> retired_;  // still serving sessions that started before a reload
  std::vector<std::unique_ptr<ListenerSlot>> slots_;  // in the current configuration's listener order
  rt::TcpListener admin_;  // worker 0 only, when server.admin is set (a change needs a restart)

  // What prepare_reload() made, for commit_reload() or abort_reload().
  std::unique_ptr<Generation> next_;
  std::vector<std::unique_ptr<ListenerSlot>> next_slots_;  // the next listener order; null: reuse by name

  rt::CancelSource idle_cancel_;
  rt::TaskScope admin_accepting_;
  rt::TaskScope retiring_;  // retire() and stop_slot() tasks
  rt::TaskScope control_;
  rt::TaskScope housekeeping_;  // rt::trim_memory_when_quiet(): caches back to the kernel after a burst
};

}  // namespace corral::proxy
