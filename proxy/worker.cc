#include "proxy/worker.h"

#include <algorithm>
#include <cerrno>

#include "proxy/admin.h"
#include "proxy/mysql_session.h"
#include "proxy/redis_context.h"
#include "proxy/session.h"
#include "runtime/log.h"

namespace corral::proxy {

namespace {

/// Releases one client slot when the session ends, whatever way it ends.
rt::Task<void> counted_session(rt::TcpStream client, SessionEnv* env) {
  struct Slot {
    SharedState* shared;
    ~Slot() { shared->client_connections.fetch_sub(1, std::memory_order_relaxed); }
  } slot{env->shared};
  if (env->listener->protocol == config::Protocol::Redis) {
    co_await serve_redis_client(std::move(client), env);
  } else {
    co_await serve_mysql_client(std::move(client), env);
  }
}

}  // namespace

Worker::Worker(std::size_t index, rt::EventLoop& loop, const config::Config& config, SharedState& shared)
    : index_(index),
      loop_(loop),
      config_(config),
      shared_(shared),
      redis_pools_(config.pool, &shared.redis_pools),
      mysql_pools_(config.pool),
      mysql_frontend_(std::make_unique<MysqlFrontend>()) {
  mysql_frontend_->pools = &mysql_pools_;
}

Worker::~Worker() = default;

rt::Result<void> Worker::bind_listeners() {
  for (const auto& listener : config_.listeners) {
    auto address = rt::SocketAddress::resolve(listener.address.host, listener.address.port);
    if (!address) return address.error();
    auto bound = rt::TcpListener::bind(loop_, *address);
    if (!bound) {
      rt::log::error("listener {}: cannot listen on {}: {}", listener.name, listener.address.to_string(),
                     bound.error().message());
      return bound.error();
    }
    listeners_.push_back(std::move(*bound));
  }
  if (index_ == 0 && config_.server.admin) {
    const config::Endpoint& endpoint = *config_.server.admin;
    auto address = rt::SocketAddress::resolve(endpoint.host, endpoint.port);
    if (!address) return address.error();
    auto bound = rt::TcpListener::bind(loop_, *address);
    if (!bound) {
      rt::log::error("admin: cannot listen on {}: {}", endpoint.to_string(), bound.error().message());
      return bound.error();
    }
    admin_ = std::move(*bound);
  }
  const bool serves_mysql = std::any_of(config_.listeners.begin(), config_.listeners.end(),
                                        [](const auto& l) { return l.protocol == config::Protocol::Mysql; });
  if (serves_mysql) {
    const rt::Result<void> keyed = load_rsa_key();
    if (!keyed) return keyed.error();
  }
  envs_.reserve(config_.listeners.size());
  for (const auto& listener : config_.listeners) {
    // Start-up only: resolving a backend name may block, which is fine before serving.
    auto backend = rt::SocketAddress::resolve(listener.backend.host, listener.backend.port);
    if (!backend) {
      rt::log::error("listener {}: cannot resolve backend {}", listener.name, listener.backend.address());
      return backend.error();
    }
    redis_local_.push_back(std::make_unique<RedisLocalCommands>(config_, listener));
    envs_.push_back(SessionEnv{&config_, &listener, &shared_, &loop_, &idle_cancel_, sessions_.cancel_source(),
                               *backend, &redis_pools_, redis_local_.back().get(),
                               mysql_frontend_.get()});
  }
  return {};
}

rt::Result<void> Worker::load_rsa_key() {
  // Start-up only: generating a key takes ~0.1 s, which is fine before serving.
  auto key = shared_.mysql_rsa_private_pem.empty() ? mysql::RsaKey::generate()
                                                   : mysql::RsaKey::from_private_pem(shared_.mysql_rsa_private_pem);
  auto pem = key ? key->public_pem() : mysql::Result<std::string>(key.error());
  if (!key || !pem) {
    rt::log::error("mysql: cannot make the RSA key for caching_sha2_password: {}", mysql::to_string(pem.error()));
    return std::make_error_code(std::errc::invalid_argument);
  }
  mysql_frontend_->rsa_key = std::move(*key);
  mysql_frontend_->rsa_public_pem = std::move(*pem);
  return {};
}

void Worker::start() {
  for (std::size_t i = 0; i < listeners_.size(); ++i) accepting_.spawn(accept_loop(i));
  if (admin_.is_open()) accepting_.spawn(admin_loop());
}

rt::Task<void> Worker::admin_loop() {
  for (;;) {
    auto client = co_await admin_.accept(accepting_.cancel_source());
    if (!client) {
      if (client.error() == std::errc::operation_canceled) co_return;
      const bool slept = co_await rt::sleep_for(std::chrono::milliseconds(100), accepting_.cancel_source());
      if (!slept) co_return;
      continue;
    }
    // shared_ and the scope's cancel source belong to this Worker, which outlives its sessions.
    sessions_.spawn(serve_admin_client(std::move(*client), &shared_, sessions_.cancel_source()));
  }
}

rt::Task<void> Worker::accept_loop(std::size_t listener_index) {
  rt::TcpListener& listener = listeners_[listener_index];
  SessionEnv* env = &envs_[listener_index];
  const uint64_t max_clients = config_.client.max_connections;
  for (;;) {
    auto client = co_await listener.accept(accepting_.cancel_source());
    if (!client) {
      if (client.error() == std::errc::operation_canceled) co_return;
      // Out of fds or similar: back off briefly instead of spinning on the same error.
      rt::log::warn("listener {}: accept failed: {}", env->listener->name, client.error().message());
      const auto slept = co_await rt::sleep_for(std::chrono::milliseconds(100), accepting_.cancel_source());
      if (!slept) co_return;
      continue;
    }
    if (shared_.client_connections.fetch_add(1, std::memory_order_relaxed) >= max_clients) {
      shared_.client_connections.fetch_sub(1, std::memory_order_relaxed);
      shared_.clients_refused.fetch_add(1, std::memory_order_relaxed);
      const std::string_view reply = too_many_clients_reply(env->listener->protocol);
      // Best effort, never waiting: the socket buffer of a fresh connection has room for one reply.
      [[maybe_unused]] const ssize_t n = ::send(client->fd(), reply.data(), reply.size(), MSG_NOSIGNAL);
      continue;
    }
    shared_.clients_accepted.fetch_add(1, std::memory_order_relaxed);
    // The env lives in this Worker, which outlives its sessions (drain joins them first).
    sessions_.spawn(counted_session(std::move(*client), env));
  }
}

void Worker::drain(std::chrono::milliseconds grace, std::function<void()> done) {
  control_.spawn(drain_task(grace, std::move(done)));
}

rt::Task<void> Worker::drain_task(std::chrono::milliseconds grace, std::function<void()> done) {
  accepting_.stop();
  co_await accepting_.join();
  for (auto& listener : listeners_) listener.close();
  admin_.close();
  idle_cancel_.cancel();
  rt::log::debug("worker {}: draining {} sessions", index_, sessions_.running());
  // Hard stop after the grace period, unless every session ended before.
  rt::TaskScope timer;
  auto hard_stop = [](std::chrono::milliseconds g, rt::TaskScope* sessions, rt::CancelSource* cancel) -> rt::Task<void> {
    const auto grace_over = co_await rt::sleep_for(g, cancel);
    if (grace_over) {
      if (sessions->running() > 0) {
        rt::log::warn("grace period over: cancelling {} sessions", sessions->running());
      }
      sessions->stop();
    }
  };
  timer.spawn(hard_stop(grace, &sessions_, timer.cancel_source()));
  co_await sessions_.join();
  timer.stop();
  co_await timer.join();
  redis_pools_.stop();
  mysql_pools_.stop();
  co_await redis_pools_.join();
  co_await mysql_pools_.join();
  done();
}

}  // namespace corral::proxy
