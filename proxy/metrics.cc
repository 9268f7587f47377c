#include "proxy/metrics.h"

#include "runtime/log.h"
#include "runtime/notify.h"

namespace corral::proxy {

std::string_view to_string(RequestClass c) noexcept {
  switch (c) {
    case RequestClass::Command: return "command";
    case RequestClass::Query: return "query";
    case RequestClass::Execute: return "execute";
    case RequestClass::Prepare: return "prepare";
    case RequestClass::Other: return "other";
  }
  return "other";
}

ListenerCounters& MetricsRegistry::listener(const std::string& name) {
  std::lock_guard lock(mutex_);
  auto& counters = listeners_[name];
  if (!counters) counters = std::make_unique<ListenerCounters>();
  return *counters;
}

std::vector<std::pair<std::string, const ListenerCounters*>> MetricsRegistry::listeners() const {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, const ListenerCounters*>> out;
  out.reserve(listeners_.size());
  for (const auto& [name, counters] : listeners_) out.emplace_back(name, counters.get());
  return out;
}

pool::BackendMetrics& MetricsRegistry::add_worker(rt::EventLoop& loop) {
  workers_.push_back(std::make_unique<WorkerBackends>(WorkerBackends{&loop, {}}));
  return workers_.back()->metrics;
}

namespace {

/// One scrape's state, shared by backends() and the functions it posts: the last holder frees it, on
/// whichever thread that is (it holds no loop resource but a Notify nobody waits on any more).
struct BackendGather {
  rt::EventLoop* origin = nullptr;
  std::vector<std::vector<pool::BackendSnapshot>> results;  // by worker
  std::size_t pending = 0;                                  // touched on `origin` only
  rt::Notify done;                                          // `origin`'s
};

}  // namespace

rt::Task<std::optional<std::vector<pool::BackendSnapshot>>> MetricsRegistry::backends(rt::Deadline deadline,
                                                                                      rt::CancelSource* cancel) const {
  auto gather = std::make_shared<BackendGather>();
  gather->origin = rt::EventLoop::current();
  gather->results.resize(workers_.size());
  gather->pending = workers_.size();
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    const WorkerBackends* worker = workers_[i].get();
    // Captures by value: `gather` is shared, `worker` lives as long as the registry (the process's
    // SharedState), and its figures are read on its own loop.
    worker->loop->post([gather, worker, i] {
      std::vector<pool::BackendSnapshot> copy = worker->metrics.snapshot();
      gather->origin->post([gather, i, copy = std::move(copy)]() mutable {
        gather->results[i] = std::move(copy);
        if (--gather->pending == 0) gather->done.notify();
      });
    });
  }
  while (gather->pending > 0) {
    const bool woken = co_await gather->done.wait(deadline, cancel);
    if (!woken) co_return std::nullopt;
  }
  co_return pool::sum_by_backend(gather->results);
}

std::string backend_label(const config::BackendUrl& url) {
  if (url.protocol == config::Protocol::Mysql) return pool::mysql_backend_label(url.host, url.port);
  return pool::redis_backend_label(url.host, url.port, url.tls);
}

void record_login(MetricsRegistry& metrics, const std::string& listener) {
  metrics.listener(listener).logins_ok.fetch_add(1, std::memory_order_relaxed);
}

void record_failed_login(MetricsRegistry& metrics, const std::string& listener, std::string_view user,
                         std::string_view from, std::string_view reason) {
  metrics.listener(listener).logins_failed.fetch_add(1, std::memory_order_relaxed);
  rt::log::warn("listener {}: login failed for user '{}' from {}: {}", listener, user, from, reason);
}

}  // namespace corral::proxy
