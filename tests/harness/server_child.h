// What RedisServer and MariaDbServer share: a real server child on 127.0.0.1 at a free port, its files
// and log in a private temporary directory, the start loop, and the signals a test sends it.
//
//   start(may_change_port) ──► pick_free_port() ──► spawn(command_line()) ──► wait_for_start(answers())
//                                   ▲                                              │ exited, lost_port(log)
//                                   └──────────────────────────────────────────────┘
//   (start() is defined in server_start.cc, beside wait_for_start())
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "child_process.h"
#include "server_start.h"
#include "temp_dir.h"

namespace corral::testing {

/// The common part of the harness's server children: where the server listens, its directory and
/// log, and its process. Lifetime: destruction kills the server, then removes its directory.
/// Not thread-safe.
class ServerChild {
 public:
  ServerChild(ServerChild&&) noexcept = default;
  ServerChild& operator=(ServerChild&&) noexcept = default;

  const std::string& host() const { return host_; }
  uint16_t port() const { return port_; }
  /// The server's private directory (its working directory).
  const std::filesystem::path& dir() const { return dir_.path(); }
  /// The server's output across all its starts.
  std::filesystem::path log_path() const { return dir_.file(kind_.log_name); }
  std::string log() const { return read_file(log_path()); }
  pid_t pid() const { return process_.pid(); }
  bool running() { return process_.running(); }

  /// SIGKILL and wait: the server dies mid-whatever, sockets reset (mariadbd runs crash recovery on
  /// its next start).
  void kill() { process_.kill(); }
  /// SIGSTOP / SIGCONT: the server keeps its sockets open but stops answering (timeout tests).
  void freeze() { process_.suspend(); }
  void thaw() { process_.signal(SIGCONT); }

 protected:
  /// What tells one server from another when it starts.
  struct Kind {
    std::string_view dir_prefix;  // of its temporary directory: "corral-redis-"
    std::string log_name;         // its log file in there: "redis.log"
    std::string name;             // in messages: "redis-server"
    std::string ready_what;       // what answers() waits for: "answer PING"
    std::chrono::milliseconds poll_interval;
  };
  explicit ServerChild(Kind kind) : dir_(kind.dir_prefix), kind_(std::move(kind)) {}
  ~ServerChild() = default;

  /// The command line for a start on port_.
  virtual std::vector<std::string> command_line() const = 0;
  /// True once the server just started answers; `log` is what it has written since.
  virtual bool answers(const StartLog& log) = 0;
  /// True when the output of a start that failed says another process took the port.
  virtual bool lost_port(const std::string& log) const = 0;

  /// Starts the server (on a new free port when `may_change_port`, on another one again when a start
  /// loses its port) and returns once answers() holds, waiting at most `timeout` each time. Throws
  /// HarnessError with the start's log when it exits or does not answer in time.
  void start(bool may_change_port, std::chrono::milliseconds timeout);

  std::string host_ = "127.0.0.1";
  uint16_t port_ = 0;
  TempDir dir_;  // declared before process_: the server dies before its directory goes
  ChildProcess process_;

 private:
  Kind kind_;
};

}  // namespace corral::testing
