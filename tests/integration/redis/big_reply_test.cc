// Replies of 64 MiB and more stream through corral: a client that reads gets them whole while
// corral's memory stays far below the value's size; a client that does not read is closed at
// client.output_buffer_limit with a log line, and the clients sharing its pool go on meanwhile.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/socket.h>

#include <fstream>
#include <string>

#include "redis_path.h"

namespace corral::testing::redis_it {
namespace {

using ::testing::HasSubstr;

constexpr std::size_t kMiB = 1024 * 1024;

/// The peak resident set size of process `pid` so far (VmHWM), in KiB.
uint64_t peak_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

/// Makes `key` a string of `size` zero bytes on the backend without sending it (SETRANGE).
void make_value(RedisServer& server, const std::string& key, std::size_t size) {
  ASSERT_EQ(server.command({"SETRANGE", key, std::to_string(size - 1), "z"}), ":" + std::to_string(size) + "\r\n");
}

/// Reads one bulk string reply of `size` bytes from `client` and checks its framing and last byte.
void expect_bulk_of(RedisClient& client, std::size_t size) {
  const std::string reply = client.read_reply();
  const std::string header = "$" + std::to_string(size) + "\r\n";
  ASSERT_EQ(reply.size(), header.size() + size + 2);
  EXPECT_EQ(reply.substr(0, header.size()), header);
  EXPECT_EQ(reply.substr(reply.size() - 3), "z\r\n");
}

class BigReplies : public RedisPathTest {};

TEST_F(BigReplies, AFastReaderGets64And200MiBValuesWithCorralFarBelowTheirSize) {
  start_proxy({.workers = 1});
  make_value(backend(), "v64", 64 * kMiB);
  make_value(backend(), "v200", 200 * kMiB);
  RedisClient client = connect(60s);
  const uint64_t before = peak_rss_kib(proxy().pid());
  client.send(encode_command({"GET", "v64"}));
  expect_bulk_of(client, 64 * kMiB);
  const uint64_t after_64 = peak_rss_kib(proxy().pid());
  client.send(encode_command({"GET", "v200"}));
  expect_bulk_of(client, 200 * kMiB);
  const uint64_t after_200 = peak_rss_kib(proxy().pid());
  std::printf("corral peak RSS: %llu KiB at start, %llu KiB after GET 64 MiB, %llu KiB after GET 200 MiB\n",
              static_cast<unsigned long long>(before), static_cast<unsigned long long>(after_64),
              static_cast<unsigned long long>(after_200));
  // A reader that keeps up costs a few MiB (the 1 MiB window; 3 MiB measured on an idle machine).
  // One starved for a second on a loaded machine has its bytes queued, but only up to
  // client.output_buffer_limit (64 MiB by default; the buffer's growth may briefly double it):
  // never the value (1x would be 200 MiB; buffering whole replies took 2x).
  EXPECT_LT(after_200 - before, 128u * 1024) << "corral buffered the reply instead of streaming it";
  EXPECT_EQ(client.command({"PING"}), "+PONG\r\n");
}

TEST_F(BigReplies, ANonReadingClientIsClosedAtTheLimitAndItsPoolGoesOn) {
  start_proxy({.workers = 1, .client_toml = "output_buffer_limit = 8388608\n"});
  make_value(backend(), "big", 64 * kMiB);
  RedisClient reader = connect(60s);
  ASSERT_EQ(reader.command({"SET", "small", "s"}), "+OK\r\n");
  RedisClient stuck = connect();
  stuck.send(encode_command({"GET", "big"}));
  // While corral waits on `stuck`, the other clients of its pool are served on.
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(reader.command({"GET", "small"}), "$1\r\ns\r\n");
  EXPECT_LT(elapsed_ms(start), 3000);
  std::string received;
  EXPECT_TRUE(stuck.wait_closed(15s, &received));
  EXPECT_LT(received.size(), 64 * kMiB) << "the client got the whole reply: no limit applied";
  EXPECT_TRUE(poll_until([&] { return proxy().log().find("client.output_buffer_limit") != std::string::npos; }, 5s))
      << proxy().log();
  // The connection the big reply came on is usable: a fast reader gets the same value whole.
  reader.send(encode_command({"GET", "big"}));
  reader.set_timeout(60s);
  expect_bulk_of(reader, 64 * kMiB);
  EXPECT_EQ(reader.command({"GET", "small"}), "$1\r\ns\r\n");
}

TEST_F(BigReplies, ABigBlockingReplyStreamsWithoutWaitingOnTheClient) {
  start_proxy({.workers = 1});
  const std::string element(16 * kMiB, 'e');
  ASSERT_EQ(backend().command({"RPUSH", "list", element}), ":1\r\n");
  RedisClient client = connect(30s);
  const auto start = std::chrono::steady_clock::now();
  const std::string reply = client.command({"BLPOP", "list", "5"});
  // The session writes the reply while it arrives: the backend connection never waits the second
  // it gives a client that takes nothing (ReplySink::over_window()), which took it past 1 s.
  EXPECT_LT(elapsed_ms(start), 1000);
  EXPECT_EQ(reply, "*2\r\n$4\r\nlist\r\n$" + std::to_string(element.size()) + "\r\n" + element + "\r\n");
}

TEST_F(BigReplies, ABackendLostInTheMiddleOfAStreamedReplyClosesThatClient) {
  start_proxy({.workers = 1, .pool_toml = "reconnect_backoff_min_ms = 20\nreconnect_backoff_max_ms = 100\n"});
  make_value(backend(), "big", 64 * kMiB);
  RedisClient client = connect(30s);
  client.send(encode_command({"GET", "big"}));
  // Read the start of the reply, then the backend dies while the rest is on its way.
  std::string start(1 * kMiB, '\0');
  std::size_t got = 0;
  while (got < start.size()) {
    const ssize_t n = ::recv(client.fd(), start.data() + got, start.size() - got, 0);
    ASSERT_GT(n, 0);
    got += static_cast<std::size_t>(n);
  }
  EXPECT_EQ(start.substr(0, 11), "$67108864\r\n");
  backend().kill();
  // An error line inside the bulk string would be taken for data: the client is closed instead.
  std::string rest;
  EXPECT_TRUE(client.wait_closed(10s, &rest));
  EXPECT_LT(got + rest.size(), 64 * kMiB);
  EXPECT_TRUE(poll_until([&] { return proxy().log().find("in the middle of a reply") != std::string::npos; }, 5s))
      << proxy().log();
  // corral goes on: a new client gets the backend's error, then its data once it is back.
  RedisClient other = connect(5s);
  EXPECT_THAT(other.command({"GET", "k"}), ::testing::StartsWith("-ERR corral: backend"));
  backend().restart();
  EXPECT_TRUE(poll_until([&] { return other.command({"SET", "k", "v"}) == "+OK\r\n"; }, 5s));
}

}  // namespace
}  // namespace corral::testing::redis_it
