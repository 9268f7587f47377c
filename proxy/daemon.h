// The corral daemon: workers, listeners, shutdown.
//
//   main ──load config──► Daemon::run()
//     ├─ WorkerGroup: one EventLoop thread per worker
//     │    └─ per listener: TcpListener (SO_REUSEPORT) ──accept──► session coroutine (Redis / MySQL)
//     └─ main thread: sigwait(SIGTERM | SIGINT) ──► drain: stop accepting, close idle clients,
//                     let in-flight requests finish for shutdown_grace, then cancel the rest
#pragma once

#include <memory>
#include <vector>

#include "config/config.h"

namespace corral::proxy {

/// Exit statuses of the corral process (documented in README and docs/CONFIGURATION.md).
enum ExitStatus : int {
  kExitOk = 0,          // clean shutdown after SIGTERM/SIGINT
  kExitRuntimeError = 1,  // could not start (bind failed, backend host unresolvable) or a fatal error
  kExitConfigError = 2,   // bad command line or invalid config
};

class Worker;

class Daemon {
 public:
  explicit Daemon(config::Config config);
  ~Daemon();

  /// Binds every listener on every worker, then serves until SIGTERM/SIGINT and drains.
  /// Returns the process exit status.
  int run();

 private:
  config::Config config_;
};

}  // namespace corral::proxy
