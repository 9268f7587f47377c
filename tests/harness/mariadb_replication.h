// A MariaDB primary and its replicas on loopback with GTID replication, for integration tests.
//
//   MariaDbReplication(n) ─► primary: mariadbd --server-id=1 --log-bin --gtid-strict-mode
//                        ─► replica i: mariadbd --server-id=2+i --read-only --gtid-strict-mode
//                        ─► primary: the replication account (REPLICATION SLAVE)
//                        ─► replica i: CHANGE MASTER TO ... MASTER_USE_GTID=slave_pos; START SLAVE
//                        ─► wait until Slave_IO_Running and Slave_SQL_Running say Yes
//   sync() ─► the primary's @@gtid_binlog_pos ─► every replica: MASTER_GTID_WAIT(pos)
//
// Everything made on the primary afterwards (users, schemas, rows) reaches the replicas.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "mariadb_server.h"

namespace corral::testing {

/// Starts a primary and `replicas` replicas (fresh data directories, free ports) and returns once
/// every replica replicates. Throws HarnessError. Lifetime: the destructor kills every server and
/// removes their directories. Not thread-safe.
class MariaDbReplication {
 public:
  explicit MariaDbReplication(std::size_t replicas = 1);

  MariaDbServer& primary() { return *primary_; }
  MariaDbServer& replica(std::size_t i) { return *replicas_.at(i); }
  std::size_t replica_count() const { return replicas_.size(); }
  /// "127.0.0.1:P1,127.0.0.1:P2": the value of a corral backend URL's ?replicas=.
  std::string replica_list() const;
  /// The server_id of the primary (1) and of replica i (2 + i).
  static int primary_server_id() { return 1; }
  static int replica_server_id(std::size_t i) { return 2 + static_cast<int>(i); }

  /// Waits until replica i's IO and SQL threads both run (after a restart, START SLAVE...).
  void wait_replicating(std::size_t i, std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// Waits until every replica applied all the primary wrote so far. Throws on timeout.
  void sync(std::chrono::milliseconds timeout = std::chrono::seconds(30));

 private:
  void start_replication(std::size_t i);

  std::unique_ptr<MariaDbServer> primary_;
  std::vector<std::unique_ptr<MariaDbServer>> replicas_;
};

/// The columns of `SHOW SLAVE STATUS` on `server` by name ("Slave_SQL_Running" → "Yes"); empty when
/// the server is not a replica.
std::string slave_status_field(MariaDbServer& server, const std::string& column);

}  // namespace corral::testing
