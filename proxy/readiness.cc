#include "proxy/readiness.h"

#include <fmt/format.h>

#include <array>

#include "pool/mysql_connection.h"
#include "pool/mysql_key.h"
#include "protocols/redis/encoder.h"
#include "protocols/redis/reply_scanner.h"
#include "runtime/event_loop.h"
#include "runtime/json.h"
#include "runtime/task_scope.h"

namespace corral::proxy {

namespace {

/// A reply line for a reason: "-LOADING Redis is loading ...\r\n" becomes "LOADING Redis is loading ...".
std::string reply_reason(std::string_view bytes) {
  if (!bytes.empty() && (bytes.front() == '-' || bytes.front() == '!')) bytes.remove_prefix(1);
  return std::string(bytes.substr(0, bytes.find('\r')));
}

rt::Task<ProbeResult> probe_redis(ProbeTarget target, rt::Deadline deadline, rt::CancelSource* cancel) {
  const config::BackendUrl& url = target.listener->backend;
  auto connected = co_await rt::TcpStream::connect(*rt::EventLoop::current(), target.address, deadline, cancel);
  if (!connected) co_return ProbeResult{false, "connect: " + connected.error().message()};
  rt::TcpStream stream = std::move(*connected);
  if (target.tls != nullptr) {
    auto shaken = co_await stream.start_tls_client(*target.tls, url.host, deadline, cancel);
    if (!shaken) co_return ProbeResult{false, "TLS handshake: " + shaken.error().message()};
  }

  std::string request;
  std::size_t expected = 1;
  if (!url.password.empty()) {
    if (url.user.empty()) {
      redis::encode_command(request, {"AUTH", url.password});
    } else {
      redis::encode_command(request, {"AUTH", url.user, url.password});
    }
    ++expected;
  }
  redis::encode_command(request, {"PING"});
  auto written = co_await stream.write_all(request, deadline, cancel);
  if (!written) co_return ProbeResult{false, "write: " + written.error().message()};

  std::string buffer;
  std::array<char, 4096> chunk{};
  redis::ReplyScanner scanner;
  while (expected > 0) {
    redis::Reply reply;
    const redis::ScanStatus status = scanner.scan(buffer, reply);
    if (status == redis::ScanStatus::Error) co_return ProbeResult{false, "malformed reply: " + scanner.error().message};
    if (status == redis::ScanStatus::Frame) {
      if (reply.is_error()) co_return ProbeResult{false, reply_reason(reply.bytes)};
      buffer.erase(0, reply.size);
      --expected;
      continue;
    }
    auto n = co_await stream.read_some(chunk, deadline, cancel);
    if (!n) co_return ProbeResult{false, "read: " + n.error().message()};
    if (*n == 0) co_return ProbeResult{false, "the backend closed the connection"};
    buffer.append(chunk.data(), *n);
  }
  co_return ProbeResult{true, {}};
}

rt::Task<ProbeResult> probe_mysql(ProbeTarget target, const config::PoolLimits& limits, rt::CancelSource* cancel) {
  pool::MysqlConnection connection(limits);
  const pool::MysqlKey key = pool::make_mysql_key(target.listener->backend, 0, target.tls);
  auto opened = co_await connection.open(key, target.address, cancel);
  if (!opened) co_return ProbeResult{false, connection.error().message};
  connection.close();
  co_return ProbeResult{true, {}};
}

}  // namespace

rt::Task<ProbeResult> probe_backend(ProbeTarget target, const config::PoolLimits& limits, rt::CancelSource* cancel) {
  if (target.listener->protocol == config::Protocol::Mysql) {
    ProbeResult result = co_await probe_mysql(target, limits, cancel);
    co_return result;
  }
  ProbeResult result = co_await probe_redis(target, rt::Deadline::after(limits.connect_timeout), cancel);
  co_return result;
}

namespace {

/// probe_backend() for a TaskScope, which runs Task<void>s. `result` outlives the task (the caller joins).
rt::Task<void> probe_into(ProbeTarget target, const config::PoolLimits& limits, rt::CancelSource* cancel,
                          ProbeResult* result) {
  ProbeResult probed = co_await probe_backend(target, limits, cancel);
  *result = std::move(probed);
}

}  // namespace

rt::Task<std::vector<ProbeResult>> probe_backends(const std::vector<ProbeTarget>& targets,
                                                  const config::PoolLimits& limits, rt::CancelSource* cancel) {
  std::vector<ProbeResult> results(targets.size());
  rt::TaskScope probes;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    probes.spawn(probe_into(targets[i], limits, cancel, &results[i]));
  }
  co_await probes.join();
  co_return results;
}

namespace {

/// ,"replicas":[...] of one listener's /ready entry; "" when it has none.
std::string replicas_json(const pool::MysqlReplicaSet* set, std::chrono::steady_clock::time_point now) {
  if (set == nullptr) return {};
  std::string out = R"(,"replicas":[)";
  for (std::size_t i = 0; i < set->size(); ++i) {
    const pool::ReplicaStatus status = set->status(i);
    std::string checked = "null";
    if (status.state != pool::ReplicaState::Unchecked) {
      checked = std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(now - status.checked_at).count());
    }
    if (i > 0) out += ",";
    out += fmt::format(R"({{"address":{},"state":{},"reason":{},"checked_ms_ago":{}}})",
                       rt::json_string(set->replica(i).endpoint.to_string()),
                       rt::json_string(pool::to_string(status.state)), rt::json_string(status.reason), checked);
  }
  return out + "]";
}

}  // namespace

std::string readiness_json(const std::vector<ProbeTarget>& targets, const std::vector<ProbeResult>& results,
                           std::chrono::steady_clock::time_point now) {
  bool all_ready = true;
  std::string listeners;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    const config::Listener& listener = *targets[i].listener;
    all_ready = all_ready && results[i].ready;
    if (i > 0) listeners += ",";
    listeners += fmt::format(R"({{"name":{},"protocol":{},"backend":{},"ready":{},"reason":{}{}}})",
                             rt::json_string(listener.name), rt::json_string(config::to_string(listener.protocol)),
                             rt::json_string(listener.backend.redacted()), results[i].ready ? "true" : "false",
                             rt::json_string(results[i].reason), replicas_json(targets[i].replicas, now));
  }
  return fmt::format(R"({{"ready":{},"listeners":[{}]}})", all_ready ? "true" : "false", listeners) + "\n";
}

}  // namespace corral::proxy
