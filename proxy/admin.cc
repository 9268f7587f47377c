#include "proxy/admin.h"

#include <fmt/format.h>

#include "proxy/dashboard.h"
#include "proxy/mysql/replica_metrics.h"
#include "runtime/json.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <array>

namespace corral::proxy {

namespace {

constexpr std::size_t kMaxRequestHead = 8192;

std::string http(std::string_view status, std::string_view body,
                 std::string_view content_type = "text/plain; version=0.0.4") {
  return fmt::format("HTTP/1.0 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
                     status, content_type, body.size(), body);
}

/// The path of "GET /ready HTTP/1.1": "/ready"; "" when the line has no space after the method.
std::string_view request_path(std::string_view request_line) {
  const std::size_t method_end = request_line.find(' ');
  if (method_end == std::string_view::npos) return {};
  const std::string_view path = request_line.substr(method_end + 1);
  return path.substr(0, path.find(' '));
}

/// corral_requests_total by listener and class, and the client-seen latency histogram by listener:
/// every worker's RequestStats of the listener summed.
void append_request_metrics(std::string& out,
                            const std::vector<std::pair<std::string, const ListenerCounters*>>& listeners) {
  out += "# HELP corral_requests_total Client requests answered, by listener and class.\n"
         "# TYPE corral_requests_total counter\n";
  std::string histogram =
      "# HELP corral_request_duration_seconds Client-seen time from reading a request (or a pipelined batch) to "
      "writing its reply, by listener.\n# TYPE corral_request_duration_seconds histogram\n";
  for (const auto& [name, counters] : listeners) {
    const std::string label = rt::json_string(name);
    std::array<uint64_t, kRequestClassCount> by_class{};
    std::array<uint64_t, RequestStats::kBounds.size() + 1> buckets{};
    uint64_t sum_ns = 0;
    for (const RequestStats& stats : counters->requests) {
      for (std::size_t c = 0; c < by_class.size(); ++c) by_class[c] += stats.requests[c].load(std::memory_order_relaxed);
      for (std::size_t b = 0; b < buckets.size(); ++b) buckets[b] += stats.buckets[b].load(std::memory_order_relaxed);
      sum_ns += stats.sum_ns.load(std::memory_order_relaxed);
    }
    for (std::size_t c = 0; c < by_class.size(); ++c) {
      if (by_class[c] == 0) continue;
      out += fmt::format("corral_requests_total{{listener={},class=\"{}\"}} {}\n", label,
                         to_string(static_cast<RequestClass>(c)), by_class[c]);
    }
    uint64_t cumulative = 0;
    for (std::size_t b = 0; b < buckets.size(); ++b) {
      cumulative += buckets[b];
      const std::string le = b < RequestStats::kBounds.size() ? fmt::format("{}", RequestStats::kBounds[b]) : "+Inf";
      histogram += fmt::format("corral_request_duration_seconds_bucket{{listener={},le=\"{}\"}} {}\n", label, le,
                               cumulative);
    }
    histogram += fmt::format("corral_request_duration_seconds_sum{{listener={}}} {}\n", label,
                             static_cast<double>(sum_ns) / 1e9);
    histogram += fmt::format("corral_request_duration_seconds_count{{listener={}}} {}\n", label, cumulative);
  }
  out += histogram;
}

std::string metrics(const SharedState& shared) {
  std::string out;
  const auto counter = [&out](std::string_view name, std::string_view type, std::string_view help, uint64_t value) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n{0} {3}\n", name, help, type, value);
  };
  counter("corral_client_connections", "gauge", "Client connections open now.",
          shared.client_connections.load(std::memory_order_relaxed));
  counter("corral_clients_accepted_total", "counter", "Client connections accepted.",
          shared.clients_accepted.load(std::memory_order_relaxed));
  counter("corral_clients_refused_total", "counter", "Client connections refused at client.max_connections.",
          shared.clients_refused.load(std::memory_order_relaxed));
  counter("corral_redis_pools", "gauge", "Redis backend pools alive now (one per distinct key per worker).",
          shared.redis_pools.load(std::memory_order_relaxed));
  out += "# HELP corral_mysql_pins_total MySQL sessions that started keeping a backend connection, by reason.\n"
         "# TYPE corral_mysql_pins_total counter\n";
  for (std::size_t i = 0; i < kMysqlPinReasonCount; ++i) {
    out += fmt::format("corral_mysql_pins_total{{reason=\"{}\"}} {}\n", to_string(static_cast<MysqlPinReason>(i)),
                       shared.mysql_pins[i].load(std::memory_order_relaxed));
  }
  out += "# HELP corral_mysql_caching_sha2_auths_total caching_sha2_password logins, by path.\n"
         "# TYPE corral_mysql_caching_sha2_auths_total counter\n";
  out += fmt::format("corral_mysql_caching_sha2_auths_total{{path=\"fast\"}} {}\n",
                     shared.mysql_sha2_fast_auths.load(std::memory_order_relaxed));
  out += fmt::format("corral_mysql_caching_sha2_auths_total{{path=\"full\"}} {}\n",
                     shared.mysql_sha2_full_auths.load(std::memory_order_relaxed));
  const auto listeners = shared.metrics.listeners();
  const auto per_listener = [&](std::string_view name, std::string_view type, std::string_view help, auto field) {
    out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n", name, help, type);
    for (const auto& [listener, counters] : listeners) {
      out += fmt::format("{}{{listener={}}} {}\n", name, rt::json_string(listener),
                         (counters->*field).load(std::memory_order_relaxed));
    }
  };
  per_listener("corral_listener_client_connections", "gauge", "Client connections open now, by listener.",
               &ListenerCounters::clients_open);
  per_listener("corral_listener_clients_accepted_total", "counter", "Client connections accepted, by listener.",
               &ListenerCounters::accepted);
  per_listener("corral_listener_clients_refused_total", "counter",
               "Client connections refused at client.max_connections, by listener.", &ListenerCounters::refused);
  per_listener("corral_listener_logins_failed_total", "counter", "Refused logins (AUTH, MySQL handshakes), by listener.",
               &ListenerCounters::logins_failed);
  append_request_metrics(out, listeners);
  out += "# HELP corral_reloads_total Configuration reloads (SIGHUP, POST /reload), by result.\n"
         "# TYPE corral_reloads_total counter\n";
  out += fmt::format("corral_reloads_total{{result=\"ok\"}} {}\n", shared.reloads_ok.load(std::memory_order_relaxed));
  out += fmt::format("corral_reloads_total{{result=\"failed\"}} {}\n",
                     shared.reloads_failed.load(std::memory_order_relaxed));
  return out;
}

/// POST /reload: the same as SIGHUP, which is how it asks: the daemon's thread does reloads, and one at a
/// time. Answers once that reload is done: 200 with what changed, 422 with why the file was refused.
rt::Task<std::string> reload(SharedState& shared, rt::CancelSource* cancel) {
  const auto reloads = [&shared] {
    return shared.reloads_ok.load(std::memory_order_acquire) + shared.reloads_failed.load(std::memory_order_acquire);
  };
  const uint64_t before = reloads();
  ::kill(::getpid(), SIGHUP);
  const rt::Deadline deadline = rt::Deadline::after(std::chrono::seconds(30));
  while (reloads() == before) {
    if (rt::Clock::now() >= deadline.at) co_return http("504 Gateway Timeout", "the reload did not finish within 30 s\n");
    const bool slept = co_await rt::sleep_for(std::chrono::milliseconds(10), cancel);
    if (!slept) co_return http("503 Service Unavailable", "shutting down\n");
  }
  std::string outcome;
  {
    std::lock_guard lock(shared.reload_mutex);
    outcome = shared.last_reload;
  }
  const bool ok = outcome.starts_with("ok");
  co_return http(ok ? "200 OK" : "422 Unprocessable Entity", outcome + "\n");
}

/// /stats.json: what the dashboard shows, for the listeners of the running configuration.
std::string stats_json(const AdminEnv& env) {
  const SharedState& shared = *env.shared;
  std::string listeners;
  for (const ProbeTarget& target : env.backends) {
    const config::Listener& listener = *target.listener;
    const ListenerCounters& counters = env.shared->metrics.listener(listener.name);
    if (!listeners.empty()) listeners += ",";
    uint64_t requests = 0;
    for (const RequestStats& stats : counters.requests) {
      for (const auto& count : stats.requests) requests += count.load(std::memory_order_relaxed);
    }
    listeners += fmt::format(
        R"({{"name":{},"protocol":{},"address":{},"backend":{},"clients_open":{},"accepted":{},"refused":{},)"
        R"("requests":{},"logins_failed":{}}})",
        rt::json_string(listener.name), rt::json_string(config::to_string(listener.protocol)),
        rt::json_string(listener.address.to_string()), rt::json_string(listener.backend.redacted()),
        counters.clients_open.load(std::memory_order_relaxed), counters.accepted.load(std::memory_order_relaxed),
        counters.refused.load(std::memory_order_relaxed), requests,
        counters.logins_failed.load(std::memory_order_relaxed));
  }
  return fmt::format(
      R"({{"clients_open":{},"accepted":{},"refused":{},"redis_pools":{},"reloads_ok":{},"reloads_failed":{},"listeners":[{}]}})"
      "\n",
      shared.client_connections.load(std::memory_order_relaxed), shared.clients_accepted.load(std::memory_order_relaxed),
      shared.clients_refused.load(std::memory_order_relaxed), shared.redis_pools.load(std::memory_order_relaxed),
      shared.reloads_ok.load(std::memory_order_relaxed), shared.reloads_failed.load(std::memory_order_relaxed),
      listeners);
}

}  // namespace

bool asks_readiness(std::string_view request_line) { return request_path(request_line) == "/ready"; }

bool asks_reload(std::string_view request_line) {
  return request_path(request_line) == "/reload" && request_line.substr(0, request_line.find(' ')) == "POST";
}

std::string admin_response(std::string_view request_line, const AdminEnv& env,
                           const std::vector<ProbeResult>& readiness) {
  const std::string_view path = request_path(request_line);
  if (path.empty()) return http("400 Bad Request", "bad request\n");
  const std::string_view method = request_line.substr(0, request_line.find(' '));
  if (path == "/reload") return http("405 Method Not Allowed", "only POST\n");
  if (path != "/" && path != "/stats.json" && path != "/health" && path != "/ready" && path != "/metrics") {
    return http("404 Not Found", "try /, /stats.json, /health, /ready, /metrics or POST /reload\n");
  }
  if (method != "GET") return http("405 Method Not Allowed", "only GET\n");
  if (path == "/") return http("200 OK", dashboard_html(), "text/html; charset=utf-8");
  if (path == "/stats.json") return http("200 OK", stats_json(env), "application/json");
  if (path == "/health") return http("200 OK", "ok\n");
  if (path == "/metrics") return http("200 OK", metrics(*env.shared) + mysql_replica_metrics(env.mysql_replicas));
  const bool ready = std::all_of(readiness.begin(), readiness.end(), [](const ProbeResult& r) { return r.ready; });
  return http(ready ? "200 OK" : "503 Service Unavailable", readiness_json(env.backends, readiness),
              "application/json");
}

rt::Task<void> serve_admin_client(rt::TcpStream client, const AdminEnv* env, rt::CancelSource* cancel) {
  std::string head;
  std::array<char, 1024> buffer{};
  const rt::Deadline deadline = rt::Deadline::after(std::chrono::seconds(5));
  while (head.find("\r\n") == std::string::npos && head.size() < kMaxRequestHead) {
    auto n = co_await client.read_some(buffer, deadline, cancel);
    if (!n || *n == 0) co_return;
    head.append(buffer.data(), *n);
  }
  const std::string_view request_line = std::string_view(head).substr(0, head.find("\r\n"));
  std::string response;
  if (asks_reload(request_line)) {
    response = co_await reload(*env->shared, cancel);
  } else {
    std::vector<ProbeResult> readiness;
    if (asks_readiness(request_line)) readiness = co_await probe_backends(env->backends, *env->limits, cancel);
    response = admin_response(request_line, *env, readiness);
  }
  co_await client.write_all(response, deadline, cancel);
}

}  // namespace corral::proxy
