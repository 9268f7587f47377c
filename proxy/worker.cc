#include "proxy/worker.h"

#include <cerrno>

#include "proxy/admin.h"
#include "runtime/log.h"

namespace corral::proxy {

namespace {

/// Releases one client slot when the session ends, whatever way it ends.
rt::Task<void> counted_session(rt::TcpStream client, Frontend* frontend, SharedState* shared) {
  struct Slot {
    SharedState* shared;
    ~Slot() { shared->client_connections.fetch_sub(1, std::memory_order_relaxed); }
  } slot{shared};
  co_await frontend->serve(std::move(client));
}

}  // namespace

Worker::Worker(std::size_t index, rt::EventLoop& loop, const config::Config& config, SharedState& shared)
    : index_(index),
      loop_(loop),
      config_(config),
      shared_(shared),
      pools_(config, shared) {
  shared_.redis_clients.add_worker(loop_);  // before the workers run: the table's slots are then fixed
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
  frontends_.reserve(config_.listeners.size());
  for (const auto& listener : config_.listeners) {
    // Start-up only: resolving a backend name may block, which is fine before serving.
    auto backend = rt::SocketAddress::resolve(listener.backend.host, listener.backend.port);
    if (!backend) {
      rt::log::error("listener {}: cannot resolve backend {}", listener.name, listener.backend.address());
      return backend.error();
    }
    const ListenerEnv env{&config_, &listener, &shared_, &loop_, &idle_cancel_, sessions_.cancel_source(),
                          *backend, &pools_};
    std::unique_ptr<Frontend> frontend = make_frontend(env);
    if (!frontend) return std::make_error_code(std::errc::invalid_argument);
    frontends_.push_back(std::move(frontend));
  }
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
  Frontend* frontend = frontends_[listener_index].get();
  const uint64_t max_clients = config_.client.max_connections;
  for (;;) {
    auto client = co_await listener.accept(accepting_.cancel_source());
    if (!client) {
      if (client.error() == std::errc::operation_canceled) co_return;
      // Out of fds or similar: back off briefly instead of spinning on the same error.
      rt::log::warn("listener {}: accept failed: {}", frontend->env().listener->name, client.error().message());
      const auto slept = co_await rt::sleep_for(std::chrono::milliseconds(100), accepting_.cancel_source());
      if (!slept) co_return;
      continue;
    }
    if (shared_.client_connections.fetch_add(1, std::memory_order_relaxed) >= max_clients) {
      shared_.client_connections.fetch_sub(1, std::memory_order_relaxed);
      shared_.clients_refused.fetch_add(1, std::memory_order_relaxed);
      const std::string_view reply = frontend->too_many_clients_reply();
      // Best effort, never waiting: the socket buffer of a fresh connection has room for one reply.
      [[maybe_unused]] const ssize_t n = ::send(client->fd(), reply.data(), reply.size(), MSG_NOSIGNAL);
      continue;
    }
    shared_.clients_accepted.fetch_add(1, std::memory_order_relaxed);
    // The frontend and shared_ belong to this Worker, which outlives its sessions (drain joins them first).
    sessions_.spawn(counted_session(std::move(*client), frontend, &shared_));
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
  pools_.redis.stop();
  pools_.mysql.stop();
  co_await pools_.redis.join();
  co_await pools_.mysql.join();
  done();
}

}  // namespace corral::proxy
