// The corral daemon: workers, listeners, shutdown.
//
//   main ──load config──► Daemon::run()
//     ├─ WorkerGroup: one EventLoop thread per worker
//     │    └─ per listener: TcpListener (SO_REUSEPORT) ──accept──► session coroutine (Redis / MySQL)
//     └─ main thread: sigwait(SIGTERM | SIGINT) ──► drain: stop accepting, close idle clients,
//                     let in-flight requests finish for shutdown_grace, then cancel the rest
//                   sigwait(SIGHUP; the admin's POST /reload raises it) ──► reload: read the file again;
//                     invalid: logged, nothing changes; valid: every worker prepares (binds new
//                     listeners), then commits (new clients use the new configuration)
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "proxy/shared_state.h"
#include "runtime/address_claim.h"
#include "runtime/log.h"
#include "runtime/worker_group.h"

namespace corral::proxy {

/// Exit statuses of the corral process (documented in README and docs/CONFIGURATION.md).
enum ExitStatus : int {
  kExitOk = 0,          // clean shutdown after SIGTERM/SIGINT
  kExitRuntimeError = 1,  // could not start (bind failed, backend host unresolvable) or a fatal error
  kExitConfigError = 2,   // bad command line or invalid config
};

class Worker;

/// The runtime log level for a configured one.
rt::log::Level log_level_of(config::LogLevel level);
rt::log::Format log_format_of(config::LogFormat format);

class Daemon {
 public:
  explicit Daemon(config::Config config);
  ~Daemon();

  /// Binds every listener on every worker, then serves until SIGTERM/SIGINT and drains; reloads the
  /// configuration file on SIGHUP. Returns the process exit status.
  int run();

 private:
  /// Claims the addresses of `config`'s listeners this process does not serve yet; false (logged) when
  /// another process serves one.
  bool claim_listeners(const config::Config& config);
  /// Lets go of the claims of addresses the running configuration no longer listens on.
  void release_unused_claims();
  /// Reads the file again and switches every worker to it; what happened, for the log and POST /reload.
  std::string reload(rt::WorkerGroup& group);
  std::string refuse_reload(const std::string& why);

  config::Config initial_;                     // until run() loads it
  std::shared_ptr<const LoadedConfig> loaded_;  // the running configuration
  SharedState shared_;
  std::map<std::string, rt::AddressClaim> claims_;  // by "host:port"
  std::vector<std::unique_ptr<Worker>> workers_;
};

}  // namespace corral::proxy
