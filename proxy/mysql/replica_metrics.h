// The health of MySQL replicas as Prometheus text, for the admin endpoint's GET /metrics.
#pragma once

#include <string>
#include <vector>

#include "pool/mysql_replicas.h"

namespace corral::proxy {

/// corral_mysql_replica_healthy{listener="db",replica="host:port"} 1 (takes reads) or 0 (ejected, or
/// not checked yet: the checks start with a listener's first client), one line per replica of every
/// set; empty when there are none.
std::string mysql_replica_metrics(const std::vector<const pool::MysqlReplicaSet*>& sets);

}  // namespace corral::proxy
