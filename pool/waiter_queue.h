// WaiterQueue: the callers waiting for a pool's connection, oldest first, with one deadline watcher.
//
//   caller                ──co_await Turn───► linked at the back (front: woken for a slot, then beaten to it)
//   connection given back ──hand(c)─────────► the oldest live waiter, only it, gets c (Handed)
//   connection closed     ──wake_for_slot()─► the oldest live waiter, only it, may open one (SlotFreed)
//   earliest deadline     ──the watcher─────► every expired waiter (TimedOut); sleeps until the next one
//   pool stopped          ──stop()──────────► every waiter (Stopped)
//   caller's cancel fires ──────────────────► that waiter alone resumes; its node is skipped from then on
//
// Waiting costs no coroutine and no timer of its own: the node lives in the waiting frame (inside the
// Turn it awaits), whoever ends the wait unlinks it and resumes the frame, and one watcher coroutine
// per queue sleeps until the earliest deadline. A waiter with an earlier deadline wakes the watcher to
// re-plan, so while waits end well within the queue timeout it fires about once per timeout, not once
// per wait. Used by MysqlPool (acquire at max_connections) and RedisPool (pin at max_pinned).
#pragma once

#include <algorithm>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>

#include "runtime/event_loop.h"
#include "runtime/task.h"
#include "runtime/task_scope.h"

namespace corral::pool {

/// Why a wait in a WaiterQueue ended.
enum class WaitOutcome : std::uint8_t {
  Waiting,    // not ended by the queue: the caller's cancel fired
  Handed,     // a connection was handed to this waiter; it is the waiter's now
  SlotFreed,  // a connection closed: this waiter may open one, ahead of later arrivals
  TimedOut,   // its deadline (the queue timeout) passed
  Stopped,    // the pool stopped
};

/// The enumerator's name ("Handed").
constexpr std::string_view to_string(WaitOutcome outcome) noexcept {
  switch (outcome) {
    case WaitOutcome::Waiting: return "Waiting";
    case WaitOutcome::Handed: return "Handed";
    case WaitOutcome::SlotFreed: return "SlotFreed";
    case WaitOutcome::TimedOut: return "TimedOut";
    case WaitOutcome::Stopped: return "Stopped";
  }
  return "?";
}

/// Not thread-safe: one pool, one loop. Lifetime: the queue must outlive its scope's join() (the
/// watcher runs in the scope), and every Turn awaiting it.
template <class Connection>
class WaiterQueue {
 public:
  /// One waiting caller, a node in its frame. Whoever ends the wait (hand(), wake_for_slot(), the
  /// watcher, stop()) unlinks it, says why in `outcome` and completes `wait`; a cancellation completes
  /// `wait` alone and leaves the node linked until the frame resumes (first_live() skips such nodes).
  struct Waiter {
    Waiter() = default;
    Waiter(const Waiter&) = delete;
    Waiter& operator=(const Waiter&) = delete;

    /// Ends the wait with `why`; the node must be unlinked and its wait armed.
    void wake(WaitOutcome why, Connection* handed = nullptr) {
      outcome = why;
      connection = handed;
      wait.complete(rt::WakeReason::Ready);
    }

    rt::Waiter wait;                   // resumption and cancellation; never a timer of its own
    rt::Clock::time_point deadline;    // checked by the queue's one deadline watcher
    rt::Clock::time_point queued_at;   // for "none became free within N ms" errors
    Connection* connection = nullptr;  // Handed: the waiter's until taken or given back
    Waiter* prev = nullptr;
    Waiter* next = nullptr;
    bool linked = false;
    WaitOutcome outcome = WaitOutcome::Waiting;
  };

  /// Takes back a connection handed to a waiter whose frame went away without taking it.
  using GiveBack = void (*)(void* pool, Connection* connection);

  /// `scope` runs the deadline watcher (its stop() ends the watcher's sleep); `give_back(pool, c)`
  /// returns a handed connection nobody took.
  WaiterQueue(rt::TaskScope& scope, GiveBack give_back, void* pool) noexcept
      : scope_(scope), give_back_(give_back), pool_(pool) {}
  WaiterQueue(const WaiterQueue&) = delete;
  WaiterQueue& operator=(const WaiterQueue&) = delete;

  /// One wait in the queue: `co_await turn`, then read outcome(). Suspends until a connection is
  /// handed over, a slot frees up, `deadline` passes, the pool stops or `cancel` fires (outcome
  /// Waiting). Lifetime: lives in the waiting frame; destroyed early (the frame went away), it unlinks
  /// its node and gives back a connection it was handed.
  class Turn {
   public:
    /// `at_front`: a caller woken for a freed slot that lost it to a newcomer keeps its place.
    Turn(WaiterQueue& queue, rt::Deadline deadline, rt::CancelSource* cancel, bool at_front = false) noexcept
        : queue_(queue), cancel_(cancel), at_front_(at_front) {
      node_.deadline = deadline.at;
    }
    Turn(const Turn&) = delete;
    Turn& operator=(const Turn&) = delete;
    ~Turn() {
      queue_.unlink(node_);
      if (node_.connection != nullptr) queue_.give_back_(queue_.pool_, take());
    }

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> handle) {
      rt::EventLoop& loop = *rt::EventLoop::current();
      if (!node_.wait.arm(loop, handle, nullptr, false, rt::Deadline::never(), cancel_, nullptr, nullptr)) {
        return false;  // already cancelled: outcome stays Waiting
      }
      node_.queued_at = loop.now();
      queue_.link(node_, at_front_);
      queue_.watch(node_.deadline);
      return true;
    }
    void await_resume() noexcept { queue_.unlink(node_); }  // still linked only after a cancellation

    WaitOutcome outcome() const noexcept { return node_.outcome; }
    /// The connection handed over (Handed) and not yet taken, else nullptr.
    Connection* handed() const noexcept { return node_.connection; }
    /// Takes the handed connection: the caller owns it from now on (nullptr when there is none).
    Connection* take() noexcept { return std::exchange(node_.connection, nullptr); }
    rt::Clock::time_point queued_at() const noexcept { return node_.queued_at; }
    rt::CancelSource* cancel() const noexcept { return cancel_; }

   private:
    WaiterQueue& queue_;
    rt::CancelSource* cancel_;
    bool at_front_;
    Waiter node_;
  };

  /// Gives `connection` to the oldest live waiter and wakes it (only it); false when nobody waits.
  bool hand(Connection* connection) {
    Waiter* waiter = next();
    if (waiter == nullptr) return false;
    waiter->wake(WaitOutcome::Handed, connection);
    return true;
  }

  /// Tells the oldest live waiter (only it) that it may open a connection; false when nobody waits.
  bool wake_for_slot() {
    Waiter* waiter = next();
    if (waiter == nullptr) return false;
    waiter->wake(WaitOutcome::SlotFreed);
    return true;
  }

  /// Ends every wait with Stopped.
  void stop() {
    while (Waiter* waiter = next()) waiter->wake(WaitOutcome::Stopped);
  }

  /// The oldest waiter still waiting, left linked (cancelled nodes before it are dropped); nullptr if none.
  Waiter* first_live() {
    // A cancelled waiter stays linked until its frame resumes; nobody may hand it anything meanwhile.
    while (first_ != nullptr && !first_->wait.armed()) unlink(*first_);
    return first_;
  }

  /// Takes `waiter` out of the queue (nothing when it is not in it); the caller then wakes it.
  void unlink(Waiter& waiter) noexcept {
    if (!waiter.linked) return;
    if (waiter.prev != nullptr) waiter.prev->next = waiter.next; else first_ = waiter.next;
    if (waiter.next != nullptr) waiter.next->prev = waiter.prev; else last_ = waiter.prev;
    waiter.prev = waiter.next = nullptr;
    waiter.linked = false;
    --size_;
  }

  /// Nodes in the queue, cancelled ones not yet dropped included.
  std::size_t size() const noexcept { return size_; }

 private:
  // The watcher's sleep: until `at`, an earlier deadline (Ready) or the scope's stop() (Cancelled).
  struct DeadlineWait {
    WaiterQueue& queue;
    rt::Clock::time_point at;

    bool await_ready() const noexcept { return false; }
    bool await_suspend(std::coroutine_handle<> handle) {
      queue.watch_at_ = at;
      return queue.watch_sleep_.arm(*rt::EventLoop::current(), handle, nullptr, false, rt::Deadline{at},
                                    queue.scope_.cancel_source(), nullptr, nullptr);
    }
    bool await_resume() const noexcept { return queue.watch_sleep_.reason() != rt::WakeReason::Cancelled; }
  };

  Waiter* next() {
    Waiter* waiter = first_live();
    if (waiter != nullptr) unlink(*waiter);
    return waiter;
  }

  void link(Waiter& waiter, bool at_front) noexcept {
    if (at_front) {
      waiter.next = first_;
      if (first_ != nullptr) first_->prev = &waiter; else last_ = &waiter;
      first_ = &waiter;
    } else {
      waiter.prev = last_;
      if (last_ != nullptr) last_->next = &waiter; else first_ = &waiter;
      last_ = &waiter;
    }
    waiter.linked = true;
    ++size_;
  }

  void watch(rt::Clock::time_point deadline) {
    if (deadline == rt::Clock::time_point::max()) return;
    if (watching_) {
      // The watcher sleeps until the earliest deadline it knew of: an earlier one wakes it to re-plan.
      if (deadline < watch_at_ && watch_sleep_.armed()) watch_sleep_.complete(rt::WakeReason::Ready);
      return;
    }
    if (scope_.stopping()) return;
    watching_ = true;
    // The queue outlives the watcher: the scope's stop() ends its sleep and the pool joins the scope
    // before the queue is destroyed.
    scope_.spawn(watch_deadlines(this));
  }

  static rt::Task<void> watch_deadlines(WaiterQueue* queue) {
    // One timer for the whole queue instead of one per waiter: armed for the earliest deadline and
    // re-armed when it fires.
    while (!queue->scope_.stopping()) {
      const rt::Clock::time_point now = rt::Clock::now();
      rt::Clock::time_point earliest = rt::Clock::time_point::max();
      for (Waiter* waiter = queue->first_; waiter != nullptr;) {
        Waiter* const following = waiter->next;
        if (waiter->wait.armed()) {
          if (waiter->deadline <= now) {
            queue->unlink(*waiter);
            waiter->wake(WaitOutcome::TimedOut);
          } else {
            earliest = std::min(earliest, waiter->deadline);
          }
        }
        waiter = following;
      }
      if (earliest == rt::Clock::time_point::max()) break;
      const bool go_on = co_await DeadlineWait{*queue, earliest};
      if (!go_on) break;
    }
    queue->watching_ = false;
  }

  rt::TaskScope& scope_;
  GiveBack give_back_;
  void* pool_;
  Waiter* first_ = nullptr;
  Waiter* last_ = nullptr;
  std::size_t size_ = 0;
  bool watching_ = false;                  // watch_deadlines() runs
  rt::Clock::time_point watch_at_{};       // when it wakes next (while its sleep is armed)
  rt::Waiter watch_sleep_;                 // its sleep: a new, earlier deadline completes it
};

}  // namespace corral::pool
