#include "proxy/worker.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "proxy/admin.h"
#include "proxy/mysql/frontend.h"
#include "runtime/log.h"
#include "runtime/memory_trim.h"

namespace corral::proxy {

namespace {

/// How long a client may take to complete its TLS handshake before it is closed.
constexpr std::chrono::seconds kTlsHandshakeTimeout{10};

/// Releases one client slot when the session ends, whatever way it ends.
rt::Task<void> counted_session(rt::TcpStream client, Frontend* frontend, SharedState* shared,
                               ListenerCounters* counters) {
  struct Slot {
    SharedState* shared;
    ListenerCounters* counters;
    ~Slot() {
      shared->client_connections.fetch_sub(1, std::memory_order_relaxed);
      counters->clients_open.fetch_sub(1, std::memory_order_relaxed);
    }
  } slot{shared, counters};
  // TLS starts here, in the session, so a slow handshake holds up no other client. A mysql client
  // asks for TLS after the greeting (SSLRequest): its session runs the handshake then.
  const rt::TlsContext* tls = frontend->env().listener_tls;
  if (tls != nullptr && frontend->tls_at_accept()) {
    const auto shaken =
        co_await client.start_tls_server(*tls, rt::Deadline::after(kTlsHandshakeTimeout), frontend->env().stop_cancel);
    if (!shaken) {
      rt::log::debug("listener {}: TLS handshake with {} failed: {}", frontend->env().listener->name,
                     client.peer_address().to_string(), shaken.error().message());
      co_return;
    }
  }
  co_await frontend->serve(std::move(client));
}

bool same_endpoint(const config::Endpoint& a, const config::Endpoint& b) { return a.host == b.host && a.port == b.port; }

}  // namespace

Worker::Worker(std::size_t index, rt::EventLoop& loop, std::shared_ptr<const LoadedConfig> config, SharedState& shared)
    : index_(index),
      loop_(loop),
      shared_(shared),
      backend_metrics_(&shared.metrics.add_worker(loop)),  // before the workers run, like the client table
      current_(std::make_unique<Generation>(std::move(config), shared, backend_metrics_)) {
  shared_.redis_clients.add_worker(loop_);  // before the workers run: the table's slots are then fixed
}

Worker::~Worker() = default;

rt::Result<std::unique_ptr<Worker::ListenerSlot>> Worker::bind_slot(const config::Listener& listener,
                                                                   const rt::SocketAddress& address) const {
  auto bound = rt::TcpListener::bind(loop_, address);
  if (!bound) {
    rt::log::error("listener {}: cannot listen on {}: {}", listener.name, listener.address.to_string(),
                   bound.error().message());
    return bound.error();
  }
  auto slot = std::make_unique<ListenerSlot>();
  slot->name = listener.name;
  slot->address = listener.address;
  slot->protocol = listener.protocol;
  slot->socket = std::move(*bound);
  slot->counters = &shared_.metrics.listener(listener.name);
  return slot;
}

rt::Result<void> Worker::build_frontends(Generation& generation) {
  const LoadedConfig& loaded = *generation.loaded;
  const config::Config& config = loaded.config;
  generation.admin_env = AdminEnv{&shared_, {}, &config.pool};
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const config::Listener& listener = config.listeners[i];
    // The backend's series exist (at zero) before its first client: a scrape shows every configured one.
    backend_metrics_->backend(backend_label(listener.backend));
    const ListenerEnv env{&config,
                          &listener,
                          &shared_,
                          &loop_,
                          &idle_cancel_,
                          generation.sessions.cancel_source(),
                          loaded.backend_addresses[i],
                          &generation.pools,
                          loaded.mysql_sha2_cached.get(),
                          &shared_.metrics.listener(listener.name).requests[index_],
                          loaded.listener_tls[i].get(),
                          loaded.backend_tls[i].get(),
                          loaded.mysql_replicas[i].get(),
                          &loaded.backend_nodes[i],
                          mysql_target_for(listener)};
    std::unique_ptr<Frontend> frontend = make_frontend(env);
    if (!frontend) return std::make_error_code(std::errc::invalid_argument);
    generation.frontends.push_back(std::move(frontend));
    generation.admin_env.backends.push_back(ProbeTarget{&listener, loaded.backend_addresses[i], loaded.backend_tls[i].get(),
                                                        loaded.mysql_replicas[i].get()});
    if (loaded.mysql_replicas[i]) generation.admin_env.mysql_replicas.push_back(loaded.mysql_replicas[i].get());
  }
  return {};
}

const MysqlBackendTarget* Worker::mysql_target_for(const config::Listener& listener) {
  if (listener.protocol != config::Protocol::Mysql) return nullptr;
  std::unique_ptr<MysqlBackendTarget>& target = mysql_targets_[listener.name];
  if (!target) target = std::make_unique<MysqlBackendTarget>();
  return target.get();
}

void Worker::point_mysql_targets(const std::shared_ptr<const LoadedConfig>& loaded) {
  const std::vector<config::Listener>& listeners = loaded->config.listeners;
  for (auto& [name, target] : mysql_targets_) {
    const auto found = std::find_if(listeners.begin(), listeners.end(), [&name = name](const config::Listener& l) {
      return l.name == name && l.protocol == config::Protocol::Mysql;
    });
    if (found == listeners.end()) {
      target->loaded.reset();
      continue;
    }
    const config::Listener* before = target->listener();
    if (before != nullptr && index_ == 0 && before->backend.redacted() != found->backend.redacted()) {
      rt::log::info("listener {}: backend now {} (was {}); connected clients follow at their next statement "
                    "that holds no backend connection",
                    name, found->backend.redacted(), before->backend.redacted());
    }
    target->loaded = loaded;
    target->index = static_cast<std::size_t>(found - listeners.begin());
    // Connected clients may follow into this configuration before any new one arrives: its replicas
    // are checked from now on (the first session of a configuration starts it otherwise).
    pool::MysqlReplicaSet* replicas = loaded->mysql_replicas[target->index].get();
    if (before != nullptr && replicas != nullptr) {
      check_replicas_once(current_->pools.mysql, *replicas, *found, loaded->config.mysql);
    }
  }
}

rt::Result<void> Worker::bind_listeners() {
  const LoadedConfig& loaded = *current_->loaded;
  // The admin endpoint first: once a listener accepts connections, /ready and /metrics answer too.
  if (index_ == 0 && loaded.config.server.admin) {
    const config::Endpoint& endpoint = *loaded.config.server.admin;
    auto address = rt::SocketAddress::resolve(endpoint.host, endpoint.port);
    if (!address) return address.error();
    auto bound = rt::TcpListener::bind(loop_, *address);
    if (!bound) {
      rt::log::error("admin: cannot listen on {}: {}", endpoint.to_string(), bound.error().message());
      return bound.error();
    }
    admin_ = std::move(*bound);
  }
  for (std::size_t i = 0; i < loaded.config.listeners.size(); ++i) {
    auto slot = bind_slot(loaded.config.listeners[i], loaded.listen_addresses[i]);
    if (!slot) return slot.error();
    slots_.push_back(std::move(*slot));
  }
  const rt::Result<void> built = build_frontends(*current_);
  if (!built) return built;
  point_mysql_targets(current_->loaded);
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    slots_[i]->frontend = current_->frontends[i].get();
    slots_[i]->sessions = &current_->sessions;
  }
  return {};
}

void Worker::start() {
  for (auto& slot : slots_) slot->accepting.spawn(accept_loop(slot.get()));
  if (admin_.is_open()) admin_accepting_.spawn(admin_loop());
  // The scope's cancel source lives in the worker, which joins the task in drain_task().
  housekeeping_.spawn(rt::trim_memory_when_quiet(housekeeping_.cancel_source()));
}

rt::Result<void> Worker::prepare_reload(std::shared_ptr<const LoadedConfig> next) {
  abort_reload();
  next_ = std::make_unique<Generation>(std::move(next), shared_, backend_metrics_);
  const LoadedConfig& loaded = *next_->loaded;
  next_slots_.resize(loaded.config.listeners.size());
  for (std::size_t i = 0; i < loaded.config.listeners.size(); ++i) {
    const config::Listener& listener = loaded.config.listeners[i];
    const bool kept = std::any_of(slots_.begin(), slots_.end(), [&](const auto& slot) {
      return slot->name == listener.name && same_endpoint(slot->address, listener.address) &&
             slot->protocol == listener.protocol;
    });
    if (kept) continue;
    auto slot = bind_slot(listener, loaded.listen_addresses[i]);
    if (!slot) {
      abort_reload();
      return slot.error();
    }
    next_slots_[i] = std::move(*slot);
  }
  const rt::Result<void> built = build_frontends(*next_);
  if (!built) abort_reload();
  return built;
}

void Worker::commit_reload() {
  const config::Config& config = next_->loaded->config;
  std::vector<std::unique_ptr<ListenerSlot>> slots(config.listeners.size());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    if (next_slots_[i]) {
      slots[i] = std::move(next_slots_[i]);
      continue;
    }
    const auto kept = std::find_if(slots_.begin(), slots_.end(), [&](const auto& slot) {
      return slot && slot->name == config.listeners[i].name;
    });
    slots[i] = std::move(*kept);
  }
  // What is left of the old order are the listeners the new configuration does not have.
  for (auto& removed : slots_) {
    if (removed) retiring_.spawn(stop_slot(std::move(removed)));
  }
  slots_ = std::move(slots);
  next_slots_.clear();
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    slots_[i]->frontend = next_->frontends[i].get();
    slots_[i]->sessions = &next_->sessions;
    if (slots_[i]->accepting.running() == 0) slots_[i]->accepting.spawn(accept_loop(slots_[i].get()));
  }
  Generation* previous = current_.get();
  retired_.push_back(std::move(current_));
  current_ = std::move(next_);
  point_mysql_targets(current_->loaded);
  retiring_.spawn(retire(previous));
}

void Worker::abort_reload() {
  next_slots_.clear();
  next_.reset();
}

rt::Task<void> Worker::retire(Generation* generation) {
  co_await generation->sessions.join();
  generation->pools.redis.stop();
  generation->pools.mysql.stop();
  co_await generation->pools.redis.join();
  co_await generation->pools.mysql.join();
  rt::log::debug("worker {}: a configuration's last session ended; its pools are closed", index_);
  retired_.remove_if([generation](const auto& retired) { return retired.get() == generation; });
}

rt::Task<void> Worker::stop_slot(std::unique_ptr<ListenerSlot> slot) {
  slot->accepting.stop();
  co_await slot->accepting.join();
  slot->socket.close();
}

rt::Task<void> Worker::admin_loop() {
  for (;;) {
    auto client = co_await admin_.accept(admin_accepting_.cancel_source());
    if (!client) {
      if (client.error() == std::errc::operation_canceled) co_return;
      const bool slept = co_await rt::sleep_for(std::chrono::milliseconds(100), admin_accepting_.cancel_source());
      if (!slept) co_return;
      continue;
    }
    // The generation keeps its admin_env until the request ends: it joins its sessions scope first.
    current_->sessions.spawn(
        serve_admin_client(std::move(*client), &current_->admin_env, current_->sessions.cancel_source()));
  }
}

rt::Task<void> Worker::accept_loop(ListenerSlot* slot) {
  for (;;) {
    auto client = co_await slot->socket.accept(slot->accepting.cancel_source());
    if (!client) {
      if (client.error() == std::errc::operation_canceled) co_return;
      // Out of fds or similar: back off briefly instead of spinning on the same error.
      rt::log::warn("listener {}: accept failed: {}", slot->name, client.error().message());
      const auto slept = co_await rt::sleep_for(std::chrono::milliseconds(100), slot->accepting.cancel_source());
      if (!slept) co_return;
      continue;
    }
    Frontend* frontend = slot->frontend;
    const uint64_t max_clients = current_->loaded->config.client.max_connections;
    if (shared_.client_connections.fetch_add(1, std::memory_order_relaxed) >= max_clients) {
      shared_.client_connections.fetch_sub(1, std::memory_order_relaxed);
      shared_.clients_refused.fetch_add(1, std::memory_order_relaxed);
      slot->counters->refused.fetch_add(1, std::memory_order_relaxed);
      // Best effort, never waiting: the socket buffer of a fresh connection has room for one reply.
      // A TLS client would read plain text as garbage: it just sees the close. (A MySQL client reads
      // the refusal in plain text, where the greeting would be.)
      if (frontend->env().listener_tls == nullptr || !frontend->tls_at_accept()) {
        const std::string_view reply = frontend->too_many_clients_reply();
        [[maybe_unused]] const ssize_t n = ::send(client->fd(), reply.data(), reply.size(), MSG_NOSIGNAL);
      }
      continue;
    }
    shared_.clients_accepted.fetch_add(1, std::memory_order_relaxed);
    slot->counters->accepted.fetch_add(1, std::memory_order_relaxed);
    // Whichever protocol starts TLS on it (a TLS listener now, MySQL after an SSLRequest) is counted.
    client->count_tls_handshakes(&slot->counters->tls);
    slot->counters->clients_open.fetch_add(1, std::memory_order_relaxed);
    // The frontend belongs to the current generation, which outlives its sessions (it joins them first);
    // the counters live as long as SharedState.
    slot->sessions->spawn(counted_session(std::move(*client), frontend, &shared_, slot->counters));
  }
}

void Worker::drain(std::chrono::milliseconds grace, std::function<void()> done) {
  control_.spawn(drain_task(grace, std::move(done)));
}

rt::Task<void> Worker::hard_stop_after(std::chrono::milliseconds grace, rt::CancelSource* cancel) {
  const bool grace_over = co_await rt::sleep_for(grace, cancel);
  if (!grace_over) co_return;
  std::size_t running = current_->sessions.running();
  for (const auto& retired : retired_) running += retired->sessions.running();
  if (running > 0) rt::log::warn("grace period over: cancelling {} sessions", running);
  current_->sessions.stop();
  for (const auto& retired : retired_) retired->sessions.stop();
}

rt::Task<void> Worker::drain_task(std::chrono::milliseconds grace, std::function<void()> done) {
  abort_reload();
  for (auto& slot : slots_) slot->accepting.stop();
  admin_accepting_.stop();
  housekeeping_.stop();
  for (auto& slot : slots_) co_await slot->accepting.join();
  co_await admin_accepting_.join();
  co_await housekeeping_.join();
  for (auto& slot : slots_) slot->socket.close();
  admin_.close();
  idle_cancel_.cancel();
  rt::log::debug("worker {}: draining {} sessions ({} earlier configurations)", index_, current_->sessions.running(),
                 retired_.size());
  // Hard stop after the grace period, unless every session ended before.
  rt::TaskScope timer;
  timer.spawn(hard_stop_after(grace, timer.cancel_source()));
  co_await current_->sessions.join();
  co_await retiring_.join();  // earlier configurations end with their sessions
  timer.stop();
  co_await timer.join();
  current_->pools.redis.stop();
  current_->pools.mysql.stop();
  co_await current_->pools.redis.join();
  co_await current_->pools.mysql.join();
  done();
}

}  // namespace corral::proxy
