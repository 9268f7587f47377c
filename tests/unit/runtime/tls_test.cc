#include "runtime/tls.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "runtime/block_on.h"
#include "runtime/task_scope.h"
#include "runtime/tcp.h"
#include "tests/unit/runtime/io_backends.h"

namespace corral::rt {
namespace {

using namespace std::chrono_literals;

SocketAddress loopback(uint16_t port = 0) { return *SocketAddress::parse("127.0.0.1", port); }

/// Certificates made for the suite with the openssl CLI: a CA, a server certificate for localhost and
/// 127.0.0.1 signed by it, a client certificate signed by it, and an unrelated CA.
class Tls : public OnEachBackend {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("corral-tls-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "san.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
    const std::string d = dir_.string();
    const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string script =
        "cd " + d + " && (" +
        "openssl req -x509" + key + " -keyout ca.key -out ca.crt -days 2 -subj /CN=corral-test-ca && " +
        "openssl req -x509" + key + " -keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=other-ca && " +
        "openssl req" + key + " -keyout server.key -out server.csr -subj /CN=localhost && " +
        "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 "
        "-extfile san.ext -out server.crt && " +
        "openssl req" + key + " -keyout client.key -out client.csr -subj /CN=corral-client && " +
        "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out client.crt"
        ") >openssl.log 2>&1";
    ASSERT_EQ(std::system(script.c_str()), 0) << "openssl CLI failed, see " << d << "/openssl.log";
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  static std::string file(const char* name) { return (dir_ / name).string(); }

  static TlsContext server_context(bool require_client_cert = false) {
    TlsOptions options;
    options.cert_file = file("server.crt");
    options.key_file = file("server.key");
    if (require_client_cert) {
      options.ca_file = file("ca.crt");
      options.require_peer_cert = true;
    }
    auto context = TlsContext::server(options);
    EXPECT_TRUE(context.ok()) << context.error();
    return std::move(context).value();
  }

  static TlsContext client_context(const char* ca = "ca.crt", bool with_cert = false) {
    TlsOptions options;
    options.ca_file = file(ca);
    if (with_cert) {
      options.cert_file = file("client.crt");
      options.key_file = file("client.key");
    }
    auto context = TlsContext::client(options);
    EXPECT_TRUE(context.ok()) << context.error();
    return std::move(context).value();
  }

  static inline std::filesystem::path dir_;
};

/// A connected pair over loopback: [0] the client side, [1] the accepted side.
struct Pair {
  TcpStream client;
  TcpStream server;
};

Task<Pair> connect_pair(EventLoop* loop) {
  auto listener = TcpListener::bind(*loop, loopback());
  auto client = co_await TcpStream::connect(*loop, loopback(listener->port()), Deadline::after(5s));
  auto server = co_await listener->accept();
  EXPECT_TRUE(client.ok() && server.ok());
  co_return Pair{std::move(*client), std::move(*server)};
}

Task<void> server_handshake(TcpStream* stream, const TlsContext* context, std::error_code* out) {
  auto done = co_await stream->start_tls_server(*context, Deadline::after(5s));
  *out = done.error();
}

/// Runs both handshakes at once; returns {client error, server error}.
Task<std::pair<std::error_code, std::error_code>> handshake(Pair* pair, const TlsContext* server_ctx,
                                                            const TlsContext* client_ctx,
                                                            std::string server_name = "localhost") {
  std::error_code server_error;
  TaskScope scope;
  scope.spawn(server_handshake(&pair->server, server_ctx, &server_error));
  auto client_done = co_await pair->client.start_tls_client(*client_ctx, server_name, Deadline::after(5s));
  co_await scope.join();
  co_return std::pair{client_done.error(), server_error};
}

std::string pattern(std::size_t size) {
  std::string data(size, '\0');
  for (std::size_t i = 0; i < size; ++i) data[i] = static_cast<char>('a' + (i * 7 + i / 4096) % 26);
  return data;
}

Task<std::string> read_all(TcpStream* stream, std::size_t size) {
  std::string out;
  std::vector<char> buffer(64 * 1024);
  while (out.size() < size) {
    auto n = co_await stream->read_some(buffer, Deadline::after(10s));
    if (!n || *n == 0) break;
    out.append(buffer.data(), *n);
  }
  co_return out;
}

Task<void> echo(TcpStream* stream) {
  std::vector<char> buffer(16 * 1024);
  for (;;) {
    auto n = co_await stream->read_some(buffer, Deadline::after(10s));
    if (!n || *n == 0) co_return;
    auto written = co_await stream->write_all({buffer.data(), *n}, Deadline::after(10s));
    if (!written) co_return;
  }
}

Task<void> write_everything(TcpStream* stream, const std::string* data) {
  auto written = co_await stream->write_all(*data, Deadline::after(10s));
  EXPECT_TRUE(written.ok()) << written.error().message();
}

/// Waits in the reader slot for the socket to become writable, as a TLS read that got WANT_WRITE does.
struct WritableFromReaderSlot {
  IoHandle* io;
  Waiter waiter;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> handle) {
    io->reader_wants_write = true;
    return waiter.arm(*io->loop, handle, io, false, Deadline::after(2s), nullptr, &on_ready, this);
  }
  static bool on_ready(void* self) { return static_cast<WritableFromReaderSlot*>(self)->io->writable; }
  WakeReason await_resume() const noexcept { return waiter.reason(); }
};

class TlsEventLoop : public OnEachBackend {};

TEST_P(TlsEventLoop, AWriteEdgeRetriesAReaderThatWantsToWrite) {
  EventLoop loop(GetParam());
  auto body = [](EventLoop* l) -> Task<void> {
    Pair pair = co_await connect_pair(l);
    const int small = 16 * 1024;
    ::setsockopt(pair.client.fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    const std::string chunk(64 * 1024, 'x');
    while (::send(pair.client.fd(), chunk.data(), chunk.size(), MSG_NOSIGNAL | MSG_DONTWAIT) > 0) {
    }
    pair.client.io()->writable = false;  // what the failed send told
    TaskScope drainer;
    auto drain = [](TcpStream* server) -> Task<void> {
      co_await sleep_for(10ms);
      std::vector<char> buffer(1 << 20);
      for (int i = 0; i < 64; ++i) {
        auto n = co_await server->read_some(buffer, Deadline::after(50ms));
        if (!n) break;
      }
    };
    drainer.spawn(drain(&pair.server));
    const auto start = Clock::now();
    const WakeReason reason = co_await WritableFromReaderSlot{pair.client.io(), {}};
    EXPECT_EQ(reason, WakeReason::Ready) << "only the writable edge can end this wait";
    EXPECT_LT(Clock::now() - start, 1s);
    co_await drainer.join();
  };
  block_on(loop, body(&loop));
}

TEST_P(Tls, HandshakeThenDataBothWays) {
  EventLoop loop(GetParam());
  const TlsContext server_ctx = server_context();
  const TlsContext client_ctx = client_context();
  auto body = [](EventLoop* l, const TlsContext* s, const TlsContext* c) -> Task<void> {
    Pair pair = co_await connect_pair(l);
    const auto [client_error, server_error] = co_await handshake(&pair, s, c);
    EXPECT_FALSE(client_error) << client_error.message();
    EXPECT_FALSE(server_error) << server_error.message();
    EXPECT_TRUE(pair.client.is_tls() && pair.server.is_tls());
    auto sent = co_await pair.client.write_all(std::string_view("PING\r\n"));
    EXPECT_TRUE(sent.ok());
    const std::string request = co_await read_all(&pair.server, 6);
    EXPECT_EQ(request, "PING\r\n");
    auto replied = co_await pair.server.write_all(std::string_view("+PONG\r\n"));
    EXPECT_TRUE(replied.ok());
    const std::string reply = co_await read_all(&pair.client, 7);
    EXPECT_EQ(reply, "+PONG\r\n");
    // A close after TLS reads as end of stream on the other side.
    pair.server.close();
    std::vector<char> buffer(16);
    auto eof = co_await pair.client.read_some(buffer, Deadline::after(5s));
    EXPECT_TRUE(eof.ok() && *eof == 0);
  };
  block_on(loop, body(&loop, &server_ctx, &client_ctx));
}

TEST_P(Tls, SixteenMebibytesEchoedWhileWritingAndReadingAtOnce) {
  EventLoop loop(GetParam());
  const TlsContext server_ctx = server_context();
  const TlsContext client_ctx = client_context();
  auto body = [](EventLoop* l, const TlsContext* s, const TlsContext* c) -> Task<void> {
    Pair pair = co_await connect_pair(l);
    const auto [client_error, server_error] = co_await handshake(&pair, s, c);
    EXPECT_FALSE(client_error || server_error);
    const std::string data = pattern(16 << 20);
    TaskScope scope;
    scope.spawn(echo(&pair.server));
    // One writer and one reader on the client stream at the same time, as a session has: the echo
    // fills both socket buffers, so each side's reads and writes must interleave to finish.
    scope.spawn(write_everything(&pair.client, &data));
    const std::string echoed = co_await read_all(&pair.client, data.size());
    EXPECT_EQ(echoed.size(), data.size());
    EXPECT_TRUE(echoed == data);
    pair.client.close();
    co_await scope.join();
  };
  block_on(loop, body(&loop, &server_ctx, &client_ctx));
}

TEST_P(Tls, WritevAndTryWritevSendEveryBufferInOrder) {
  EventLoop loop(GetParam());
  const TlsContext server_ctx = server_context();
  const TlsContext client_ctx = client_context();
  auto body = [](EventLoop* l, const TlsContext* s, const TlsContext* c) -> Task<void> {
    Pair pair = co_await connect_pair(l);
    const auto [client_error, server_error] = co_await handshake(&pair, s, c);
    EXPECT_FALSE(client_error || server_error);
    // Many small buffers (gathered into records) then a large one (sent from place).
    const std::string big = pattern(3 << 20);
    std::vector<std::string> parts;
    for (int i = 0; i < 1000; ++i) parts.push_back("+part " + std::to_string(i) + "\r\n");
    std::vector<iovec> iov;
    std::string expected;
    for (auto& p : parts) {
      iov.push_back({p.data(), p.size()});
      expected += p;
    }
    iov.push_back({const_cast<char*>(big.data()), big.size()});
    expected += big;
    std::span<iovec> pending(iov);
    // Small socket buffers, so that 3 MiB cannot fit at once whatever the kernel's autotuning.
    const int small = 64 * 1024;
    ::setsockopt(pair.client.fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
    ::setsockopt(pair.server.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    // try_writev sends what fits now; the rest (the reader is not reading yet) goes with writev_all.
    auto tried = pair.client.try_writev(pending);
    EXPECT_TRUE(tried.ok()) << tried.error().message();
    EXPECT_FALSE(pending.empty()) << "3 MiB should not fit in the socket buffers at once";
    TaskScope scope;
    auto rest = [](TcpStream* stream, std::span<iovec> left) -> Task<void> {
      auto written = co_await stream->writev_all(left, Deadline::after(10s));
      EXPECT_TRUE(written.ok()) << written.error().message();
    };
    scope.spawn(rest(&pair.client, pending));
    const std::string received = co_await read_all(&pair.server, expected.size());
    co_await scope.join();
    EXPECT_EQ(received.size(), expected.size());
    EXPECT_TRUE(received == expected);
  };
  block_on(loop, body(&loop, &server_ctx, &client_ctx));
}

TEST_P(Tls, PeerClosingMidHandshakeFailsTheHandshakeAtOnce) {
  EventLoop loop(GetParam());
  const TlsContext server_ctx = server_context();
  const TlsContext client_ctx = client_context();
  auto body = [](EventLoop* l, const TlsContext* s, const TlsContext* c) -> Task<void> {
    {
      // A client that sends half a ClientHello's worth of bytes and goes away.
      Pair pair = co_await connect_pair(l);
      auto sent = co_await pair.client.write_all(std::string_view("\x16\x03\x01\x02\x00\x01", 6));
      EXPECT_TRUE(sent.ok());
      pair.client.close();
      const auto start = Clock::now();
      auto done = co_await pair.server.start_tls_server(*s, Deadline::after(5s));
      EXPECT_FALSE(done.ok());
      EXPECT_NE(done.error(), std::errc::timed_out);
      EXPECT_LT(Clock::now() - start, 1s);
    }
    {
      // A server that accepts and closes without a word.
      Pair pair = co_await connect_pair(l);
      pair.server.close();
      auto done = co_await pair.client.start_tls_client(*c, "localhost", Deadline::after(5s));
      EXPECT_FALSE(done.ok());
      EXPECT_NE(done.error(), std::errc::timed_out);
    }
    {
      // A plain-text client (a RESP command) on a TLS server: refused, not waited on.
      Pair pair = co_await connect_pair(l);
      auto sent = co_await pair.client.write_all(std::string_view("PING\r\n"));
      EXPECT_TRUE(sent.ok());
      auto done = co_await pair.server.start_tls_server(*s, Deadline::after(5s));
      EXPECT_FALSE(done.ok());
      EXPECT_EQ(done.error().category(), tls_category()) << done.error().message();
    }
  };
  block_on(loop, body(&loop, &server_ctx, &client_ctx));
}

TEST_P(Tls, HandshakeDeadlineEndsASilentPeer) {
  EventLoop loop(GetParam());
  const TlsContext server_ctx = server_context();
  auto body = [](EventLoop* l, const TlsContext* s) -> Task<void> {
    Pair pair = co_await connect_pair(l);
    auto done = co_await pair.server.start_tls_server(*s, Deadline::after(50ms));
    EXPECT_EQ(done.error(), std::errc::timed_out);
    EXPECT_EQ(pair.server.io()->reader, nullptr);
  };
  block_on(loop, body(&loop, &server_ctx));
}

TEST_P(Tls, HandshakesAreCountedOnStreamsThatHaveCounters) {
  EventLoop loop(GetParam());
  const TlsContext server_ctx = server_context();
  const TlsContext right_ca = client_context();
  const TlsContext wrong_ca = client_context("other-ca.crt");
  TlsHandshakeCounters servers;
  TlsHandshakeCounters clients;
  auto body = [](EventLoop* l, const TlsContext* s, const TlsContext* right, const TlsContext* wrong,
                 TlsHandshakeCounters* server_counts, TlsHandshakeCounters* client_counts) -> Task<void> {
    for (const TlsContext* client_ctx : {right, wrong}) {
      Pair pair = co_await connect_pair(l);
      pair.server.count_tls_handshakes(server_counts);
      pair.client.count_tls_handshakes(client_counts);
      co_await handshake(&pair, s, client_ctx);
    }
    Pair silent = co_await connect_pair(l);  // a client that never says hello: the deadline counts as failed
    silent.server.count_tls_handshakes(server_counts);
    auto done = co_await silent.server.start_tls_server(*s, Deadline::after(20ms));
    EXPECT_FALSE(done.ok());
    Pair uncounted = co_await connect_pair(l);  // no counters: nothing counted
    co_await handshake(&uncounted, s, right);
  };
  block_on(loop, body(&loop, &server_ctx, &right_ca, &wrong_ca, &servers, &clients));
  EXPECT_EQ(clients.ok.load(), 1u);
  EXPECT_EQ(clients.failed.load(), 1u);
  EXPECT_EQ(servers.ok.load(), 1u);
  EXPECT_EQ(servers.failed.load(), 2u);
}

TEST_P(Tls, CertificateFromAnotherCaOrForAnotherNameIsRefused) {
  EventLoop loop(GetParam());
  const TlsContext server_ctx = server_context();
  const TlsContext wrong_ca = client_context("other-ca.crt");
  const TlsContext right_ca = client_context();
  auto body = [](EventLoop* l, const TlsContext* s, const TlsContext* wrong, const TlsContext* right) -> Task<void> {
    {
      Pair pair = co_await connect_pair(l);
      const auto [client_error, server_error] = co_await handshake(&pair, s, wrong);
      EXPECT_EQ(client_error.category(), tls_verify_category()) << client_error.message();
      EXPECT_EQ(client_error.message(), "certificate verify failed: unable to get local issuer certificate");
      EXPECT_TRUE(server_error);
    }
    {
      Pair pair = co_await connect_pair(l);
      const auto [client_error, server_error] = co_await handshake(&pair, s, right, "db.example.com");
      EXPECT_EQ(client_error.message(), "certificate verify failed: hostname mismatch");
    }
    {
      Pair pair = co_await connect_pair(l);
      const auto [client_error, server_error] = co_await handshake(&pair, s, right, "127.0.0.1");
      EXPECT_FALSE(client_error) << client_error.message();
    }
  };
  block_on(loop, body(&loop, &server_ctx, &wrong_ca, &right_ca));
}

// MySQL's ssl-mode=VERIFY_CA checks the chain but not the name; REQUIRED checks nothing.
TEST_P(Tls, ChainOnlyAndUnverifiedClientContexts) {
  EventLoop loop(GetParam());
  const TlsContext server_ctx = server_context();
  TlsOptions chain_only;
  chain_only.ca_file = file("ca.crt");
  chain_only.verify_host = false;
  auto chain = TlsContext::client(chain_only);
  ASSERT_TRUE(chain.ok()) << chain.error();
  EXPECT_TRUE(chain->verifies_peer());
  EXPECT_FALSE(chain->verifies_host());
  TlsOptions wrong_ca_chain_only = chain_only;
  wrong_ca_chain_only.ca_file = file("other-ca.crt");
  auto wrong_chain = TlsContext::client(wrong_ca_chain_only);
  ASSERT_TRUE(wrong_chain.ok()) << wrong_chain.error();
  TlsOptions none;
  none.verify_peer = false;
  auto unverified = TlsContext::client(none);
  ASSERT_TRUE(unverified.ok()) << unverified.error();
  EXPECT_FALSE(unverified->verifies_peer());
  auto body = [](EventLoop* l, const TlsContext* s, const TlsContext* chain_ctx, const TlsContext* wrong_ctx,
                 const TlsContext* none_ctx) -> Task<void> {
    {
      Pair pair = co_await connect_pair(l);
      const auto [client_error, server_error] = co_await handshake(&pair, s, chain_ctx, "db.example.com");
      EXPECT_FALSE(client_error) << "a chain-only check ignores the name: " << client_error.message();
    }
    {
      Pair pair = co_await connect_pair(l);
      const auto [client_error, server_error] = co_await handshake(&pair, s, wrong_ctx, "localhost");
      EXPECT_EQ(client_error.message(), "certificate verify failed: unable to get local issuer certificate");
    }
    {
      Pair pair = co_await connect_pair(l);
      const auto [client_error, server_error] = co_await handshake(&pair, s, none_ctx, "db.example.com");
      EXPECT_FALSE(client_error) << "an unverified context takes any certificate: " << client_error.message();
    }
  };
  block_on(loop, body(&loop, &server_ctx, &*chain, &*wrong_chain, &*unverified));
}

TEST_P(Tls, RequiredClientCertificate) {
  EventLoop loop(GetParam());
  const TlsContext server_ctx = server_context(/*require_client_cert=*/true);
  const TlsContext without = client_context();
  const TlsContext with = client_context("ca.crt", /*with_cert=*/true);
  auto body = [](EventLoop* l, const TlsContext* s, const TlsContext* no_cert, const TlsContext* cert) -> Task<void> {
    {
      Pair pair = co_await connect_pair(l);
      const auto [client_error, server_error] = co_await handshake(&pair, s, no_cert);
      EXPECT_TRUE(server_error) << "a client without a certificate must be refused";
      // TLS 1.3: the client learns of the refusal on its first read.
      std::vector<char> buffer(16);
      auto read = co_await pair.client.read_some(buffer, Deadline::after(5s));
      EXPECT_TRUE(client_error || !read.ok() || *read == 0);
    }
    {
      Pair pair = co_await connect_pair(l);
      const auto [client_error, server_error] = co_await handshake(&pair, s, cert);
      EXPECT_FALSE(client_error) << client_error.message();
      EXPECT_FALSE(server_error) << server_error.message();
    }
  };
  block_on(loop, body(&loop, &server_ctx, &without, &with));
}

TEST_P(Tls, ContextErrorsNameTheFile) {
  TlsOptions options;
  options.cert_file = file("missing.crt");
  options.key_file = file("server.key");
  auto missing = TlsContext::server(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().rfind("cannot load the certificate chain " + file("missing.crt") + ": ", 0), 0u)
      << missing.error();

  options.cert_file = file("server.crt");
  options.key_file = file("client.key");
  auto mismatch = TlsContext::server(options);
  ASSERT_FALSE(mismatch.ok());
  EXPECT_EQ(mismatch.error(), "the private key " + file("client.key") + " does not match the certificate " +
                                  file("server.crt"));

  options.key_file = file("server.key");
  options.require_peer_cert = true;
  auto no_ca = TlsContext::server(options);
  ASSERT_FALSE(no_ca.ok());
  EXPECT_EQ(no_ca.error(), "requiring client certificates needs a client CA file");
}

CORRAL_ON_EACH_BACKEND(TlsEventLoop);
CORRAL_ON_EACH_BACKEND(Tls);

}  // namespace
}  // namespace corral::rt
