// /ready: can each listener reach its backend right now? Each probe logs in as the listener's backend
// URL does and asks one trivial thing, so a backend that accepts TCP but refuses the login, is still
// loading its data set or is out of connections counts as not ready.
//
//   Redis: connect ─► [AUTH] PING ─► every reply not an error       ─► ready
//   MySQL: MysqlConnection::open (greeting, login, session setup)     ─► ready, closed at once
//          replicas (?replicas=): not probed here; each one's state as the replica checker last
//          judged it (pool/mysql_replicas.h), which is what sessions route reads by
//
// A replica never makes a listener unready: while none is healthy, reads go to the primary, so the
// listener serves everything as long as its primary answers (ProxySQL and MaxScale keep serving with
// their replicas shunned too). The body shows each replica's state so a monitor can alert on it.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "config/config.h"
#include "pool/mysql_replicas.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::proxy {

/// One listener's backend as /ready needs it.
struct ProbeTarget {
  const config::Listener* listener;
  rt::SocketAddress address;  // resolved at start-up
  const rt::TlsContext* tls = nullptr;  // rediss://: the probe speaks TLS too
  const pool::MysqlReplicaSet* replicas = nullptr;  // the primary's replicas, shown in the body; null: none
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
/// "reason":..}]}; backends as redacted URLs. A listener with replicas also has "replicas":[{"address":..,
/// "state":"unchecked"|"healthy"|"ejected","reason":..,"checked_ms_ago":N|null}], which never changes
/// "ready". `now` dates the replicas' last checks.
std::string readiness_json(const std::vector<ProbeTarget>& targets, const std::vector<ProbeResult>& results,
                           std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

}  // namespace corral::proxy
