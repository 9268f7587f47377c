// WaiterQueue: FIFO hand-over, one waiter woken per connection or slot, deadlines through the one
// watcher, cancellation of one waiter, stop, and a handed connection given back by a frame that left.
#include "pool/waiter_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <vector>

#include "runtime/block_on.h"

namespace corral::pool {

// gtest prints outcomes by name in failure messages.
void PrintTo(WaitOutcome outcome, std::ostream* out) { *out << to_string(outcome); }

namespace {

using namespace std::chrono_literals;

struct Conn {
  int id;
};
using Queue = WaiterQueue<Conn>;

/// What one waiter saw when its wait ended.
struct Seen {
  bool resumed = false;
  WaitOutcome outcome = WaitOutcome::Waiting;
  int handed = 0;  // Conn::id, 0 for none
};

rt::Task<void> wait_in(Queue* queue, Seen* seen, rt::Deadline deadline, rt::CancelSource* cancel, bool at_front) {
  Queue::Turn turn(*queue, deadline, cancel, at_front);
  co_await turn;
  seen->resumed = true;
  seen->outcome = turn.outcome();
  if (Conn* conn = turn.take()) seen->handed = conn->id;
}

rt::Task<void> wait_and_leave(Queue* queue, Seen* seen) {
  Queue::Turn turn(*queue, rt::Deadline::after(10s), nullptr);
  co_await turn;
  seen->resumed = true;
  seen->outcome = turn.outcome();  // leaves without take(): the Turn gives the connection back
}

/// Lets the loop run what was woken (wakes resume from the loop's ready queue, not inside hand()).
rt::Task<void> settle() { co_await rt::sleep_for(2ms); }

/// Waits until `*flag` is set (a deadline passed on a busy machine), for at most 5 s.
rt::Task<void> until(const bool* flag) {
  for (int i = 0; i < 500 && !*flag; ++i) co_await rt::sleep_for(10ms);
}

class WaiterQueueTest : public ::testing::Test {
 public:  // the test bodies are coroutine lambdas, not members
  static void give_back(void* test, Conn* conn) {
    static_cast<WaiterQueueTest*>(test)->given_back_.push_back(conn->id);
  }

  /// Queues one waiter per entry of `seen`, in order, with `deadline` and no cancel.
  void queue_all(std::vector<Seen>& seen, rt::Deadline deadline = rt::Deadline::after(10s)) {
    for (Seen& s : seen) waiters_.spawn(wait_in(&queue_, &s, deadline, nullptr, false));
  }
  /// Ends what is left: stops the queue and its scope and waits for everything.
  rt::Task<void> finish() {
    pool_scope_.stop();
    queue_.stop();
    co_await waiters_.join();
    co_await pool_scope_.join();
  }

  rt::EventLoop loop_;
  rt::TaskScope pool_scope_;  // the pool's scope: runs the deadline watcher
  Queue queue_{pool_scope_, &WaiterQueueTest::give_back, this};
  rt::TaskScope waiters_;  // the waiting callers
  std::vector<int> given_back_;
};

TEST_F(WaiterQueueTest, ConnectionsGoToWaitersInArrivalOrder) {
  auto body = [](WaiterQueueTest* t) -> rt::Task<void> {
    std::vector<Seen> seen(3);
    t->queue_all(seen);
    Conn a{1}, b{2}, c{3};
    EXPECT_TRUE(t->queue_.hand(&a));
    EXPECT_TRUE(t->queue_.hand(&b));
    EXPECT_TRUE(t->queue_.hand(&c));
    EXPECT_FALSE(t->queue_.hand(&a)) << "nobody is left waiting";
    co_await t->finish();
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(seen[i].outcome, WaitOutcome::Handed) << "waiter " << i;
      EXPECT_EQ(seen[i].handed, i + 1) << "waiter " << i;
    }
  };
  rt::block_on(loop_, body(this));
}

TEST_F(WaiterQueueTest, AHandedConnectionOrAFreedSlotWakesOnlyTheOldestWaiter) {
  auto body = [](WaiterQueueTest* t) -> rt::Task<void> {
    std::vector<Seen> seen(3);
    t->queue_all(seen);
    Conn a{1};
    t->queue_.hand(&a);
    co_await settle();
    EXPECT_TRUE(seen[0].resumed);
    EXPECT_EQ(seen[0].handed, 1);
    EXPECT_FALSE(seen[1].resumed) << "woken for a connection that went to another waiter";
    EXPECT_FALSE(seen[2].resumed);
    EXPECT_EQ(t->queue_.size(), 2u);

    EXPECT_TRUE(t->queue_.wake_for_slot());
    co_await settle();
    EXPECT_TRUE(seen[1].resumed);
    EXPECT_EQ(seen[1].outcome, WaitOutcome::SlotFreed);
    EXPECT_EQ(seen[1].handed, 0);
    EXPECT_FALSE(seen[2].resumed) << "woken for a slot that went to another waiter";

    co_await t->finish();
    EXPECT_EQ(seen[2].outcome, WaitOutcome::Stopped);
  };
  rt::block_on(loop_, body(this));
}

TEST_F(WaiterQueueTest, AtFrontWaiterGoesBeforeEarlierOnes) {
  auto body = [](WaiterQueueTest* t) -> rt::Task<void> {
    std::vector<Seen> seen(2);
    t->queue_all(seen);
    Seen front;
    t->waiters_.spawn(wait_in(&t->queue_, &front, rt::Deadline::after(10s), nullptr, true));
    Conn a{7};
    t->queue_.hand(&a);
    co_await t->finish();
    EXPECT_EQ(front.handed, 7);
    EXPECT_EQ(seen[0].outcome, WaitOutcome::Stopped);
  };
  rt::block_on(loop_, body(this));
}

TEST_F(WaiterQueueTest, OneWatcherEndsEachWaitAtItsDeadline) {
  auto body = [](WaiterQueueTest* t) -> rt::Task<void> {
    // Queued latest deadline first: the earlier deadlines must wake the sleeping watcher to re-plan.
    Seen late, early, never;
    t->waiters_.spawn(wait_in(&t->queue_, &late, rt::Deadline::after(10s), nullptr, false));
    t->waiters_.spawn(wait_in(&t->queue_, &never, rt::Deadline::never(), nullptr, false));
    t->waiters_.spawn(wait_in(&t->queue_, &early, rt::Deadline::after(30ms), nullptr, false));
    EXPECT_EQ(t->pool_scope_.running(), 1u) << "one watcher for the whole queue, no timer per waiter";
    co_await until(&early.resumed);
    EXPECT_TRUE(early.resumed);
    EXPECT_EQ(early.outcome, WaitOutcome::TimedOut);
    EXPECT_FALSE(late.resumed);
    EXPECT_FALSE(never.resumed);
    EXPECT_EQ(t->pool_scope_.running(), 1u) << "the watcher sleeps on until the next deadline";

    Conn a{1};
    t->queue_.hand(&a);  // the oldest live waiter: `late`
    co_await settle();
    EXPECT_EQ(late.handed, 1);
    co_await t->finish();
    EXPECT_EQ(never.outcome, WaitOutcome::Stopped);
  };
  rt::block_on(loop_, body(this));
}

TEST_F(WaiterQueueTest, WatcherEndsWhenNoWaiterHasADeadlineLeft) {
  auto body = [](WaiterQueueTest* t) -> rt::Task<void> {
    Seen timed, never;
    t->waiters_.spawn(wait_in(&t->queue_, &never, rt::Deadline::never(), nullptr, false));
    EXPECT_EQ(t->pool_scope_.running(), 0u) << "no deadline, no watcher";
    t->waiters_.spawn(wait_in(&t->queue_, &timed, rt::Deadline::after(20ms), nullptr, false));
    EXPECT_EQ(t->pool_scope_.running(), 1u);
    co_await until(&timed.resumed);
    co_await settle();  // the watcher ends after its last wake-up
    EXPECT_EQ(timed.outcome, WaitOutcome::TimedOut);
    EXPECT_EQ(t->pool_scope_.running(), 0u);
    co_await t->finish();
    EXPECT_EQ(never.outcome, WaitOutcome::Stopped);
  };
  rt::block_on(loop_, body(this));
}

TEST_F(WaiterQueueTest, CancelledWaiterLeavesAloneAndIsSkipped) {
  auto body = [](WaiterQueueTest* t) -> rt::Task<void> {
    Seen first, cancelled, third;
    rt::CancelSource cancel;
    t->waiters_.spawn(wait_in(&t->queue_, &first, rt::Deadline::after(10s), nullptr, false));
    t->waiters_.spawn(wait_in(&t->queue_, &cancelled, rt::Deadline::after(10s), &cancel, false));
    t->waiters_.spawn(wait_in(&t->queue_, &third, rt::Deadline::after(10s), nullptr, false));
    cancel.cancel();
    co_await settle();
    EXPECT_TRUE(cancelled.resumed);
    EXPECT_EQ(cancelled.outcome, WaitOutcome::Waiting) << "ended by its cancel, not by the queue";
    EXPECT_FALSE(first.resumed);
    EXPECT_FALSE(third.resumed);
    EXPECT_EQ(t->queue_.size(), 2u);

    Conn a{1}, b{2};
    t->queue_.hand(&a);
    t->queue_.hand(&b);
    co_await t->finish();
    EXPECT_EQ(first.handed, 1);
    EXPECT_EQ(third.handed, 2);
    EXPECT_EQ(cancelled.handed, 0);
  };
  rt::block_on(loop_, body(this));
}

TEST_F(WaiterQueueTest, AlreadyCancelledCallerDoesNotQueue) {
  auto body = [](WaiterQueueTest* t) -> rt::Task<void> {
    Seen seen;
    rt::CancelSource cancel;
    cancel.cancel();
    t->waiters_.spawn(wait_in(&t->queue_, &seen, rt::Deadline::after(10s), &cancel, false));
    EXPECT_TRUE(seen.resumed);
    EXPECT_EQ(seen.outcome, WaitOutcome::Waiting);
    EXPECT_EQ(t->queue_.size(), 0u);
    co_await t->finish();
  };
  rt::block_on(loop_, body(this));
}

TEST_F(WaiterQueueTest, HandedConnectionNotTakenIsGivenBack) {
  auto body = [](WaiterQueueTest* t) -> rt::Task<void> {
    Seen seen;
    t->waiters_.spawn(wait_and_leave(&t->queue_, &seen));
    Conn a{5};
    t->queue_.hand(&a);
    co_await t->finish();
    EXPECT_EQ(seen.outcome, WaitOutcome::Handed);
    EXPECT_EQ(t->given_back_, std::vector<int>{5});
  };
  rt::block_on(loop_, body(this));
}

TEST_F(WaiterQueueTest, StopEndsEveryWaitAndTheWatcher) {
  auto body = [](WaiterQueueTest* t) -> rt::Task<void> {
    std::vector<Seen> seen(3);
    t->queue_all(seen, rt::Deadline::after(10s));
    EXPECT_EQ(t->pool_scope_.running(), 1u);
    co_await t->finish();  // returns only once the watcher ended too
    for (const Seen& s : seen) EXPECT_EQ(s.outcome, WaitOutcome::Stopped);
    EXPECT_EQ(t->queue_.size(), 0u);
  };
  rt::block_on(loop_, body(this));
}

}  // namespace
}  // namespace corral::pool
