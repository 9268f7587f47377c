// Child processes for test servers: spawn with output to a log file, stop, kill, and always reap.
//
//   spawn(argv, log) --fork--> child: PDEATHSIG=SIGKILL, default signals, stdin=/dev/null,
//                                      stdout+stderr >> log, other fds closed, execv
//   ~ChildProcess / kill() --SIGKILL--> waitpid          terminate() --SIGTERM, grace--> waitpid
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corral::testing {

/// Finds `name` in $PATH, then in /usr/local/sbin, /usr/sbin and /sbin (mariadbd lives in /usr/sbin,
/// which a non-root PATH lacks). Throws HarnessError("<name> not found in PATH; run
/// scripts/install-deps.sh") when it is nowhere.
std::filesystem::path find_executable(std::string_view name);
/// The same over an explicit colon-separated directory list and nothing else.
std::filesystem::path find_executable(std::string_view name, std::string_view search_path);
/// The message find_executable throws for a missing binary.
std::string missing_binary_message(std::string_view name);

/// Shell-style exit code of a waitpid() status: the exit status, or 128 + signal number.
int exit_code(int wait_status);
/// "exited with status 1", "killed by signal 9 (Killed)".
std::string describe_wait_status(int wait_status);

/// One child process. Move-only; the destructor kills (SIGKILL) and reaps a child still running, so a
/// failing or throwing test never leaks it. The child also gets PR_SET_PDEATHSIG(SIGKILL), so it dies
/// when the spawning *thread* dies: spawn servers from a thread that outlives them (the test's main
/// thread). Not thread-safe.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  /// Starts `argv` (argv[0] is the program path; it is not searched in PATH) with stdin from /dev/null
  /// and stdout and stderr appended to `log_path`. `extra_env` entries ("NAME=value") are added to, or
  /// replace entries of, the current environment. Throws HarnessError when fork or exec fails.
  static ChildProcess spawn(const std::vector<std::string>& argv, const std::filesystem::path& log_path,
                            const std::vector<std::string>& extra_env = {});

  pid_t pid() const { return pid_; }
  /// True while the child has not exited; reaps it (without blocking) once it has.
  bool running();
  /// The waitpid() status once the child has been reaped.
  std::optional<int> wait_status() const { return status_; }

  /// Sends `sig` to a running child; a no-op when it has exited.
  void signal(int sig);
  /// SIGSTOP, then waits until every thread of the child is really stopped: the signal is delivered
  /// asynchronously, and a test that freezes a server must not see it answer one more request.
  void suspend();
  /// Waits up to `timeout` for the child to exit by itself; returns its waitpid() status, or nullopt
  /// when it is still running.
  std::optional<int> wait_for(std::chrono::milliseconds timeout);
  /// SIGTERM, then waits up to `grace`; SIGKILL after that. Returns the waitpid() status.
  int terminate(std::chrono::milliseconds grace = std::chrono::seconds(10));
  /// SIGKILL and wait. Returns the waitpid() status (also when it had exited before).
  int kill();

 private:
  pid_t pid_ = -1;            // -1: no child
  std::optional<int> status_;  // set once reaped
};

/// Result of run_command().
struct CommandResult {
  int wait_status = 0;
  std::string output;  // stdout and stderr interleaved
  int exit_code() const { return ::corral::testing::exit_code(wait_status); }
};

/// Runs `argv` to completion (killing it after `timeout`) with output captured to `log_path`, or to a
/// temporary file when `log_path` is empty. Throws HarnessError when it cannot start or times out.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(60),
                          const std::filesystem::path& log_path = {},
                          const std::vector<std::string>& extra_env = {});

}  // namespace corral::testing
