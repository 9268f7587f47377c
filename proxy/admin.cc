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

/// The samples of one histogram series: cumulative `le` buckets, _sum and _count. `labels` is what goes
/// inside the braces before `le` (e.g. `listener="cache"`).
void append_histogram(std::string& out, std::string_view name, std::string_view labels,
                      const std::array<uint64_t, rt::kLatencyBuckets>& buckets, uint64_t sum_ns) {
  uint64_t cumulative = 0;
  for (std::size_t b = 0; b < buckets.size(); ++b) {
    cumulative += buckets[b];
    const std::string le = b < rt::kLatencyBounds.size() ? fmt::format("{}", rt::kLatencyBounds[b]) : "+Inf";
    out += fmt::format("{}_bucket{{{},le=\"{}\"}} {}\n", name, labels, le, cumulative);
  }
  out += fmt::format("{}_sum{{{}}} {}\n", name, labels, static_cast<double>(sum_ns) / 1e9);
  out += fmt::format("{}_count{{{}}} {}\n", name, labels, cumulative);
}

void append_help(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
  out += fmt::format("# HELP {0} {1}\n# TYPE {0} {2}\n", name, help, type);
}

/// corral_requests_total by listener and class, and the client-seen latency histogram by listener:
/// every worker's RequestStats of the listener summed.
void append_request_metrics(std::string& out,
                            const std::vector<std::pair<std::string, const ListenerCounters*>>& listeners) {
  append_help(out, "corral_requests_total", "counter", "Client requests answered, by listener and class.");
  std::string histogram;
  append_help(histogram, "corral_request_duration_seconds", "histogram",
              "Client-seen time from reading a request (or a pipelined batch) to writing its reply, by listener.");
  for (const auto& [name, counters] : listeners) {
    const std::string label = rt::json_string(name);
    std::array<uint64_t, kRequestClassCount> by_class{};
    std::array<uint64_t, rt::kLatencyBuckets> buckets{};
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
    append_histogram(histogram, "corral_request_duration_seconds", "listener=" + label, buckets, sum_ns);
  }
  out += histogram;
}

/// TLS handshakes of each listener's clients, and which backend each listener of the running
/// configuration uses (the join between listener and backend series).
void append_listener_backend_metrics(std::string& out, const AdminEnv& env,
                                     const std::vector<std::pair<std::string, const ListenerCounters*>>& listeners) {
  append_help(out, "corral_listener_tls_handshakes_total", "counter",
              "TLS handshakes with clients, by listener and result (failed: refused, broken or timed out).");
  for (const auto& [name, counters] : listeners) {
    const std::string label = rt::json_string(name);
    out += fmt::format("corral_listener_tls_handshakes_total{{listener={},result=\"ok\"}} {}\n", label,
                       counters->tls.ok.load(std::memory_order_relaxed));
    out += fmt::format("corral_listener_tls_handshakes_total{{listener={},result=\"failed\"}} {}\n", label,
                       counters->tls.failed.load(std::memory_order_relaxed));
  }
  append_help(out, "corral_listener_backend_info", "gauge",
              "1 for each listener of the running configuration and the backend its pools count under.");
  for (const ProbeTarget& target : env.backends) {
    out += fmt::format("corral_listener_backend_info{{listener={},backend={}}} 1\n",
                       rt::json_string(target.listener->name), rt::json_string(backend_label(target.listener->backend)));
  }
}

/// The per-backend families (pool/backend_metrics.h), every worker summed: one series per backend
/// server and, where a family has one, per state, result or kind.
void append_backend_metrics(std::string& out, const std::vector<pool::BackendSnapshot>& backends) {
  const auto family = [&](std::string_view name, std::string_view type, std::string_view help, auto&& samples) {
    append_help(out, name, type, help);
    for (const pool::BackendSnapshot& backend : backends) samples(rt::json_string(backend.label), backend);
  };
  family("corral_backend_connections", "gauge",
         "Backend connections now, by backend and state (connecting, idle, in_use, pinned).",
         [&](const std::string& label, const pool::BackendSnapshot& b) {
           const std::pair<std::string_view, uint64_t> states[] = {{"connecting", b.gauges.connecting},
                                                                   {"idle", b.gauges.idle},
                                                                   {"in_use", b.gauges.in_use},
                                                                   {"pinned", b.gauges.pinned}};
           for (const auto& [state, value] : states) {
             out += fmt::format("corral_backend_connections{{backend={},state=\"{}\"}} {}\n", label, state, value);
           }
         });
  family("corral_backend_connections_open", "gauge", "Open backend connections (idle + in_use + pinned), by backend.",
         [&](const std::string& label, const pool::BackendSnapshot& b) {
           out += fmt::format("corral_backend_connections_open{{backend={}}} {}\n", label, b.gauges.open());
         });
  family("corral_backend_waiters", "gauge", "Requests waiting for a backend connection now, by backend.",
         [&](const std::string& label, const pool::BackendSnapshot& b) {
           out += fmt::format("corral_backend_waiters{{backend={}}} {}\n", label, b.gauges.waiters);
         });
  family("corral_backend_pools", "gauge",
         "Pools (distinct users, databases, schemas...) of a backend now, over all workers, by backend.",
         [&](const std::string& label, const pool::BackendSnapshot& b) {
           out += fmt::format("corral_backend_pools{{backend={}}} {}\n", label, b.gauges.pools);
         });
  family("corral_backend_up", "gauge",
         "1 when the latest connection attempt to the backend got an answer, 0 when it did not; absent before "
         "the first attempt.",
         [&](const std::string& label, const pool::BackendSnapshot& b) {
           if (!b.figures.opened_ever) return;
           out += fmt::format("corral_backend_up{{backend={}}} {}\n", label, b.figures.last_open_answered ? 1 : 0);
         });
  family("corral_backend_connects_total", "counter", "Backend connection opens, by backend and result.",
         [&](const std::string& label, const pool::BackendSnapshot& b) {
           out += fmt::format("corral_backend_connects_total{{backend={},result=\"ok\"}} {}\n", label,
                              b.figures.connects_ok);
           out += fmt::format("corral_backend_connects_total{{backend={},result=\"failed\"}} {}\n", label,
                              b.figures.connects_failed);
         });
  family("corral_backend_pool_timeouts_total", "counter",
         "Requests that waited pool.queue_timeout for a backend connection in vain, by backend.",
         [&](const std::string& label, const pool::BackendSnapshot& b) {
           out += fmt::format("corral_backend_pool_timeouts_total{{backend={}}} {}\n", label, b.figures.pool_timeouts);
         });
  family("corral_backend_errors_total", "counter",
         "Backend failures by backend and kind (connect_failed, timeout, backend_closed, protocol_error, "
         "server_error).",
         [&](const std::string& label, const pool::BackendSnapshot& b) {
           for (std::size_t k = 0; k < pool::kBackendErrorKinds; ++k) {
             out += fmt::format("corral_backend_errors_total{{backend={},kind=\"{}\"}} {}\n", label,
                                pool::to_string(static_cast<pool::BackendError>(k)), b.figures.errors[k]);
           }
         });
  family("corral_backend_tls_handshakes_total", "counter", "TLS handshakes with the backend, by backend and result.",
         [&](const std::string& label, const pool::BackendSnapshot& b) {
           out += fmt::format("corral_backend_tls_handshakes_total{{backend={},result=\"ok\"}} {}\n", label, b.tls_ok);
           out += fmt::format("corral_backend_tls_handshakes_total{{backend={},result=\"failed\"}} {}\n", label,
                              b.tls_failed);
         });
  family("corral_backend_request_duration_seconds", "histogram",
         "Backend round trips: from writing a request (a pipelined batch) to the backend until the last byte of "
         "its reply, by backend.",
         [&](const std::string& label, const pool::BackendSnapshot& b) {
           append_histogram(out, "corral_backend_request_duration_seconds", "backend=" + label,
                            b.figures.latency.buckets, b.figures.latency.sum_ns);
         });
}

/// Redis Cluster backends: what the workers' slot maps saw (pool/cluster_map.h).
void append_cluster_metrics(std::string& out, const pool::ClusterCounters& cluster) {
  const auto load = [](const std::atomic<uint64_t>& value) { return value.load(std::memory_order_relaxed); };
  out += fmt::format(
      "# HELP corral_redis_cluster_map_reads_total Redis Cluster slot maps read (CLUSTER SLOTS), over all workers.\n"
      "# TYPE corral_redis_cluster_map_reads_total counter\ncorral_redis_cluster_map_reads_total {}\n"
      "# HELP corral_redis_cluster_map_read_failures_total Slot map refreshes no cluster node answered.\n"
      "# TYPE corral_redis_cluster_map_read_failures_total counter\ncorral_redis_cluster_map_read_failures_total {}\n"
      "# HELP corral_redis_cluster_slot_moves_total Slots whose master changed from one map read to the next "
      "(failover, resharding).\n"
      "# TYPE corral_redis_cluster_slot_moves_total counter\ncorral_redis_cluster_slot_moves_total {}\n"
      "# HELP corral_redis_cluster_redirects_total MOVED and ASK redirections corral followed.\n"
      "# TYPE corral_redis_cluster_redirects_total counter\n"
      "corral_redis_cluster_redirects_total{{kind=\"moved\"}} {}\ncorral_redis_cluster_redirects_total{{kind=\"ask\"}} {}\n",
      load(cluster.map_reads), load(cluster.map_read_failures), load(cluster.slot_moves), load(cluster.moved),
      load(cluster.ask));
}

std::string metrics(const AdminEnv& env, const std::vector<pool::BackendSnapshot>& backends) {
  const SharedState& shared = *env.shared;
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
  append_cluster_metrics(out, shared.redis_cluster);
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
  per_listener("corral_listener_logins_ok_total", "counter",
               "Logins that succeeded (AUTH, HELLO AUTH, an implicit Redis login, MySQL handshakes and "
               "COM_CHANGE_USER), by listener.",
               &ListenerCounters::logins_ok);
  per_listener("corral_listener_logins_failed_total", "counter", "Refused logins (AUTH, MySQL handshakes), by listener.",
               &ListenerCounters::logins_failed);
  append_request_metrics(out, listeners);
  append_listener_backend_metrics(out, env, listeners);
  append_backend_metrics(out, backends);
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

/// One backend of /stats.json: its connections by state, waiters, whether it is up (null: not tried
/// yet), and the counters the dashboard turns into rates.
std::string backend_json(const pool::BackendSnapshot& backend) {
  const pool::BackendGauges& gauges = backend.gauges;
  const pool::BackendFigures& figures = backend.figures;
  uint64_t errors = 0;
  for (const uint64_t count : figures.errors) errors += count;
  const std::string_view up = !figures.opened_ever ? "null" : figures.last_open_answered ? "true" : "false";
  return fmt::format(
      R"({{"backend":{},"up":{},"open":{},"connecting":{},"idle":{},"in_use":{},"pinned":{},"waiters":{},)"
      R"("pools":{},"requests":{},"errors":{},"pool_timeouts":{},"connects_failed":{}}})",
      rt::json_string(backend.label), up, gauges.open(), gauges.connecting, gauges.idle, gauges.in_use, gauges.pinned,
      gauges.waiters, gauges.pools, figures.latency.count(), errors, figures.pool_timeouts, figures.connects_failed);
}

/// /stats.json: what the dashboard shows, for the listeners of the running configuration and every
/// backend corral has counted for.
std::string stats_json(const AdminEnv& env, const std::vector<pool::BackendSnapshot>& backends) {
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
        R"({{"name":{},"protocol":{},"address":{},"backend":{},"pool":{},"clients_open":{},"accepted":{},)"
        R"("refused":{},"requests":{},"logins_failed":{}}})",
        rt::json_string(listener.name), rt::json_string(config::to_string(listener.protocol)),
        rt::json_string(listener.address.to_string()), rt::json_string(listener.backend.redacted()),
        rt::json_string(backend_label(listener.backend)),
        counters.clients_open.load(std::memory_order_relaxed), counters.accepted.load(std::memory_order_relaxed),
        counters.refused.load(std::memory_order_relaxed), requests,
        counters.logins_failed.load(std::memory_order_relaxed));
  }
  std::string pools;
  for (const pool::BackendSnapshot& backend : backends) {
    if (!pools.empty()) pools += ",";
    pools += backend_json(backend);
  }
  return fmt::format(
      R"({{"clients_open":{},"accepted":{},"refused":{},"redis_pools":{},"reloads_ok":{},"reloads_failed":{},)"
      R"("listeners":[{}],"backends":[{}]}})"
      "\n",
      shared.client_connections.load(std::memory_order_relaxed), shared.clients_accepted.load(std::memory_order_relaxed),
      shared.clients_refused.load(std::memory_order_relaxed), shared.redis_pools.load(std::memory_order_relaxed),
      shared.reloads_ok.load(std::memory_order_relaxed), shared.reloads_failed.load(std::memory_order_relaxed),
      listeners, pools);
}

}  // namespace

bool asks_readiness(std::string_view request_line) { return request_path(request_line) == "/ready"; }

bool asks_backends(std::string_view request_line) {
  const std::string_view path = request_path(request_line);
  return path == "/metrics" || path == "/stats.json";
}

bool asks_reload(std::string_view request_line) {
  return request_path(request_line) == "/reload" && request_line.substr(0, request_line.find(' ')) == "POST";
}

std::string admin_response(std::string_view request_line, const AdminEnv& env,
                           const std::vector<ProbeResult>& readiness,
                           const std::optional<std::vector<pool::BackendSnapshot>>& backends) {
  const std::string_view path = request_path(request_line);
  if (path.empty()) return http("400 Bad Request", "bad request\n");
  const std::string_view method = request_line.substr(0, request_line.find(' '));
  if (path == "/reload") return http("405 Method Not Allowed", "only POST\n");
  if (path != "/" && path != "/stats.json" && path != "/health" && path != "/ready" && path != "/metrics") {
    return http("404 Not Found", "try /, /stats.json, /health, /ready, /metrics or POST /reload\n");
  }
  if (method != "GET") return http("405 Method Not Allowed", "only GET\n");
  if (path == "/") return http("200 OK", dashboard_html(), "text/html; charset=utf-8");
  if (path == "/health") return http("200 OK", "ok\n");
  if (asks_backends(request_line) && !backends) {
    return http("503 Service Unavailable", "a worker did not report its backend figures in time\n");
  }
  if (path == "/stats.json") return http("200 OK", stats_json(env, *backends), "application/json");
  if (path == "/metrics") return http("200 OK", metrics(env, *backends) + mysql_replica_metrics(env.mysql_replicas));
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
    std::optional<std::vector<pool::BackendSnapshot>> backends;
    if (asks_backends(request_line)) backends = co_await env->shared->metrics.backends(deadline, cancel);
    response = admin_response(request_line, *env, readiness, backends);
  }
  co_await client.write_all(response, deadline, cancel);
}

}  // namespace corral::proxy
