#include "proxy/daemon.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <mutex>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "protocols/mysql/auth.h"
#include "proxy/worker.h"
#include "runtime/address_claim.h"
#include "runtime/cpu_quota.h"
#include "runtime/log.h"
#include "runtime/sd_notify.h"
#include "runtime/worker_group.h"

namespace corral::proxy {

namespace {

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

/// Runs `fn` on `loop` and waits for its result: steps that must happen on a worker's thread.
template <class Fn>
auto run_on(rt::EventLoop& loop, Fn fn) -> decltype(fn()) {
  std::promise<decltype(fn())> promise;
  auto future = promise.get_future();
  loop.post([&] { promise.set_value(fn()); });
  return future.get();
}

/// The MySQL front end's process-wide key: one RSA key pair for caching_sha2_password (workers load
/// copies), made when some listener speaks MySQL.
bool prepare_mysql(const config::Config& config, SharedState& shared) {
  const bool serves_mysql = std::any_of(config.listeners.begin(), config.listeners.end(),
                                        [](const auto& l) { return l.protocol == config::Protocol::Mysql; });
  if (!serves_mysql || !shared.mysql_rsa_private_pem.empty()) return true;
  auto key = mysql::RsaKey::generate();
  auto pem = key ? key->private_pem() : mysql::Result<std::string>(key.error());
  if (!pem) {
    rt::log::error("mysql: cannot generate the RSA key pair for caching_sha2_password: {}",
                   mysql::to_string(pem.error()));
    return false;
  }
  shared.mysql_rsa_private_pem = std::move(*pem);
  return true;
}

/// Builds `listener`'s TLS contexts (null where it is plain) into `loaded`; false after logging why
/// a certificate, key or CA file is unusable.
bool add_tls_contexts(const config::Listener& listener, LoadedConfig& loaded) {
  std::unique_ptr<rt::TlsContext> server;
  if (listener.tls) {
    rt::TlsOptions options;
    options.cert_file = listener.tls->cert_file;
    options.key_file = listener.tls->key_file;
    options.ca_file = listener.tls->client_ca_file;
    options.require_peer_cert = listener.tls->require_client_cert;
    auto built = rt::TlsContext::server(options);
    if (!built) {
      rt::log::error("listener {}: TLS: {}", listener.name, built.error());
      return false;
    }
    server = std::make_unique<rt::TlsContext>(std::move(*built));
  }
  std::unique_ptr<rt::TlsContext> client;
  if (listener.backend.may_use_tls()) {
    rt::TlsOptions options;
    options.ca_file = listener.backend.tls_ca_file;
    // rediss:// always verifies chain and name; MySQL's ssl-mode says how much (as the mysql CLI).
    const config::MysqlSslMode mode = listener.backend.mysql_ssl_mode;
    if (listener.backend.protocol == config::Protocol::Mysql) {
      options.verify_peer = mode == config::MysqlSslMode::VerifyCa || mode == config::MysqlSslMode::VerifyIdentity;
      options.verify_host = mode == config::MysqlSslMode::VerifyIdentity;
    }
    auto built = rt::TlsContext::client(options);
    if (!built) {
      rt::log::error("listener {}: TLS toward backend {}: {}", listener.name, listener.backend.address(), built.error());
      return false;
    }
    client = std::make_unique<rt::TlsContext>(std::move(*built));
  }
  loaded.listener_tls.push_back(std::move(server));
  loaded.backend_tls.push_back(std::move(client));
  return true;
}

/// The listener's MySQL replicas, resolved (a null entry when it has none); false after logging a
/// name that does not resolve.
bool add_mysql_replicas(const config::Listener& listener, LoadedConfig& loaded) {
  const std::vector<config::Endpoint>& endpoints = listener.backend.mysql_replicas;
  if (endpoints.empty()) {
    loaded.mysql_replicas.push_back(nullptr);
    return true;
  }
  std::vector<pool::MysqlReplicaSet::Replica> replicas;
  for (const config::Endpoint& endpoint : endpoints) {
    auto address = rt::SocketAddress::resolve(endpoint.host, endpoint.port);
    if (!address) {
      rt::log::error("listener {}: cannot resolve replica {}", listener.name, endpoint.to_string());
      return false;
    }
    replicas.push_back({endpoint, *address});
  }
  loaded.mysql_replicas.push_back(std::make_unique<pool::MysqlReplicaSet>(listener.name, std::move(replicas)));
  return true;
}

/// Every seed of a redis-cluster backend and every server of a redis-shards one, resolved here so a
/// host name costs no lookup on a worker's loop; false after logging a name that does not resolve.
bool add_backend_nodes(const config::Listener& listener, LoadedConfig& loaded) {
  std::vector<rt::SocketAddress>& nodes = loaded.backend_nodes.emplace_back();
  if (!listener.backend.cluster && !listener.backend.shards) return true;
  for (const config::Endpoint& endpoint : listener.backend.endpoints()) {
    auto address = rt::SocketAddress::resolve(endpoint.host, endpoint.port);
    if (!address) {
      rt::log::error("listener {}: cannot resolve backend {}", listener.name, endpoint.to_string());
      return false;
    }
    nodes.push_back(*address);
  }
  return true;
}

/// `config` with every listener and backend address resolved (blocking name lookups: on the daemon's
/// own thread, never on a worker's), or nullptr after logging what failed.
std::shared_ptr<LoadedConfig> resolve(config::Config config) {
  auto loaded = std::make_shared<LoadedConfig>(std::move(config));
  for (const auto& listener : loaded->config.listeners) {
    auto address = rt::SocketAddress::resolve(listener.address.host, listener.address.port);
    if (!address) {
      rt::log::error("listener {}: cannot resolve {}: {}", listener.name, listener.address.to_string(),
                     address.error().message());
      return nullptr;
    }
    auto backend = rt::SocketAddress::resolve(listener.backend.host, listener.backend.port);
    if (!backend) {
      rt::log::error("listener {}: cannot resolve backend {}", listener.name, listener.backend.address());
      return nullptr;
    }
    loaded->listen_addresses.push_back(*address);
    loaded->backend_addresses.push_back(*backend);
    if (!add_backend_nodes(listener, *loaded)) return nullptr;
    if (!add_tls_contexts(listener, *loaded)) return nullptr;
    if (!add_mysql_replicas(listener, *loaded)) return nullptr;
  }
  return loaded;
}

/// Claims `address` for this process (see AddressClaim); logs why not.
std::optional<rt::AddressClaim> claim(const std::string& what, const config::Endpoint& endpoint) {
  auto address = rt::SocketAddress::resolve(endpoint.host, endpoint.port);
  if (!address) return rt::AddressClaim();  // the bind reports it, in the words of any bind failure
  auto taken = rt::AddressClaim::take(*address);
  if (!taken) {
    const bool in_use = taken.error() == std::errc::address_in_use;
    rt::log::error("{}: cannot listen on {}: {}", what, endpoint.to_string(),
                   in_use ? "the address is already served by another process (another corral?)"
                          : taken.error().message());
    return std::nullopt;
  }
  return std::move(*taken);
}

/// "a, b" or "none".
std::string names_or_none(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string out;
  for (const auto& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace

rt::log::Level log_level_of(config::LogLevel level) {
  switch (level) {
    case config::LogLevel::Trace: return rt::log::Level::Trace;
    case config::LogLevel::Debug: return rt::log::Level::Debug;
    case config::LogLevel::Info: return rt::log::Level::Info;
    case config::LogLevel::Warn: return rt::log::Level::Warn;
    case config::LogLevel::Error: return rt::log::Level::Error;
  }
  return rt::log::Level::Info;
}

rt::log::Format log_format_of(config::LogFormat format) {
  return format == config::LogFormat::Json ? rt::log::Format::Json : rt::log::Format::Text;
}

Daemon::Daemon(config::Config config) : initial_(std::move(config)) {}
Daemon::~Daemon() = default;

bool Daemon::claim_listeners(const config::Config& config) {
  for (const auto& listener : config.listeners) {
    const std::string key = listener.address.to_string();
    if (claims_.count(key) != 0) continue;
    auto taken = claim("listener " + listener.name, listener.address);
    if (!taken) return false;
    claims_.emplace(key, std::move(*taken));
  }
  return true;
}

void Daemon::release_unused_claims() {
  const config::Config& config = loaded_->config;
  for (auto it = claims_.begin(); it != claims_.end();) {
    const bool used =
        std::any_of(config.listeners.begin(), config.listeners.end(),
                    [&](const auto& l) { return l.address.to_string() == it->first; }) ||
        (config.server.admin && config.server.admin->to_string() == it->first);
    it = used ? std::next(it) : claims_.erase(it);
  }
}

int Daemon::run() {
  // Block the handled signals in every thread (workers inherit the mask) so that only sigwait() in this
  // thread sees them; a signal handler would run on an arbitrary worker in the middle of its loop.
  const sigset_t signals = handled_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  if (!claim_listeners(initial_)) return kExitRuntimeError;
  if (initial_.server.admin) {
    auto taken = claim("admin", *initial_.server.admin);
    if (!taken) return kExitRuntimeError;
    claims_.emplace(initial_.server.admin->to_string(), std::move(*taken));
  }
  if (!prepare_mysql(initial_, shared_)) return kExitRuntimeError;
  loaded_ = resolve(std::move(initial_));
  if (!loaded_) return kExitRuntimeError;
  const config::Config& config = loaded_->config;

  // workers = 0: one per usable CPU, at most what the per-worker statistics have room for.
  const std::size_t worker_count =
      config.server.workers != 0 ? config.server.workers : std::min(rt::usable_cpus(), kMaxWorkers);
  const rt::IoBackend io = config.runtime.io == config::IoBackend::IoUring ? rt::IoBackend::IoUring : rt::IoBackend::Epoll;
  rt::WorkerGroup group(worker_count, io);
  for (std::size_t i = 0; i < group.size(); ++i) {
    workers_.push_back(std::make_unique<Worker>(i, group.loop(i), loaded_, shared_));
  }
  group.start();
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker* worker = workers_[i].get();
    const rt::Result<void> bound = run_on(group.loop(i), [worker] { return worker->bind_listeners(); });
    if (!bound) {
      group.stop_and_join();
      return kExitRuntimeError;
    }
  }
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker* worker = workers_[i].get();
    group.loop(i).post([worker] { worker->start(); });
  }
  for (const auto& listener : config.listeners) {
    rt::log::info("listener {} ({}) on {} -> {}", listener.name, config::to_string(listener.protocol),
                  listener.address.to_string(), listener.backend.redacted());
  }
  if (config.server.admin) {
    rt::log::info("admin endpoint on {} (/health, /ready, /metrics, POST /reload)", config.server.admin->to_string());
  }
  rt::log::info("corral serving with {} workers on {}", group.size(), rt::to_string(group.loop(0).backend()));
  if (!rt::sd_notify("READY=1\nSTATUS=serving")) rt::log::warn("cannot notify systemd ($NOTIFY_SOCKET) of readiness");

  int received = 0;
  for (;;) {
    sigwait(&signals, &received);
    if (received != SIGHUP) break;
    rt::sd_notify("RELOADING=1");
    const std::string outcome = reload(group);
    {
      std::lock_guard lock(shared_.reload_mutex);
      shared_.last_reload = outcome;
    }
    // Counted only once the outcome is stored: POST /reload waits for the count to move and then
    // reads the outcome, which must be this reload's and not the one before.
    (outcome.starts_with("ok") ? shared_.reloads_ok : shared_.reloads_failed).fetch_add(1, std::memory_order_release);
    rt::sd_notify("READY=1\nSTATUS=serving");
  }
  rt::log::info("received {}: draining (grace {} ms)", received == SIGINT ? "SIGINT" : "SIGTERM",
                loaded_->config.server.shutdown_grace.count());
  rt::sd_notify("STOPPING=1\nSTATUS=draining");

  std::mutex mutex;
  std::condition_variable drained_cv;
  std::size_t drained = 0;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker* worker = workers_[i].get();
    group.loop(i).post([&, worker] {
      worker->drain(loaded_->config.server.shutdown_grace, [&] {
        std::lock_guard lock(mutex);
        ++drained;
        drained_cv.notify_one();
      });
    });
  }
  {
    std::unique_lock lock(mutex);
    drained_cv.wait(lock, [&] { return drained == workers_.size(); });
  }
  group.stop_and_join();
  workers_.clear();
  rt::log::info("corral stopped");
  return kExitOk;
}

std::string Daemon::refuse_reload(const std::string& why) {
  rt::log::error("reload refused: {}; the running configuration stays", why);
  return "refused: " + why;
}

std::string Daemon::reload(rt::WorkerGroup& group) {
  const config::Config& running = loaded_->config;
  rt::log::info("reloading {}", running.source);
  auto parsed = config::load_config(running.source);
  if (auto* error = std::get_if<config::ConfigError>(&parsed)) return refuse_reload(error->to_string());
  config::Config next = std::get<config::Config>(std::move(parsed));

  // What a running process cannot change: kept, with a word in the log.
  if (next.server.workers != running.server.workers) {
    rt::log::warn("reload: server.workers changed; it takes effect at the next start");
    next.server.workers = running.server.workers;
  }
  if (next.runtime.io != running.runtime.io) {
    rt::log::warn("reload: runtime.io changed; it takes effect at the next start");
    next.runtime.io = running.runtime.io;
  }
  const auto admin_text = [](const config::Config& c) { return c.server.admin ? c.server.admin->to_string() : ""; };
  if (admin_text(next) != admin_text(running)) {
    rt::log::warn("reload: server.admin changed; it takes effect at the next start");
    next.server.admin = running.server.admin;
  }

  if (!claim_listeners(next)) return refuse_reload("a new listener's address is served by another process");
  if (!prepare_mysql(next, shared_)) return refuse_reload("cannot make the MySQL RSA key");
  std::shared_ptr<LoadedConfig> loaded = resolve(std::move(next));
  if (!loaded) return refuse_reload("an address does not resolve");

  std::size_t prepared = 0;
  for (; prepared < workers_.size(); ++prepared) {
    Worker* worker = workers_[prepared].get();
    const rt::Result<void> ok = run_on(group.loop(prepared), [worker, loaded] { return worker->prepare_reload(loaded); });
    if (!ok) break;
  }
  if (prepared < workers_.size()) {
    for (std::size_t i = 0; i < prepared; ++i) {
      Worker* worker = workers_[i].get();
      run_on(group.loop(i), [worker] {
        worker->abort_reload();
        return true;
      });
    }
    release_unused_claims();
    return refuse_reload("a listener could not be bound");
  }
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker* worker = workers_[i].get();
    run_on(group.loop(i), [worker] {
      worker->commit_reload();
      return true;
    });
  }

  std::vector<std::string> added, removed, kept;
  for (const auto& listener : loaded->config.listeners) {
    const bool existed = std::any_of(running.listeners.begin(), running.listeners.end(), [&](const auto& old) {
      return old.name == listener.name && old.address.to_string() == listener.address.to_string() &&
             old.protocol == listener.protocol;
    });
    (existed ? kept : added).push_back(listener.name);
  }
  for (const auto& old : running.listeners) {
    const bool stays = std::find(kept.begin(), kept.end(), old.name) != kept.end();
    if (!stays) removed.push_back(old.name);
  }
  rt::log::set_level(log_level_of(loaded->config.server.log_level));
  rt::log::set_format(log_format_of(loaded->config.server.log_format));
  loaded_ = std::move(loaded);
  release_unused_claims();
  const std::string summary = fmt::format("listeners added: {}; removed: {}; kept (new clients use the new settings): {}",
                                          names_or_none(added), names_or_none(removed), names_or_none(kept));
  rt::log::info("reloaded {}: {}", loaded_->config.source, summary);
  return "ok: " + summary;
}

}  // namespace corral::proxy
