// A real redis-server child on a free loopback port, for integration tests.
//
//   RedisServer() --pick_free_port--> redis-server --port P --bind 127.0.0.1 --save "" ... (log: dir/redis.log)
//                 --wait: "Ready to accept connections" in the log + PING answered--> ready
//   stop()/kill() --SIGTERM/SIGKILL--> reaped       restart() --same port, same dir--> ready
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "redis_client.h"
#include "server_child.h"

namespace corral::testing {

struct RedisServerOptions {
  /// Appended to the command line, e.g. {"--requirepass", "s3cret", "--databases", "4"}.
  std::vector<std::string> extra_args{};
  /// Password command() authenticates with (as the default user). Taken from "--requirepass X" in
  /// extra_args when left empty.
  std::string password{};
  std::chrono::milliseconds start_timeout{10000};
};

/// Starts redis-server on 127.0.0.1 at a free port with persistence off and its files in a private
/// temporary directory; returns once the server answers. Throws HarnessError (binary missing, start
/// failure with the log's tail). A start that loses its port to another process ("Address already in
/// use") is retried on a new port.
/// Lifetime: the destructor kills the server and removes its directory. Not thread-safe.
class RedisServer final : public ServerChild {
 public:
  explicit RedisServer(RedisServerOptions options = {});
  RedisServer(RedisServer&&) noexcept = default;
  RedisServer& operator=(RedisServer&&) noexcept = default;

  /// "redis://127.0.0.1:PORT" (no credentials): what a corral backend URL points at.
  std::string url() const;

  /// SIGTERM and wait for the exit. Returns the shell-style exit code (0 on a clean shutdown).
  int stop();
  /// Stops the server if it runs, then starts it again on the same port with the same options.
  /// Throws HarnessError when the port was taken meanwhile.
  void restart();
  /// The same, with other options from now on (e.g. another --databases).
  void restart(RedisServerOptions options);

  /// Runs one command on a fresh connection (named "corral-harness" via CLIENT SETNAME, so CLIENT LIST
  /// output can tell it apart) after AUTH when a password is set; returns the raw reply, e.g.
  /// "+OK\r\n". Throws HarnessError when the server cannot be reached.
  std::string command(std::initializer_list<std::string_view> args);
  std::string command(const std::vector<std::string>& args);
  /// A new plain connection to the server (no AUTH).
  RedisClient connect() const;

 private:
  std::vector<std::string> command_line() const override;
  bool answers(const StartLog& log) override;
  bool lost_port(const std::string& log) const override;

  RedisServerOptions options_;
  std::filesystem::path binary_;
};

}  // namespace corral::testing
