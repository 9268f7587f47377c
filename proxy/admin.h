// The admin endpoint: a minimal HTTP/1.0 server on server.admin (worker 0 only).
//
//   GET /health  ──► 200 "ok"
//   GET /metrics ──► 200 Prometheus text: connection counters shared by all workers
//   anything else ──► 404 / 405
#pragma once

#include <string>
#include <string_view>

#include "proxy/shared_state.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::proxy {

/// The response to one request line ("GET /metrics HTTP/1.1"), a complete HTTP/1.0 message.
std::string admin_response(std::string_view request_line, const SharedState& shared);

/// Serves one admin connection: reads the request head, answers, closes.
rt::Task<void> serve_admin_client(rt::TcpStream client, const SharedState* shared, rt::CancelSource* cancel);

}  // namespace corral::proxy
