// Waiting for a freshly spawned server child, shared by RedisServer, MariaDbServer and CorralProcess:
//
//   StartLog log(path) ──► ChildProcess::spawn(argv, path) ──► wait_for_start(process, log, wait)
//     ready() ──► true     exited, retry(log) ──► false: start again on a new port
//     exited otherwise, or the timeout passed (child killed) ──► HarnessError with this start's log
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "child_process.h"

namespace corral::testing {

/// What a log file gained since construction: this start's output in a log that is appended to
/// across restarts.
class StartLog {
 public:
  explicit StartLog(std::filesystem::path path);
  std::string text() const;

 private:
  std::filesystem::path path_;
  std::uintmax_t offset_;
};

/// What wait_for_start() waits for, and how its failures read.
struct StartWait {
  std::string who;          // names the child in messages: "redis-server on port 6379"
  std::string ready_what;   // "<who> did not <ready_what> within N ms": "answer PING"
  std::chrono::milliseconds timeout;
  std::chrono::milliseconds interval;
  std::function<bool()> ready;                        // the child is up
  std::function<bool(const std::string& log)> retry;  // the child exited: start again (it lost its port)?
  std::string log_label = "log";                      // what messages call the child's output
  std::function<std::string()> exit_details = [] { return std::string(); };  // said before the output
};

/// Checks the freshly spawned `process` every `wait.interval`: returns true once `wait.ready()` holds,
/// false when the child exited and `wait.retry(this start's log)` asks for another start. Throws
/// HarnessError with this start's log otherwise: "<who> exited with status 1 during start-up; log:\n..."
/// or, the child killed at the timeout, "<who> did not <ready_what> within N ms; log:\n...".
bool wait_for_start(ChildProcess& process, const StartLog& log, const StartWait& wait);

}  // namespace corral::testing
