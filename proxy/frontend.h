// The protocol side of one listener on one worker: what its sessions share, and how they start.
//
//   Worker::accept_loop ──accept──► Frontend::serve(client)  (RedisFrontend / MysqlFrontend)
//                        ──at client.max_connections──► Frontend::too_many_clients_reply()
//
// The worker knows listeners, client slots and drain; a frontend knows one protocol. make_frontend()
// is the one place that maps a listener's protocol to its frontend.
#pragma once

#include <algorithm>
#include <memory>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "pool/mysql_pool.h"
#include "pool/redis_pool.h"
#include "proxy/shared_state.h"
#include "runtime/event_loop.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::proxy {

/// This worker's backend pools, shared by its listeners: two listeners with the same backend URL
/// share connections. Lifetime: owned by the Worker; stopped and joined after every session ended.
struct WorkerPools {
  /// `metrics`: the worker's backend figures (SharedState::metrics), which the pools count into.
  WorkerPools(const config::Config& config, SharedState& shared, pool::BackendMetrics* metrics)
      : redis(config.pool, &shared.redis_pools, metrics), mysql(config.pool, pool::backend_codec_limits(), metrics) {}

  /// A session of this generation followed its listener's backend into `loaded` (MysqlBackendTarget):
  /// the pools it reaches there have keys that point into that configuration (its TLS context), so it
  /// lives as long as the pools. Declared first: destroyed after them.
  void keep_for_pools(std::shared_ptr<const LoadedConfig> loaded) {
    if (std::find(followed.begin(), followed.end(), loaded) == followed.end()) followed.push_back(std::move(loaded));
  }

  std::vector<std::shared_ptr<const LoadedConfig>> followed;
  pool::RedisPools redis;
  pool::MysqlPools mysql;
};

/// A MySQL listener's backend as the newest configuration has it. The worker keeps one per listener
/// name for its whole life and points it at each configuration it commits; a session that started
/// under an older configuration follows it at its next statement that holds no backend connection, so
/// a reload that names a new primary (a failover) reaches the clients already connected, not only new
/// ones. Read and written on the worker's loop only.
struct MysqlBackendTarget {
  std::shared_ptr<const LoadedConfig> loaded;  // null: the listener is not in the newest configuration
  std::size_t index = 0;                       // the listener's place in loaded->config.listeners

  const config::Listener* listener() const noexcept {
    return loaded ? &loaded->config.listeners[index] : nullptr;
  }
};

/// What every session of one listener needs from its worker. Lifetime: owned by the Worker, which
/// outlives every session it spawned (drain joins them before the Worker is destroyed).
struct ListenerEnv {
  const config::Config* config;
  const config::Listener* listener;
  SharedState* shared;
  rt::EventLoop* loop;
  rt::CancelSource* idle_cancel;  // fires at drain: cancels waits for a client's *next* request
  rt::CancelSource* stop_cancel;  // fires after the grace period: cancels everything
  rt::SocketAddress backend_address;  // resolved at start-up
  WorkerPools* pools;
  std::atomic<bool>* mysql_sha2_cached;  // LoadedConfig::mysql_sha2_cached of `config`; null: none
  RequestStats* request_stats;           // this listener's, on this worker (SharedState::metrics)
  const rt::TlsContext* listener_tls;    // LoadedConfig::listener_tls; null: plain clients
  const rt::TlsContext* backend_tls;     // LoadedConfig::backend_tls; null: plain backend
  pool::MysqlReplicaSet* mysql_replicas = nullptr;  // LoadedConfig::mysql_replicas; null: none
  // LoadedConfig::backend_nodes: a redis-cluster's seeds or a redis-shards' servers, resolved; null: none
  const std::vector<rt::SocketAddress>* backend_nodes = nullptr;
  const MysqlBackendTarget* mysql_target = nullptr;  // the worker's, for a MySQL listener; else null
};

/// Serves the clients of one listener in its protocol. Not thread-safe: lives on its worker's loop.
class Frontend {
 public:
  explicit Frontend(const ListenerEnv& env) : env_(env) {}
  Frontend(const Frontend&) = delete;
  Frontend& operator=(const Frontend&) = delete;
  virtual ~Frontend() = default;

  /// Serves one accepted client until it quits, errs, or the worker stops.
  /// Lifetime: the frontend outlives the returned task (the worker joins its sessions first).
  virtual rt::Task<void> serve(rt::TcpStream client) = 0;

  /// The reply a client gets when corral is at client.max_connections, before the connection closes.
  virtual std::string_view too_many_clients_reply() const = 0;

  /// True when a client of a TLS listener starts TLS right after connecting (Redis), so the worker
  /// runs the handshake before serve(); false when the protocol switches to TLS later by itself
  /// (MySQL's SSLRequest after the greeting).
  virtual bool tls_at_accept() const noexcept { return true; }

  const ListenerEnv& env() const noexcept { return env_; }

 private:
  ListenerEnv env_;
};

/// The frontend for `env.listener`'s protocol. Start-up only: a MySQL frontend may generate its RSA
/// key. Returns nullptr (after logging why) when the frontend cannot be made.
std::unique_ptr<Frontend> make_frontend(const ListenerEnv& env);

}  // namespace corral::proxy
