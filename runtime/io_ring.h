// The io_uring backend's ring (internal to runtime/: EventLoop and the socket operations use it).
//
//   queue() ──► SQE in the SQ ──submit()/wait()──► one io_uring_enter issues every queued SQE ──► CQEs
//   EventLoop::reap_ring(): CQE.user_data ──► slot ──► Poll: the IoHandle's readiness (dispatch_io)
//                                                  └─► Op:   the Waiter's result (Waiter::ResultFn)
//                                                  └─► forgotten: dropped
//
// What the kernel sees: one multishot POLL_ADD per registered fd (edge-triggered, like the epoll
// registration) and, for plain sockets, RECV/SEND/SENDMSG with MSG_DONTWAIT. MSG_DONTWAIT matters:
// the kernel completes such an operation while it is issued, inside the io_uring_enter that submits
// it (data, a short count, or -EAGAIN), and never parks it to retry later. So no operation is in the
// kernel once that call returns, and a buffer is touched only during it, while no coroutine runs; a
// waiter that times out or is cancelled earlier has its SQE turned into a no-op (forget()).
//
// user_data names a slot and its generation, never an object, so a completion that arrives for a
// socket or waiter that is gone meets a forgotten slot and is dropped.
#pragma once

#include <liburing.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace corral::rt::detail {

class IoRing {
 public:
  enum class Kind : uint8_t { Free, Poll, Op };
  struct Slot {
    void* target = nullptr;               // IoHandle* (Poll) or Waiter* (Op); null once forgotten
    io_uring_sqe* unsubmitted = nullptr;  // its SQE while the kernel has not taken it
    uint32_t generation = 0;              // bumped on release: a late CQE of a reused slot is stale
    Kind kind = Kind::Free;
  };
  /// user_data of SQEs whose completion nobody needs (POLL_REMOVE).
  static constexpr uint64_t kIgnored = ~uint64_t{0};

  /// Sets up a ring for one loop; nullptr and `error` set when the kernel refuses (too old for
  /// IORING_SETUP_DEFER_TASKRUN, io_uring disabled by sysctl or seccomp, out of locked memory).
  static std::unique_ptr<IoRing> create(std::string& error);
  IoRing(const IoRing&) = delete;
  IoRing& operator=(const IoRing&) = delete;
  ~IoRing();

  /// Makes the calling thread the ring's one submitter (IORING_SETUP_SINGLE_ISSUER): the loop's
  /// thread, before its first wait. The ring is created disabled because loops are built on the
  /// main thread and run on their workers.
  void enable_on_this_thread();

  /// A free SQE, or nullptr when the SQ is full (the caller submits, reaps, and asks again).
  io_uring_sqe* get_sqe() noexcept { return io_uring_get_sqe(&ring_); }
  /// Takes a slot for `target`, records `sqe` as its unissued SQE and stamps the SQE's user_data.
  uint32_t attach(io_uring_sqe* sqe, Kind kind, void* target);
  /// Records `sqe` as a new SQE of the existing `slot` (a poll re-armed after the kernel ended it).
  void reattach(io_uring_sqe* sqe, uint32_t slot);
  /// Stamps `sqe` as one whose completion nobody reads (POLL_REMOVE).
  void ignore(io_uring_sqe* sqe);
  /// The slot a CQE's user_data names, or nullptr when it is stale or ignored.
  Slot* slot_of(uint64_t user_data) noexcept;
  uint64_t user_data_of(uint32_t slot) const noexcept { return (uint64_t{slots_[slot].generation} << 32) | slot; }
  uint32_t index_of(const Slot& slot) const noexcept { return static_cast<uint32_t>(&slot - slots_.data()); }
  Slot& slot(uint32_t index) noexcept { return slots_[index]; }
  /// Drops `slot`'s target: its completion will be ignored; an SQE not issued yet becomes a no-op.
  /// The slot itself is freed when its last completion arrives (release()).
  void forget(uint32_t slot) noexcept;
  void release(uint32_t slot) noexcept;

  /// Issues what is queued and collects completions without waiting (one io_uring_enter).
  void submit() noexcept;
  /// Issues what is queued and waits up to `timeout_ms` (-1: no limit) for a completion.
  void submit_and_wait(int timeout_ms) noexcept;

  io_uring* ring() noexcept { return &ring_; }

 private:
  IoRing() = default;
  /// After an io_uring_enter: the SQEs the kernel took are no longer "unissued".
  void note_issued() noexcept;

  io_uring ring_{};
  bool initialized_ = false;
  bool enabled_ = false;
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_slots_;
  std::vector<uint32_t> unsubmitted_;  // per SQE in the SQ, in SQ order: its slot, or kNoSlot (ignored)
  static constexpr uint32_t kNoSlot = ~uint32_t{0};
};

}  // namespace corral::rt::detail
