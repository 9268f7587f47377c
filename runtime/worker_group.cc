#include "runtime/worker_group.h"

#include <string>

#include "runtime/cpu_quota.h"
#include "runtime/log.h"

namespace corral::rt {

WorkerGroup::WorkerGroup(std::size_t count, IoBackend backend) {
  if (count == 0) count = usable_cpus();
  loops_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) loops_.push_back(std::make_unique<EventLoop>(backend));
}

WorkerGroup::~WorkerGroup() { stop_and_join(); }

void WorkerGroup::start(std::function<void(std::size_t)> on_start) {
  for (std::size_t i = 0; i < loops_.size(); ++i) {
    threads_.emplace_back([this, i, on_start] {
      log::set_thread_name("w" + std::to_string(i));
      if (on_start) loops_[i]->post([i, on_start] { on_start(i); });
      loops_[i]->run();
    });
  }
}

void WorkerGroup::stop_and_join() {
  for (auto& loop : loops_) loop->stop();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  threads_.clear();
}

}  // namespace corral::rt
