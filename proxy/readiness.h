// /ready: can each listener reach its backend right now? Each probe logs in as the listener's backend
// URL does and asks one trivial thing, so a backend that accepts TCP but refuses the login, is still
// loading its data set or is out of connections counts as not ready.
//
//   Redis: connect ─► [AUTH] PING ─► every reply not an error       ─► ready
//   MySQL: MysqlConnection::open (greeting, login, session setup)     ─► ready, closed at once
#pragma once

#include <string>
#include <vector>

#include "config/config.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::proxy {

/// One listener's backend as /ready needs it.
struct ProbeTarget {
  const config::Listener* listener;
  rt::SocketAddress address;  // resolved at start-up
  const rt::TlsContext* tls = nullptr;  // rediss://: the probe speaks TLS too
};

struct ProbeResult {
  bool ready = false;
  std::string reason;  // why not: the connect error or the backend's own error line; "" when ready
};

/// Probes `target` within `limits.connect_timeout` (for all of it), on the current loop. Cancellation
/// counts as not ready. Lifetime: `target.listener` and `limits` outlive the task.
rt::Task<ProbeResult> probe_backend(ProbeTarget target, const config::PoolLimits& limits, rt::CancelSource* cancel);

/// Probes every target at once; the results in the order of `targets`.
rt::Task<std::vector<ProbeResult>> probe_backends(const std::vector<ProbeTarget>& targets,
                                                  const config::PoolLimits& limits, rt::CancelSource* cancel);

/// The JSON body of /ready: {"ready":BOOL,"listeners":[{"name":..,"protocol":..,"backend":..,"ready":..,
/// "reason":..}]}; backends as redacted URLs.
std::string readiness_json(const std::vector<ProbeTarget>& targets, const std::vector<ProbeResult>& results);

}  // namespace corral::proxy
