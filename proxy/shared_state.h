// Process-wide state of the daemon that every worker reads and counts into.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "proxy/mysql/client_table.h"
#include "proxy/mysql/context.h"

namespace corral::proxy {

/// Counters shared by all workers (relaxed atomics: they only feed limits and metrics).
struct SharedState {
  std::atomic<uint64_t> client_connections{0};
  std::atomic<uint64_t> clients_accepted{0};
  std::atomic<uint64_t> clients_refused{0};
  std::atomic<uint64_t> next_client_id{1};
  std::atomic<uint64_t> redis_pools{0};  // live Redis pools (one per distinct key per worker)
  MysqlPinCounters mysql_pins{};  // backend connections pinned to a MySQL session, by reason
  std::atomic<uint64_t> mysql_sha2_fast_auths{0};  // caching_sha2_password logins by scramble only
  std::atomic<uint64_t> mysql_sha2_full_auths{0};  // ... and over the RSA key exchange
  /// caching_sha2_password: per [[users]] entry, true once a full authentication succeeded, so later
  /// logins may take the fast path (the server-side cache of MySQL). Null: every login takes the full path.
  std::unique_ptr<std::atomic<bool>[]> mysql_sha2_cached;
  /// The RSA key pair for caching_sha2_password, made once by the daemon before the workers start
  /// (each MySQL frontend loads its own copy). Empty: each MySQL frontend generates one.
  std::string mysql_rsa_private_pem;
  /// Every logged-in MySQL session by its connection id, for KILL across workers.
  MysqlClientTable mysql_clients;
};

}  // namespace corral::proxy
