// The replicas of a MySQL primary (a backend URL's ?replicas=): which of them may serve reads now.
// One set per listener and configuration, shared by every worker; one checker per set, on the worker
// that claimed it, keeps it current off the request path.
//
//   check_replicas() every mysql.replica_check_interval, per replica:
//     [open as the URL's account] ─► SELECT @@read_only ─► SHOW SLAVE STATUS ─► judge_replica()
//        healthy: read_only = 1, Slave_IO_Running = Yes, Slave_SQL_Running = Yes,
//                 Seconds_Behind_Master ≤ max_replication_lag
//     ─► a change: logged once (ejected: warn, with the reason; admitted: info)
//     ─► record_verdict(): health published (atomic), the verdict kept for /ready (status())
//   sessions (any worker) ─► healthy(i) ─► the replica's pool, or the primary when none is healthy
//   /ready (worker 0) ─► status(i): state, reason, when checked
//
// A replica starts out ejected: reads go to the primary until its first check passes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "pool/mysql_connection.h"
#include "pool/mysql_key.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::pool {

/// What one health check concluded about a replica.
struct ReplicaVerdict {
  bool healthy = false;
  std::string reason;  // why not (for the log), or the lag when healthy
};

/// Judges a replica from the outcomes of `SELECT @@read_only` and `SHOW SLAVE STATUS` (MariaDB
/// "SHOW REPLICA STATUS": Slave_IO_Running, Slave_SQL_Running, Seconds_Behind_Master, which is NULL
/// while a thread is stopped). A replica that is not read-only is refused: it may have been promoted,
/// and a write sent there would be lost to the primary's clients.
ReplicaVerdict judge_replica(const QueryOutcome& read_only, const QueryOutcome& slave_status,
                             std::chrono::milliseconds max_lag);

/// A replica as the sessions route by it: not checked yet (no session has started the checker, or
/// its first check is still running), taking reads, or ejected.
enum class ReplicaState { Unchecked, Healthy, Ejected };

std::string_view to_string(ReplicaState state) noexcept;

/// The last verdict on one replica, for /ready.
struct ReplicaStatus {
  ReplicaState state = ReplicaState::Unchecked;
  std::string reason;                               // why ejected, or the lag when healthy; "" while unchecked
  std::chrono::steady_clock::time_point checked_at;  // when the verdict was reached; unset while unchecked
};

/// The replicas of one primary and their published health. Thread-safe: the checker writes, every
/// worker's sessions read (relaxed atomics: a session that sees a change a moment late sends one
/// more read to the primary, or to a replica that was fine a moment ago).
class MysqlReplicaSet {
 public:
  struct Replica {
    config::Endpoint endpoint;   // as configured, for logs and errors
    rt::SocketAddress address;   // resolved at load
  };

  /// `name` names the set in logs (the listener's name).
  MysqlReplicaSet(std::string name, std::vector<Replica> replicas);

  const std::string& name() const noexcept { return name_; }
  std::size_t size() const noexcept { return replicas_.size(); }
  const Replica& replica(std::size_t i) const noexcept { return replicas_[i]; }
  bool healthy(std::size_t i) const noexcept { return healthy_[i].load(std::memory_order_relaxed); }
  void set_healthy(std::size_t i, bool healthy) noexcept { healthy_[i].store(healthy, std::memory_order_relaxed); }
  /// Publishes the checker's verdict on replica `i`, reached at `at`: its health for the sessions and
  /// the whole verdict for status(). Called once per check (a mutex, off the request path).
  void record_verdict(std::size_t i, const ReplicaVerdict& verdict, std::chrono::steady_clock::time_point at);
  /// The last verdict on replica `i` (Unchecked before the first). Any thread.
  ReplicaStatus status(std::size_t i) const;
  /// True for the first caller only: that one runs the checker (so each change is logged once).
  bool claim_checker() noexcept { return !claimed_.exchange(true, std::memory_order_relaxed); }

 private:
  std::string name_;
  std::vector<Replica> replicas_;
  std::unique_ptr<std::atomic<bool>[]> healthy_;
  std::atomic<bool> claimed_{false};
  mutable std::mutex status_mutex_;     // guards statuses_: the checker writes, /ready reads
  std::vector<ReplicaStatus> statuses_;  // one per replica
};

/// `primary` with a replica's host and port: the same account, schema, charset and client bits.
MysqlKey replica_key(const MysqlKey& primary, const MysqlReplicaSet::Replica& replica);

/// Checks every replica of `set` every `interval` until `cancel` fires, logging in as `credentials`
/// (host and port replaced per replica). Each check is bounded by the pool's connect and operation
/// timeouts, so a frozen replica is ejected within one of them. Lifetime: `set` and `limits` outlive
/// the task.
rt::Task<void> check_replicas(MysqlReplicaSet* set, MysqlKey credentials, const config::PoolLimits* limits,
                              std::chrono::milliseconds max_lag, std::chrono::milliseconds interval,
                              rt::CancelSource* cancel);

}  // namespace corral::pool
