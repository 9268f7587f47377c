#include "pool/mysql_replicas.h"

#include <fmt/format.h>

#include <charconv>
#include <optional>
#include <string_view>
#include <utility>

#include "runtime/event_loop.h"
#include "runtime/log.h"

namespace corral::pool {

namespace {

/// The value of column `name` in the first row, nullopt when the column is missing or NULL.
std::optional<std::string> column_value(const QueryOutcome& outcome, std::string_view name) {
  if (outcome.rows.empty()) return std::nullopt;
  for (std::size_t i = 0; i < outcome.columns.size() && i < outcome.rows[0].size(); ++i) {
    if (outcome.columns[i] == name) return outcome.rows[0][i];
  }
  return std::nullopt;
}

/// One replica's connection and what the log last said about it.
struct ReplicaProbe {
  std::unique_ptr<MysqlConnection> connection;
  bool reported = false;  // a verdict was logged (the first one always is)
  bool healthy = false;
};

rt::Task<ReplicaVerdict> check_one(ReplicaProbe& probe, const MysqlKey& key, const MysqlReplicaSet::Replica& replica,
                                   const config::PoolLimits& limits, std::chrono::milliseconds max_lag,
                                   rt::CancelSource* cancel) {
  if (probe.connection && (!probe.connection->is_idle() || !probe.connection->idle_healthy())) {
    probe.connection.reset();
  }
  if (!probe.connection) {
    auto connection = std::make_unique<MysqlConnection>(limits);
    const auto opened = co_await connection->open(key, replica.address, cancel);
    if (!opened) co_return ReplicaVerdict{false, "cannot log in: " + connection->error().message};
    probe.connection = std::move(connection);
  }
  auto read_only = co_await probe.connection->query("SELECT @@read_only", cancel);
  if (!read_only) co_return ReplicaVerdict{false, "connection lost: " + probe.connection->error().message};
  auto status = co_await probe.connection->query("SHOW SLAVE STATUS", cancel);
  if (!status) co_return ReplicaVerdict{false, "connection lost: " + probe.connection->error().message};
  co_return judge_replica(*read_only, *status, max_lag);
}

}  // namespace

ReplicaVerdict judge_replica(const QueryOutcome& read_only, const QueryOutcome& slave_status,
                             std::chrono::milliseconds max_lag) {
  if (read_only.error) return {false, "SELECT @@read_only failed: " + read_only.error->message};
  if (read_only.rows.empty() || read_only.rows[0].empty() || read_only.rows[0][0] != "1") {
    return {false, "read_only is OFF (not a replica, or promoted)"};
  }
  if (slave_status.error) return {false, "SHOW SLAVE STATUS failed: " + slave_status.error->message};
  if (slave_status.rows.empty()) return {false, "replication is not configured (SHOW SLAVE STATUS is empty)"};
  const auto io = column_value(slave_status, "Slave_IO_Running");
  const auto sql = column_value(slave_status, "Slave_SQL_Running");
  if (io != "Yes") return {false, fmt::format("Slave_IO_Running is {}", io.value_or("NULL"))};
  if (sql != "Yes") return {false, fmt::format("Slave_SQL_Running is {}", sql.value_or("NULL"))};
  const auto behind = column_value(slave_status, "Seconds_Behind_Master");
  std::int64_t seconds = -1;
  if (behind) std::from_chars(behind->data(), behind->data() + behind->size(), seconds);
  if (seconds < 0) return {false, "Seconds_Behind_Master is unknown"};
  if (std::chrono::seconds(seconds) > max_lag) {
    return {false, fmt::format("lagging {} s behind the primary (max_replication_lag_ms = {})", seconds, max_lag.count())};
  }
  return {true, fmt::format("{} s behind the primary", seconds)};
}

std::string_view to_string(ReplicaState state) noexcept {
  switch (state) {
    case ReplicaState::Unchecked: return "unchecked";
    case ReplicaState::Healthy: return "healthy";
    case ReplicaState::Ejected: return "ejected";
  }
  return "unknown";
}

MysqlReplicaSet::MysqlReplicaSet(std::string name, std::vector<Replica> replicas)
    : name_(std::move(name)),
      replicas_(std::move(replicas)),
      healthy_(std::make_unique<std::atomic<bool>[]>(replicas_.size())),
      statuses_(replicas_.size()) {}

void MysqlReplicaSet::record_verdict(std::size_t i, const ReplicaVerdict& verdict,
                                     std::chrono::steady_clock::time_point at) {
  set_healthy(i, verdict.healthy);
  const std::lock_guard lock(status_mutex_);
  statuses_[i] = ReplicaStatus{verdict.healthy ? ReplicaState::Healthy : ReplicaState::Ejected, verdict.reason, at};
}

ReplicaStatus MysqlReplicaSet::status(std::size_t i) const {
  const std::lock_guard lock(status_mutex_);
  return statuses_[i];
}

MysqlKey replica_key(const MysqlKey& primary, const MysqlReplicaSet::Replica& replica) {
  MysqlKey key = primary;
  key.host = replica.endpoint.host;
  key.port = replica.endpoint.port;
  return key;
}

rt::Task<void> check_replicas(MysqlReplicaSet* set, MysqlKey credentials, const config::PoolLimits* limits,
                              std::chrono::milliseconds max_lag, std::chrono::milliseconds interval,
                              rt::CancelSource* cancel) {
  // The health check needs no schema: a replica missing the URL's schema is still a replica.
  credentials.schema.clear();
  std::vector<ReplicaProbe> probes(set->size());
  for (;;) {
    for (std::size_t i = 0; i < set->size(); ++i) {
      const MysqlReplicaSet::Replica& replica = set->replica(i);
      const MysqlKey key = replica_key(credentials, replica);
      const ReplicaVerdict verdict = co_await check_one(probes[i], key, replica, *limits, max_lag, cancel);
      if (cancel->cancelled()) co_return;
      // Every verdict, not only a change: /ready shows the current lag and when it was last checked.
      set->record_verdict(i, verdict, std::chrono::steady_clock::now());
      ReplicaProbe& probe = probes[i];
      if (probe.reported && probe.healthy == verdict.healthy) continue;
      if (verdict.healthy) {
        rt::log::info("listener {}: replica {} takes reads ({})", set->name(), replica.endpoint.to_string(),
                      verdict.reason);
      } else {
        rt::log::warn("listener {}: replica {} ejected, its reads go elsewhere: {}", set->name(),
                      replica.endpoint.to_string(), verdict.reason);
      }
      probe.reported = true;
      probe.healthy = verdict.healthy;
    }
    const bool slept = co_await rt::sleep_for(interval, cancel);
    if (!slept) co_return;
  }
}

}  // namespace corral::pool
