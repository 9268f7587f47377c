#include "proxy/metrics.h"

namespace corral::proxy {

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

}  // namespace corral::proxy
