#include "admin_client.h"

#include <chrono>

#include "harness_error.h"
#include "redis_client.h"

namespace corral::testing {

using namespace std::chrono_literals;

std::string admin_request(uint16_t port, std::string_view method, std::string_view path) {
  RedisClient raw = RedisClient::connect("127.0.0.1", port, 5s);  // a plain TCP client is all it takes
  raw.send(std::string(method) + " " + std::string(path) + " HTTP/1.0\r\n\r\n");
  std::string response;
  raw.wait_closed(15s, &response);
  return response;
}

std::string admin_get(uint16_t port, std::string_view path) { return admin_request(port, "GET", path); }

uint64_t admin_metric(uint16_t port, std::string_view name) {
  const std::string body = admin_get(port, "/metrics");
  const std::string prefix = "\n" + std::string(name) + " ";
  const std::size_t at = body.find(prefix);
  if (at == std::string::npos) throw HarnessError("no metric " + std::string(name) + " in:\n" + body);
  return std::stoull(body.substr(at + prefix.size()));
}

}  // namespace corral::testing
