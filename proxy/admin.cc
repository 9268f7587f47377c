#include "proxy/admin.h"

#include <fmt/format.h>

#include <array>

namespace corral::proxy {

namespace {

constexpr std::size_t kMaxRequestHead = 8192;

std::string http(std::string_view status, std::string_view body) {
  return fmt::format("HTTP/1.0 {}\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\n"
                     "Connection: close\r\n\r\n{}",
                     status, body.size(), body);
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
  return out;
}

}  // namespace

std::string admin_response(std::string_view request_line, const SharedState& shared) {
  const std::size_t method_end = request_line.find(' ');
  if (method_end == std::string_view::npos) return http("400 Bad Request", "bad request\n");
  const std::string_view method = request_line.substr(0, method_end);
  std::string_view path = request_line.substr(method_end + 1);
  path = path.substr(0, path.find(' '));
  if (path == "/health" || path == "/metrics") {
    if (method != "GET") return http("405 Method Not Allowed", "only GET\n");
    return path == "/health" ? http("200 OK", "ok\n") : http("200 OK", metrics(shared));
  }
  return http("404 Not Found", "try /health or /metrics\n");
}

rt::Task<void> serve_admin_client(rt::TcpStream client, const SharedState* shared, rt::CancelSource* cancel) {
  std::string head;
  std::array<char, 1024> buffer{};
  const rt::Deadline deadline = rt::Deadline::after(std::chrono::seconds(5));
  while (head.find("\r\n") == std::string::npos && head.size() < kMaxRequestHead) {
    auto n = co_await client.read_some(buffer, deadline, cancel);
    if (!n || *n == 0) co_return;
    head.append(buffer.data(), *n);
  }
  const std::string response = admin_response(std::string_view(head).substr(0, head.find("\r\n")), *shared);
  co_await client.write_all(response, deadline, cancel);
}

}  // namespace corral::proxy
