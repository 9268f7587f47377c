#include "proxy/daemon.h"

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <mutex>

#include "protocols/mysql/auth.h"
#include "proxy/worker.h"
#include "runtime/address_claim.h"
#include "runtime/log.h"
#include "runtime/sd_notify.h"
#include "runtime/worker_group.h"

namespace corral::proxy {

namespace {

sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

/// Runs `fn` on `loop` and waits for its result: start-up steps that must happen on a worker's thread.
template <class Fn>
auto run_on(rt::EventLoop& loop, Fn fn) -> decltype(fn()) {
  std::promise<decltype(fn())> promise;
  auto future = promise.get_future();
  loop.post([&] { promise.set_value(fn()); });
  return future.get();
}

/// The MySQL front end's process-wide state: one RSA key pair for caching_sha2_password (workers load
/// copies) and the fast-path cache, one flag per configured user.
bool prepare_mysql(const config::Config& config, SharedState& shared) {
  const bool serves_mysql = std::any_of(config.listeners.begin(), config.listeners.end(),
                                        [](const auto& l) { return l.protocol == config::Protocol::Mysql; });
  if (!serves_mysql) return true;
  auto key = mysql::RsaKey::generate();
  auto pem = key ? key->private_pem() : mysql::Result<std::string>(key.error());
  if (!pem) {
    rt::log::error("mysql: cannot generate the RSA key pair for caching_sha2_password: {}",
                   mysql::to_string(pem.error()));
    return false;
  }
  shared.mysql_rsa_private_pem = std::move(*pem);
  shared.mysql_sha2_cached = std::make_unique<std::atomic<bool>[]>(config.users.size());
  return true;
}

/// Claims every address this process will listen on (listeners and the admin endpoint), so that a
/// second corral started on the same configuration exits instead of sharing the ports. Logs and returns
/// false on the first address another process serves.
bool claim_addresses(const config::Config& config, std::vector<rt::AddressClaim>& claims) {
  auto claim = [&](const std::string& what, const config::Endpoint& endpoint) {
    auto address = rt::SocketAddress::resolve(endpoint.host, endpoint.port);
    if (!address) return true;  // the worker's bind reports it, with the same words as for any bind failure
    auto taken = rt::AddressClaim::take(*address);
    if (!taken) {
      const bool in_use = taken.error() == std::errc::address_in_use;
      rt::log::error("{}: cannot listen on {}: {}", what, endpoint.to_string(),
                     in_use ? "the address is already served by another process (another corral?)"
                            : taken.error().message());
      return false;
    }
    claims.push_back(std::move(*taken));
    return true;
  };
  for (const auto& listener : config.listeners) {
    if (!claim("listener " + listener.name, listener.address)) return false;
  }
  return !config.server.admin || claim("admin", *config.server.admin);
}

}  // namespace

Daemon::Daemon(config::Config config) : config_(std::move(config)) {}
Daemon::~Daemon() = default;

int Daemon::run() {
  // Block the shutdown signals in every thread (workers inherit the mask) so that only sigwait() in this
  // thread sees them; a signal handler would run on an arbitrary worker in the middle of its loop.
  const sigset_t signals = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  std::vector<rt::AddressClaim> claims;
  if (!claim_addresses(config_, claims)) return kExitRuntimeError;
  SharedState shared;
  if (!prepare_mysql(config_, shared)) return kExitRuntimeError;
  rt::WorkerGroup group(config_.server.workers);
  std::vector<std::unique_ptr<Worker>> workers;
  for (std::size_t i = 0; i < group.size(); ++i) {
    workers.push_back(std::make_unique<Worker>(i, group.loop(i), config_, shared));
  }
  group.start();

  for (std::size_t i = 0; i < workers.size(); ++i) {
    Worker* worker = workers[i].get();
    const rt::Result<void> bound = run_on(group.loop(i), [worker] { return worker->bind_listeners(); });
    if (!bound) {
      group.stop_and_join();
      return kExitRuntimeError;
    }
  }
  for (std::size_t i = 0; i < workers.size(); ++i) {
    Worker* worker = workers[i].get();
    group.loop(i).post([worker] { worker->start(); });
  }
  for (const auto& listener : config_.listeners) {
    rt::log::info("listener {} ({}) on {} -> {}", listener.name, config::to_string(listener.protocol),
                  listener.address.to_string(), listener.backend.redacted());
  }
  if (config_.server.admin) rt::log::info("admin endpoint on {} (/health, /ready, /metrics)", config_.server.admin->to_string());
  rt::log::info("corral serving with {} workers", group.size());
  if (!rt::sd_notify("READY=1\nSTATUS=serving")) rt::log::warn("cannot notify systemd ($NOTIFY_SOCKET) of readiness");

  int received = 0;
  sigwait(&signals, &received);
  rt::log::info("received {}: draining (grace {} ms)", received == SIGINT ? "SIGINT" : "SIGTERM",
                config_.server.shutdown_grace.count());
  rt::sd_notify("STOPPING=1\nSTATUS=draining");

  std::mutex mutex;
  std::condition_variable drained_cv;
  std::size_t drained = 0;
  for (std::size_t i = 0; i < workers.size(); ++i) {
    Worker* worker = workers[i].get();
    group.loop(i).post([&, worker] {
      worker->drain(config_.server.shutdown_grace, [&] {
        std::lock_guard lock(mutex);
        ++drained;
        drained_cv.notify_one();
      });
    });
  }
  {
    std::unique_lock lock(mutex);
    drained_cv.wait(lock, [&] { return drained == workers.size(); });
  }
  group.stop_and_join();
  workers.clear();
  rt::log::info("corral stopped");
  return kExitOk;
}

}  // namespace corral::proxy
