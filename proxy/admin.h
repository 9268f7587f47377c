// The admin endpoint: a minimal HTTP/1.0 server on server.admin (worker 0 only).
//
//   GET /        ──► 200 the dashboard (proxy/dashboard.cc: one HTML page, no external assets)
//   GET /stats.json ──► 200 JSON: listeners and their client counters (what the dashboard polls)
//   GET /health  ──► 200 "ok" (the process is up and serving)
//   GET /ready   ──► 200 / 503 JSON: every listener's backend probed now (proxy/readiness.h)
//   GET /metrics ──► 200 Prometheus text: connection counters shared by all workers
//   POST /reload ──► SIGHUP to the daemon, answered when that reload is done: 200 / 422 and what happened
//   anything else ──► 404 / 405
#pragma once

#include <string>
#include <string_view>
#include <vector>

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
/// with the probes' results (ignored for other paths).
std::string admin_response(std::string_view request_line, const AdminEnv& env,
                           const std::vector<ProbeResult>& readiness);

/// Whether `request_line` asks for /ready, whose answer needs the backends probed first.
bool asks_readiness(std::string_view request_line);

/// Serves one admin connection: reads the request head, answers, closes.
rt::Task<void> serve_admin_client(rt::TcpStream client, const AdminEnv* env, rt::CancelSource* cancel);

}  // namespace corral::proxy
