// corral in front of three independent redis-servers (a redis-shards:// backend): keys placed by the
// ketama ring, multi-key commands split per shard and merged in order, keyless commands over every
// shard, transactions/scripts/blocking commands within one shard, a shard that is down, and the
// same placement as a real twemproxy (nutcracker) given the same servers.

#include <gmock/gmock.h>

#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "pool/ketama_ring.h"
#include "redis_path.h"

namespace corral::testing::redis_it {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::string_view kCrossShard = "-CROSSSLOT Keys in request don't hash to the same shard\r\n";

std::string bulk(std::string_view value) { return "$" + std::to_string(value.size()) + "\r\n" + std::string(value) + "\r\n"; }

class ShardsTest : public RedisPathTest {
 protected:
  /// Three servers; `weights` and `names` as the URL gives them (empty: defaults).
  void start_shards(std::vector<uint32_t> weights = {1, 1, 1}, std::vector<std::string> names = {},
                    std::string path_and_query = {}) {
    for (std::size_t i = 0; i < weights.size(); ++i) shards_.push_back(std::make_unique<RedisServer>());
    weights_ = std::move(weights);
    names_ = std::move(names);
    std::vector<pool::KetamaRing::Server> ring;
    for (std::size_t i = 0; i < shards_.size(); ++i) {
      ring.push_back({names_.empty() ? address(i) : names_[i], weights_[i]});
    }
    ring_ = std::make_unique<pool::KetamaRing>(ring, "{}");
    std::string url = "redis-shards://";
    for (std::size_t i = 0; i < shards_.size(); ++i) {
      url += (i == 0 ? "" : ",") + address(i) + (weights_[i] != 1 ? ":" + std::to_string(weights_[i]) : "");
    }
    url += path_and_query;
    if (!names_.empty()) {
      url += path_and_query.find('?') == std::string::npos ? "?names=" : "&names=";
      for (std::size_t i = 0; i < names_.size(); ++i) url += (i == 0 ? "" : ",") + names_[i];
    }
    start_proxy({.backend = url});
  }
  std::string address(std::size_t shard) const { return "127.0.0.1:" + std::to_string(shards_[shard]->port()); }
  RedisServer& shard_of(std::string_view key) { return *shards_[ring_->server_of(key)]; }
  /// A key "N:key" on another shard than `key`.
  std::string key_apart_from(std::string_view key) const {
    for (const std::string& other : keys(100)) {
      if (ring_->server_of(other) != ring_->server_of(key)) return other;
    }
    throw HarnessError("no key on another shard");
  }

  /// `count` keys "0:key".. Keys that differ first spread over every shard; "key:0".. would not:
  /// twemproxy's 32-bit FNV-1a puts keys that differ only in their last bytes on few ring points.
  static std::vector<std::string> keys(std::size_t count) {
    std::vector<std::string> out;
    for (std::size_t i = 0; i < count; ++i) out.push_back(std::to_string(i) + ":key");
    return out;
  }

  std::vector<std::unique_ptr<RedisServer>> shards_;
  std::vector<uint32_t> weights_;
  std::vector<std::string> names_;
  std::unique_ptr<pool::KetamaRing> ring_;
};

TEST_F(ShardsTest, EachKeyLivesOnTheShardTheRingPicks) {
  start_shards();
  Hiredis hiredis = Hiredis::connect(proxy_port());
  for (const std::string& key : keys(90)) ASSERT_EQ(hiredis.command({"SET", key, "v-" + key}), "+OK");
  std::set<std::size_t> used;
  for (const std::string& key : keys(90)) {
    EXPECT_EQ(hiredis.command({"GET", key}), "$v-" + key);
    // On its shard, and on no other.
    for (std::size_t i = 0; i < shards_.size(); ++i) {
      const bool home = i == ring_->server_of(key);
      EXPECT_EQ(shards_[i]->command({"EXISTS", key}), home ? ":1\r\n" : ":0\r\n") << key << " on shard " << i;
    }
    used.insert(ring_->server_of(key));
  }
  EXPECT_EQ(used.size(), 3u);
  // A pipeline over every shard comes back in request order.
  for (const std::string& key : keys(90)) hiredis.append({"GET", key});
  for (const std::string& key : keys(90)) EXPECT_EQ(hiredis.get_reply(), "$v-" + key);
  // Hash tags keep keys together: on the shard of the tag's content.
  std::vector<std::string> tagged = {"EXISTS"};
  for (int i = 0; i < 20; ++i) {
    tagged.push_back("{user:7}:" + std::to_string(i));
    ASSERT_EQ(hiredis.command({"SET", tagged.back(), "x"}), "+OK");
  }
  EXPECT_EQ(shards_[ring_->server_of("user:7")]->command(tagged), ":20\r\n");
}

TEST_F(ShardsTest, MultiKeyCommandsAreSplitPerShardAndMergedInOrder) {
  start_shards();
  RedisClient client = connect();
  std::vector<std::string> mset = {"MSET"};
  for (const std::string& key : keys(20)) {
    mset.push_back(key);
    mset.push_back("v-" + key);
  }
  ASSERT_EQ(client.command(mset), "+OK\r\n");
  for (const std::string& key : keys(20)) EXPECT_EQ(shard_of(key).command({"GET", key}), bulk("v-" + key));
  EXPECT_EQ(client.command({"MGET", "3:key", "missing", "0:key", "19:key", "7:key", "3:key"}),
            "*6\r\n" + bulk("v-3:key") + "$-1\r\n" + bulk("v-0:key") + bulk("v-19:key") + bulk("v-7:key") +
                bulk("v-3:key"));
  EXPECT_EQ(client.command({"EXISTS", "1:key", "2:key", "missing", "1:key"}), ":3\r\n");
  EXPECT_EQ(client.command({"TOUCH", "1:key", "2:key", "missing"}), ":2\r\n");
  EXPECT_EQ(client.command({"DEL", "1:key", "2:key", "missing"}), ":2\r\n");
  EXPECT_EQ(client.command({"UNLINK", "3:key", "4:key", "5:key"}), ":3\r\n");
  EXPECT_EQ(client.command({"EXISTS", "1:key", "2:key", "3:key", "4:key", "5:key", "6:key"}), ":1\r\n");
  // Commands that must be atomic over their keys need them on one shard.
  const std::string apart = key_apart_from("10:key");
  EXPECT_EQ(client.command({"MSETNX", "10:key", "x", apart, "y"}), kCrossShard);
  EXPECT_EQ(client.command({"RENAME", "10:key", apart}), kCrossShard);
  EXPECT_EQ(client.command({"MSETNX", "{t}a", "1", "{t}b", "2"}), ":1\r\n");
  EXPECT_EQ(client.command({"MGET", "{t}a", "{t}b"}), "*2\r\n" + bulk("1") + bulk("2"));
}

TEST_F(ShardsTest, KeylessCommandsAnswerForEveryShard) {
  start_shards({1, 1, 1}, {}, "/2");
  RedisClient client = connect();
  EXPECT_EQ(client.command({"PING"}), "+PONG\r\n");
  for (const std::string& key : keys(30)) ASSERT_EQ(client.command({"SET", key, "1"}), "+OK\r\n");
  // The URL's database on every shard.
  for (const std::string& key : keys(30)) {
    EXPECT_EQ(shard_of(key).command({"EXISTS", key}), ":0\r\n");
    RedisClient direct = shard_of(key).connect();
    ASSERT_EQ(direct.command({"SELECT", "2"}), "+OK\r\n");
    EXPECT_EQ(direct.command({"EXISTS", key}), ":1\r\n") << key;
  }
  EXPECT_EQ(client.command({"DBSIZE"}), ":30\r\n");
  EXPECT_THAT(client.command({"KEYS", "*:key"}), StartsWith("*30\r\n"));
  EXPECT_EQ(client.command({"SELECT", "2"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SELECT", "0"}),
            "-ERR corral: SELECT is limited to database 2 (the redis-shards backend URL's)\r\n");
  EXPECT_THAT(client.command({"SCAN", "0"}), StartsWith("-ERR command 'SCAN' is not supported by corral"));
  EXPECT_THAT(client.command({"RANDOMKEY"}), StartsWith("-ERR command 'RANDOMKEY' is not supported by corral"));
  EXPECT_EQ(client.command({"FLUSHDB"}), "+OK\r\n");
  EXPECT_EQ(client.command({"DBSIZE"}), ":0\r\n");
}

TEST_F(ShardsTest, TransactionsScriptsAndBlockingCommandsWithinOneShard) {
  start_shards();
  RedisClient client = connect();
  EXPECT_EQ(client.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SET", "{acct}a", "10"}), "+QUEUED\r\n");
  EXPECT_EQ(client.command({"INCRBY", "{acct}b", "5"}), "+QUEUED\r\n");
  EXPECT_EQ(client.command({"EXEC"}), "*2\r\n+OK\r\n:5\r\n");
  EXPECT_EQ(shard_of("acct").command({"GET", "{acct}a"}), bulk("10"));
  // A key of another shard inside MULTI: refused when queued, and EXEC aborts.
  const std::string other_shard_key = key_apart_from("acct");
  EXPECT_EQ(client.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SET", "{acct}a", "11"}), "+QUEUED\r\n");
  EXPECT_EQ(client.command({"SET", other_shard_key, "1"}), kCrossShard);
  EXPECT_EQ(client.command({"EXEC"}), "-EXECABORT Transaction discarded because of previous errors.\r\n");
  EXPECT_EQ(client.command({"GET", "{acct}a"}), bulk("10"));
  // An unknown command is refused when queued, as redis-server does, and EXEC aborts.
  EXPECT_EQ(client.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SET", "{acct}a", "11"}), "+QUEUED\r\n");
  EXPECT_THAT(client.command({"NOSUCHCMD", "{acct}a"}), StartsWith("-ERR unknown command 'NOSUCHCMD'"));
  EXPECT_EQ(client.command({"EXEC"}), "-EXECABORT Transaction discarded because of previous errors.\r\n");
  EXPECT_EQ(client.command({"GET", "{acct}a"}), bulk("10"));
  // WATCH: a change by another client fails the transaction.
  RedisClient other = connect();
  EXPECT_EQ(client.command({"WATCH", "{acct}a"}), "+OK\r\n");
  EXPECT_EQ(other.command({"SET", "{acct}a", "12"}), "+OK\r\n");
  EXPECT_EQ(client.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SET", "{acct}a", "13"}), "+QUEUED\r\n");
  EXPECT_EQ(client.command({"EXEC"}), "*-1\r\n");
  EXPECT_EQ(client.command({"WATCH", "{acct}a", other_shard_key}), kCrossShard);
  // Scripts: keys on one shard run there; keys on several are refused.
  EXPECT_EQ(client.command({"EVAL", "return redis.call('GET', KEYS[1]) .. ARGV[1]", "1", "{acct}a", "!"}), bulk("12!"));
  EXPECT_EQ(client.command({"EVAL", "return 1", "2", "{acct}a", other_shard_key}), kCrossShard);
  EXPECT_EQ(client.command({"EVAL", "return 7", "0"}), ":7\r\n");
  // Blocking: BLPOP waits on the list's shard until another client pushes.
  std::thread pusher([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    RedisClient pushing = connect();
    pushing.command({"RPUSH", "{q}list", "job"});
  });
  EXPECT_EQ(client.command({"BLPOP", "{q}list", "{q}other", "5"}), "*2\r\n" + bulk("{q}list") + bulk("job"));
  pusher.join();
  EXPECT_EQ(client.command({"BLPOP", "{acct}list", other_shard_key, "1"}), kCrossShard);
}

TEST_F(ShardsTest, AShardThatIsDownFailsOnlyTheRequestsForItsKeys) {
  start_shards();
  RedisClient client = connect();
  for (const std::string& key : keys(30)) ASSERT_EQ(client.command({"SET", key, "v"}), "+OK\r\n");
  const std::size_t down = ring_->server_of("0:key");
  shards_[down]->kill();
  for (const std::string& key : keys(30)) {
    const std::string reply = client.command({"GET", key});
    if (ring_->server_of(key) == down) {
      EXPECT_THAT(reply, StartsWith("-ERR corral: backend")) << key;
      EXPECT_THAT(reply, HasSubstr(address(down))) << key;
    } else {
      EXPECT_EQ(reply, bulk("v")) << key;
    }
  }
  // A split command with a part on the dead shard fails whole; keyless fan-outs too.
  EXPECT_THAT(client.command({"MGET", "0:key", "1:key", "2:key", "3:key"}), StartsWith("-ERR corral: backend"));
  EXPECT_THAT(client.command({"DBSIZE"}), StartsWith("-ERR corral: backend"));
  shards_[down]->restart();
  wait_until([&] { return client.command({"SET", "0:key", "back"}) == "+OK\r\n"; }, std::chrono::seconds(10),
             "the shard to serve again");
  EXPECT_EQ(shards_[down]->command({"GET", "0:key"}), bulk("back"));
}

/// Writes `keys` through a real twemproxy with the same servers, then checks that each one is on the
/// server corral's ring picks and that corral reads it back.
class TwemproxyCompatibilityTest : public ShardsTest {
 protected:
  void write_through_twemproxy(const std::vector<std::string>& keys) {
    const uint16_t port = pick_free_port();
    const uint16_t stats = pick_free_port();
    std::ofstream conf(dir_.file("nutcracker.yml"));
    conf << "pool:\n  listen: 127.0.0.1:" << port << "\n  redis: true\n  distribution: ketama\n"
         << "  hash: fnv1a_64\n  hash_tag: \"{}\"\n  auto_eject_hosts: false\n  servers:\n";
    for (std::size_t i = 0; i < shards_.size(); ++i) {
      conf << "    - " << address(i) << ":" << weights_[i] << (names_.empty() ? "" : " " + names_[i]) << "\n";
    }
    conf.close();
    ChildProcess twemproxy = ChildProcess::spawn(
        {find_executable("nutcracker").string(), "-c", dir_.file("nutcracker.yml").string(), "-s",
         std::to_string(stats), "-a", "127.0.0.1", "-p", dir_.file("nutcracker.pid").string(), "-o",
         dir_.file("nutcracker.log").string()},
        dir_.file("nutcracker.out"));
    wait_until([&] { return can_connect("127.0.0.1", port); }, std::chrono::seconds(10), "twemproxy to listen");
    Hiredis through = Hiredis::connect(port);
    for (const std::string& key : keys) ASSERT_EQ(through.command({"SET", key, "t-" + key}), "+OK") << key;
    twemproxy.terminate();
  }

  /// Keys of every shape: plain, hash-tagged, empty tag, bytes above 0x7f (sign-extended by
  /// twemproxy's hash), long ones.
  static std::vector<std::string> varied_keys() {
    std::vector<std::string> out;
    for (int i = 0; i < 300; ++i) out.push_back("user:" + std::to_string(i * 7919));
    for (int i = 0; i < 50; ++i) out.push_back("{tag" + std::to_string(i) + "}:x" + std::to_string(i));
    for (int i = 0; i < 20; ++i) out.push_back("a{}b" + std::to_string(i));
    for (int i = 0; i < 50; ++i) out.push_back("\xc3\xa9t\xc3\xa9-" + std::to_string(i) + std::string(1, static_cast<char>(0x80 + i)));
    for (int i = 0; i < 10; ++i) out.push_back(std::string(200 + static_cast<std::size_t>(i), static_cast<char>('a' + i)));
    return out;
  }

  void expect_same_placement(const std::vector<std::string>& keys) {
    RedisClient client = connect();
    std::set<std::size_t> used;
    for (const std::string& key : keys) {
      EXPECT_EQ(shard_of(key).command({"GET", key}), bulk("t-" + key)) << "key " << key;
      EXPECT_EQ(client.command({"GET", key}), bulk("t-" + key)) << "key " << key;
      used.insert(ring_->server_of(key));
    }
    EXPECT_EQ(used.size(), shards_.size());
  }

  TempDir dir_{"corral-twemproxy"};
};

TEST_F(TwemproxyCompatibilityTest, KeysWrittenByTwemproxyAreWhereCorralReadsThem) {
  start_shards();
  const std::vector<std::string> keys = varied_keys();
  write_through_twemproxy(keys);
  expect_same_placement(keys);
}

TEST_F(TwemproxyCompatibilityTest, WeightsAndNamesPlaceKeysAsTwemproxyDoes) {
  start_shards({1, 3, 2}, {"alpha", "beta", "gamma"});
  const std::vector<std::string> keys = varied_keys();
  write_through_twemproxy(keys);
  expect_same_placement(keys);
}

}  // namespace
}  // namespace corral::testing::redis_it
