// One worker: the listeners, client sessions and backend pools that live on one EventLoop.
//
//   Worker::start ──► per listener: accept loop ──► spawn session (Redis / MySQL) in `sessions_`
//   Worker::drain ──► close listeners; `idle_` cancels sessions waiting for their next request;
//                     after the grace period `sessions_.stop()` cancels what is still running
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include "config/config.h"
#include "pool/mysql_pool.h"
#include "pool/redis_pool.h"
#include "proxy/mysql_context.h"
#include "runtime/event_loop.h"
#include "runtime/task.h"
#include "runtime/task_scope.h"
#include "runtime/tcp.h"

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
  /// (each worker loads its own copy). Empty: each worker generates one.
  std::string mysql_rsa_private_pem;
};

class RedisLocalCommands;
struct MysqlFrontend;

/// What a session needs from its worker. Lifetime: the Worker outlives every session it spawned
/// (drain() joins them before the Worker is destroyed).
struct SessionEnv {
  const config::Config* config;
  const config::Listener* listener;
  SharedState* shared;
  rt::EventLoop* loop;
  rt::CancelSource* idle_cancel;  // fires at drain: cancels waits for a client's *next* request
  rt::CancelSource* stop_cancel;  // fires after the grace period: cancels everything
  rt::SocketAddress backend_address;          // resolved at start-up
  pool::RedisPools* redis_pools;              // this worker's Redis pools
  const RedisLocalCommands* redis_local;      // Redis listeners only
  MysqlFrontend* mysql;                       // this worker's MySQL pools and RSA key
};

class Worker {
 public:
  Worker(std::size_t index, rt::EventLoop& loop, const config::Config& config, SharedState& shared);
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  /// Binds every listener (worker 0 first; others join through SO_REUSEPORT). On the loop's thread.
  rt::Result<void> bind_listeners();
  /// Starts the accept loops. On the loop's thread.
  void start();
  /// Stops accepting, ends idle sessions, waits up to `grace` for the rest, then cancels them.
  /// Calls `done()` on the loop's thread once every session has ended.
  void drain(std::chrono::milliseconds grace, std::function<void()> done);

  /// Bound port of listener `i` (for logs and tests binding port 0).
  uint16_t listener_port(std::size_t i) const { return listeners_[i].port(); }

 private:
  rt::Result<void> load_rsa_key();
  rt::Task<void> accept_loop(std::size_t listener_index);
  rt::Task<void> admin_loop();
  rt::Task<void> drain_task(std::chrono::milliseconds grace, std::function<void()> done);

  std::size_t index_;
  rt::EventLoop& loop_;
  const config::Config& config_;
  SharedState& shared_;
  std::vector<rt::TcpListener> listeners_;
  rt::TcpListener admin_;  // worker 0 only, when server.admin is set
  std::vector<SessionEnv> envs_;
  std::vector<std::unique_ptr<RedisLocalCommands>> redis_local_;
  pool::RedisPools redis_pools_;
  pool::MysqlPools mysql_pools_;
  std::unique_ptr<MysqlFrontend> mysql_frontend_;
  rt::CancelSource idle_cancel_;
  rt::TaskScope accepting_;
  rt::TaskScope sessions_;
  rt::TaskScope control_;
};

}  // namespace corral::proxy
