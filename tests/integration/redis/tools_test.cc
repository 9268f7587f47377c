// Redis's own tools work through corral: redis-cli (including -n, which SELECTs first, and -3) and
// redis-benchmark with pipelining. Functional checks only, no timing assertions.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

#include "redis_path.h"

namespace corral::testing::redis_it {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class Tools : public RedisPathTest {
 protected:
  void SetUp() override { start_proxy(); }

  /// redis-cli through corral, or straight to the backend with `direct`.
  CommandResult cli(std::vector<std::string> args, bool direct = false) {
    std::vector<std::string> argv = {find_executable("redis-cli").string(), "-h", "127.0.0.1", "-p",
                                     std::to_string(direct ? backend().port() : proxy_port())};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, 20s);
  }
};

TEST_F(Tools, RedisCliRunsCommandsAndSelectsWithDashN) {
  CommandResult r = cli({"SET", "foo", "bar"});
  EXPECT_EQ(r.exit_code(), 0);
  EXPECT_EQ(r.output, "OK\n");
  r = cli({"GET", "foo"});
  EXPECT_EQ(r.output, "bar\n");
  r = cli({"-n", "2", "SET", "in-two", "yes"});
  EXPECT_EQ(r.output, "OK\n");
  r = cli({"-n", "2", "GET", "in-two"});
  EXPECT_EQ(r.output, "yes\n");
  r = cli({"-n", "2", "DBSIZE"});
  EXPECT_EQ(r.output, "1\n");
  r = cli({"GET", "in-two"});
  EXPECT_EQ(r.output, "\n");  // nil in db 0, printed empty without a TTY
  r = cli({"-3", "HSET", "h", "f", "v"});
  EXPECT_EQ(r.output, "1\n");
  // RESP3 replies (a map here) print as redis-cli prints them from the server itself.
  for (const auto& args : std::vector<std::vector<std::string>>{{"-3", "HGETALL", "h"}, {"-3", "HELLO"}}) {
    r = cli(args);
    EXPECT_EQ(r.exit_code(), 0);
    const std::string direct = cli(args, /*direct=*/true).output;
    if (args[1] == "HELLO") {
      // Differs only in the connection id.
      EXPECT_THAT(r.output, ::testing::StartsWith("server redis\nversion "));
      EXPECT_THAT(r.output, HasSubstr("\nproto 3\nid "));
      EXPECT_THAT(r.output, ::testing::EndsWith("\nmode standalone\nrole master\nmodules \n"));
      EXPECT_THAT(direct, ::testing::EndsWith("\nmode standalone\nrole master\nmodules \n"));
    } else {
      EXPECT_EQ(r.output, direct);
    }
  }
  r = cli({"PING"});
  EXPECT_EQ(r.output, "PONG\n");
  r = cli({"INFO", "server"});
  EXPECT_THAT(r.output, HasSubstr("redis_version:"));
  // The backend agrees about where things went.
  EXPECT_EQ(backend().command({"GET", "foo"}), "$3\r\nbar\r\n");
  RedisClient direct = connect_direct();
  EXPECT_EQ(direct.command({"SELECT", "2"}), "+OK\r\n");
  EXPECT_EQ(direct.command({"GET", "in-two"}), "$3\r\nyes\r\n");
}

TEST_F(Tools, RedisBenchmarkFinishesEveryTestWithoutErrors) {
  const std::vector<std::string> argv = {find_executable("redis-benchmark").string(),
                                         "-h", "127.0.0.1", "-p", std::to_string(proxy_port()),
                                         "-t", "get,set,lpush,lpop,incr,mset",
                                         "-c", "50", "-P", "16", "-n", "20000", "-q", "--csv"};
  const CommandResult r = run_command(argv, 120s);
  EXPECT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_THAT(r.output, Not(HasSubstr("rror"))) << r.output;  // "Error from server", "error"
  EXPECT_THAT(r.output, Not(HasSubstr("WARNING"))) << r.output;
  // One CSV row per test with a positive requests-per-second figure.
  std::map<std::string, double> rps;
  std::istringstream lines(r.output);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.size() < 2 || line.front() != '"' || line.rfind("\"test\"", 0) == 0) continue;
    const std::size_t name_end = line.find('"', 1);
    const std::size_t rps_start = line.find('"', name_end + 1);
    const std::size_t rps_end = line.find('"', rps_start + 1);
    if (name_end == std::string::npos || rps_start == std::string::npos || rps_end == std::string::npos) continue;
    rps[line.substr(1, name_end - 1)] = std::stod(line.substr(rps_start + 1, rps_end - rps_start - 1));
  }
  for (const char* test : {"SET", "GET", "INCR", "LPUSH", "LPOP", "MSET (10 keys)"}) {
    ASSERT_TRUE(rps.contains(test)) << test << " missing from:\n" << r.output;
    EXPECT_GT(rps[test], 0.0) << test;
  }
  // Every INCR reached the backend once: 20000 increments of the one counter.
  EXPECT_EQ(backend().command({"GET", "counter:__rand_int__"}), "$5\r\n20000\r\n");
}

}  // namespace
}  // namespace corral::testing::redis_it
