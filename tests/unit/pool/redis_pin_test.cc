// RedisPool::pin() at max_pinned: waiters are served one at a time in arrival order (an unpinned
// connection goes to the oldest waiter only, a closed one lets the oldest waiter open another), the
// queue timeout ends a wait, a cancelled waiter is skipped. The backend is a scripted fake on port 0
// that answers the handshake (HELLO, CONFIG GET databases) and then holds the connection.
#include "pool/redis_pool.h"

#include <gtest/gtest.h>

#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/block_on.h"

namespace corral::pool {
namespace {

using namespace std::chrono_literals;

/// Answers the pool's handshake (HELLO and CONFIG GET databases, sent in one write) with an empty
/// reply each, then reads until the pool closes the connection or the test stops.
rt::Task<void> answer_hello(rt::TcpStream stream, rt::CancelSource* stop) {
  std::array<char, 4096> buffer{};
  auto request = co_await stream.read_some(buffer, rt::Deadline::after(5s), stop);
  if (!request || *request == 0) co_return;
  const std::string_view handshake_replies = "*0\r\n*0\r\n";
  auto sent = co_await stream.write_all(handshake_replies, rt::Deadline::after(5s), stop);
  if (!sent) co_return;
  for (;;) {
    auto more = co_await stream.read_some(buffer, rt::Deadline::never(), stop);
    if (!more || *more == 0) co_return;
  }
}

rt::Task<void> serve(rt::TcpListener* listener, rt::TaskScope* connections, rt::CancelSource* stop) {
  for (;;) {
    auto accepted = co_await listener->accept(stop);
    if (!accepted) co_return;
    // The stream moves into the frame; `stop` and the scope outlive it (joined before the test ends).
    connections->spawn(answer_hello(std::move(*accepted), stop));
  }
}

/// What one pin() caller got.
struct Pinned {
  bool done = false;
  RedisConnection* connection = nullptr;
  std::string error;
};

rt::Task<void> pin_into(RedisPool* pool, Pinned* out, rt::Deadline deadline, rt::CancelSource* cancel) {
  Acquired acquired = co_await pool->pin(deadline, cancel);
  out->done = true;
  out->connection = acquired.connection;
  out->error = std::move(acquired.error);
}

/// Lets the loop run what was woken (wakes resume from the loop's ready queue).
rt::Task<void> settle() { co_await rt::sleep_for(20ms); }

/// Waits until `*flag` is set (an open or a deadline on a busy machine), for at most 5 s.
rt::Task<void> until(const bool* flag) {
  for (int i = 0; i < 500 && !*flag; ++i) co_await rt::sleep_for(10ms);
}

class RedisPinQueue : public ::testing::Test {
 public:  // the test bodies are coroutine lambdas, not members
  RedisPinQueue() { limits_.max_pinned = 1; }

  /// Starts the fake backend and makes the pool under test.
  void start() {
    listener_ = std::move(*rt::TcpListener::bind(loop_, *rt::SocketAddress::parse("127.0.0.1", 0)));
    address_ = *rt::SocketAddress::parse("127.0.0.1", listener_.port());
    server_.spawn(serve(&listener_, &server_, &server_stop_));
    RedisKey key;
    key.host = "127.0.0.1";
    key.port = listener_.port();
    pool_ = pools_.get(key, address_);
  }
  /// start(), then pins `holder`: the one connection max_pinned allows. False (after finish()) when
  /// that failed.
  rt::Task<bool> start_holding(Pinned* holder) {
    start();
    co_await pin_into(pool_.get(), holder, rt::Deadline::after(5s), nullptr);
    EXPECT_NE(holder->connection, nullptr) << holder->error;
    if (holder->connection != nullptr) co_return true;
    co_await finish();
    co_return false;
  }
  /// Stops the pools and the fake backend and waits for every coroutine.
  rt::Task<void> finish() {
    pools_.stop();
    co_await callers_.join();
    co_await pools_.join();
    pool_.reset();
    server_stop_.cancel();
    co_await server_.join();
  }

  rt::EventLoop loop_;
  config::PoolLimits limits_{};
  RedisPools pools_{limits_};
  rt::TcpListener listener_;
  rt::SocketAddress address_ = *rt::SocketAddress::parse("127.0.0.1", 0);
  rt::CancelSource server_stop_;
  rt::TaskScope server_;   // the fake backend's coroutines
  rt::TaskScope callers_;  // the pin() callers
  RedisPoolRef pool_;
};

TEST_F(RedisPinQueue, UnpinnedOrClosedConnectionServesOnlyTheOldestWaiter) {
  auto body = [](RedisPinQueue* t) -> rt::Task<void> {
    Pinned holder;
    const bool holding = co_await t->start_holding(&holder);
    if (!holding) co_return;

    std::vector<Pinned> waiters(3);
    for (Pinned& w : waiters) t->callers_.spawn(pin_into(t->pool_.get(), &w, rt::Deadline::after(5s), nullptr));
    co_await settle();
    for (const Pinned& w : waiters) EXPECT_FALSE(w.done) << "at max_pinned a caller waits";

    t->pool_->unpin(holder.connection, true);
    co_await settle();
    EXPECT_TRUE(waiters[0].done);
    EXPECT_EQ(waiters[0].connection, holder.connection) << "handed straight to the oldest waiter";
    EXPECT_FALSE(waiters[1].done) << "woken for a connection that went to another waiter";
    EXPECT_FALSE(waiters[2].done);

    t->pool_->unpin(waiters[0].connection, true);
    co_await settle();
    EXPECT_EQ(waiters[1].connection, holder.connection);
    EXPECT_FALSE(waiters[2].done);

    t->pool_->unpin(waiters[1].connection, false);  // closed: its slot lets the last waiter open one
    co_await until(&waiters[2].done);
    EXPECT_TRUE(waiters[2].done);
    EXPECT_NE(waiters[2].connection, nullptr) << waiters[2].error;
    EXPECT_EQ(t->pool_->pinned_count(), 1u);
    if (waiters[2].connection != nullptr) t->pool_->unpin(waiters[2].connection, true);
    co_await t->finish();
  };
  rt::block_on(loop_, body(this));
}

TEST_F(RedisPinQueue, QueueTimeoutEndsTheWaitAndACancelledWaiterIsSkipped) {
  auto body = [](RedisPinQueue* t) -> rt::Task<void> {
    Pinned holder;
    const bool holding = co_await t->start_holding(&holder);
    if (!holding) co_return;

    Pinned impatient, cancelled, patient;
    rt::CancelSource cancel;
    t->callers_.spawn(pin_into(t->pool_.get(), &impatient, rt::Deadline::after(30ms), nullptr));
    t->callers_.spawn(pin_into(t->pool_.get(), &cancelled, rt::Deadline::after(5s), &cancel));
    t->callers_.spawn(pin_into(t->pool_.get(), &patient, rt::Deadline::after(5s), nullptr));
    cancel.cancel();
    co_await until(&impatient.done);
    EXPECT_TRUE(impatient.done);
    EXPECT_EQ(impatient.connection, nullptr);
    EXPECT_NE(impatient.error.find("within the queue timeout (pool.max_pinned)"), std::string::npos)
        << impatient.error;
    EXPECT_TRUE(cancelled.done);
    EXPECT_EQ(cancelled.connection, nullptr);
    EXPECT_FALSE(patient.done);

    t->pool_->unpin(holder.connection, true);
    co_await settle();
    EXPECT_EQ(patient.connection, holder.connection);
    if (patient.connection != nullptr) t->pool_->unpin(patient.connection, true);
    co_await t->finish();
  };
  rt::block_on(loop_, body(this));
}

}  // namespace
}  // namespace corral::pool
