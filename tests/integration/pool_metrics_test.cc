// Per-backend Prometheus families (issue 13, "Health and metrics") scraped from /metrics while real
// clients drive corral against real redis-server and mariadbd: connections by state after traffic,
// while a statement runs and while a MULTI or a MySQL transaction holds one, waiters and pool timeouts at max_connections = 1,
// backend up/down across a server restart, the backend latency histogram, and the exposition format
// itself (every family has HELP and TYPE, every line parses, histograms are consistent).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;

// ---- a small Prometheus text-format (0.0.4) reader ------------------------------------------------

struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

struct Family {
  std::string help;
  std::string type;
  std::vector<Sample> samples;
};

/// The families of an exposition, by name. Fails the test (ADD_FAILURE) at the first line that breaks
/// the format: a sample before its family's HELP and TYPE, a bad name, label or value, a sample whose
/// name does not fit its family's type, a series given twice.
std::map<std::string, Family> parse_exposition(const std::string& text) {
  std::map<std::string, Family> families;
  std::set<std::string> series;
  std::string current;  // the family of the last TYPE line
  std::size_t line_start = 0;
  const auto valid_name = [](std::string_view name) {
    if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
    for (const char c : name) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != ':') return false;
    }
    return true;
  };
  while (line_start < text.size()) {
    std::size_t line_end = text.find('\n', line_start);
    if (line_end == std::string::npos) {
      ADD_FAILURE() << "the exposition does not end with a newline";
      line_end = text.size();
    }
    const std::string line = text.substr(line_start, line_end - line_start);
    line_start = line_end + 1;
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const std::string rest = line.substr(7);
      const std::size_t space = rest.find(' ');
      const std::string name = rest.substr(0, space);
      EXPECT_TRUE(valid_name(name)) << line;
      EXPECT_NE(space, std::string::npos) << "nothing after the name: " << line;
      const std::string what = space == std::string::npos ? "" : rest.substr(space + 1);
      if (line[2] == 'H') {
        EXPECT_TRUE(families[name].help.empty()) << "a second HELP: " << line;
        families[name].help = what;
      } else {
        EXPECT_THAT(what, ::testing::AnyOf("counter", "gauge", "histogram")) << line;
        EXPECT_TRUE(families[name].type.empty()) << "a second TYPE: " << line;
        families[name].type = what;
        current = name;
      }
      continue;
    }
    EXPECT_FALSE(line.empty() || line[0] == '#') << "unexpected line: '" << line << "'";
    Sample sample;
    const std::size_t brace = line.find('{');
    const std::size_t space = line.rfind(' ');
    sample.name = line.substr(0, std::min(brace, space));
    if (brace != std::string::npos) {
      const std::size_t close = line.rfind('}');
      std::string labels = line.substr(brace + 1, close - brace - 1);
      std::size_t at = 0;
      while (at < labels.size()) {
        const std::size_t eq = labels.find("=\"", at);
        if (eq == std::string::npos) {
          ADD_FAILURE() << "bad labels: " << line;
          break;
        }
        std::string value;
        std::size_t i = eq + 2;
        for (; i < labels.size() && labels[i] != '"'; ++i) {
          if (labels[i] == '\\' && i + 1 < labels.size()) ++i;  // \" \\ \n
          value += labels[i];
        }
        const std::string label = labels.substr(at, eq - at);
        EXPECT_TRUE(valid_name(label)) << line;
        EXPECT_TRUE(sample.labels.emplace(label, value).second) << "label twice: " << line;
        at = i + 1;
        if (at < labels.size()) {
          EXPECT_EQ(labels[at], ',') << line;
          ++at;
        }
      }
    }
    char* end = nullptr;
    const std::string value = line.substr(space + 1);
    sample.value = std::strtod(value.c_str(), &end);
    EXPECT_TRUE(!value.empty() && *end == '\0') << "bad value: " << line;
    EXPECT_TRUE(series.insert(line.substr(0, space)).second) << "series twice: " << line;
    // The sample belongs to the family of the last TYPE line; a histogram's end in _bucket/_sum/_count.
    const Family& family = families[current];
    std::string base = sample.name;
    if (family.type == "histogram") {
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        if (base.ends_with(suffix)) base = base.substr(0, base.size() - std::string_view(suffix).size());
      }
    }
    EXPECT_EQ(base, current) << "a sample outside its family (no HELP/TYPE before it): " << line;
    EXPECT_FALSE(family.help.empty()) << "no HELP for " << line;
    if (family.type == "counter") {
      EXPECT_TRUE(sample.name.ends_with("_total")) << line;
    }
    families[current].samples.push_back(std::move(sample));
  }
  // Histograms: buckets cumulative, +Inf equal to _count, per series.
  for (const auto& [name, family] : families) {
    EXPECT_FALSE(family.type.empty()) << name << " has HELP but no TYPE";
    EXPECT_FALSE(family.help.empty()) << name << " has TYPE but no HELP";
    if (family.type != "histogram") continue;
    std::map<std::map<std::string, std::string>, std::vector<double>> buckets;
    std::map<std::map<std::string, std::string>, double> counts;
    for (const Sample& s : family.samples) {
      std::map<std::string, std::string> key = s.labels;
      key.erase("le");
      if (s.name.ends_with("_bucket")) buckets[key].push_back(s.value);
      if (s.name.ends_with("_count")) counts[key] = s.value;
    }
    for (const auto& [key, values] : buckets) {
      for (std::size_t i = 1; i < values.size(); ++i) EXPECT_LE(values[i - 1], values[i]) << name;
      EXPECT_EQ(values.back(), counts[key]) << name << ": +Inf bucket against _count";
    }
  }
  return families;
}

std::string metrics_body(uint16_t admin_port) {
  const std::string response = admin_get(admin_port, "/metrics");
  EXPECT_THAT(response, ::testing::StartsWith("HTTP/1.0 200 OK"));
  return response.substr(response.find("\r\n\r\n") + 4);
}

/// The value of the series `name{labels}` in a parsed exposition; -1 when it is absent.
double value_of(const std::map<std::string, Family>& families, const std::string& family, const std::string& name,
                const std::map<std::string, std::string>& labels) {
  const auto found = families.find(family);
  if (found == families.end()) return -1;
  for (const Sample& sample : found->second.samples) {
    if (sample.name == name && sample.labels == labels) return sample.value;
  }
  return -1;
}

/// Scrapes until `condition(families)` holds (the figures of a request are counted a moment after its
/// reply left), failing with `what`; returns the last scrape.
template <class Condition>
std::map<std::string, Family> scrape_until(uint16_t admin_port, Condition condition, const char* what) {
  std::map<std::string, Family> families;
  const bool held = poll_until(
      [&] {
        families = parse_exposition(metrics_body(admin_port));
        return condition(families);
      },
      5s);
  EXPECT_TRUE(held) << "timed out waiting for " << what;
  return families;
}

std::string admin_toml(uint16_t port) { return "admin = \"127.0.0.1:" + std::to_string(port) + "\"\n"; }

class PoolMetrics : public ::testing::Test {
 protected:
  /// A backend series' value in the last scrape `f`.
  static double backend(const std::map<std::string, Family>& f, const std::string& family, const std::string& label,
                        std::map<std::string, std::string> more = {}) {
    more["backend"] = label;
    return value_of(f, family, family, more);
  }
  static double connections(const std::map<std::string, Family>& f, const std::string& label, const char* state) {
    return backend(f, "corral_backend_connections", label, {{"state", state}});
  }
  static double latency_count(const std::map<std::string, Family>& f, const std::string& label) {
    return value_of(f, "corral_backend_request_duration_seconds", "corral_backend_request_duration_seconds_count",
                    {{"backend", label}});
  }
};

TEST_F(PoolMetrics, EveryFamilyHasHelpAndTypeAndTheConfiguredBackendsStartAtZero) {
  RedisServer redis;
  MariaDbServer mariadb;
  mariadb.create_user("svc", "svc-pass");
  const uint16_t admin = pick_free_port();
  CorralProcess corral(
      {.listeners = {{.name = "cache", .protocol = "redis", .backend = redis.url()},
                     {.name = "db", .protocol = "mysql", .backend = mariadb.url("svc", "svc-pass"), .auth = "users"}},
       .extra_toml = "[server]\n" + admin_toml(admin) + "[[users]]\nname = \"app\"\npassword = \"pw\"\n"});
  const auto f = parse_exposition(metrics_body(admin));
  const std::string redis_label = "redis://127.0.0.1:" + std::to_string(redis.port());
  const std::string mysql_label = "mysql://127.0.0.1:" + std::to_string(mariadb.port());
  for (const char* family :
       {"corral_backend_connections", "corral_backend_connections_open", "corral_backend_waiters",
        "corral_backend_pools", "corral_backend_up", "corral_backend_connects_total",
        "corral_backend_pool_timeouts_total", "corral_backend_errors_total", "corral_backend_tls_handshakes_total",
        "corral_backend_request_duration_seconds", "corral_listener_tls_handshakes_total",
        "corral_listener_backend_info"}) {
    EXPECT_TRUE(f.contains(family)) << family;
  }
  for (const std::string& label : {redis_label, mysql_label}) {
    EXPECT_GE(backend(f, "corral_backend_connections_open", label), 0) << label;
    EXPECT_EQ(backend(f, "corral_backend_errors_total", label, {{"kind", "connect_failed"}}), 0) << label;
    EXPECT_EQ(backend(f, "corral_backend_pool_timeouts_total", label), 0) << label;
  }
  // No Redis client has sent anything (the harness's start-up probe only connects): nothing opened, and
  // no claim about a server corral has not tried. (A MySQL client is greeted with what a backend
  // connection learned, so the probe may already have opened one there.)
  EXPECT_EQ(backend(f, "corral_backend_connections_open", redis_label), 0);
  EXPECT_EQ(backend(f, "corral_backend_up", redis_label), -1);
  EXPECT_EQ(value_of(f, "corral_listener_backend_info", "corral_listener_backend_info",
                     {{"listener", "db"}, {"backend", mysql_label}}),
            1);
  EXPECT_THAT(metrics_body(admin), ::testing::Not(::testing::HasSubstr("svc-pass")));
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST_F(PoolMetrics, RedisConnectionsIdleAfterTrafficAndPinnedDuringMulti) {
  RedisServer redis;
  const uint16_t admin = pick_free_port();
  CorralProcess corral({.listeners = {{.name = "cache", .protocol = "redis", .backend = redis.url()}},
                        .extra_toml = "[server]\n" + admin_toml(admin)});
  const std::string label = "redis://127.0.0.1:" + std::to_string(redis.port());
  RedisClient client = RedisClient::connect("127.0.0.1", corral.port("cache"), 5s);
  EXPECT_EQ(client.command({"SET", "n", "not a number"}), "+OK\r\n");
  EXPECT_EQ(client.command({"GET", "n"}), "$12\r\nnot a number\r\n");
  EXPECT_THAT(client.command({"INCR", "n"}), ::testing::StartsWith("-ERR"));  // an error reply relayed
  auto f = scrape_until(
      admin, [&](const auto& m) { return latency_count(m, label) >= 3; }, "three backend round trips");
  EXPECT_EQ(connections(f, label, "idle"), 1);
  EXPECT_EQ(connections(f, label, "pinned"), 0);
  EXPECT_EQ(backend(f, "corral_backend_connections_open", label), 1);
  EXPECT_EQ(backend(f, "corral_backend_up", label), 1);
  EXPECT_EQ(backend(f, "corral_backend_connects_total", label, {{"result", "ok"}}), 1);
  EXPECT_EQ(backend(f, "corral_backend_errors_total", label, {{"kind", "server_error"}}), 1);
  EXPECT_EQ(backend(f, "corral_backend_pools", label), 1);

  EXPECT_EQ(client.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(client.command({"INCR", "counter"}), "+QUEUED\r\n");
  f = parse_exposition(metrics_body(admin));
  EXPECT_EQ(connections(f, label, "pinned"), 1) << "the MULTI holds a dedicated connection";
  EXPECT_EQ(client.command({"EXEC"}), "*1\r\n:1\r\n");
  f = scrape_until(
      admin, [&](const auto& m) { return connections(m, label, "pinned") == 0; }, "the MULTI's connection back");
  EXPECT_EQ(connections(f, label, "idle"), 2) << "the shared one and the dedicated one, kept warm";
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST_F(PoolMetrics, MysqlTransactionPinsAndAWaiterTimesOutAtMaxConnectionsOne) {
  MariaDbServer mariadb;
  mariadb.create_user("svc", "svc-pass");
  const uint16_t admin = pick_free_port();
  CorralProcess corral({.listeners = {{.name = "db", .protocol = "mysql", .backend = mariadb.url("svc", "svc-pass"),
                                       .auth = "users"}},
                        .extra_toml = "[server]\nworkers = 1\n" + admin_toml(admin) +
                                      "[pool]\nmax_connections = 1\nqueue_timeout_ms = 1500\n"
                                      "[[users]]\nname = \"app\"\npassword = \"pw\"\n"});
  const std::string label = "mysql://127.0.0.1:" + std::to_string(mariadb.port());
  MysqlClient holder = MysqlClient::connect({.port = corral.port("db"), .user = "app", .password = "pw"});
  EXPECT_EQ(holder.query("SELECT 1").at(0), "1");
  auto f = scrape_until(
      admin, [&](const auto& m) { return connections(m, label, "idle") == 1; }, "the connection idle after a query");
  const double round_trips = latency_count(f, label);
  EXPECT_GE(round_trips, 1);
  // The harness's start-up probe may have made a connection of its own: count opens from here.
  const double opens = backend(f, "corral_backend_connects_total", label, {{"result", "ok"}});
  EXPECT_GE(opens, 1);

  // A statement running: its connection is in use, neither idle nor pinned.
  std::thread sleeper([&] { EXPECT_EQ(holder.query("SELECT SLEEP(0.5)").at(0), "0"); });
  f = scrape_until(
      admin, [&](const auto& m) { return connections(m, label, "in_use") == 1; }, "the connection in use");
  EXPECT_EQ(connections(f, label, "pinned"), 0);
  sleeper.join();

  holder.execute("BEGIN");
  f = parse_exposition(metrics_body(admin));
  EXPECT_EQ(connections(f, label, "pinned"), 1) << "the open transaction keeps the one connection";
  EXPECT_EQ(connections(f, label, "idle"), 0);

  MysqlClient waiter = MysqlClient::connect({.port = corral.port("db"), .user = "app", .password = "pw"});
  unsigned waiter_error = 0;
  std::thread blocked([&] {
    try {
      waiter.query("SELECT 2");
    } catch (const MysqlException& e) {
      waiter_error = e.code();
    }
  });
  f = scrape_until(
      admin, [&](const auto& m) { return backend(m, "corral_backend_waiters", label) == 1; }, "one waiter");
  blocked.join();
  EXPECT_EQ(waiter_error, 1040u) << "the waiter's queue timeout";
  f = parse_exposition(metrics_body(admin));
  EXPECT_EQ(backend(f, "corral_backend_waiters", label), 0);
  EXPECT_EQ(backend(f, "corral_backend_pool_timeouts_total", label), 1);

  holder.execute("COMMIT");
  f = scrape_until(
      admin, [&](const auto& m) { return connections(m, label, "idle") == 1; }, "the connection back after COMMIT");
  EXPECT_EQ(connections(f, label, "pinned"), 0);
  EXPECT_GT(latency_count(f, label), round_trips) << "BEGIN and COMMIT were round trips too";
  EXPECT_EQ(backend(f, "corral_backend_connects_total", label, {{"result", "ok"}}), opens)
      << "the one connection served the transaction and came back";
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

TEST_F(PoolMetrics, BackendGoesDownWhenKilledAndUpAfterRestart) {
  RedisServer redis;
  const uint16_t admin = pick_free_port();
  CorralProcess corral({.listeners = {{.name = "cache", .protocol = "redis", .backend = redis.url()}},
                        .extra_toml = "[server]\nworkers = 1\n" + admin_toml(admin) +
                                      "[pool]\nreconnect_backoff_min_ms = 10\nreconnect_backoff_max_ms = 20\n"});
  const std::string label = "redis://127.0.0.1:" + std::to_string(redis.port());
  RedisClient client = RedisClient::connect("127.0.0.1", corral.port("cache"), 5s);
  EXPECT_EQ(client.command({"SET", "k", "v"}), "+OK\r\n");
  auto f = scrape_until(
      admin, [&](const auto& m) { return backend(m, "corral_backend_up", label) == 1; }, "the backend up");

  redis.kill();
  // The established connection sees the server go; the next request's open fails.
  wait_until([&] { return client.command({"GET", "k"}).starts_with("-"); }, 5s, "an error while the server is down");
  f = scrape_until(
      admin, [&](const auto& m) { return backend(m, "corral_backend_up", label) == 0; }, "the backend down");
  EXPECT_GE(backend(f, "corral_backend_errors_total", label, {{"kind", "connect_failed"}}), 1);
  EXPECT_GE(backend(f, "corral_backend_connects_total", label, {{"result", "failed"}}), 1);
  EXPECT_EQ(backend(f, "corral_backend_errors_total", label, {{"kind", "backend_closed"}}), 1);
  EXPECT_EQ(backend(f, "corral_backend_connections_open", label), 0);

  redis.restart();
  wait_until([&] { return client.command({"SET", "k", "v2"}) == "+OK\r\n"; }, 10s, "corral to reach the backend again");
  f = scrape_until(
      admin, [&](const auto& m) { return backend(m, "corral_backend_up", label) == 1; }, "the backend up again");
  EXPECT_EQ(backend(f, "corral_backend_connects_total", label, {{"result", "ok"}}), 2);
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}

}  // namespace
}  // namespace corral::testing
