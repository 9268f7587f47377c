// What RedisServer and MariaDbServer share: a real server child on 127.0.0.1 at a free port, its files
// and log in a private temporary directory, and the signals a test sends it.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <utility>

#include "child_process.h"
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
  std::filesystem::path log_path() const { return dir_.file(log_name_); }
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
  /// `dir_prefix` names the temporary directory, `log_name` the log file in it.
  ServerChild(std::string_view dir_prefix, std::string log_name) : dir_(dir_prefix), log_name_(std::move(log_name)) {}
  ~ServerChild() = default;

  std::string host_ = "127.0.0.1";
  uint16_t port_ = 0;
  TempDir dir_;  // declared before process_: the server dies before its directory goes
  ChildProcess process_;

 private:
  std::string log_name_;
};

}  // namespace corral::testing
