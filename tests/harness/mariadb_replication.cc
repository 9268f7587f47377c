#include "mariadb_replication.h"

#include <string>

#include "harness_error.h"
#include "wait.h"

namespace corral::testing {

namespace {

constexpr const char* kReplicationUser = "repl";
constexpr const char* kReplicationPassword = "repl-pw";

MariaDbServerOptions primary_options() {
  return {.extra_args = {"--server-id=" + std::to_string(MariaDbReplication::primary_server_id()), "--log-bin=mariadb-bin",
                         "--gtid-strict-mode=1", "--binlog-format=ROW"}};
}

MariaDbServerOptions replica_options(std::size_t i) {
  // read_only as a replica should be (corral's health check wants it); the accounts tests use have
  // every privilege, READ_ONLY ADMIN included, so a statement sent to the wrong server still runs and
  // @@server_id tells where it ran.
  return {.extra_args = {"--server-id=" + std::to_string(MariaDbReplication::replica_server_id(i)), "--read-only=1",
                         "--gtid-strict-mode=1", "--relay-log=relay-bin"}};
}

}  // namespace

std::string slave_status_field(MariaDbServer& server, const std::string& column) {
  const QueryResult status = server.query("SHOW SLAVE STATUS");
  if (status.rows.empty()) return {};
  for (std::size_t i = 0; i < status.columns.size(); ++i) {
    if (status.columns[i] == column) return status.rows[0][i].value_or("NULL");
  }
  throw HarnessError("SHOW SLAVE STATUS has no column " + column);
}

MariaDbReplication::MariaDbReplication(std::size_t replicas) {
  primary_ = std::make_unique<MariaDbServer>(primary_options());
  primary_->execute(std::string("CREATE USER '") + kReplicationUser + "'@'%' IDENTIFIED BY '" + kReplicationPassword +
                    "'");
  primary_->execute(std::string("GRANT REPLICATION SLAVE ON *.* TO '") + kReplicationUser + "'@'%'");
  for (std::size_t i = 0; i < replicas; ++i) {
    replicas_.push_back(std::make_unique<MariaDbServer>(replica_options(i)));
    start_replication(i);
  }
  for (std::size_t i = 0; i < replicas; ++i) wait_replicating(i);
  sync();
}

std::string MariaDbReplication::replica_list() const {
  std::string out;
  for (const auto& replica : replicas_) {
    if (!out.empty()) out += ",";
    out += replica->host() + ":" + std::to_string(replica->port());
  }
  return out;
}

void MariaDbReplication::start_replication(std::size_t i) {
  // slave_pos with an empty position: the replica starts at the primary's first GTID and fetches
  // everything it logged. A retry every second brings it back soon after the primary restarts.
  MariaDbServer& replica = *replicas_.at(i);
  replica.execute("CHANGE MASTER TO MASTER_HOST='" + primary_->host() +
                  "', MASTER_PORT=" + std::to_string(primary_->port()) + ", MASTER_USER='" + kReplicationUser +
                  "', MASTER_PASSWORD='" + kReplicationPassword +
                  "', MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1");
  replica.execute("START SLAVE");
}

void MariaDbReplication::wait_replicating(std::size_t i, std::chrono::milliseconds timeout) {
  MariaDbServer& replica = *replicas_.at(i);
  wait_until(
      [&] {
        return slave_status_field(replica, "Slave_IO_Running") == "Yes" &&
               slave_status_field(replica, "Slave_SQL_Running") == "Yes";
      },
      timeout, "replica " + std::to_string(i) + " to replicate (Slave_IO_Running and Slave_SQL_Running Yes)");
}

void MariaDbReplication::sync(std::chrono::milliseconds timeout) {
  const std::string position = primary_->query("SELECT @@gtid_binlog_pos").at(0);
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(timeout).count();
  for (std::size_t i = 0; i < replicas_.size(); ++i) {
    // MASTER_GTID_WAIT answers 0 when the position is reached, -1 on timeout.
    const QueryResult waited = replicas_[i]->query("SELECT MASTER_GTID_WAIT('" + position + "', " +
                                                   std::to_string(seconds) + ")");
    if (waited.at(0) != "0") {
      throw HarnessError("replica " + std::to_string(i) + " did not reach the primary's GTID position " + position +
                         " within " + std::to_string(seconds) + " s");
    }
  }
}

}  // namespace corral::testing
