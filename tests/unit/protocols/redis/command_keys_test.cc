// Key positions per command (command_keys.h): the plain ranges, the numkeys commands, XREAD's
// STREAMS, SORT/GEORADIUS STORE, and requests too short for their spec.

#include "protocols/redis/command_keys.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/redis/command_table.h"
#include "protocols/redis/encoder.h"
#include "protocols/redis/request_scanner.h"

namespace corral::redis {
namespace {

/// The keys `args` names, as the cluster router would find them.
std::vector<std::string> keys_of(std::initializer_list<std::string_view> args) {
  std::string wire;
  encode_command(wire, args);
  RequestScanner scanner;
  Request request;
  EXPECT_EQ(scanner.scan(wire, request), ScanStatus::Frame);
  const Route routed = route(request);
  const KeySpec* spec = key_spec(routed);
  std::vector<std::string> keys;
  if (spec == nullptr) return keys;
  std::vector<std::size_t> indices;
  key_indices(*spec, request, indices);
  for (std::size_t i : indices) keys.emplace_back(request.arg(i));
  return keys;
}

using Keys = std::vector<std::string>;

TEST(RedisCommandKeys, TableIsSortedAndNamesCommandsOfTheCommandTable) {
  const auto rows = keyed_commands();
  ASSERT_GT(rows.size(), 150u);
  for (std::size_t i = 0; i < rows.size(); ++i) {
    if (i > 0) {
      EXPECT_LT(rows[i - 1].name, rows[i].name);
    }
    const std::string_view name = rows[i].name;
    const std::size_t bar = name.find('|');
    const CommandInfo* command = find_command(name.substr(0, bar));
    ASSERT_NE(command, nullptr) << name;
    if (bar != std::string_view::npos) {
      EXPECT_NE(find_subcommand(*command, name.substr(bar + 1)), nullptr) << name;
    }
    EXPECT_EQ(key_spec(name), &rows[i].spec) << name;
  }
  EXPECT_EQ(key_spec("ping"), nullptr);
  EXPECT_EQ(key_spec("subscribe"), nullptr);
  EXPECT_EQ(key_spec("nosuchcommand"), nullptr);
}

TEST(RedisCommandKeys, Ranges) {
  EXPECT_EQ(keys_of({"GET", "k"}), (Keys{"k"}));
  EXPECT_EQ(keys_of({"set", "k", "v", "EX", "10"}), (Keys{"k"}));
  EXPECT_EQ(keys_of({"MGET", "a", "b", "c"}), (Keys{"a", "b", "c"}));
  EXPECT_EQ(keys_of({"MSET", "a", "1", "b", "2"}), (Keys{"a", "b"}));
  EXPECT_EQ(keys_of({"DEL", "a"}), (Keys{"a"}));
  EXPECT_EQ(keys_of({"BLPOP", "a", "b", "0"}), (Keys{"a", "b"}));
  EXPECT_EQ(keys_of({"BITOP", "AND", "dest", "a", "b"}), (Keys{"dest", "a", "b"}));
  EXPECT_EQ(keys_of({"RENAME", "a", "b"}), (Keys{"a", "b"}));
  EXPECT_EQ(keys_of({"OBJECT", "ENCODING", "k"}), (Keys{"k"}));
  EXPECT_EQ(keys_of({"XGROUP", "CREATE", "s", "g", "$"}), (Keys{"s"}));
  EXPECT_EQ(keys_of({"PING"}), Keys{});
  EXPECT_EQ(keys_of({"INFO", "server"}), Keys{});
}

TEST(RedisCommandKeys, Numkeys) {
  EXPECT_EQ(keys_of({"EVAL", "return 1", "2", "a", "b", "arg"}), (Keys{"a", "b"}));
  EXPECT_EQ(keys_of({"EVALSHA", "abc", "0", "arg"}), Keys{});
  EXPECT_EQ(keys_of({"FCALL", "f", "1", "a"}), (Keys{"a"}));
  EXPECT_EQ(keys_of({"ZUNIONSTORE", "d", "2", "a", "b", "WEIGHTS", "1", "2"}), (Keys{"d", "a", "b"}));
  EXPECT_EQ(keys_of({"ZINTER", "2", "a", "b"}), (Keys{"a", "b"}));
  EXPECT_EQ(keys_of({"LMPOP", "2", "a", "b", "LEFT"}), (Keys{"a", "b"}));
  EXPECT_EQ(keys_of({"BLMPOP", "0", "1", "a", "LEFT"}), (Keys{"a"}));
  EXPECT_EQ(keys_of({"SINTERCARD", "2", "a", "b", "LIMIT", "1"}), (Keys{"a", "b"}));
}

TEST(RedisCommandKeys, BadNumkeysYieldsNoKeys) {
  EXPECT_EQ(keys_of({"EVAL", "return 1", "3", "a"}), Keys{});
  EXPECT_EQ(keys_of({"EVAL", "return 1", "-1", "a"}), Keys{});
  EXPECT_EQ(keys_of({"EVAL", "return 1", "x", "a"}), Keys{});
  EXPECT_EQ(keys_of({"ZUNIONSTORE", "d", "9", "a"}), (Keys{"d"}));
}

TEST(RedisCommandKeys, Streams) {
  EXPECT_EQ(keys_of({"XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"}), (Keys{"a", "b"}));
  EXPECT_EQ(keys_of({"XREAD", "BLOCK", "0", "STREAMS", "a", "$"}), (Keys{"a"}));
  EXPECT_EQ(keys_of({"XREADGROUP", "GROUP", "streams", "streams", "STREAMS", "s", ">"}), (Keys{"s"}));
  EXPECT_EQ(keys_of({"XREAD", "STREAMS", "a", "b", "0"}), Keys{});  // odd: the server refuses it
  EXPECT_EQ(keys_of({"XREAD", "STREAMS"}), Keys{});
}

TEST(RedisCommandKeys, StoreOptions) {
  EXPECT_EQ(keys_of({"SORT", "k"}), (Keys{"k"}));
  EXPECT_EQ(keys_of({"SORT", "k", "LIMIT", "0", "1", "STORE", "d"}), (Keys{"k", "d"}));
  EXPECT_EQ(keys_of({"GEORADIUS", "g", "0", "0", "1", "km", "STOREDIST", "d"}), (Keys{"g", "d"}));
}

}  // namespace
}  // namespace corral::redis
