#include "proxy/metrics.h"

#include "runtime/log.h"

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

void record_failed_login(MetricsRegistry& metrics, const std::string& listener, std::string_view user,
                         std::string_view from, std::string_view reason) {
  metrics.listener(listener).logins_failed.fetch_add(1, std::memory_order_relaxed);
  rt::log::warn("listener {}: login failed for user '{}' from {}: {}", listener, user, from, reason);
}

}  // namespace corral::proxy
