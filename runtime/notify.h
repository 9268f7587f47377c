// Notify: wakes one waiting coroutine of the same loop (a reply arrived, a buffer has data to send).
//
//   producer: notify() ──► the waiter (if any) completes Ready; otherwise the notification is kept
//   consumer: co_await wait(deadline, cancel) ──► true when notified, false on timeout or cancellation
//
// A kept notification makes the next wait() return at once, so a notify() between a consumer's check
// and its wait is never lost. Built on the loop's Waiter: deadline and cancellation behave like I/O.
#pragma once

#include <coroutine>
#include <utility>

#include "runtime/event_loop.h"

namespace corral::rt {

/// Not thread-safe: one loop. At most one waiting coroutine at a time.
class Notify {
 public:
  void notify() noexcept {
    if (waiting_ && waiting_->armed()) {
      waiting_->complete_ready();
    } else {
      pending_ = true;
    }
  }

  /// Like notify(), but a waiter runs only after everything else ready in this loop iteration
  /// (EventLoop::schedule_last): producers of the whole iteration are served by one wake-up.
  void notify_last() noexcept {
    if (waiting_ && waiting_->armed()) {
      waiting_->complete_ready_last();
    } else {
      pending_ = true;
    }
  }

  bool waiting() const noexcept { return waiting_ != nullptr; }

  struct WaitAwaitable {
    Notify& notify;
    Deadline deadline;
    CancelSource* cancel;
    Waiter waiter;

    bool await_ready() noexcept { return std::exchange(notify.pending_, false); }
    bool await_suspend(std::coroutine_handle<> handle) {
      if (!waiter.arm(*EventLoop::current(), handle, nullptr, false, deadline, cancel, nullptr, nullptr)) {
        return false;
      }
      notify.waiting_ = this;
      return true;
    }
    bool await_resume() noexcept {
      if (notify.waiting_ == this) notify.waiting_ = nullptr;
      return waiter.reason() == WakeReason::Ready;
    }
    bool armed() const noexcept { return waiter.armed(); }
    void complete_ready() { waiter.complete(WakeReason::Ready); }
    void complete_ready_last() { waiter.complete_last(WakeReason::Ready); }
  };

  /// Suspends until notify(), `deadline` (false) or `cancel` (false). Returns at once if a
  /// notification is pending.
  WaitAwaitable wait(Deadline deadline = Deadline::never(), CancelSource* cancel = nullptr) noexcept {
    return WaitAwaitable{*this, deadline, cancel, {}};
  }

 private:
  WaitAwaitable* waiting_ = nullptr;
  bool pending_ = false;
};

/// WaitQueue: any number of coroutines of one loop waiting for the same event (a pool connection
/// became ready, say). notify_all() wakes every current waiter; nothing is kept for later waiters.
class WaitQueue {
 public:
  struct WaitAwaitable {
    WaitQueue& queue;
    Deadline deadline;
    CancelSource* cancel;
    Waiter waiter;
    WaitAwaitable* prev = nullptr;
    WaitAwaitable* next = nullptr;

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> handle) {
      if (!waiter.arm(*EventLoop::current(), handle, nullptr, false, deadline, cancel, nullptr, nullptr)) {
        return false;
      }
      queue.link(*this);
      return true;
    }
    /// True when woken by notify_all(); false on timeout or cancellation.
    bool await_resume() noexcept {
      queue.unlink(*this);
      return woken;
    }
    bool woken = false;
  };

  WaitQueue() = default;
  WaitQueue(const WaitQueue&) = delete;
  WaitQueue& operator=(const WaitQueue&) = delete;

  /// Suspends until notify_all(), `deadline` or `cancel`.
  WaitAwaitable wait(Deadline deadline = Deadline::never(), CancelSource* cancel = nullptr) noexcept {
    return WaitAwaitable{*this, deadline, cancel, {}};
  }

  void notify_all() {
    for (WaitAwaitable* w = head_; w != nullptr; w = w->next) {
      if (w->waiter.armed()) {
        w->woken = true;
        w->waiter.complete(WakeReason::Ready);
      }
    }
  }

  bool empty() const noexcept { return head_ == nullptr; }

 private:
  void link(WaitAwaitable& w) {
    w.next = head_;
    if (head_) head_->prev = &w;
    head_ = &w;
  }
  void unlink(WaitAwaitable& w) {
    if (!w.prev && head_ != &w) return;  // never linked (completed at once)
    if (w.prev) w.prev->next = w.next; else head_ = w.next;
    if (w.next) w.next->prev = w.prev;
    w.prev = w.next = nullptr;
  }

  WaitAwaitable* head_ = nullptr;
};

}  // namespace corral::rt
