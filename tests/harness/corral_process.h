// The corral daemon as a child process with a generated config on free ports, for end-to-end tests.
//
//   CorralOptions{listeners, extra_toml} --render_config--> dir/corral.toml
//   --spawn: corral --config dir/corral.toml (stdout+stderr: dir/corral.log)
//   --wait: every listener port accepts TCP, process alive--> ready      stop() --SIGTERM--> exit code
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "child_process.h"
#include "temp_dir.h"

namespace corral::testing {

/// One [[listeners]] table. The harness fills in `address` from `port`.
struct CorralListenerSpec {
  std::string name{};             // unique; port(name) looks it up
  std::string protocol{};         // "redis" | "mysql"
  std::string backend{};          // URL, e.g. RedisServer::url(), MariaDbServer::url(user, pass)
  std::string auth{};             // "none" | "users" | "backend"; empty: key left out (config default)
  uint16_t port = 0;              // 0: a free port is picked
  std::string extra_toml{};       // more keys of this table, verbatim ("key = value" lines)
};

struct CorralOptions {
  std::vector<CorralListenerSpec> listeners{};
  /// Placed verbatim before the listeners: [server], [pool], [client], [[users]]... tables.
  std::string extra_toml{};
  /// Appended to "corral --config FILE".
  std::vector<std::string> extra_args{};
  /// Extra environment ("NAME=value").
  std::vector<std::string> env{};
  /// Empty: $CORRAL_BINARY, else the build's corral (CMake target), else an error.
  std::string binary{};
  std::chrono::milliseconds start_timeout{20000};  // sanitizer builds start slowly
};

/// Writes the config, starts corral and returns once every listener accepts TCP connections. If corral
/// exits first, throws HarnessError with its exit status and output; if it exited because a port was
/// taken meanwhile (its output says "in use"), retries with new free ports for the listeners whose
/// port was picked. Lifetime: the destructor kills corral (SIGKILL) and removes its directory; call
/// stop() to test a graceful shutdown. Not thread-safe.
class CorralProcess {
 public:
  explicit CorralProcess(CorralOptions options);
  CorralProcess(CorralProcess&&) noexcept = default;
  CorralProcess& operator=(CorralProcess&&) noexcept = default;

  /// The binary the options resolve to. Throws HarnessError when none is known or it is not executable.
  static std::filesystem::path binary_path(const std::string& explicit_binary = {});

  /// Port of the listener named `listener`; throws HarnessError for an unknown name.
  uint16_t port(std::string_view listener) const;
  const std::string& host() const { return host_; }
  const std::filesystem::path& dir() const { return dir_.path(); }
  std::filesystem::path config_path() const { return dir_.file("corral.toml"); }
  std::string config_text() const { return read_file(config_path()); }
  /// Replaces the config file (e.g. before signal(SIGHUP) in a reload test).
  void write_config(std::string_view toml) const { write_file(config_path(), toml); }
  /// corral's stdout and stderr across all starts.
  std::filesystem::path log_path() const { return dir_.file("corral.log"); }
  std::string log() const { return read_file(log_path()); }
  pid_t pid() const { return process_.pid(); }
  bool running() { return process_.running(); }

  /// SIGTERM, wait up to `grace` (then SIGKILL). Returns the shell-style exit code (128+signal when
  /// killed).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(20));
  /// SIGKILL and wait.
  void kill();
  void signal(int sig) { process_.signal(sig); }
  /// Waits up to `timeout` for corral to exit by itself; returns its exit code, -1 when still running.
  int wait(std::chrono::milliseconds timeout);
  /// Stops corral if it runs and starts it again with the same config file and ports.
  void restart();

 private:
  void start(bool may_change_ports);
  std::string render_config() const;

  CorralOptions options_;
  std::filesystem::path binary_;
  std::string host_ = "127.0.0.1";
  std::vector<bool> picked_;  // per listener: port chosen by the harness (may change on retry)
  TempDir dir_;               // declared before process_: corral dies before its directory goes
  ChildProcess process_;
};

/// The text of a sanitizer report (ASan, LSan, UBSan, TSan) in a corral log, or "" when there is none.
std::string sanitizer_report(const std::string& log);

/// Stops `corral` gracefully (SIGTERM, so LeakSanitizer runs at exit in the sanitizer build) and returns
/// what went wrong, or "" when it was still running, exited 0 and its log holds no sanitizer report.
/// Integration fixtures call it in TearDown: the ASan+UBSan build runs the daemon instrumented, so memory
/// errors in corral surface there.
std::string stop_and_check(CorralProcess& corral);

/// `text` as a TOML basic string, quotes included: "a\"b".
std::string toml_quote(std::string_view text);

}  // namespace corral::testing
