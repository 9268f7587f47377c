// The admin endpoint: a minimal HTTP/1.0 server on server.admin (worker 0 only).
//
//   GET /        ──► 200 the dashboard (proxy/dashboard.cc: one HTML page, no external assets)
//   GET /stats.json ──► 200 JSON: listeners and their client counters (what the dashboard polls)
//   GET /health  ──► 200 "ok" (the process is up and serving)
//   GET /ready   ──► 200 / 503 JSON: every listener's backend probed now (proxy/readiness.h)
//   GET /metrics ──► 200 Prometheus text: listener counters shared by all workers, and every worker's
//                    backend figures (asked of each worker's loop first: proxy/metrics.h)
//   POST /reload ──► SIGHUP to the daemon, answered when that reload is done: 200 / 422 and what happened
//   anything else ──► 404 / 405
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pool/backend_metrics.h"
#include "proxy/readiness.h"
#include "proxy/shared_state.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::proxy {

/// What the admin endpoint reads. Lifetime: owned by worker 0, which outlives its admin clients.
struct AdminEnv {
  SharedState* shared;
  std::vector<ProbeTarget> backends;  // one per listener, in config order
  const config::PoolLimits* limits;   // the probes' connect timeout
  std::vector<const pool::MysqlReplicaSet*> mysql_replicas{};  // of the listeners that have replicas
};

/// The response to one request line ("GET /metrics HTTP/1.1"), a complete HTTP/1.0 message; /ready
/// with the probes' results, /metrics and /stats.json with the workers' backend figures (nullopt:
/// a worker did not answer, 503); each is ignored for other paths.
std::string admin_response(std::string_view request_line, const AdminEnv& env,
                           const std::vector<ProbeResult>& readiness,
                           const std::optional<std::vector<pool::BackendSnapshot>>& backends);

/// Whether `request_line` asks for /ready, whose answer needs the backends probed first.
bool asks_readiness(std::string_view request_line);
/// Whether `request_line` asks for /metrics or /stats.json, whose answers need every worker's backend
/// figures first.
bool asks_backends(std::string_view request_line);

/// Serves one admin connection: reads the request head, answers, closes.
rt::Task<void> serve_admin_client(rt::TcpStream client, const AdminEnv* env, rt::CancelSource* cancel);

}  // namespace corral::proxy
