#include "runtime/notify.h"

#include <gtest/gtest.h>

#include <string>

#include "runtime/block_on.h"
#include "runtime/task_scope.h"
#include "tests/unit/runtime/io_backends.h"

namespace corral::rt {
namespace {

using namespace std::chrono_literals;

class Notifications : public OnEachBackend {};

TEST_P(Notifications, WakesAWaitingCoroutine) {
  EventLoop loop(GetParam());
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

TEST_P(Notifications, NotifyLastWakesAfterEverythingElseReadyInTheIteration) {
  EventLoop loop(GetParam());
  auto body = []() -> Task<std::string> {
    Notify first_notified;  // notify_last(): must run after the other waiter, although notified first
    Notify second_notified;
    std::string order;
    TaskScope scope;
    auto waiter = [](Notify* n, std::string* out, char name) -> Task<void> {
      co_await n->wait(Deadline::after(5s));
      out->push_back(name);
    };
    scope.spawn(waiter(&first_notified, &order, 'L'));
    scope.spawn(waiter(&second_notified, &order, 'N'));
    first_notified.notify_last();
    second_notified.notify();
    co_await scope.join();
    co_return order;
  };
  EXPECT_EQ(block_on(loop, body()), "NL");
}

TEST_P(Notifications, NotifyLastBeforeWaitIsKept) {
  EventLoop loop(GetParam());
  auto body = []() -> Task<bool> {
    Notify notify;
    notify.notify_last();
    co_return co_await notify.wait(Deadline::after(1ms));
  };
  EXPECT_TRUE(block_on(loop, body()));
}

TEST_P(Notifications, NotificationBeforeWaitIsKept) {
  EventLoop loop(GetParam());
  auto body = []() -> Task<bool> {
    Notify notify;
    notify.notify();
    co_return co_await notify.wait(Deadline::after(1ms));
  };
  EXPECT_TRUE(block_on(loop, body()));
}

TEST_P(Notifications, TimesOutWithoutNotification) {
  EventLoop loop(GetParam());
  auto body = []() -> Task<bool> {
    Notify notify;
    const bool woke = co_await notify.wait(Deadline::after(10ms));
    EXPECT_FALSE(notify.waiting());
    co_return woke;
  };
  EXPECT_FALSE(block_on(loop, body()));
}

TEST_P(Notifications, CancellationEndsTheWait) {
  EventLoop loop(GetParam());
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

CORRAL_ON_EACH_BACKEND(Notifications);

}  // namespace
}  // namespace corral::rt
