#include "runtime/io_ring.h"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

namespace corral::rt::detail {

namespace {
/// SQ entries: what one loop iteration queues before the ring must be flushed mid-iteration.
constexpr unsigned kSqEntries = 1024;
/// CQ entries: poll edges of every ready socket plus the iteration's operations fit in one reap.
constexpr unsigned kCqEntries = 16384;
}  // namespace

std::unique_ptr<IoRing> IoRing::create(std::string& error) {
  std::unique_ptr<IoRing> ring(new IoRing());
  io_uring_params params{};
  // DEFER_TASKRUN: completions are produced only inside the loop's own io_uring_enter (no
  // interrupting task work while coroutines run); it needs SINGLE_ISSUER, and the ring starts
  // disabled so the worker thread, not the thread that built the loop, becomes that issuer.
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED |
                 IORING_SETUP_CQSIZE;
  params.cq_entries = kCqEntries;
  const int rc = io_uring_queue_init_params(kSqEntries, &ring->ring_, &params);
  if (rc < 0) {
    error = std::strerror(-rc);
    return nullptr;
  }
  ring->initialized_ = true;
  if ((params.features & IORING_FEAT_NODROP) == 0 || (params.features & IORING_FEAT_EXT_ARG) == 0) {
    error = "kernel lacks IORING_FEAT_NODROP or IORING_FEAT_EXT_ARG";
    return nullptr;
  }
  return ring;
}

IoRing::~IoRing() {
  if (initialized_) io_uring_queue_exit(&ring_);
}

void IoRing::enable_on_this_thread() {
  if (enabled_) return;
  // Debian 12's liburing 2.3 declares io_uring_enable_rings() but does not export it: the syscall.
  ::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
  enabled_ = true;
}

uint32_t IoRing::attach(io_uring_sqe* sqe, Kind kind, void* target) {
  uint32_t index = 0;
  if (free_slots_.empty()) {
    index = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    index = free_slots_.back();
    free_slots_.pop_back();
  }
  Slot& s = slots_[index];
  s.kind = kind;
  s.target = target;
  reattach(sqe, index);
  return index;
}

void IoRing::reattach(io_uring_sqe* sqe, uint32_t slot) {
  Slot& s = slots_[slot];
  s.unsubmitted = sqe;
  io_uring_sqe_set_data64(sqe, user_data_of(slot));
  unsubmitted_.push_back(slot);
}

void IoRing::ignore(io_uring_sqe* sqe) {
  io_uring_sqe_set_data64(sqe, kIgnored);
  unsubmitted_.push_back(kNoSlot);
}

IoRing::Slot* IoRing::slot_of(uint64_t user_data) noexcept {
  if (user_data == kIgnored) return nullptr;
  const auto index = static_cast<uint32_t>(user_data);
  if (index >= slots_.size()) return nullptr;
  Slot& s = slots_[index];
  if (s.kind == Kind::Free || s.generation != static_cast<uint32_t>(user_data >> 32)) return nullptr;
  return &s;
}

void IoRing::forget(uint32_t slot) noexcept {
  Slot& s = slots_[slot];
  s.target = nullptr;
  if (s.unsubmitted != nullptr) {
    // Still in the SQ: issue a no-op in its place, whose completion releases the slot.
    const uint64_t user_data = s.unsubmitted->user_data;
    io_uring_prep_nop(s.unsubmitted);
    io_uring_sqe_set_data64(s.unsubmitted, user_data);
  }
}

void IoRing::release(uint32_t slot) noexcept {
  Slot& s = slots_[slot];
  s.kind = Kind::Free;
  s.target = nullptr;
  s.unsubmitted = nullptr;
  ++s.generation;
  free_slots_.push_back(slot);
}

void IoRing::note_issued() noexcept {
  // Whatever is left in the SQ (the kernel stopped early, e.g. on -EBUSY) is issued by the next call.
  const std::size_t left = io_uring_sq_ready(&ring_);
  const std::size_t taken = unsubmitted_.size() > left ? unsubmitted_.size() - left : 0;
  for (std::size_t i = 0; i < taken; ++i) {
    if (unsubmitted_[i] != kNoSlot) slots_[unsubmitted_[i]].unsubmitted = nullptr;
  }
  unsubmitted_.erase(unsubmitted_.begin(), unsubmitted_.begin() + static_cast<std::ptrdiff_t>(taken));
}

void IoRing::submit() noexcept {
  // GETEVENTS too: with DEFER_TASKRUN, readiness edges become CQEs only inside io_uring_enter.
  io_uring_submit_and_get_events(&ring_);
  note_issued();
}

void IoRing::submit_and_wait(int timeout_ms) noexcept {
  io_uring_cqe* cqe = nullptr;
  if (timeout_ms < 0) {
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, nullptr, nullptr);
  } else {
    __kernel_timespec ts{};
    ts.tv_sec = timeout_ms / 1000;
    ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1'000'000;
    // -ETIME (timed out) and -EINTR (a signal) both just end the wait: the loop looks at its timers.
    io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  }
  note_issued();
}

}  // namespace corral::rt::detail
