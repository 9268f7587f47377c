// corral in front of a real Redis Cluster (3 masters + 3 replicas started by the harness): routing by
// slot, multi-key commands split over slots, keyless commands, transactions, scripts, blocking
// commands and pub/sub where keys share a slot, MOVED/ASK during a resharding, and a master failover.

#include <gmock/gmock.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "protocols/redis/cluster.h"
#include "redis_path.h"

namespace corral::testing::redis_it {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

class ClusterTest : public RedisPathTest {
 protected:
  CorralProcess& start(RedisClusterOptions options = {}, std::string pool_toml = {}) {
    cluster_ = std::make_unique<RedisCluster>(std::move(options));
    admin_port_ = pick_free_port();
    return start_proxy({.backend = cluster_->url(),
                        .server_toml = "admin = \"127.0.0.1:" + std::to_string(admin_port_) + "\"\n",
                        .pool_toml = std::move(pool_toml)});
  }
  uint64_t metric(std::string_view name) { return admin_metric(admin_port_, name); }
  RedisCluster& cluster() { return *cluster_; }

  /// Keys "key:0".. whose slots are served by at least two different masters.
  std::vector<std::string> keys(std::size_t count) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < count; ++i) out.push_back("key:" + std::to_string(i));
    return out;
  }

  std::unique_ptr<RedisCluster> cluster_;
  uint16_t admin_port_ = 0;
};

std::string bulk(std::string_view value) { return "$" + std::to_string(value.size()) + "\r\n" + std::string(value) + "\r\n"; }

TEST_F(ClusterTest, KeySlotsMatchTheServer) {
  cluster_ = std::make_unique<RedisCluster>();
  const std::vector<std::string> samples = {"", "a", "foo", "bar", "somekey", "{user1000}.following", "foo{}{bar}",
                                            "foo{{bar}}zap", "foo{bar}{zap}", "{", "}", "{}", "x{y}", "123456789",
                                            std::string("\x00\xff\x7f", 3), std::string(300, 'k')};
  for (const std::string& key : samples) {
    EXPECT_EQ(redis::key_slot(key), cluster().keyslot(key)) << "key '" << key << "'";
  }
  for (int i = 0; i < 300; ++i) {
    const std::string key = "k" + std::to_string(i * 7919) + (i % 3 == 0 ? "{t" + std::to_string(i) + "}" : "");
    EXPECT_EQ(redis::key_slot(key), cluster().keyslot(key)) << "key '" << key << "'";
  }
}

TEST_F(ClusterTest, SingleKeyCommandsGoToTheSlotsMaster) {
  start();
  RedisClient client = connect();
  for (const std::string& key : keys(60)) {
    ASSERT_EQ(client.command({"SET", key, "v-" + key}), "+OK\r\n");
  }
  std::set<std::size_t> masters;
  for (const std::string& key : keys(60)) {
    EXPECT_EQ(client.command({"GET", key}), bulk("v-" + key));
    // The value lives on the master of its slot, where a direct client finds it.
    EXPECT_EQ(cluster().command_for_key(key, {"GET", key}), bulk("v-" + key));
    masters.insert(cluster().master_of(cluster().keyslot(key)));
  }
  EXPECT_EQ(masters.size(), 3u);
  // A pipeline over every node comes back in request order.
  std::string pipeline;
  for (const std::string& key : keys(60)) pipeline += encode_command({"GET", key});
  client.send(pipeline);
  for (const std::string& key : keys(60)) EXPECT_EQ(client.read_reply(), bulk("v-" + key));
  // hiredis, pipelined.
  Hiredis hiredis = Hiredis::connect(proxy_port());
  for (const std::string& key : keys(60)) hiredis.append({"GET", key});
  for (const std::string& key : keys(60)) EXPECT_EQ(hiredis.get_reply(), "$v-" + key);
}

TEST_F(ClusterTest, MultiKeyCommandsAreSplitAndMergedInOrder) {
  start();
  RedisClient client = connect();
  std::vector<std::string> mset = {"MSET"};
  for (const std::string& key : keys(20)) {
    mset.push_back(key);
    mset.push_back("v-" + key);
  }
  ASSERT_EQ(client.command(mset), "+OK\r\n");
  std::vector<std::string> mget = {"MGET", "key:3", "missing", "key:0", "key:19", "key:7", "key:3"};
  EXPECT_EQ(client.command(mget), "*6\r\n" + bulk("v-key:3") + "$-1\r\n" + bulk("v-key:0") + bulk("v-key:19") +
                                      bulk("v-key:7") + bulk("v-key:3"));
  EXPECT_EQ(client.command({"EXISTS", "key:1", "key:2", "missing", "key:1"}), ":3\r\n");
  EXPECT_EQ(client.command({"TOUCH", "key:1", "key:2", "missing"}), ":2\r\n");
  EXPECT_EQ(client.command({"DEL", "key:1", "key:2", "missing"}), ":2\r\n");
  EXPECT_EQ(client.command({"UNLINK", "key:3", "key:4", "key:5"}), ":3\r\n");
  EXPECT_EQ(client.command({"EXISTS", "key:1", "key:2", "key:3", "key:4", "key:5", "key:6"}), ":1\r\n");
  // Commands that must be atomic over their keys get Redis Cluster's own error.
  EXPECT_EQ(client.command({"MSETNX", "key:10", "x", "key:11", "y"}),
            "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  EXPECT_EQ(client.command({"SUNIONSTORE", "key:10", "key:11"}),
            "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  EXPECT_EQ(client.command({"MSETNX", "{t}a", "1", "{t}b", "2"}), ":1\r\n");
  EXPECT_EQ(client.command({"MGET", "{t}a", "{t}b"}), "*2\r\n" + bulk("1") + bulk("2"));
  // redis-cli, as an operator would use it against corral.
  const CommandResult cli = run_command({find_executable("redis-cli").string(), "-p", std::to_string(proxy_port()),
                                         "MGET", "key:0", "key:19", "key:8"});
  EXPECT_EQ(cli.exit_code(), 0) << cli.output;
  EXPECT_EQ(cli.output, "v-key:0\nv-key:19\nv-key:8\n");
}

TEST_F(ClusterTest, KeylessCommandsAnswerForTheWholeCluster) {
  start();
  RedisClient client = connect();
  EXPECT_EQ(client.command({"PING"}), "+PONG\r\n");
  EXPECT_EQ(client.command({"PING", "hi"}), bulk("hi"));
  for (const std::string& key : keys(30)) ASSERT_EQ(client.command({"SET", key, "1"}), "+OK\r\n");
  EXPECT_EQ(client.command({"DBSIZE"}), ":30\r\n");
  const std::string all = client.command({"KEYS", "key:*"});
  EXPECT_THAT(all, StartsWith("*30\r\n"));
  EXPECT_EQ(client.command({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SELECT", "1"}), "-ERR SELECT is not allowed in cluster mode\r\n");
  EXPECT_THAT(client.command({"SCAN", "0"}), StartsWith("-ERR command 'SCAN' is not supported by corral"));
  EXPECT_THAT(client.command({"RANDOMKEY"}), StartsWith("-ERR command 'RANDOMKEY' is not supported by corral"));
  EXPECT_THAT(client.command({"INFO", "server"}), HasSubstr("redis_mode:cluster"));
  EXPECT_EQ(client.command({"FLUSHDB"}), "+OK\r\n");
  EXPECT_EQ(client.command({"DBSIZE"}), ":0\r\n");
  for (RedisServer& node : cluster().nodes()) {
    wait_until([&] { return node.command({"DBSIZE"}) == ":0\r\n"; }, std::chrono::seconds(5), "every node to be empty");
  }
  // SCRIPT LOAD reaches every master, so EVALSHA works for keys on any of them.
  const std::string sha = client.command({"SCRIPT", "LOAD", "return redis.call('GET', KEYS[1])"});
  ASSERT_THAT(sha, StartsWith("$40\r\n"));
  const std::string digest = sha.substr(5, 40);
  for (const std::string& key : keys(10)) {
    ASSERT_EQ(client.command({"SET", key, key}), "+OK\r\n");
    EXPECT_EQ(client.command({"EVALSHA", digest, "1", key}), bulk(key));
  }
}

TEST_F(ClusterTest, TransactionsScriptsAndBlockingCommandsWithinOneSlot) {
  start();
  RedisClient client = connect();
  EXPECT_EQ(client.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SET", "{acct}a", "10"}), "+QUEUED\r\n");
  EXPECT_EQ(client.command({"INCRBY", "{acct}b", "5"}), "+QUEUED\r\n");
  EXPECT_EQ(client.command({"EXEC"}), "*2\r\n+OK\r\n:5\r\n");
  EXPECT_EQ(cluster().command_for_key("{acct}a", {"GET", "{acct}a"}), bulk("10"));
  // Keys of another slot inside MULTI: refused when queued, and EXEC aborts, as in Redis Cluster.
  EXPECT_EQ(client.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SET", "{acct}a", "11"}), "+QUEUED\r\n");
  EXPECT_EQ(client.command({"SET", "other", "1"}), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  EXPECT_EQ(client.command({"EXEC"}), "-EXECABORT Transaction discarded because of previous errors.\r\n");
  EXPECT_EQ(client.command({"GET", "{acct}a"}), bulk("10"));
  // WATCH: a change by another client fails the transaction.
  RedisClient other = connect();
  EXPECT_EQ(client.command({"WATCH", "{acct}a"}), "+OK\r\n");
  EXPECT_EQ(other.command({"SET", "{acct}a", "12"}), "+OK\r\n");
  EXPECT_EQ(client.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SET", "{acct}a", "13"}), "+QUEUED\r\n");
  EXPECT_EQ(client.command({"EXEC"}), "*-1\r\n");
  EXPECT_EQ(client.command({"WATCH", "{acct}a"}), "+OK\r\n");
  EXPECT_EQ(client.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SET", "{acct}a", "14"}), "+QUEUED\r\n");
  EXPECT_EQ(client.command({"EXEC"}), "*1\r\n+OK\r\n");
  EXPECT_EQ(client.command({"WATCH", "{acct}a", "x"}), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  // Scripts: keys in one slot run on its master; keys in several are refused.
  EXPECT_EQ(client.command({"EVAL", "return redis.call('GET', KEYS[1]) .. ARGV[1]", "1", "{acct}a", "!"}), bulk("14!"));
  EXPECT_EQ(client.command({"EVAL", "return 1", "2", "a", "b"}), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
  EXPECT_EQ(client.command({"EVAL", "return 7", "0"}), ":7\r\n");
  // Blocking: BLPOP waits on the list's master until another client pushes.
  std::thread pusher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    RedisClient pushing = connect();
    pushing.command({"RPUSH", "{q}list", "job"});
  });
  EXPECT_EQ(client.command({"BLPOP", "{q}list", "{q}other", "5"}), "*2\r\n" + bulk("{q}list") + bulk("job"));
  pusher.join();
  EXPECT_EQ(client.command({"BLPOP", "{q}list", "0.1"}), "*-1\r\n");
  EXPECT_EQ(client.command({"BLPOP", "a", "b", "1"}), "-CROSSSLOT Keys in request don't hash to the same slot\r\n");
}

TEST_F(ClusterTest, AClientThatLeavesWhileBlockedFreesItsConnection) {
  start();
  const std::size_t master = cluster().master_of(cluster().keyslot("{b}q"));
  auto blocked_on_master = [&] {
    const std::string info = cluster().nodes()[master].command({"INFO", "clients"});
    return info.substr(info.find("blocked_clients:") + 16, 1);
  };
  {
    RedisClient client = connect();
    client.send(encode_command({"BLPOP", "{b}q", "0"}));
    wait_until([&] { return blocked_on_master() == "1"; }, std::chrono::seconds(5), "the BLPOP to block on the master");
  }
  // The client is gone: corral closes the dedicated connection instead of leaving it blocked forever.
  wait_until([&] { return blocked_on_master() == "0"; }, std::chrono::seconds(5), "the blocked connection to close");
  RedisClient other = connect();
  EXPECT_EQ(other.command({"RPUSH", "{b}q", "x"}), ":1\r\n");  // nobody took it
}

TEST_F(ClusterTest, PubSubAndShardedPubSub) {
  start();
  RedisClient subscriber = connect();
  subscriber.send(encode_command({"SSUBSCRIBE", "orders"}));
  EXPECT_EQ(subscriber.read_reply(), "*3\r\n" + bulk("ssubscribe") + bulk("orders") + ":1\r\n");
  RedisClient publisher = connect();
  EXPECT_EQ(publisher.command({"SPUBLISH", "orders", "o1"}), ":1\r\n");
  EXPECT_EQ(subscriber.read_reply(), "*3\r\n" + bulk("smessage") + bulk("orders") + bulk("o1"));
  RedisClient plain = connect();
  plain.send(encode_command({"SUBSCRIBE", "news"}));
  EXPECT_EQ(plain.read_reply(), "*3\r\n" + bulk("subscribe") + bulk("news") + ":1\r\n");
  // PUBLISH reaches subscribers on every node: the cluster passes it along its bus.
  wait_until([&] { return publisher.command({"PUBLISH", "news", "n1"}) != ":0\r\n"; }, std::chrono::seconds(5),
             "the subscription to be seen");
  EXPECT_EQ(plain.read_reply(), "*3\r\n" + bulk("message") + bulk("news") + bulk("n1"));
}

TEST_F(ClusterTest, ReshardingWhileWritingLosesNoAcknowledgedWrite) {
  start();
  RedisClient client = connect();
  // Move the slot of "{m}" (many keys) from its master to another, by hand, while a client writes.
  const std::uint16_t slot = cluster().keyslot("{m}");
  const std::size_t source = cluster().master_of(slot);
  std::size_t target = source;
  for (std::uint16_t s = 0; s < 16384 && target == source; s += 1000) target = cluster().master_of(s);
  ASSERT_NE(target, source);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(client.command({"SET", "{m}old" + std::to_string(i), "1"}), "+OK\r\n");
  const std::string source_id = bulk_payload(cluster().nodes()[source].command({"CLUSTER", "MYID"}));
  const std::string target_id = bulk_payload(cluster().nodes()[target].command({"CLUSTER", "MYID"}));

  std::atomic<bool> stop{false};
  std::atomic<int> acknowledged{0};
  std::vector<std::string> errors;
  std::thread writer([&] {
    RedisClient w = connect();
    for (int i = 0; !stop.load(); ++i) {
      const std::string reply = w.command({"SET", "{m}new" + std::to_string(i), std::to_string(i)});
      if (reply == "+OK\r\n") {
        acknowledged.store(i + 1);
      } else {
        errors.push_back(reply);
        acknowledged.store(i + 1);
      }
    }
  });
  auto run = [](RedisServer& node, const std::vector<std::string>& args) {
    const std::string reply = node.command(args);
    EXPECT_EQ(reply, "+OK\r\n") << args[0] << " " << args[1];
  };
  const std::string s = std::to_string(slot);
  run(cluster().nodes()[target], {"CLUSTER", "SETSLOT", s, "IMPORTING", source_id});
  run(cluster().nodes()[source], {"CLUSTER", "SETSLOT", s, "MIGRATING", target_id});
  // Keys move in batches while the writer goes on: it meets ASK for keys already moved.
  for (;;) {
    const std::string batch = cluster().nodes()[source].command({"CLUSTER", "GETKEYSINSLOT", s, "10"});
    if (batch == "*0\r\n") break;
    std::vector<std::string> migrate = {"MIGRATE", "127.0.0.1", std::to_string(cluster().nodes()[target].port()), "", "0",
                                        "5000", "KEYS"};
    std::size_t pos = batch.find("\r\n") + 2;
    while (pos < batch.size()) {
      const std::size_t end = batch.find("\r\n", pos);
      const std::size_t length = std::stoul(batch.substr(pos + 1, end - pos - 1));
      migrate.push_back(batch.substr(end + 2, length));
      pos = end + 2 + length + 2;
    }
    ASSERT_EQ(cluster().nodes()[source].command(migrate), "+OK\r\n");
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  // The new owner first, then the old one (which then redirects to it), then the rest learn it.
  run(cluster().nodes()[target], {"CLUSTER", "SETSLOT", s, "NODE", target_id});
  run(cluster().nodes()[source], {"CLUSTER", "SETSLOT", s, "NODE", target_id});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop.store(true);
  writer.join();
  EXPECT_TRUE(errors.empty()) << errors.size() << " errors, first: " << (errors.empty() ? "" : errors.front());
  ASSERT_GT(acknowledged.load(), 0);
  // Every acknowledged write is on the slot's new master, and corral reads it there (MOVED followed).
  RedisServer& now = cluster().nodes()[target];
  for (int i = 0; i < acknowledged.load(); ++i) {
    const std::string key = "{m}new" + std::to_string(i);
    ASSERT_EQ(now.command({"GET", key}), bulk(std::to_string(i))) << key;
  }
  for (int i = 0; i < 50; ++i) EXPECT_EQ(client.command({"GET", "{m}old" + std::to_string(i)}), bulk("1"));
  EXPECT_EQ(cluster().master_of(slot, target), target);
  EXPECT_GT(metric("corral_redis_cluster_redirects_total{kind=\"moved\"}"), 0u);
  EXPECT_GT(metric("corral_redis_cluster_redirects_total{kind=\"ask\"}"), 0u);  // the writer's new keys
}

// The operator's tool this time: `redis-cli --cluster reshard` moves 1,000 slots (with their keys)
// from one master to another while three clients write keys spread over every slot.
TEST_F(ClusterTest, RedisCliReshardWhileClientsWriteLosesNoAcknowledgedWrite) {
  start();
  const std::size_t source = cluster().master_of(0);
  std::size_t target = source;
  for (std::uint16_t s = 0; s < 16384 && target == source; s += 1000) target = cluster().master_of(s);
  ASSERT_NE(target, source);
  const std::string source_id = bulk_payload(cluster().nodes()[source].command({"CLUSTER", "MYID"}));
  const std::string target_id = bulk_payload(cluster().nodes()[target].command({"CLUSTER", "MYID"}));
  {
    RedisClient seeder = connect();
    for (int i = 0; i < 2000; ++i) ASSERT_EQ(seeder.command({"SET", "old:" + std::to_string(i), "1"}), "+OK\r\n");
  }

  constexpr int kWriters = 3;
  std::atomic<bool> stop{false};
  std::vector<int> acknowledged(kWriters, 0);
  std::vector<std::vector<std::string>> errors(kWriters);
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      RedisClient client = connect();
      for (int i = 0; !stop.load(); ++i) {
        const std::string reply = client.command({"SET", "w" + std::to_string(w) + ":" + std::to_string(i), std::to_string(i)});
        if (reply != "+OK\r\n") errors[w].push_back(reply);
        acknowledged[w] = i + 1;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const CommandResult resharded = run_command(
      {find_executable("redis-cli").string(), "--cluster", "reshard",
       "127.0.0.1:" + std::to_string(cluster().nodes()[source].port()), "--cluster-from", source_id, "--cluster-to",
       target_id, "--cluster-slots", "1000", "--cluster-yes"},
      std::chrono::seconds(120));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop.store(true);
  for (auto& writer : writers) writer.join();
  ASSERT_EQ(resharded.exit_code(), 0) << resharded.output;
  cluster().wait_consistent(std::chrono::seconds(30));

  for (int w = 0; w < kWriters; ++w) {
    EXPECT_TRUE(errors[w].empty()) << "writer " << w << ": " << errors[w].size() << " errors, first: "
                                   << (errors[w].empty() ? "" : errors[w].front());
    ASSERT_GT(acknowledged[w], 0);
  }
  // Every acknowledged write is where the cluster now keeps its key, and corral reads it there.
  RedisClient reader = connect();
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < acknowledged[w]; ++i) {
      const std::string key = "w" + std::to_string(w) + ":" + std::to_string(i);
      ASSERT_EQ(cluster().command_for_key(key, {"GET", key}), bulk(std::to_string(i))) << key;
    }
    const std::string last = "w" + std::to_string(w) + ":" + std::to_string(acknowledged[w] - 1);
    EXPECT_EQ(reader.command({"GET", last}), bulk(std::to_string(acknowledged[w] - 1)));
  }
  for (int i = 0; i < 2000; i += 7) EXPECT_EQ(reader.command({"GET", "old:" + std::to_string(i)}), bulk("1"));
  EXPECT_EQ(cluster().master_of(0, target), target);
  EXPECT_GT(metric("corral_redis_cluster_redirects_total{kind=\"moved\"}"), 0u);
}

TEST_F(ClusterTest, MasterKilledItsReplicaTakesOverAndCorralRecovers) {
  start({}, "reconnect_backoff_max_ms = 100\n");
  RedisClient client = connect();
  ASSERT_EQ(client.command({"SET", "{f}k", "before"}), "+OK\r\n");
  const std::uint16_t slot = cluster().keyslot("{f}k");
  const std::size_t master = cluster().master_of(slot);
  // The replica must have the write before its master dies.
  RedisClient direct = cluster().nodes()[master].connect();
  ASSERT_EQ(direct.command({"SET", "{f}k", "before"}), "+OK\r\n");
  ASSERT_EQ(direct.command({"WAIT", "1", "5000"}), ":1\r\n");
  direct.close();
  cluster().nodes()[master].kill();
  const auto killed_at = std::chrono::steady_clock::now();
  std::string last;
  const bool recovered = poll_until(
      [&] {
        try {
          RedisClient c = connect();
          last = c.command({"GET", "{f}k"});
        } catch (const HarnessError& e) {
          last = e.what();
        }
        return last == bulk("before");
      },
      std::chrono::seconds(30), std::chrono::milliseconds(100));
  ASSERT_TRUE(recovered) << "last reply: " << last;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  RecordProperty("recovery_seconds", std::to_string(seconds));
  EXPECT_LT(seconds, 15.0);
  // Every worker (each has its own map) serves the slot on the promoted replica.
  for (int i = 0; i < 8; ++i) {
    RedisClient after = connect();
    EXPECT_EQ(after.command({"SET", "{f}k", "after" + std::to_string(i)}), "+OK\r\n");
    EXPECT_EQ(after.command({"GET", "{f}k"}), bulk("after" + std::to_string(i)));
  }
  // corral said what it saw: the node lost and the new map.
  wait_until([&] { return proxy().log().find("slots changed owner") != std::string::npos; }, std::chrono::seconds(5),
             "corral to log the new slot map");
  EXPECT_THAT(proxy().log(), HasSubstr("unavailable"));
  EXPECT_GE(metric("corral_redis_cluster_slot_moves_total"), 16384u / 3);
  EXPECT_GT(metric("corral_redis_cluster_map_reads_total"), 1u);
}

TEST_F(ClusterTest, SeedThatIsDownIsSkipped) {
  cluster_ = std::make_unique<RedisCluster>();
  const uint16_t dead = pick_free_port();
  std::string url = cluster().url();
  url.insert(std::string("redis-cluster://").size(), "127.0.0.1:" + std::to_string(dead) + ",");
  start_proxy({.backend = url});
  RedisClient client = connect();
  EXPECT_EQ(client.command({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(client.command({"GET", "k"}), bulk("v"));
}

TEST_F(ClusterTest, SeedsAfterTheFirstMayBeHostNames) {
  cluster_ = std::make_unique<RedisCluster>();
  // The first seed is down: the slot map can only come from the seed given by name.
  const uint16_t dead = pick_free_port();
  start_proxy({.backend = "redis-cluster://127.0.0.1:" + std::to_string(dead) + ",localhost:" +
                          std::to_string(cluster().nodes()[0].port())});
  RedisClient client = connect();
  EXPECT_EQ(client.command({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(client.command({"GET", "k"}), bulk("v"));
}

TEST_F(ClusterTest, UnknownCommandInsideMultiIsRefusedWhenQueued) {
  start();
  RedisClient direct = cluster().nodes()[0].connect();
  ASSERT_EQ(direct.command({"MULTI"}), "+OK\r\n");
  const std::string server_says = direct.command({"NOSUCHCMD", "x"});
  ASSERT_THAT(server_says, StartsWith("-ERR unknown command 'NOSUCHCMD'"));
  RedisClient client = connect();
  EXPECT_EQ(client.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SET", "{acct}a", "1"}), "+QUEUED\r\n");
  EXPECT_EQ(client.command({"NOSUCHCMD", "x"}), server_says);  // at queue time, in the server's words
  EXPECT_EQ(client.command({"EXEC"}), "-EXECABORT Transaction discarded because of previous errors.\r\n");
  EXPECT_EQ(client.command({"GET", "{acct}a"}), "$-1\r\n");
  // A keyless transaction too, and the session goes on normally afterwards.
  EXPECT_EQ(client.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(client.command({"NOSUCHCMD"}), "-ERR unknown command 'NOSUCHCMD', with args beginning with: \r\n");
  EXPECT_EQ(client.command({"EXEC"}), "-EXECABORT Transaction discarded because of previous errors.\r\n");
  EXPECT_EQ(client.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SET", "{acct}a", "2"}), "+QUEUED\r\n");
  EXPECT_EQ(client.command({"EXEC"}), "*1\r\n+OK\r\n");
}

TEST_F(ClusterTest, PasswordProtectedClusterWithResp3Clients) {
  start({.password = "s3cret"});
  RedisClient client = connect();
  EXPECT_EQ(client.command({"MSET", "a", "1", "b", "2", "c", "3"}), "+OK\r\n");
  EXPECT_EQ(client.command({"MGET", "c", "b", "a"}), "*3\r\n" + bulk("3") + bulk("2") + bulk("1"));
  // HELLO 3 moves the client to RESP3 connections on every node.
  const std::string hello = client.command({"HELLO", "3"});
  EXPECT_THAT(hello, StartsWith("%"));
  EXPECT_EQ(client.command({"MGET", "a", "nope", "c"}), "*3\r\n" + bulk("1") + "_\r\n" + bulk("3"));
  EXPECT_EQ(client.command({"EXISTS", "a", "b", "c", "nope"}), ":3\r\n");
  EXPECT_THAT(client.command({"HGETALL", "nope"}), "%0\r\n");
}

TEST_F(ClusterTest, ClientsAuthenticateAgainstConfiguredUsers) {
  cluster_ = std::make_unique<RedisCluster>();
  start_proxy({.backend = cluster_->url(), .auth = "users",
               .more_toml = "[[users]]\nname = \"app\"\npassword = \"pw\"\n"});
  RedisClient client = connect();
  EXPECT_THAT(client.command({"GET", "k"}), StartsWith("-NOAUTH"));
  EXPECT_THAT(client.command({"AUTH", "app", "wrong"}), StartsWith("-WRONGPASS"));
  EXPECT_EQ(client.command({"AUTH", "app", "pw"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(client.command({"GET", "k"}), bulk("v"));
  EXPECT_EQ(client.command({"CLIENT", "SETNAME", "worker-1"}), "+OK\r\n");
  EXPECT_EQ(client.command({"CLIENT", "GETNAME"}), bulk("worker-1"));
  EXPECT_THAT(client.command({"MONITOR"}), StartsWith("-ERR command 'MONITOR' is not supported by corral"));
  EXPECT_THAT(client.command({"CLUSTER", "SLOTS"}), StartsWith("-ERR command 'CLUSTER"));
  EXPECT_EQ(client.command({"QUIT"}), "+OK\r\n");
}

}  // namespace
}  // namespace corral::testing::redis_it
