// What clients see when things go wrong on their side or before the backend: protocol errors, an
// unreachable backend, the client limit, QUIT; and requests framed in unusual ways.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <thread>

#include "redis_path.h"

namespace corral::testing::redis_it {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

class ClientFailure : public RedisPathTest {};

TEST_F(ClientFailure, MalformedInputGetsOneProtocolErrorThenTheConnectionCloses) {
  start_proxy();
  for (const std::string_view bad : {std::string_view("*abc\r\n"), std::string_view("*1\r\n$x\r\n"),
                                     std::string_view("*1\r\n+PING\r\n")}) {
    RedisClient direct = connect_direct();
    direct.send(bad);
    std::string direct_bytes;
    ASSERT_TRUE(direct.wait_closed(5s, &direct_bytes));

    RedisClient client = connect();
    EXPECT_EQ(client.command({"SET", "k", "v"}), "+OK\r\n");
    client.send(std::string(bad) + encode_command({"GET", "k"}));
    std::string bytes;
    EXPECT_TRUE(client.wait_closed(5s, &bytes)) << "connection left open after " << bad;
    EXPECT_THAT(bytes, StartsWith("-ERR Protocol error: "));
    EXPECT_EQ(bytes, direct_bytes) << "for input " << ::testing::PrintToString(std::string(bad));
  }
  EXPECT_EQ(RedisClient(connect()).command({"GET", "k"}), "$1\r\nv\r\n");  // others are unaffected
}

TEST_F(ClientFailure, UnreachableBackendIsNamedWithoutItsPassword) {
  const uint16_t closed_port = pick_free_port();  // nothing listens there
  start_proxy({.backend = "redis://app:s3cret-pw@127.0.0.1:" + std::to_string(closed_port)});
  RedisClient client = connect(5s);
  const std::string address = "127.0.0.1:" + std::to_string(closed_port);
  for (int i = 0; i < 3; ++i) {
    const std::string reply = client.command({"GET", "k"});
    EXPECT_THAT(reply, StartsWith("-ERR "));
    EXPECT_THAT(reply, HasSubstr(address));
    EXPECT_THAT(reply, Not(HasSubstr("s3cret")));
  }
  // The dedicated-connection paths say the same.
  for (const auto& command : std::vector<std::vector<std::string>>{{"MULTI"}, {"BLPOP", "l", "1"}, {"SUBSCRIBE", "c"}}) {
    const std::string reply = client.command(command);
    EXPECT_THAT(reply, StartsWith("-ERR ")) << command[0];
    EXPECT_THAT(reply, HasSubstr(address)) << command[0];
    EXPECT_THAT(reply, Not(HasSubstr("s3cret"))) << command[0];
  }
  // PING is forwarded, so it fails like the rest (BackendFailure.PingFailsLikeEveryCommand...).
  const std::string ping = client.command({"PING"});
  EXPECT_THAT(ping, HasSubstr(address));
  EXPECT_THAT(ping, Not(HasSubstr("s3cret")));
  EXPECT_EQ(client.command({"ECHO", "x"}), "$1\r\nx\r\n");  // the client connection itself is fine
  EXPECT_THAT(proxy().log(), Not(HasSubstr("s3cret")));
}

/// Waits (up to 5 s) until corral reports `n` open client connections.
void wait_client_connections(uint16_t admin_port, uint64_t n) {
  wait_until([&] { return admin_metric(admin_port, "corral_client_connections") == n; }, 5s,
             "corral_client_connections " + std::to_string(n));
}

TEST_F(ClientFailure, ClientBeyondMaxConnectionsIsRefused) {
  const uint16_t admin_port = pick_free_port();
  start_proxy({.server_toml = "admin = \"127.0.0.1:" + std::to_string(admin_port) + "\"\n",
               .client_toml = "max_connections = 5\n"});
  wait_client_connections(admin_port, 0);  // the harness's readiness probes are gone
  std::vector<RedisClient> clients;
  for (int i = 0; i < 5; ++i) {
    clients.push_back(connect(5s));
    EXPECT_EQ(clients.back().command({"PING"}), "+PONG\r\n");
  }
  RedisClient sixth = connect(5s);
  std::string bytes;
  EXPECT_TRUE(sixth.wait_closed(5s, &bytes));
  EXPECT_EQ(bytes, "-ERR max number of clients reached\r\n");
  // A slot that frees up can be taken again.
  clients.pop_back();
  wait_client_connections(admin_port, 4);
  RedisClient again = connect(5s);
  EXPECT_EQ(again.command({"SET", "k", "v"}), "+OK\r\n");
  for (auto& c : clients) EXPECT_EQ(c.command({"GET", "k"}), "$1\r\nv\r\n");
}

TEST_F(ClientFailure, ClientThatStopsReadingIsClosedAtTheOutputBufferLimit) {
  const uint16_t admin_port = pick_free_port();
  start_proxy({.server_toml = "admin = \"127.0.0.1:" + std::to_string(admin_port) + "\"\n",
               .client_toml = "output_buffer_limit = 1048576\n"});
  RedisClient setup = connect(5s);
  EXPECT_EQ(setup.command({"SET", "big", std::string(512 * 1024, 'x')}), "+OK\r\n");
  // 200 replies of 512 KiB (100 MiB) to a client that reads nothing: far beyond the socket buffers,
  // so the replies pile up in corral until the 1 MiB limit closes this client.
  RedisClient greedy = connect(5s);
  // Counted first: waiting for "1 client" below must not be met before corral has accepted this one.
  wait_client_connections(admin_port, 2);
  std::string pipeline;
  for (int i = 0; i < 200; ++i) pipeline += encode_command({"GET", "big"});
  greedy.send(pipeline);
  // Reading nothing until corral has closed it: a client that read would drain the replies and never
  // reach the limit. `setup` is then the only client left.
  wait_client_connections(admin_port, 1);
  std::string received;
  EXPECT_TRUE(greedy.wait_closed(10s, &received));
  EXPECT_LT(received.size(), 100u * 512 * 1024) << "the client got every reply: no limit applied";
  // corral itself is fine and serves others.
  EXPECT_EQ(setup.command({"PING"}), "+PONG\r\n");
}

TEST_F(ClientFailure, QuitRepliesOkAndCloses) {
  start_proxy();
  RedisClient client = connect();
  EXPECT_EQ(client.command({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(client.command({"QUIT"}), "+OK\r\n");
  EXPECT_TRUE(client.wait_closed(5s));
  // Pipelined: replies before QUIT arrive, nothing after it runs.
  RedisClient pipelined = connect();
  pipelined.send(encode_command({"GET", "k"}) + encode_command({"PING"}) + encode_command({"QUIT"}) +
                 encode_command({"SET", "k", "changed"}));
  std::string bytes;
  EXPECT_TRUE(pipelined.wait_closed(5s, &bytes));
  EXPECT_EQ(bytes, "$1\r\nv\r\n+PONG\r\n+OK\r\n");
  EXPECT_EQ(backend().command({"GET", "k"}), "$1\r\nv\r\n");
}

TEST_F(ClientFailure, HalfClosedClientGetsItsRepliesAndIsClosed) {
  // A client that sends its requests and shuts down its writing side at once (`printf ... | nc`):
  // the requests and the end of stream arrive together. redis-server answers and closes.
  start_proxy();
  for (int i = 0; i < 20; ++i) {
    for (const bool direct : {true, false}) {
      RedisClient client = direct ? connect_direct(5s) : connect(5s);
      // One round trip first, so the server already waits for this client's next request.
      ASSERT_EQ(client.command({"PING"}), "+PONG\r\n");
      // Corked, the requests leave with the FIN in one segment: the server sees both at once.
      const int on = 1;
      ASSERT_EQ(::setsockopt(client.fd(), IPPROTO_TCP, TCP_CORK, &on, sizeof on), 0);
      client.send("PING\r\n" + encode_command({"ECHO", "e" + std::to_string(i)}));
      ASSERT_EQ(::shutdown(client.fd(), SHUT_WR), 0);
      std::string bytes;
      ASSERT_TRUE(client.wait_closed(3s, &bytes)) << (direct ? "redis-server" : "corral") << " left it open";
      EXPECT_EQ(bytes, "+PONG\r\n$" + std::to_string(2 + (i >= 10)) + "\r\ne" + std::to_string(i) + "\r\n");
    }
  }
}

TEST_F(ClientFailure, InlineAndByteAtATimeRequestsWork) {
  start_proxy();
  RedisClient client = connect();
  client.send("SET inline \"two words\"\r\nGET inline\r\nPING\r\n");
  EXPECT_EQ(client.read_reply(), "+OK\r\n");
  EXPECT_EQ(client.read_reply(), "$9\r\ntwo words\r\n");
  EXPECT_EQ(client.read_reply(), "+PONG\r\n");
  const std::string pipeline = encode_command({"SET", "slow", "drip"}) + encode_command({"GET", "slow"}) +
                               encode_command({"ECHO", "byte"}) + "GET slow\r\n";
  for (const char c : pipeline) {
    client.send(std::string_view(&c, 1));
    // Not a wait for anything: the pause is the point, so each byte tends to arrive in a read of its
    // own. Nothing is asserted about timing; the replies below are complete whatever the split.
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  EXPECT_EQ(client.read_reply(), "+OK\r\n");
  EXPECT_EQ(client.read_reply(), "$4\r\ndrip\r\n");
  EXPECT_EQ(client.read_reply(), "$4\r\nbyte\r\n");
  EXPECT_EQ(client.read_reply(), "$4\r\ndrip\r\n");
  // Errors corral gives itself read as redis-server's.
  RedisClient direct = connect_direct();
  for (const auto& command : std::vector<std::vector<std::string>>{{"GET"}, {"SELECT", "x"}, {"SELECT", "99"}, {"SELECT", "99999999999"},
                                                                   {"NOSUCHCOMMAND", "a"}, {"CLIENT", "SETNAME", "a b"},
                                                                   {"PING", "a", "b"}}) {
    EXPECT_EQ(client.command(command), direct.command(command)) << ::testing::PrintToString(command);
  }
}

}  // namespace
}  // namespace corral::testing::redis_it
