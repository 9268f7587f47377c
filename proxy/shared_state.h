// Process-wide state of the daemon that every worker reads and counts into.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "config/config.h"
#include "pool/cluster_map.h"
#include "pool/mysql_replicas.h"
#include "proxy/metrics.h"
#include "proxy/mysql/client_table.h"
#include "proxy/mysql/context.h"
#include "proxy/redis/client_table.h"
#include "proxy/redis/server_pauses.h"
#include "runtime/tcp.h"
#include "runtime/tls.h"

namespace corral::proxy {

/// Counters shared by all workers (relaxed atomics: they only feed limits and metrics).
struct SharedState {
  std::atomic<uint64_t> client_connections{0};
  std::atomic<uint64_t> clients_accepted{0};
  std::atomic<uint64_t> clients_refused{0};
  std::atomic<uint64_t> next_client_id{1};
  std::atomic<uint64_t> redis_pools{0};  // live Redis pools (one per distinct key per worker)
  pool::ClusterCounters redis_cluster;   // what the redis-cluster listeners' slot maps saw
  RedisClientTable redis_clients;  // every Redis client, for CLIENT LIST / KILL / UNBLOCK / TRACKING REDIRECT
  RedisServerPauses redis_pauses;  // CLIENT PAUSE forwarded to each backend server
  MysqlPinCounters mysql_pins{};  // backend connections pinned to a MySQL session, by reason
  /// MySQL statements that change definitions (CREATE, ALTER, DROP, RENAME) relayed so far: a PREPARE
  /// response cached before the last one may describe columns that are no longer there.
  std::atomic<uint64_t> mysql_schema_changes{0};
  // SET GLOBAL wait_timeout / interactive_timeout / session_track_* relayed by any session: MysqlFrontend::GlobalDefaults
  // read before it are stale.
  std::atomic<uint64_t> mysql_global_default_changes{0};
  std::atomic<uint64_t> mysql_sha2_fast_auths{0};  // caching_sha2_password logins by scramble only
  std::atomic<uint64_t> mysql_sha2_full_auths{0};  // ... and over the RSA key exchange
  MetricsRegistry metrics;  // per listener
  std::atomic<uint64_t> reloads_ok{0};
  std::atomic<uint64_t> reloads_failed{0};
  /// What the last reload did or why it was refused (the admin endpoint's POST /reload answers it).
  std::mutex reload_mutex;
  std::string last_reload;  // guarded by reload_mutex
  /// The RSA key pair for caching_sha2_password, made once by the daemon before the workers start
  /// (each MySQL frontend loads its own copy). Empty: each MySQL frontend generates one.
  std::string mysql_rsa_private_pem;
  /// Every logged-in MySQL session by its connection id, for KILL across workers.
  MysqlClientTable mysql_clients;
};

/// One configuration as the daemon loaded it, with the process-wide state that depends on it; every
/// worker builds its generation (proxy/worker.h) from it. A reload makes a new one; the old one lives as
/// long as a session of its generation runs. Not modified after the workers get it.
struct LoadedConfig {
  explicit LoadedConfig(config::Config loaded)
      : config(std::move(loaded)), mysql_sha2_cached(std::make_unique<std::atomic<bool>[]>(config.users.size())) {}

  config::Config config;
  /// Per listener, in config order: resolved by the daemon on its own thread (a name lookup may block).
  std::vector<rt::SocketAddress> listen_addresses;
  std::vector<rt::SocketAddress> backend_addresses;
  /// Per listener, in config order: every address of a redis-cluster (its seeds) or redis-shards
  /// backend (its servers), resolved like backend_addresses; empty for a single server.
  std::vector<std::vector<rt::SocketAddress>> backend_nodes;
  /// caching_sha2_password: per [[users]] entry, true once a full authentication succeeded, so later
  /// logins may take the fast path (the server-side cache of MySQL). Per configuration: a reload may
  /// change users and their passwords.
  std::unique_ptr<std::atomic<bool>[]> mysql_sha2_cached;
  /// Per listener, in config order, null when plain: the server context toward its clients and the
  /// client context toward a rediss:// backend or a mysql:// one with an ssl-mode. Built with the addresses; read-only, shared by workers.
  std::vector<std::unique_ptr<rt::TlsContext>> listener_tls;
  std::vector<std::unique_ptr<rt::TlsContext>> backend_tls;
  /// Per listener, in config order, null without ?replicas=: the MySQL replicas, resolved with the
  /// addresses, and their health, which one worker's checker keeps and every worker reads.
  std::vector<std::unique_ptr<pool::MysqlReplicaSet>> mysql_replicas;
};

}  // namespace corral::proxy
