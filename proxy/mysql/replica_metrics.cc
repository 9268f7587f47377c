#include "proxy/mysql/replica_metrics.h"

#include <fmt/format.h>

#include "runtime/json.h"

namespace corral::proxy {

std::string mysql_replica_metrics(const std::vector<const pool::MysqlReplicaSet*>& sets) {
  if (sets.empty()) return {};
  std::string out =
      "# HELP corral_mysql_replica_healthy Whether a MySQL replica takes reads now (1) or is ejected (0).\n"
      "# TYPE corral_mysql_replica_healthy gauge\n";
  for (const pool::MysqlReplicaSet* set : sets) {
    for (std::size_t i = 0; i < set->size(); ++i) {
      out += fmt::format("corral_mysql_replica_healthy{{listener={},replica={}}} {}\n", rt::json_string(set->name()),
                         rt::json_string(set->replica(i).endpoint.to_string()), set->healthy(i) ? 1 : 0);
    }
  }
  return out;
}

}  // namespace corral::proxy
