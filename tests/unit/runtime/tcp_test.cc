#include "runtime/tcp.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "runtime/block_on.h"
#include "runtime/task_scope.h"
#include "tests/unit/runtime/io_backends.h"

namespace corral::rt {
namespace {

using namespace std::chrono_literals;

SocketAddress loopback(uint16_t port = 0) { return *SocketAddress::parse("127.0.0.1", port); }

Task<void> echo_session(TcpStream stream, CancelSource* cancel) {
  std::vector<char> buffer(4096);
  for (;;) {
    auto n = co_await stream.read_some(buffer, Deadline::never(), cancel);
    if (!n || *n == 0) co_return;
    auto w = co_await stream.write_all({buffer.data(), *n}, Deadline::never(), cancel);
    if (!w) co_return;
  }
}

Task<void> echo_server(TcpListener* listener, TaskScope* sessions) {
  for (;;) {
    auto stream = co_await listener->accept(sessions->cancel_source());
    if (!stream) co_return;
    // The scope outlives the session (joined by the test body); the stream is moved into the frame.
    sessions->spawn(echo_session(std::move(*stream), sessions->cancel_source()));
  }
}

Task<std::string> read_exactly(TcpStream& stream, std::size_t size) {
  std::string out;
  std::vector<char> buffer(4096);
  while (out.size() < size) {
    auto n = co_await stream.read_some(buffer, Deadline::after(5s));
    if (!n || *n == 0) break;
    out.append(buffer.data(), *n);
  }
  co_return out;
}

Task<bool> echo_client(EventLoop* loop, uint16_t port, int id) {
  auto stream = co_await TcpStream::connect(*loop, loopback(port), Deadline::after(5s));
  if (!stream) co_return false;
  bool all_ok = true;
  for (int round = 0; round < 20; ++round) {
    const std::string message = "client " + std::to_string(id) + " round " + std::to_string(round) + "\n";
    const auto written = co_await stream->write_all(message);
    if (!written) co_return false;
    all_ok = all_ok && (co_await read_exactly(*stream, message.size())) == message;
  }
  co_return all_ok;
}

class Tcp : public OnEachBackend {};

TEST_P(Tcp, LoopbackEchoServerWithManyClients) {
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<int> {
    auto listener = TcpListener::bind(*l, loopback());
    EXPECT_TRUE(listener.ok());
    TaskScope sessions;
    TaskScope server;
    server.spawn(echo_server(&*listener, &sessions));
    int ok_clients = 0;
    TaskScope clients;
    auto run_client = [](EventLoop* lp, uint16_t port, int id, int* ok) -> Task<void> {
      const auto ok_client = co_await echo_client(lp, port, id);
      if (ok_client) ++*ok;
    };
    for (int i = 0; i < 500; ++i) clients.spawn(run_client(l, listener->port(), i, &ok_clients));
    co_await clients.join();
    sessions.stop();
    server.stop();
    co_await sessions.join();
    co_await server.join();
    co_return ok_clients;
  };
  EXPECT_EQ(block_on(loop, body(&loop)), 500);
}

TEST_P(Tcp, ReadTimeoutCancelsTheReadAndLeavesTheStreamUsable) {
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<void> {
    auto listener = TcpListener::bind(*l, loopback());
    auto client = co_await TcpStream::connect(*l, loopback(listener->port()), Deadline::after(5s));
    auto server = co_await listener->accept();
    EXPECT_TRUE(client.ok() && server.ok());
    std::vector<char> buffer(64);
    const auto start = Clock::now();
    auto timed_out_read = co_await server->read_some(buffer, Deadline::after(30ms));
    EXPECT_EQ(timed_out_read.error(), std::errc::timed_out);
    EXPECT_GE(Clock::now() - start, 30ms);
    EXPECT_EQ(server->io()->reader, nullptr) << "the fd slot must be disarmed after the timeout";
    // Bytes sent after the timeout go to the next read, not to the cancelled one.
    EXPECT_TRUE(co_await client->write_all(std::string_view("after")));
    auto n = co_await server->read_some(buffer, Deadline::after(5s));
    EXPECT_TRUE(n.ok());
    EXPECT_EQ(std::string(buffer.data(), *n), "after");
  };
  block_on(loop, body(&loop));
}

TEST_P(Tcp, CancellationEndsABlockedRead) {
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<void> {
    auto listener = TcpListener::bind(*l, loopback());
    auto client = co_await TcpStream::connect(*l, loopback(listener->port()), Deadline::after(5s));
    auto server = co_await listener->accept();
    CancelSource cancel;
    std::error_code outcome;
    TaskScope readers;
    auto reader = [](TcpStream* s, CancelSource* c, std::error_code* out) -> Task<void> {
      std::vector<char> buffer(64);
      auto n = co_await s->read_some(buffer, Deadline::never(), c);
      *out = n.error();
    };
    readers.spawn(reader(&*server, &cancel, &outcome));
    co_await sleep_for(5ms);
    EXPECT_EQ(readers.running(), 1u);
    cancel.cancel();
    co_await readers.join();
    EXPECT_EQ(outcome, std::errc::operation_canceled);
    EXPECT_EQ(server->io()->reader, nullptr);
    (void)client;
  };
  block_on(loop, body(&loop));
}

TEST_P(Tcp, CloseWakesAPendingReader) {
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<void> {
    auto listener = TcpListener::bind(*l, loopback());
    auto client = co_await TcpStream::connect(*l, loopback(listener->port()), Deadline::after(5s));
    auto server = co_await listener->accept();
    std::error_code outcome;
    TaskScope readers;
    auto reader = [](TcpStream* s, std::error_code* out) -> Task<void> {
      std::vector<char> buffer(64);
      auto n = co_await s->read_some(buffer);
      *out = n.error();
    };
    readers.spawn(reader(&*server, &outcome));
    co_await sleep_for(2ms);
    server->close();
    co_await readers.join();
    EXPECT_EQ(outcome, std::errc::operation_canceled);
    (void)client;
  };
  block_on(loop, body(&loop));
}

TEST_P(Tcp, PeerCloseReadsAsEndOfStream) {
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<std::size_t> {
    auto listener = TcpListener::bind(*l, loopback());
    auto client = co_await TcpStream::connect(*l, loopback(listener->port()), Deadline::after(5s));
    auto server = co_await listener->accept();
    client->close();
    std::vector<char> buffer(64);
    auto n = co_await server->read_some(buffer, Deadline::after(5s));
    co_return n.ok() ? *n : 999;
  };
  EXPECT_EQ(block_on(loop, body(&loop)), 0u);
}

TEST_P(Tcp, ConnectToClosedPortIsRefused) {
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<std::error_code> {
    uint16_t port = 0;
    {
      auto probe = TcpListener::bind(*l, loopback());
      port = probe->port();
    }
    auto stream = co_await TcpStream::connect(*l, loopback(port), Deadline::after(5s));
    co_return stream.error();
  };
  EXPECT_EQ(block_on(loop, body(&loop)), std::errc::connection_refused);
}

TEST_P(Tcp, LargeWritevIsDeliveredWhole) {
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<bool> {
    auto listener = TcpListener::bind(*l, loopback());
    auto client = co_await TcpStream::connect(*l, loopback(listener->port()), Deadline::after(5s));
    auto server = co_await listener->accept();
    const std::string a(3 << 20, 'a');
    const std::string b(1 << 20, 'b');
    TaskScope writers;
    auto writer = [](TcpStream* s, const std::string* x, const std::string* y) -> Task<void> {
      iovec iov[2] = {{const_cast<char*>(x->data()), x->size()}, {const_cast<char*>(y->data()), y->size()}};
      auto r = co_await s->writev_all(iov, Deadline::after(10s));
      EXPECT_TRUE(r.ok());
    };
    writers.spawn(writer(&*client, &a, &b));
    const std::string received = co_await read_exactly(*server, a.size() + b.size());
    co_await writers.join();
    co_return received == a + b;
  };
  EXPECT_TRUE(block_on(loop, body(&loop)));
}

TEST(SocketAddress, ParsesNumericHostsOnly) {
  EXPECT_EQ(SocketAddress::parse("127.0.0.1", 80)->to_string(), "127.0.0.1:80");
  EXPECT_EQ(SocketAddress::parse("::1", 6379)->to_string(), "[::1]:6379");
  EXPECT_FALSE(SocketAddress::parse("localhost", 80).has_value());
}

}  // namespace
}  // namespace corral::rt

namespace corral::rt {
namespace {

TEST_P(Tcp, WaitReadableWakesOnDataWithoutConsumingIt) {
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<std::string> {
    auto listener = TcpListener::bind(*l, *SocketAddress::parse("127.0.0.1", 0));
    auto client = co_await TcpStream::connect(*l, *SocketAddress::parse("127.0.0.1", listener->port()),
                                              Deadline::after(std::chrono::seconds(5)));
    auto server = co_await listener->accept();
    std::vector<char> buffer(64);
    // Drain the initial "maybe readable" state so the wait below really waits for an edge.
    auto nothing = co_await server->read_some(buffer, Deadline::after(std::chrono::milliseconds(5)));
    EXPECT_EQ(nothing.error(), std::errc::timed_out);
    auto timed_out = co_await server->wait_readable(Deadline::after(std::chrono::milliseconds(5)));
    EXPECT_EQ(timed_out.error(), std::errc::timed_out);
    const auto sent = co_await client->write_all(std::string_view("ping"));
    EXPECT_TRUE(sent.ok());
    auto readable = co_await server->wait_readable(Deadline::after(std::chrono::seconds(5)));
    EXPECT_TRUE(readable.ok());
    auto n = co_await server->read_some(buffer, Deadline::after(std::chrono::seconds(5)));
    co_return n ? std::string(buffer.data(), *n) : std::string();
  };
  EXPECT_EQ(block_on(loop, body(&loop)), "ping");
}

}  // namespace
}  // namespace corral::rt

namespace corral::rt {
namespace {

TEST_P(Tcp, EndOfStreamArrivingWithTheLastDataIsStillSeen) {
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<bool> {
    auto listener = TcpListener::bind(*l, *SocketAddress::parse("127.0.0.1", 0));
    auto client = co_await TcpStream::connect(*l, *SocketAddress::parse("127.0.0.1", listener->port()),
                                              Deadline::after(std::chrono::seconds(5)));
    auto server = co_await listener->accept();
    std::vector<char> buffer(64);
    auto drained = co_await server->read_some(buffer, Deadline::after(std::chrono::milliseconds(5)));
    EXPECT_EQ(drained.error(), std::errc::timed_out);
    // Data and FIN together: one epoll edge. The short read of the data must not hide the EOF.
    const auto sent = co_await client->write_all(std::string_view("last"));
    EXPECT_TRUE(sent.ok());
    client->shutdown_write();
    co_await sleep_for(std::chrono::milliseconds(20));
    auto data = co_await server->read_some(buffer, Deadline::after(std::chrono::seconds(1)));
    EXPECT_TRUE(data.ok() && *data == 4);
    auto eof = co_await server->read_some(buffer, Deadline::after(std::chrono::seconds(1)));
    co_return eof.ok() && *eof == 0;
  };
  EXPECT_TRUE(block_on(loop, body(&loop)));
}

// ---- what the io_uring backend must keep (run on both backends: the behaviour is the same) --------

/// A connected pair of stream sockets: [0] registered with `loop`, [1] a plain fd for the test.
std::pair<TcpStream, int> socket_pair(EventLoop& loop) {
  int fds[2] = {-1, -1};
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  return {TcpStream(loop, fds[0]), fds[1]};
}

TEST_P(Tcp, ReadCancelledInTheIterationThatStartedItLosesNoData) {
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<std::string> {
    auto pair = socket_pair(*l);
    TcpStream& stream = pair.first;
    const int peer = pair.second;
    EXPECT_EQ(::send(peer, "hello", 5, 0), 5);
    // On io_uring the read is queued for the next io_uring_enter; the cancellation comes first, so
    // the queued read must never run (else it would take "hello" for a reader that is gone) and the
    // stream must still know it is readable. On epoll the read completes at once instead.
    CancelSource cancel;
    std::string got;
    TaskScope scope;
    auto reader = [](TcpStream* s, CancelSource* c, std::string* out) -> Task<void> {
      std::vector<char> buffer(64);
      auto n = co_await s->read_some(buffer, Deadline::never(), c);
      if (n) out->append(buffer.data(), *n);
    };
    scope.spawn(reader(&stream, &cancel, &got));
    cancel.cancel();
    co_await scope.join();
    std::vector<char> buffer(64);
    while (got.size() < 5) {
      auto n = co_await stream.read_some(buffer, Deadline::after(2s));
      if (!n || *n == 0) break;
      got.append(buffer.data(), *n);
    }
    ::close(peer);
    co_return got;
  };
  EXPECT_EQ(block_on(loop, body(&loop)), "hello");
}

TEST_P(Tcp, ClosedStreamIsClosedForThePeerAtOnce) {
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<bool> {
    auto pair = socket_pair(*l);
    TcpStream& stream = pair.first;
    const int peer = pair.second;
    co_await sleep_for(1ms);  // the registration has reached the kernel (io_uring: the poll is armed)
    stream.close();
    // No loop iteration in between: an io_uring poll still holding the socket would keep it open.
    pollfd p{peer, POLLIN, 0};
    const int ready = ::poll(&p, 1, 2000);
    char byte = 0;
    const bool eof = ready == 1 && ::read(peer, &byte, 1) == 0;
    ::close(peer);
    co_return eof;
  };
  EXPECT_TRUE(block_on(loop, body(&loop)));
}

TEST_P(Tcp, ThousandsOfOperationsInOneIterationAllComplete) {
  // 300 pairs: 600 registrations, 300 writes and 300 reads started in one iteration, more than the
  // io_uring backend's submission queue holds (1024), so it must submit and reap mid-iteration.
  constexpr int kPairs = 300;
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<int> {
    std::vector<TcpStream> readers;
    std::vector<TcpStream> writers;
    for (int i = 0; i < kPairs; ++i) {
      int fds[2] = {-1, -1};
      EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
      readers.emplace_back(*l, fds[0]);
      writers.emplace_back(*l, fds[1]);
    }
    int delivered = 0;
    TaskScope scope;
    auto write_one = [](TcpStream* s, int i) -> Task<void> {
      const std::string text = "message " + std::to_string(i);
      const Result<void> written = co_await s->write_all(text);
      EXPECT_TRUE(written.ok());
    };
    auto read_one = [](TcpStream* s, int i, int* ok) -> Task<void> {
      const std::string expected = "message " + std::to_string(i);
      std::string got;
      std::vector<char> buffer(64);
      while (got.size() < expected.size()) {
        auto n = co_await s->read_some(buffer, Deadline::after(5s));
        if (!n || *n == 0) co_return;
        got.append(buffer.data(), *n);
      }
      if (got == expected) ++*ok;
    };
    for (int i = 0; i < kPairs; ++i) {
      scope.spawn(read_one(&readers[static_cast<std::size_t>(i)], i, &delivered));
      scope.spawn(write_one(&writers[static_cast<std::size_t>(i)], i));
    }
    co_await scope.join();
    co_return delivered;
  };
  EXPECT_EQ(block_on(loop, body(&loop)), kPairs);
}

TEST_P(Tcp, WriteLargerThanTheSocketBufferWaitsForTheReader) {
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<bool> {
    auto listener = TcpListener::bind(*l, loopback());
    auto client = co_await TcpStream::connect(*l, loopback(listener->port()), Deadline::after(5s));
    auto server = co_await listener->accept();
    // 8 MiB: far more than loopback socket buffers take, so the write meets EAGAIN, waits for the
    // writable edge and resumes where it stopped, while the reader drains the other end.
    std::string data(8 << 20, '\0');
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>('a' + i % 26);
    bool written = false;
    TaskScope scope;
    auto writer = [](TcpStream* s, const std::string* d, bool* ok) -> Task<void> {
      const Result<void> sent = co_await s->write_all(*d, Deadline::after(20s));
      *ok = sent.ok();
    };
    scope.spawn(writer(&*client, &data, &written));
    const std::string got = co_await read_exactly(*server, data.size());
    co_await scope.join();
    co_return written && got == data;
  };
  EXPECT_TRUE(block_on(loop, body(&loop)));
}

CORRAL_ON_EACH_BACKEND(Tcp);

}  // namespace
}  // namespace corral::rt
