// Many clients at once: replies never cross between clients, SELECTed databases stay apart, and a
// thousand busy clients share a bounded number of backend connections.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <latch>
#include <mutex>
#include <thread>

#include "redis_path.h"

namespace corral::testing::redis_it {
namespace {

using ::testing::IsEmpty;

class Concurrency : public RedisPathTest {};

/// Command `j` of client `c`'s pipeline and the reply it must get. Every reply names its client, so
/// a reply delivered to the wrong client or out of order cannot match.
struct Step {
  std::vector<std::string> command;
  std::string expected;
};

std::vector<Step> client_pipeline(int c, int count) {
  std::vector<Step> steps;
  const std::string id = std::to_string(c);
  for (int j = 0; j < count; ++j) {
    const int i = j / 4;
    const std::string key = "k:" + id + ":" + std::to_string(i);
    const std::string value = "v" + id + ":" + std::to_string(i);
    switch (j % 4) {
      case 0: steps.push_back({{"SET", key, value}, "+OK"}); break;
      case 1: steps.push_back({{"GET", key}, "$" + value}); break;
      case 2: steps.push_back({{"INCR", "n:" + id}, ":" + std::to_string(i + 1)}); break;
      default:
        if (i % 25 == 0) {
          // A local reply in the middle of forwarded ones must keep its place.
          steps.push_back({{"ECHO", "e" + value}, "$e" + value});
        } else {
          steps.push_back({{"MGET", key, "n:" + id}, "*2[$" + value + ",$" + std::to_string(i + 1) + "]"});
        }
    }
  }
  return steps;
}

TEST_F(Concurrency, PipelinedClientsGetOnlyTheirOwnRepliesInOrder) {
  start_proxy();
  constexpr int kClients = 200;
  constexpr int kCommands = 1000;
  const uint16_t port = proxy_port();
  std::mutex mutex;
  std::vector<std::string> failures;
  std::atomic<int> checked{0};
  std::latch start(kClients);
  std::vector<std::thread> threads;
  threads.reserve(kClients);
  for (int c = 0; c < kClients; ++c) {
    threads.emplace_back([&, c] {
      std::string failure;
      try {
        Hiredis client = Hiredis::connect(port, 30s);
        const std::vector<Step> steps = client_pipeline(c, kCommands);
        start.arrive_and_wait();  // every client pipelines at the same time
        for (const Step& step : steps) client.append(step.command);
        for (std::size_t j = 0; j < steps.size(); ++j) {
          const std::string reply = client.get_reply();
          if (reply != steps[j].expected) {
            failure = "client " + std::to_string(c) + " reply " + std::to_string(j) + ": expected " +
                      steps[j].expected + ", got " + reply;
            break;
          }
          checked.fetch_add(1, std::memory_order_relaxed);
        }
      } catch (const std::exception& e) {
        failure = "client " + std::to_string(c) + ": " + e.what();
      }
      if (!failure.empty()) {
        const std::lock_guard lock(mutex);
        failures.push_back(failure);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_THAT(failures, IsEmpty());
  EXPECT_EQ(checked.load(), kClients * kCommands);
  // The backend saw each client's counter incremented exactly once per INCR.
  EXPECT_EQ(backend().command({"GET", "n:0"}), "$3\r\n250\r\n");
  EXPECT_EQ(backend().command({"GET", "n:199"}), "$3\r\n250\r\n");
}

TEST_F(Concurrency, ClientsOnDifferentDatabasesSeeOnlyTheirOwn) {
  start_proxy();
  Hiredis a = Hiredis::connect(proxy_port());
  Hiredis b = Hiredis::connect(proxy_port());
  EXPECT_EQ(a.command({"SELECT", "1"}), "+OK");
  EXPECT_EQ(b.command({"SELECT", "2"}), "+OK");
  EXPECT_EQ(a.command({"SET", "k", "in-one"}), "+OK");
  EXPECT_EQ(b.command({"SET", "k", "in-two"}), "+OK");
  EXPECT_EQ(b.command({"GET", "k"}), "$in-two");
  EXPECT_EQ(a.command({"GET", "k"}), "$in-one");
  EXPECT_EQ(a.command({"DBSIZE"}), ":1");
  // A pipeline that switches databases gets every reply from the database selected at that point.
  for (const auto& command : std::vector<std::vector<std::string>>{
           {"SELECT", "2"}, {"GET", "k"}, {"SELECT", "1"}, {"GET", "k"}, {"SELECT", "0"}, {"GET", "k"}}) {
    a.append(command);
  }
  EXPECT_EQ(a.get_reply(), "+OK");
  EXPECT_EQ(a.get_reply(), "$in-two");
  EXPECT_EQ(a.get_reply(), "+OK");
  EXPECT_EQ(a.get_reply(), "$in-one");
  EXPECT_EQ(a.get_reply(), "+OK");
  EXPECT_EQ(a.get_reply(), "$(nil)");
  // b did not move with a.
  EXPECT_EQ(b.command({"GET", "k"}), "$in-two");
  // The backend agrees: db 0 has nothing, db 1 and 2 one key each.
  RedisClient direct = connect_direct();
  EXPECT_EQ(direct.command({"GET", "k"}), "$-1\r\n");
  EXPECT_EQ(direct.command({"SELECT", "1"}), "+OK\r\n");
  EXPECT_EQ(direct.command({"GET", "k"}), "$6\r\nin-one\r\n");
  EXPECT_EQ(direct.command({"SELECT", "2"}), "+OK\r\n");
  EXPECT_EQ(direct.command({"GET", "k"}), "$6\r\nin-two\r\n");
}

TEST_F(Concurrency, LargeValuesArriveIntact) {
  start_proxy();
  RedisClient client = connect();
  std::string big(3 * 1024 * 1024 + 17, '\0');
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>('a' + (i * 7919) % 26);
  EXPECT_EQ(client.command({"SET", "big", big}), "+OK\r\n");
  const std::string bulk = "$" + std::to_string(big.size()) + "\r\n" + big + "\r\n";
  // Pipelined with small replies around the big ones: order and bytes survive the streaming.
  client.send(encode_command({"GET", "big"}) + encode_command({"PING"}) + encode_command({"GET", "big"}) +
              encode_command({"STRLEN", "big"}));
  EXPECT_TRUE(client.read_reply() == bulk);
  EXPECT_EQ(client.read_reply(), "+PONG\r\n");
  EXPECT_TRUE(client.read_reply() == bulk);
  EXPECT_EQ(client.read_reply(), ":" + std::to_string(big.size()) + "\r\n");
}

TEST_F(Concurrency, ClientsLeavingWithRepliesInFlightDoNotDisturbOthers) {
  start_proxy();
  RedisClient steady = connect();
  for (int round = 0; round < 5; ++round) {
    std::vector<RedisClient> leavers;
    for (int c = 0; c < 20; ++c) {
      leavers.push_back(connect());
      std::string pipeline;
      for (int i = 0; i < 2000; ++i) pipeline += encode_command({"INCR", "leaver"});
      pipeline += encode_command({"BLPOP", "nothing", "5"}) + encode_command({"SUBSCRIBE", "x"});
      leavers.back().send(pipeline);
    }
    const std::string value = "r" + std::to_string(round);
    EXPECT_EQ(steady.command({"SET", "steady", value}), "+OK\r\n");
    leavers.clear();  // gone without reading a single reply
    EXPECT_EQ(steady.command({"GET", "steady"}), "$2\r\n" + value + "\r\n");
  }
  EXPECT_TRUE(proxy().running());
}

TEST_F(Concurrency, ThousandBusyClientsShareAtMostWorkersTimesMaxConnections) {
  constexpr std::size_t kWorkers = 2;
  constexpr std::size_t kMaxConnections = 2;
  start_proxy({.workers = kWorkers, .pool_toml = "max_connections = " + std::to_string(kMaxConnections) + "\n"});
  constexpr std::size_t kClients = 1000;
  constexpr int kRounds = 6;
  ConnectionSwarm swarm(proxy_port(), kClients);

  std::atomic<bool> busy{true};
  std::atomic<std::size_t> most_seen{0};
  std::atomic<int> samples{0};
  std::string sampler_error;
  // Samples the backend's view while the rounds run. RedisServer::command opens its own connection
  // per call and reads only immutable state, so it may run beside the main thread.
  std::thread sampler([&] {
    try {
      while (busy.load()) {
        const std::size_t n = count_named(client_list(backend()), "corral");
        std::size_t seen = most_seen.load();
        while (n > seen && !most_seen.compare_exchange_weak(seen, n)) {
        }
        samples.fetch_add(1);
        // The sampling pace, not a wait for a state: the count is a maximum over the whole run.
        std::this_thread::sleep_for(10ms);
      }
    } catch (const std::exception& e) {
      sampler_error = e.what();
    }
  });

  std::vector<std::string> failures;
  for (int round = 0; round < kRounds && failures.empty(); ++round) {
    std::vector<std::string> requests(kClients);
    const std::string value = "r" + std::to_string(round);
    for (std::size_t i = 0; i < kClients; ++i) {
      const std::string key = "s:" + std::to_string(i);
      requests[i] = encode_command({"SET", key, value + ":" + std::to_string(i)}) +
                    encode_command({"INCR", "c:" + std::to_string(i)}) + encode_command({"GET", key});
    }
    const auto replies = swarm.round(requests, std::vector<std::size_t>(kClients, 3));
    for (std::size_t i = 0; i < kClients && failures.size() < 5; ++i) {
      const std::string expected_value = value + ":" + std::to_string(i);
      const std::vector<std::string> expected = {
          "+OK\r\n", ":" + std::to_string(round + 1) + "\r\n",
          "$" + std::to_string(expected_value.size()) + "\r\n" + expected_value + "\r\n"};
      if (replies[i] != expected) {
        failures.push_back("round " + std::to_string(round) + " client " + std::to_string(i) + ": got " +
                           ::testing::PrintToString(replies[i]));
      }
    }
  }
  const std::size_t at_end = count_named(client_list(backend()), "corral");
  busy.store(false);
  sampler.join();
  EXPECT_THAT(failures, IsEmpty());
  EXPECT_THAT(sampler_error, IsEmpty());
  EXPECT_GT(samples.load(), 0);
  EXPECT_GE(std::max(most_seen.load(), at_end), 1u);
  EXPECT_LE(most_seen.load(), kWorkers * kMaxConnections);
  EXPECT_LE(at_end, kWorkers * kMaxConnections);
}

}  // namespace
}  // namespace corral::testing::redis_it
