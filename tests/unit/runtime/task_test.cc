#include "runtime/task.h"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/block_on.h"

namespace corral::rt {
namespace {

Task<int> add(int a, int b) { co_return a + b; }

Task<int> sum_chain(int depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await sum_chain(depth - 1);
}

Task<void> record(std::vector<std::string>* log, std::string what) {
  log->push_back("start " + what);
  co_await sleep_for(std::chrono::milliseconds(1));
  log->push_back("end " + what);
}

Task<int> throws() {
  throw std::runtime_error("boom");
  co_return 0;
}

Task<std::string> catches() {
  try {
    co_await throws();
  } catch (const std::runtime_error& e) {
    co_return std::string("caught ") + e.what();
  }
  co_return "not thrown";
}

TEST(Task, IsLazyUntilAwaited) {
  bool started = false;
  auto body = [](bool* flag) -> Task<void> {
    *flag = true;
    co_return;
  };
  Task<void> task = body(&started);
  EXPECT_FALSE(started);
  EventLoop loop;
  block_on(loop, std::move(task));
  EXPECT_TRUE(started);
}

TEST(Task, ReturnsValue) {
  EventLoop loop;
  EXPECT_EQ(block_on(loop, add(2, 3)), 5);
}

// Symmetric transfer resumes the awaiter through a tail call, which the optimizer makes and ASan's
// instrumentation prevents; the deep chain only proves anything in an uninstrumented build.
#ifdef __SANITIZE_ADDRESS__
constexpr int kChainDepth = 1000;
#else
constexpr int kChainDepth = 100000;
#endif

TEST(Task, DeepChainUsesSymmetricTransferWithoutStackOverflow) {
  EventLoop loop;
  EXPECT_EQ(block_on(loop, sum_chain(kChainDepth)), kChainDepth);
}

TEST(Task, ExceptionPropagatesToAwaiter) {
  EventLoop loop;
  EXPECT_EQ(block_on(loop, catches()), "caught boom");
}

TEST(Task, ExceptionPropagatesOutOfBlockOn) {
  EventLoop loop;
  EXPECT_THROW(block_on(loop, throws()), std::runtime_error);
}

TEST(Task, SequentialAwaitsRunInOrder) {
  std::vector<std::string> log;
  auto both = [](std::vector<std::string>* out) -> Task<void> {
    co_await record(out, "a");
    co_await record(out, "b");
  };
  EventLoop loop;
  block_on(loop, both(&log));
  EXPECT_EQ(log, (std::vector<std::string>{"start a", "end a", "start b", "end b"}));
}

TEST(Task, MoveOnlyValue) {
  auto make = []() -> Task<std::unique_ptr<int>> { co_return std::make_unique<int>(7); };
  EventLoop loop;
  EXPECT_EQ(*block_on(loop, make()), 7);
}

TEST(Task, DestroyingAnUnstartedTaskFreesItsFrame) {
  auto owner = std::make_shared<int>(1);
  auto hold = [](std::shared_ptr<int> p) -> Task<void> {
    (void)p;
    co_return;
  };
  { Task<void> task = hold(owner); EXPECT_EQ(owner.use_count(), 2); }
  EXPECT_EQ(owner.use_count(), 1);
}

TEST(TaskDeathTest, ExceptionEscapingDetachedTaskTerminates) {
  auto fail = []() -> Task<void> {
    throw std::logic_error("escaped");
    co_return;
  };
  EXPECT_DEATH(spawn_detached(fail(), "test task"), "test task ended with an exception \\(a bug\\): escaped");
}

}  // namespace
}  // namespace corral::rt
