#include "runtime/task_scope.h"

#include <gtest/gtest.h>

#include <vector>

#include "runtime/block_on.h"
#include "runtime/tcp.h"
#include "tests/unit/runtime/io_backends.h"

namespace corral::rt {
namespace {

using namespace std::chrono_literals;

Task<void> idle_session(TcpStream stream, CancelSource* cancel, int* ended) {
  std::vector<char> buffer(256);
  for (;;) {
    auto n = co_await stream.read_some(buffer, Deadline::never(), cancel);
    if (!n || *n == 0) break;
  }
  ++*ended;
}

class Scopes : public OnEachBackend {};

TEST_P(Scopes, StopEndsLiveConnectionsAndJoinWaitsForAll) {
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<int> {
    auto listener = TcpListener::bind(*l, *SocketAddress::parse("127.0.0.1", 0));
    std::vector<TcpStream> clients;
    TaskScope sessions;
    int ended = 0;
    for (int i = 0; i < 50; ++i) {
      auto client = co_await TcpStream::connect(*l, *SocketAddress::parse("127.0.0.1", listener->port()),
                                                Deadline::after(5s));
      auto server = co_await listener->accept();
      clients.push_back(std::move(*client));
      sessions.spawn(idle_session(std::move(*server), sessions.cancel_source(), &ended));
    }
    EXPECT_EQ(sessions.running(), 50u);
    sessions.stop();
    co_await sessions.join();
    EXPECT_EQ(sessions.running(), 0u);
    // The server side closed: every client reads end of stream.
    int clients_saw_eof = 0;
    std::vector<char> buffer(16);
    for (auto& c : clients) {
      auto n = co_await c.read_some(buffer, Deadline::after(5s));
      if (n.ok() && *n == 0) ++clients_saw_eof;
    }
    EXPECT_EQ(clients_saw_eof, 50);
    co_return ended;
  };
  EXPECT_EQ(block_on(loop, body(&loop)), 50);
}

TEST_P(Scopes, JoinOnEmptyScopeIsImmediate) {
  EventLoop loop(GetParam());
  auto body = []() -> Task<void> {
    TaskScope scope;
    co_await scope.join();
  };
  block_on(loop, body());
}

TEST_P(Scopes, TasksSpawnedAfterStopSeeCancellationAtOnce) {
  EventLoop loop(GetParam());
  auto body = []() -> Task<bool> {
    TaskScope scope;
    scope.stop();
    bool slept = true;
    auto sleeper = [](CancelSource* c, bool* out) -> Task<void> { *out = co_await sleep_for(10s, c); };
    scope.spawn(sleeper(scope.cancel_source(), &slept));
    co_await scope.join();
    co_return slept;
  };
  EXPECT_FALSE(block_on(loop, body()));
}

CORRAL_ON_EACH_BACKEND(Scopes);

}  // namespace
}  // namespace corral::rt
