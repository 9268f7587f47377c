// Shared pieces of the Redis path integration tests: a fixture that runs one redis-server with
// corral in front of it and checks corral's log for sanitizer reports at teardown, plus small
// clients the harness does not have (hiredis, many non-blocking raw connections, CLIENT LIST).
//
//   test ──► RedisPathTest::start_proxy(setup) ──► RedisServer (backend) ◄── corral (listener "redis")
//        ──► TearDown: SIGTERM corral, exit status 0, no "ERROR: AddressSanitizer" / "runtime error:"
#pragma once

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../proxy_path_test.h"
#include "harness.h"

namespace corral::testing::redis_it {

using namespace std::chrono_literals;

/// What corral's config for one test holds besides its one Redis listener (named "redis").
struct ProxySetup {
  std::string backend{};          // backend URL; empty: the fixture's redis-server
  std::string auth{};             // listener auth mode; empty: the config default ("none")
  uint32_t workers = 2;
  std::string server_toml{};      // more "key = value" lines for [server]
  std::string pool_toml{};        // lines for [pool]
  std::string client_toml{};      // lines for [client]
  std::string more_toml{};        // further tables ([[users]]...), placed before the listener
};

/// One backend redis-server and one corral per test (ProxyPathTest checks corral at teardown).
class RedisPathTest : public ProxyPathTest<RedisServer> {
 protected:
  RedisServer& start_backend(RedisServerOptions options = {});
  /// Starts corral for `setup` (starting the backend first when the setup names none).
  CorralProcess& start_proxy(ProxySetup setup = {});

  uint16_t proxy_port() const { return proxy_->port("redis"); }
  /// A harness client connected to corral.
  RedisClient connect(std::chrono::milliseconds timeout = 10s) const;
  /// A harness client connected straight to the backend (to compare with what corral says).
  RedisClient connect_direct(std::chrono::milliseconds timeout = 10s) const;
};

/// Runs `commands` one after another on `client` and returns the raw replies.
std::vector<std::string> run_script(RedisClient& client, const std::vector<std::vector<std::string>>& commands);

/// A hiredis connection (RESP2 only: hiredis 0.14 has no RESP3). Move-only.
class Hiredis {
 public:
  static Hiredis connect(uint16_t port, std::chrono::milliseconds timeout = 10s);
  Hiredis() = default;
  Hiredis(Hiredis&& other) noexcept;
  Hiredis& operator=(Hiredis&& other) noexcept;
  Hiredis(const Hiredis&) = delete;
  Hiredis& operator=(const Hiredis&) = delete;
  ~Hiredis();

  /// Queues one command (redisAppendCommandArgv): nothing is sent until get_reply().
  void append(const std::vector<std::string>& args);
  /// The next reply rendered as text: "+OK", "-ERR ...", ":3", "$value", "$(nil)", "*2[$a,$b]", "*(nil)".
  /// A connection error renders as "!<hiredis error>".
  std::string get_reply();
  std::string command(const std::vector<std::string>& args);
  redisContext* context() { return context_; }

 private:
  redisContext* context_ = nullptr;
};

/// Renders a hiredis reply as Hiredis::get_reply() describes.
std::string render(const redisReply* reply);

/// Many raw RESP connections served by one poll() loop, for tests with hundreds of clients.
class ConnectionSwarm {
 public:
  /// Opens `count` connections to 127.0.0.1:`port` (blocking connects, then non-blocking).
  ConnectionSwarm(uint16_t port, std::size_t count);
  ~ConnectionSwarm();
  ConnectionSwarm(const ConnectionSwarm&) = delete;
  ConnectionSwarm& operator=(const ConnectionSwarm&) = delete;

  std::size_t size() const { return fds_.size(); }
  /// Sends requests[i] to connection i, then reads replies until connection i has `replies[i]` of
  /// them. Returns each connection's raw replies in order; throws HarnessError after `timeout` or
  /// when a connection closes.
  std::vector<std::vector<std::string>> round(const std::vector<std::string>& requests,
                                               const std::vector<std::size_t>& replies,
                                               std::chrono::milliseconds timeout = 20s);

 private:
  std::vector<int> fds_;
  std::vector<std::string> inbound_;
};

/// One client of CLIENT LIST: its key=value fields.
using ClientFields = std::map<std::string, std::string, std::less<>>;

/// The backend's CLIENT LIST, without the harness's own connection.
std::vector<ClientFields> client_list(RedisServer& server);
/// How many backend clients are named `name`.
std::size_t count_named(const std::vector<ClientFields>& clients, std::string_view name);

/// The payload of a RESP bulk string reply ("$3\r\nabc\r\n" → "abc"); throws on anything else.
std::string bulk_payload(std::string_view reply);

/// Resident set size of process `pid` in KiB.
uint64_t rss_kib(pid_t pid);

/// Milliseconds since `start`.
double elapsed_ms(std::chrono::steady_clock::time_point start);

}  // namespace corral::testing::redis_it
