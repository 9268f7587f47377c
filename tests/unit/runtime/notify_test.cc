#include "runtime/notify.h"

#include <gtest/gtest.h>

#include "runtime/block_on.h"
#include "runtime/task_scope.h"

namespace corral::rt {
namespace {

using namespace std::chrono_literals;

TEST(Notify, WakesAWaitingCoroutine) {
  EventLoop loop;
  auto body = []() -> Task<bool> {
    Notify notify;
    bool woke = false;
    TaskScope scope;
    auto waiter = [](Notify* n, bool* out) -> Task<void> { *out = co_await n->wait(Deadline::after(5s)); };
    scope.spawn(waiter(&notify, &woke));
    EXPECT_TRUE(notify.waiting());
    notify.notify();
    co_await scope.join();
    co_return woke;
  };
  EXPECT_TRUE(block_on(loop, body()));
}

TEST(Notify, NotificationBeforeWaitIsKept) {
  EventLoop loop;
  auto body = []() -> Task<bool> {
    Notify notify;
    notify.notify();
    co_return co_await notify.wait(Deadline::after(1ms));
  };
  EXPECT_TRUE(block_on(loop, body()));
}

TEST(Notify, TimesOutWithoutNotification) {
  EventLoop loop;
  auto body = []() -> Task<bool> {
    Notify notify;
    const bool woke = co_await notify.wait(Deadline::after(10ms));
    EXPECT_FALSE(notify.waiting());
    co_return woke;
  };
  EXPECT_FALSE(block_on(loop, body()));
}

TEST(Notify, CancellationEndsTheWait) {
  EventLoop loop;
  auto body = []() -> Task<bool> {
    Notify notify;
    CancelSource cancel;
    bool woke = true;
    TaskScope scope;
    auto waiter = [](Notify* n, CancelSource* c, bool* out) -> Task<void> {
      *out = co_await n->wait(Deadline::never(), c);
    };
    scope.spawn(waiter(&notify, &cancel, &woke));
    cancel.cancel();
    co_await scope.join();
    notify.notify();  // nobody waits any more: kept, harmless
    co_return woke;
  };
  EXPECT_FALSE(block_on(loop, body()));
}

}  // namespace
}  // namespace corral::rt
