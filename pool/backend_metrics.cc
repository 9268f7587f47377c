#include "pool/backend_metrics.h"

#include <utility>

namespace corral::pool {

std::string_view to_string(BackendError kind) noexcept {
  switch (kind) {
    case BackendError::ConnectFailed: return "connect_failed";
    case BackendError::Timeout: return "timeout";
    case BackendError::BackendClosed: return "backend_closed";
    case BackendError::ProtocolError: return "protocol_error";
    case BackendError::ServerError: return "server_error";
  }
  return "unknown";
}

void BackendGauges::add(const BackendGauges& other) noexcept {
  connecting += other.connecting;
  idle += other.idle;
  in_use += other.in_use;
  pinned += other.pinned;
  waiters += other.waiters;
  pools += other.pools;
}

void BackendCounters::opened(bool ok, bool answered) noexcept {
  ++(ok ? figures.connects_ok : figures.connects_failed);
  if (!ok) error(BackendError::ConnectFailed);
  figures.opened_ever = true;
  figures.last_open_answered = ok || answered;
  figures.last_open_at = rt::Clock::now();
}

void BackendSnapshot::add(const BackendSnapshot& other) {
  BackendFigures& mine = figures;
  const BackendFigures& theirs = other.figures;
  mine.connects_ok += theirs.connects_ok;
  mine.connects_failed += theirs.connects_failed;
  mine.pool_timeouts += theirs.pool_timeouts;
  for (std::size_t i = 0; i < mine.errors.size(); ++i) mine.errors[i] += theirs.errors[i];
  mine.latency.add(theirs.latency);
  if (theirs.opened_ever && (!mine.opened_ever || theirs.last_open_at > mine.last_open_at)) {
    mine.opened_ever = true;
    mine.last_open_answered = theirs.last_open_answered;
    mine.last_open_at = theirs.last_open_at;
  }
  gauges.add(other.gauges);
  tls_ok += other.tls_ok;
  tls_failed += other.tls_failed;
}

namespace {

std::string label(std::string_view scheme, std::string_view host, std::uint16_t port) {
  std::string out(scheme);
  out.append("://");
  if (host.find(':') != std::string_view::npos) {
    out.append("[").append(host).append("]");
  } else {
    out.append(host);
  }
  out.append(":").append(std::to_string(port));
  return out;
}

}  // namespace

std::string redis_backend_label(std::string_view host, std::uint16_t port, bool tls) {
  return label(tls ? "rediss" : "redis", host, port);
}

std::string mysql_backend_label(std::string_view host, std::uint16_t port) { return label("mysql", host, port); }

BackendCounters& BackendMetrics::backend(const std::string& label) {
  std::unique_ptr<BackendCounters>& counters = backends_[label];
  if (!counters) counters = std::make_unique<BackendCounters>();
  return *counters;
}

std::vector<BackendSnapshot> BackendMetrics::snapshot() const {
  std::vector<BackendSnapshot> out;
  out.reserve(backends_.size());
  for (const auto& [name, counters] : backends_) {
    BackendSnapshot& shot = out.emplace_back();
    shot.label = name;
    shot.figures = counters->figures;
    shot.tls_ok = counters->tls.ok.load(std::memory_order_relaxed);
    shot.tls_failed = counters->tls.failed.load(std::memory_order_relaxed);
    for (const PoolGaugeSource* pool : counters->pools) pool->add_gauges(shot.gauges);
    shot.gauges.pools = counters->pools.size();
  }
  return out;
}

std::vector<BackendSnapshot> sum_by_backend(const std::vector<std::vector<BackendSnapshot>>& workers) {
  std::map<std::string, BackendSnapshot> sums;
  for (const auto& worker : workers) {
    for (const BackendSnapshot& shot : worker) {
      auto [it, fresh] = sums.try_emplace(shot.label);
      if (fresh) {
        it->second = shot;
      } else {
        it->second.add(shot);
      }
    }
  }
  std::vector<BackendSnapshot> out;
  out.reserve(sums.size());
  for (auto& [name, shot] : sums) out.push_back(std::move(shot));
  return out;
}

}  // namespace corral::pool
