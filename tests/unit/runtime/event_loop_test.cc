#include "runtime/event_loop.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "runtime/block_on.h"
#include "runtime/task_scope.h"
#include "tests/unit/runtime/io_backends.h"

namespace corral::rt {
namespace {

using namespace std::chrono_literals;

Task<void> sleep_and_record(std::vector<int>* order, int id, Clock::duration d) {
  co_await sleep_for(d);
  order->push_back(id);
}

class Loop : public OnEachBackend {};

TEST_P(Loop, TimersFireInDeadlineOrder) {
  EventLoop loop(GetParam());
  std::vector<int> order;
  auto body = [](std::vector<int>* out) -> Task<void> {
    TaskScope scope;
    scope.spawn(sleep_and_record(out, 3, 30ms));
    scope.spawn(sleep_and_record(out, 1, 10ms));
    scope.spawn(sleep_and_record(out, 2, 20ms));
    co_await scope.join();
  };
  block_on(loop, body(&order));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_P(Loop, SleepWaitsAtLeastItsDuration) {
  EventLoop loop(GetParam());
  const auto start = Clock::now();
  auto body = []() -> Task<void> { co_await sleep_for(20ms); };
  block_on(loop, body());
  EXPECT_GE(Clock::now() - start, 20ms);
}

TEST_P(Loop, CancelledSleepResumesEarlyAndRemovesItsTimer) {
  EventLoop loop(GetParam());
  auto body = []() -> Task<bool> {
    CancelSource cancel;
    TaskScope scope;
    bool completed = true;
    auto sleeper = [](CancelSource* c, bool* out) -> Task<void> { *out = co_await sleep_for(10s, c); };
    scope.spawn(sleeper(&cancel, &completed));
    co_await sleep_for(5ms);
    cancel.cancel();
    co_await scope.join();
    co_return completed;
  };
  const auto start = Clock::now();
  EXPECT_FALSE(block_on(loop, body()));
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST_P(Loop, WaitOnAlreadyCancelledSourceCompletesAtOnce) {
  EventLoop loop(GetParam());
  auto body = []() -> Task<bool> {
    CancelSource cancel;
    cancel.cancel();
    co_return co_await sleep_for(10s, &cancel);
  };
  EXPECT_FALSE(block_on(loop, body()));
}

TEST_P(Loop, PostFromAnotherThreadRunsOnTheLoopThread) {
  EventLoop loop(GetParam());
  std::atomic<int> ran{0};
  std::thread::id loop_thread;
  std::thread poster([&] {
    for (int i = 0; i < 1000; ++i) loop.post([&] { ran.fetch_add(1); });
    loop.post([&] {
      loop_thread = std::this_thread::get_id();
      loop.stop();
    });
  });
  loop.run();
  poster.join();
  EXPECT_EQ(ran.load(), 1000);
  EXPECT_EQ(loop_thread, std::this_thread::get_id());
}

TEST_P(Loop, HundredThousandConcurrentCoroutines) {
  EventLoop loop(GetParam());
  constexpr int kCount = 100000;
  auto body = []() -> Task<int> {
    int finished = 0;
    TaskScope scope;
    auto one = [](int* done, int i) -> Task<void> {
      co_await sleep_for(std::chrono::milliseconds(1 + i % 50));
      ++*done;
    };
    for (int i = 0; i < kCount; ++i) scope.spawn(one(&finished, i));
    EXPECT_EQ(scope.running(), static_cast<std::size_t>(kCount));
    co_await scope.join();
    co_return finished;
  };
  EXPECT_EQ(block_on(loop, body()), kCount);
}

}  // namespace
}  // namespace corral::rt

namespace corral::rt {
namespace {

TEST(CancelSource, CancellingTheParentCancelsChildren) {
  CancelSource parent;
  CancelSource child(&parent);
  CancelSource grandchild(&child);
  parent.cancel();
  EXPECT_TRUE(child.cancelled());
  EXPECT_TRUE(grandchild.cancelled());
}

TEST(CancelSource, ChildOfCancelledParentStartsCancelled) {
  CancelSource parent;
  parent.cancel();
  CancelSource child(&parent);
  EXPECT_TRUE(child.cancelled());
}

TEST(CancelSource, ChildCanGoFirstAndCancellingItLeavesTheParent) {
  CancelSource parent;
  {
    CancelSource child(&parent);
    child.cancel();
    EXPECT_FALSE(parent.cancelled());
  }
  CancelSource other(&parent);
  parent.cancel();
  EXPECT_TRUE(other.cancelled());
}

CORRAL_ON_EACH_BACKEND(Loop);

}  // namespace
}  // namespace corral::rt
