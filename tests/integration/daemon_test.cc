// The corral daemon as a process: command line, exit statuses, config errors, admin endpoint, and a
// graceful drain on SIGTERM (issue: foundation). Runs the real binary against a real redis-server.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

#include "harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

std::string corral_binary() { return CorralProcess::binary_path().string(); }

TEST(Daemon, VersionAndHelpExitZero) {
  const CommandResult version = run_command({corral_binary(), "--version"});
  EXPECT_EQ(version.exit_code(), 0);
  EXPECT_THAT(version.output, HasSubstr("corral "));
  const CommandResult help = run_command({corral_binary(), "--help"});
  EXPECT_EQ(help.exit_code(), 0);
  EXPECT_THAT(help.output, HasSubstr("--check-config"));
}

TEST(Daemon, UnknownArgumentIsAUsageError) {
  const CommandResult result = run_command({corral_binary(), "--frobnicate"});
  EXPECT_EQ(result.exit_code(), 2);
  EXPECT_THAT(result.output, HasSubstr("unknown argument '--frobnicate'"));
}

TEST(Daemon, ShippedConfigChecksClean) {
  const CommandResult result =
      run_command({corral_binary(), "--check-config", "--config", std::string(CORRAL_SOURCE_DIR) + "/config/corral.toml"});
  EXPECT_EQ(result.exit_code(), 0) << result.output;
}

TEST(Daemon, BadValueExitsTwoNamingFileLineAndKey) {
  TempDir dir("daemon-test");
  const auto path = dir.file("corral.toml");
  write_file(path,
             "[[listeners]]\nname = \"r\"\nprotocol = \"redis\"\naddress = \"127.0.0.1:6380\"\n"
             "backend = \"redis://127.0.0.1:6379\"\n\n[pool]\nmax_connections = -3\n");
  const CommandResult check = run_command({corral_binary(), "--check-config", "--config", path.string()});
  EXPECT_EQ(check.exit_code(), 2);
  EXPECT_THAT(check.output, HasSubstr("corral.toml:8: pool.max_connections must be > 0 (got -3)"));
  const CommandResult run = run_command({corral_binary(), "--config", path.string()}, 10s);
  EXPECT_EQ(run.exit_code(), 2);
  EXPECT_THAT(run.output, HasSubstr("corral.toml:8: pool.max_connections"));
}

TEST(Daemon, ListenAddressInUseExitsOne) {
  RedisServer redis;
  TempDir dir("daemon-test");
  const auto path = dir.file("corral.toml");
  // The redis-server's own port is taken, so binding the listener there must fail.
  write_file(path, "[[listeners]]\nname = \"r\"\nprotocol = \"redis\"\naddress = \"127.0.0.1:" +
                       std::to_string(redis.port()) + "\"\nbackend = \"" + redis.url() + "\"\n");
  const CommandResult run = run_command({corral_binary(), "--config", path.string()}, 10s);
  EXPECT_EQ(run.exit_code(), 1) << run.output;
  EXPECT_THAT(run.output, HasSubstr("cannot listen on"));
}

TEST(Daemon, ASecondCorralOnTheSameAddressExitsAndTheFirstKeepsServing) {
  RedisServer redis;
  CorralProcess first({.listeners = {{.name = "redis", .protocol = "redis", .backend = redis.url()}}});
  const uint16_t port = first.port("redis");
  // Without the claim the kernel lets a second process of the same user join the SO_REUSEPORT group.
  const CommandResult second = run_command({corral_binary(), "--config", first.config_path().string()}, 10s);
  EXPECT_EQ(second.exit_code(), 1) << second.output;
  EXPECT_THAT(second.output, HasSubstr("already served by another process"));
  for (int i = 0; i < 20; ++i) {  // new connections all reach the first corral, which still serves
    RedisClient fresh = RedisClient::connect("127.0.0.1", port, 5s);
    EXPECT_EQ(fresh.command({"PING"}), "+PONG\r\n");
  }
  EXPECT_EQ(first.stop(), 0) << first.log();
}

TEST(Daemon, AdminEndpointAnswersHealthAndMetrics) {
  RedisServer redis;
  const uint16_t admin_port = pick_free_port();
  CorralProcess corral({.listeners = {{.name = "redis", .protocol = "redis", .backend = redis.url()}},
                        .extra_toml = "[server]\nadmin = \"127.0.0.1:" + std::to_string(admin_port) + "\"\n"});
  RedisClient client = RedisClient::connect("127.0.0.1", corral.port("redis"), 5s);
  EXPECT_EQ(client.command({"PING"}), "+PONG\r\n");
  EXPECT_THAT(admin_get(admin_port, "/health"), HasSubstr("200 OK"));
  const std::string metrics = admin_get(admin_port, "/metrics");
  EXPECT_THAT(metrics, HasSubstr("corral_client_connections 1"));
  // The harness's readiness probe is a connection too, so "accepted" counts at least ours.
  EXPECT_THAT(metrics, ::testing::ContainsRegex("corral_clients_accepted_total [1-9]"));
  EXPECT_THAT(metrics, HasSubstr("corral_listener_client_connections{listener=\"redis\"} 1\n"));
  EXPECT_THAT(metrics, ::testing::ContainsRegex("corral_listener_clients_accepted_total\\{listener=\"redis\"\\} [1-9]"));
  EXPECT_THAT(admin_get(admin_port, "/nope"), HasSubstr("404"));
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST(Daemon, ReadyProbesEveryBackendAndNamesWhatIsWrong) {
  RedisServer redis;
  MariaDbServer mariadb;
  mariadb.create_user("app", "secret");
  const uint16_t admin_port = pick_free_port();
  CorralProcess corral(
      {.listeners = {{.name = "redis", .protocol = "redis", .backend = redis.url()},
                     {.name = "shop", .protocol = "mysql", .backend = mariadb.url("app", "secret"), .auth = "users"},
                     {.name = "locked", .protocol = "mysql", .backend = mariadb.url("app", "wrong"), .auth = "users"}},
       .extra_toml = "[server]\nadmin = \"127.0.0.1:" + std::to_string(admin_port) +
                     "\"\n[[users]]\nname = \"u\"\npassword = \"p\"\n"});
  std::string ready = admin_get(admin_port, "/ready");
  EXPECT_THAT(ready, HasSubstr("503 Service Unavailable"));
  EXPECT_THAT(ready, HasSubstr("application/json"));
  EXPECT_THAT(ready, HasSubstr(R"({"name":"redis","protocol":"redis","backend":")"));
  EXPECT_THAT(ready, ::testing::ContainsRegex(R"("name":"redis",[^}]*"ready":true,"reason":"")"));
  EXPECT_THAT(ready, ::testing::ContainsRegex(R"("name":"shop",[^}]*"ready":true)"));
  EXPECT_THAT(ready, ::testing::ContainsRegex(R"("name":"locked",[^}]*"ready":false,"reason":"Access denied)"));
  EXPECT_THAT(ready, ::testing::Not(HasSubstr("wrong")));  // backends are shown redacted

  // /health says the process is up; /ready follows the backend down.
  redis.kill();
  EXPECT_THAT(admin_get(admin_port, "/health"), HasSubstr("200 OK"));
  ready = admin_get(admin_port, "/ready");
  EXPECT_THAT(ready, ::testing::ContainsRegex(R"("name":"redis",[^}]*"ready":false,"reason":"connect: )"));
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST(Daemon, ReadyIsOkWhenEveryBackendAnswers) {
  RedisServer redis;
  const uint16_t admin_port = pick_free_port();
  CorralProcess corral({.listeners = {{.name = "redis", .protocol = "redis", .backend = redis.url()}},
                        .extra_toml = "[server]\nadmin = \"127.0.0.1:" + std::to_string(admin_port) + "\"\n"});
  const std::string ready = admin_get(admin_port, "/ready");
  EXPECT_THAT(ready, HasSubstr("200 OK"));
  EXPECT_THAT(ready, HasSubstr(R"({"ready":true,"listeners":[{"name":"redis")"));
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

/// A Unix datagram socket standing in for systemd's $NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const TempDir& dir) : path_(dir.file("notify").string()) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
      throw HarnessError("cannot bind the notify socket " + path_);
    }
  }
  ~NotifySocket() { ::close(fd_); }
  const std::string& path() const { return path_; }
  /// The next message, or "" when none comes within `timeout`.
  std::string receive(std::chrono::milliseconds timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return {};
    char buffer[512];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    return n > 0 ? std::string(buffer, static_cast<std::size_t>(n)) : std::string();
  }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST(Daemon, TellsSystemdWhenReadyAndWhenStopping) {
  RedisServer redis;
  TempDir dir("daemon-notify");
  NotifySocket notify(dir);
  CorralProcess corral({.listeners = {{.name = "redis", .protocol = "redis", .backend = redis.url()}},
                        .env = {"NOTIFY_SOCKET=" + notify.path()}});
  EXPECT_EQ(notify.receive(5s), "READY=1\nSTATUS=serving");
  corral.signal(SIGTERM);
  EXPECT_EQ(notify.receive(5s), "STOPPING=1\nSTATUS=draining");
  EXPECT_EQ(corral.wait(10s), 0) << corral.log();
}

TEST(Daemon, DashboardRendersListenersAndClientsInAHeadlessBrowser) {
  const char* browser = "/usr/bin/chromium";
  ASSERT_EQ(::access(browser, X_OK), 0) << "chromium is not installed (scripts/install-deps.sh installs it)";
  RedisServer redis;
  const uint16_t admin_port = pick_free_port();
  // One worker: one pool, so the pool row has a known number of connections.
  CorralProcess corral({.listeners = {{.name = "cache", .protocol = "redis", .backend = redis.url()}},
                        .extra_toml = "[server]\nworkers = 1\nadmin = \"127.0.0.1:" + std::to_string(admin_port) + "\"\n"});
  RedisClient one = RedisClient::connect("127.0.0.1", corral.port("cache"), 5s);
  RedisClient two = RedisClient::connect("127.0.0.1", corral.port("cache"), 5s);
  EXPECT_EQ(one.command({"PING"}), "+PONG\r\n");
  EXPECT_EQ(two.command({"PING"}), "+PONG\r\n");
  EXPECT_EQ(one.command({"SET", "k", "v"}), "+OK\r\n");  // PING is answered by corral; SET opens a pool connection
  TempDir profile("daemon-chromium");
  // --dump-dom prints the document after its scripts ran (the virtual time budget lets the page's
  // fetches of /ready and /stats.json finish and render).
  const CommandResult page =
      run_command({browser, "--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=" + profile.path().string(),
                   "--virtual-time-budget=5000", "--dump-dom",
                   "http://127.0.0.1:" + std::to_string(admin_port) + "/"},
                  60s);
  ASSERT_EQ(page.exit_code(), 0) << page.output;
  const std::size_t row = page.output.find(R"(<tr data-listener="cache">)");
  ASSERT_NE(row, std::string::npos) << page.output;
  const std::string cells = page.output.substr(row, page.output.find("</tr>", row) - row);
  EXPECT_THAT(cells, HasSubstr("<td>cache</td><td>redis</td><td>127.0.0.1:" + std::to_string(corral.port("cache"))));
  EXPECT_THAT(cells, HasSubstr(R"(<td class="up">ready</td>)"));
  // Two clients open; the harness's readiness probe and ours were accepted too.
  EXPECT_THAT(cells, ::testing::ContainsRegex(R"(ready</td><td class="num">2</td><td class="num">[2-9]</td>)"));
  EXPECT_THAT(page.output, HasSubstr(R"(<b id="clients_open">2</b>)"));
  // refused 0, then the two PINGs and the SET as requests (a rate once the page polled twice), no failed login.
  EXPECT_THAT(cells, ::testing::ContainsRegex(
                         R"(<td class="num">0</td><td class="num">3</td><td class="num">(-|[0-9.]+)</td><td class="num">0</td>$)"));
  // The backend's pool row: up, one open connection and idle, nothing in use, pinned, opening or waiting.
  const std::string backend = "redis://127.0.0.1:" + std::to_string(redis.port());
  const std::size_t pool_row = page.output.find(R"(<tr data-backend=")" + backend + R"(">)");
  ASSERT_NE(pool_row, std::string::npos) << page.output;
  const std::string pool_cells = page.output.substr(pool_row, page.output.find("</tr>", pool_row) - pool_row);
  EXPECT_THAT(pool_cells, HasSubstr("<td>" + backend + R"(</td><td class="up">up</td>)"
                                    R"(<td class="num">1</td><td class="num">1</td><td class="num">0</td>)"
                                    R"(<td class="num">0</td><td class="num">0</td><td class="num">0</td>)"));
  // Rates once the page polled twice, and no pool timeout.
  EXPECT_THAT(pool_cells, ::testing::ContainsRegex(
                              R"(<td class="num">(-|[0-9.]+)</td><td class="num">(-|[0-9.]+)</td><td class="num">0</td>$)"));
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST(Daemon, SigtermLetsInFlightRequestsFinishAndClosesIdleClients) {
  RedisServer redis;
  CorralProcess corral({.listeners = {{.name = "redis", .protocol = "redis", .backend = redis.url()}},
                        .extra_toml = "[server]\nshutdown_grace_ms = 5000\n"});
  RedisClient idle = RedisClient::connect("127.0.0.1", corral.port("redis"), 5s);
  EXPECT_EQ(idle.command({"PING"}), "+PONG\r\n");
  RedisClient busy = RedisClient::connect("127.0.0.1", corral.port("redis"), 5s);
  busy.send(encode_command({"BLPOP", "drain-list", "1"}));
  // In flight means blocked on the backend: a SIGTERM before corral has forwarded it would find an
  // idle client and close it. Well inside the BLPOP's own 1 s timeout.
  wait_until([&] { return redis.command({"INFO", "clients"}).find("blocked_clients:1\r\n") != std::string::npos; },
             900ms, "the BLPOP to block on the backend", 5ms);
  corral.signal(SIGTERM);
  // The in-flight blocking command still gets its reply (nil after its 1 s timeout)...
  EXPECT_EQ(busy.read_reply(), "*-1\r\n");
  // ...the idle client is closed, and corral exits cleanly within the grace period.
  EXPECT_TRUE(idle.wait_closed(5s));
  EXPECT_EQ(corral.wait(10s), 0) << corral.log();
  EXPECT_THAT(corral.log(), HasSubstr("draining"));
}

TEST(Daemon, MysqlListenerWithoutItsBackendAnswersWithAnErrorNamingIt) {
  CorralProcess corral({.listeners = {{.name = "mysql", .protocol = "mysql", .backend = "mysql://u:p@127.0.0.1:1",
                                       .auth = "users"}},
                        .extra_toml = "[[users]]\nname = \"u\"\npassword = \"p\"\n"});
  RedisClient raw = RedisClient::connect("127.0.0.1", corral.port("mysql"), 5s);
  std::string bytes;
  raw.wait_closed(5s, &bytes);
  ASSERT_GE(bytes.size(), 7u);
  EXPECT_EQ(static_cast<unsigned char>(bytes[4]), 0xFF);  // ERR_Packet
  EXPECT_THAT(bytes, HasSubstr("127.0.0.1:1"));  // the backend, in place of the greeting
}

}  // namespace
}  // namespace corral::testing
