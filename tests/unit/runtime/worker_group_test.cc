#include "runtime/worker_group.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <vector>

#include "runtime/task_scope.h"
#include "runtime/tcp.h"
#include "tests/unit/runtime/io_backends.h"

namespace corral::rt {
namespace {

Task<void> greet_forever(TcpListener* listener, CancelSource* cancel, std::atomic<int>* served) {
  for (;;) {
    auto stream = co_await listener->accept(cancel);
    if (!stream) co_return;
    // Count before greeting: once the client has read "hi", the count must already include it.
    served->fetch_add(1);
    co_await stream->write_all(std::string_view("hi"));
  }
}

int blocking_connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// io_uring: the loops are built on this thread and run on their workers (the ring's one issuer).
class Workers : public OnEachBackend {};

TEST_P(Workers, EachWorkerAcceptsOnTheSamePortWithReusePort) {
  constexpr std::size_t kWorkers = 2;
  WorkerGroup workers(kWorkers, GetParam());
  std::atomic<int> served{0};
  // Pick a port by binding worker 0's listener first; the others join it through SO_REUSEPORT.
  std::vector<TcpListener> listeners(kWorkers);
  std::vector<std::unique_ptr<CancelSource>> cancels;
  listeners[0] = std::move(*TcpListener::bind(workers.loop(0), *SocketAddress::parse("127.0.0.1", 0)));
  const uint16_t port = listeners[0].port();
  for (std::size_t i = 1; i < kWorkers; ++i) {
    listeners[i] = std::move(*TcpListener::bind(workers.loop(i), *SocketAddress::parse("127.0.0.1", port)));
  }
  for (std::size_t i = 0; i < kWorkers; ++i) cancels.push_back(std::make_unique<CancelSource>());
  std::atomic<int> started{0};
  // Listeners and cancel sources outlive the workers: stop_and_join() below runs before they go.
  workers.start([&](std::size_t i) {
    spawn_detached(greet_forever(&listeners[i], cancels[i].get(), &served), "greeter");
    started.fetch_add(1);
  });
  while (started.load() < static_cast<int>(kWorkers)) std::this_thread::yield();

  for (int i = 0; i < 40; ++i) {
    const int fd = blocking_connect(port);
    ASSERT_GE(fd, 0);
    char buf[2];
    ASSERT_EQ(::read(fd, buf, 2), 2);
    ::close(fd);
  }
  EXPECT_EQ(served.load(), 40);
  std::atomic<int> stopped{0};
  for (std::size_t i = 0; i < kWorkers; ++i) {
    workers.loop(i).post([&, i] {
      cancels[i]->cancel();
      stopped.fetch_add(1);
    });
  }
  while (stopped.load() < static_cast<int>(kWorkers)) std::this_thread::yield();
  workers.stop_and_join();
}

CORRAL_ON_EACH_BACKEND(Workers);

}  // namespace
}  // namespace corral::rt
