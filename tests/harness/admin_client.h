// corral's admin endpoint (server.admin) as a test sees it: plain HTTP/1.0 over loopback.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace corral::testing {

/// GET `path` on the admin endpoint at 127.0.0.1:`port`: the whole HTTP response, headers included.
/// Throws HarnessError when the endpoint does not answer within 5 s.
std::string admin_get(uint16_t port, std::string_view path);

/// `method` `path` (e.g. POST /reload), the same way; waits up to 15 s for the answer.
std::string admin_request(uint16_t port, std::string_view method, std::string_view path);

/// The value of the metric `name` (a line "name value" of /metrics); throws HarnessError when it is missing.
uint64_t admin_metric(uint16_t port, std::string_view name);

}  // namespace corral::testing
