// Tests of the test harness itself: real redis-server and mariadbd start, answer, die and come back
// on the same port; users log in; directories and processes are gone after teardown; a missing binary
// fails with a message that says what to do.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "harness.h"

namespace corral::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;
using namespace std::chrono_literals;

// True once `pid` is gone or a zombie nobody reaped yet (an orphan waiting for init).
bool process_dead(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  const auto close_paren = line.rfind(')');
  return close_paren != std::string::npos && close_paren + 2 < line.size() && line[close_paren + 2] == 'Z';
}

bool eventually_dead(pid_t pid, std::chrono::milliseconds timeout = 5s) {
  return poll_until([pid] { return process_dead(pid); }, timeout);
}

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const HarnessError& e) {
    return e.what();
  }
  return "<no exception>";
}

// --- binaries, ports, processes ---------------------------------------------------------------

TEST(HarnessBinaries, MissingBinaryFailsWithInstructions) {
  const std::string msg = message_of([] { find_executable("redis-server", "/nonexistent-corral-dir"); });
  EXPECT_THAT(msg, StartsWith("redis-server not found in PATH; run scripts/install-deps.sh"));
  EXPECT_THAT(message_of([] { find_executable("mariadbd", ""); }),
              StartsWith("mariadbd not found in PATH; run scripts/install-deps.sh"));
}

TEST(HarnessBinaries, InstalledServersAreFound) {
  EXPECT_TRUE(std::filesystem::exists(find_executable("redis-server")));
  EXPECT_TRUE(std::filesystem::exists(find_executable("mariadbd")));
  EXPECT_TRUE(std::filesystem::exists(find_executable("mariadb-install-db")));
}

TEST(HarnessPorts, PickedPortsAreDistinctAndBindable) {
  const uint16_t a = pick_free_port();
  const uint16_t b = pick_free_port();
  EXPECT_NE(a, 0);
  EXPECT_NE(a, b);
  EXPECT_FALSE(can_connect("127.0.0.1", a));
}

TEST(HarnessProcess, ExecFailureIsReported) {
  TempDir dir("corral-harness-test-");
  EXPECT_THAT(message_of([&] { ChildProcess::spawn({"/nonexistent/binary"}, dir.file("log")); }),
              HasSubstr("cannot execute /nonexistent/binary"));
}

TEST(HarnessProcess, DestructorKillsAndReapsChild) {
  TempDir dir("corral-harness-test-");
  pid_t pid = 0;
  {
    ChildProcess child = ChildProcess::spawn({"/bin/sleep", "100"}, dir.file("log"));
    pid = child.pid();
    EXPECT_TRUE(child.running());
  }
  EXPECT_EQ(::kill(pid, 0), -1) << "child still exists (not reaped)";
}

TEST(HarnessProcess, ChildDiesWithTheTestProcess) {
  // A test binary that crashes runs no destructors; PR_SET_PDEATHSIG must take its servers down.
  TempDir dir("corral-harness-test-");
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t middle = ::fork();
  ASSERT_GE(middle, 0);
  if (middle == 0) {
    ChildProcess child = ChildProcess::spawn({"/bin/sleep", "100"}, dir.file("log"));
    const pid_t pid = child.pid();
    [[maybe_unused]] auto n = ::write(pipe_fds[1], &pid, sizeof pid);
    ::_exit(0);  // no destructors: like a crash
  }
  pid_t grandchild = 0;
  ASSERT_EQ(::read(pipe_fds[0], &grandchild, sizeof grandchild), static_cast<ssize_t>(sizeof grandchild));
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  int status = 0;
  ::waitpid(middle, &status, 0);
  EXPECT_TRUE(eventually_dead(grandchild)) << "orphaned child " << grandchild << " survived its parent";
}

TEST(HarnessProcess, TerminateReportsExitCode) {
  TempDir dir("corral-harness-test-");
  ChildProcess child = ChildProcess::spawn({"/bin/sh", "-c", "exit 3"}, dir.file("log"));
  const auto status = child.wait_for(5s);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(exit_code(*status), 3);
  ChildProcess sleeper = ChildProcess::spawn({"/bin/sleep", "100"}, dir.file("log"));
  EXPECT_EQ(exit_code(sleeper.terminate()), 128 + SIGTERM);
}

TEST(HarnessProcess, RunCommandCapturesOutput) {
  const CommandResult r = run_command({"/bin/sh", "-c", "echo out; echo err >&2; exit 4"});
  EXPECT_EQ(r.exit_code(), 4);
  EXPECT_THAT(r.output, HasSubstr("out\n"));
  EXPECT_THAT(r.output, HasSubstr("err\n"));
}

TEST(HarnessWait, ReturnsOnceTheConditionHolds) {
  int calls = 0;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(poll_until([&] { return ++calls == 3; }, 5s, 1ms));
  EXPECT_EQ(calls, 3);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  calls = 0;
  EXPECT_NO_THROW(wait_until([&] { return ++calls == 2; }, 5s, "the second call", 1ms));
  EXPECT_EQ(calls, 2);
}

TEST(HarnessWait, GivesUpAtTheDeadlineNamingWhatItWaitedFor) {
  int calls = 0;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(poll_until([&] { return ++calls < 0; }, 50ms, 5ms));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 50ms);
  EXPECT_GE(calls, 2) << "checked again after the last sleep";
  const std::string msg = message_of([] { wait_until([] { return false; }, 20ms, "the moon to turn blue"); });
  EXPECT_EQ(msg, "timed out after 20 ms waiting for the moon to turn blue");
  // A condition that already holds is never waited for, even with no time left.
  EXPECT_TRUE(poll_until([] { return true; }, 0ms));
}

TEST(HarnessTempDir, RemovedWithItsContents) {
  std::filesystem::path path;
  {
    TempDir dir("corral-harness-test-");
    path = dir.path();
    std::filesystem::create_directories(dir.file("a/b"));
    write_file(dir.file("a/b/c"), "x");
    EXPECT_TRUE(std::filesystem::exists(path));
  }
  EXPECT_FALSE(std::filesystem::exists(path));
}

// --- RESP framing ---------------------------------------------------------------------------

TEST(HarnessResp, ReplyLengthFramesWholeRepliesOnly) {
  EXPECT_EQ(resp_reply_length("+OK\r\n"), 5u);
  EXPECT_EQ(resp_reply_length("+OK\r"), std::nullopt);
  EXPECT_EQ(resp_reply_length("$3\r\nabc\r\n+OK\r\n"), 9u);
  EXPECT_EQ(resp_reply_length("$3\r\nab"), std::nullopt);
  EXPECT_EQ(resp_reply_length("$-1\r\n"), 5u);
  EXPECT_EQ(resp_reply_length("*2\r\n:1\r\n$1\r\nx\r\n"), 15u);
  EXPECT_EQ(resp_reply_length("*2\r\n:1\r\n"), std::nullopt);
  EXPECT_EQ(resp_reply_length("%1\r\n+a\r\n:1\r\n"), 12u);
  EXPECT_EQ(resp_reply_length("|1\r\n+k\r\n+v\r\n:7\r\n"), 16u);
  EXPECT_THROW(resp_reply_length("hello\r\n"), HarnessError);
  EXPECT_EQ(encode_command({"GET", "k"}), "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
}

// --- redis-server ---------------------------------------------------------------------------

TEST(HarnessRedis, StartsAnswersAndCleansUp) {
  std::filesystem::path dir;
  pid_t pid = 0;
  {
    RedisServer redis;
    dir = redis.dir();
    pid = redis.pid();
    EXPECT_EQ(redis.host(), "127.0.0.1");
    EXPECT_NE(redis.port(), 0);
    EXPECT_EQ(redis.url(), "redis://127.0.0.1:" + std::to_string(redis.port()));
    EXPECT_EQ(redis.command({"PING"}), "+PONG\r\n");
    EXPECT_EQ(redis.command({"SET", "k", "v"}), "+OK\r\n");
    RedisClient client = redis.connect();
    EXPECT_EQ(client.command({"GET", "k"}), "$1\r\nv\r\n");
    EXPECT_THAT(redis.command({"CONFIG", "GET", "save"}), HasSubstr("$4\r\nsave\r\n$0\r\n\r\n"));
    EXPECT_TRUE(std::filesystem::exists(dir));
  }
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
  EXPECT_EQ(::kill(pid, 0), -1) << "redis-server still exists";
}

TEST(HarnessRedis, KillAndRestartOnTheSamePort) {
  RedisServer redis;
  const uint16_t port = redis.port();
  RedisClient client = redis.connect();
  EXPECT_EQ(client.command({"SET", "k", "v"}), "+OK\r\n");
  redis.kill();
  EXPECT_FALSE(redis.running());
  EXPECT_FALSE(can_connect("127.0.0.1", port));
  EXPECT_TRUE(client.wait_closed(2s));
  redis.restart();
  EXPECT_TRUE(redis.running());
  EXPECT_EQ(redis.port(), port);
  EXPECT_EQ(redis.command({"PING"}), "+PONG\r\n");
  EXPECT_EQ(redis.command({"GET", "k"}), "$-1\r\n") << "persistence is off: a restart starts empty";
  redis.restart();  // a running server is stopped first
  EXPECT_EQ(redis.command({"PING"}), "+PONG\r\n");
}

TEST(HarnessRedis, RestartOnATakenPortFailsClearly) {
  RedisServer redis;
  redis.kill();
  // Someone else listens on the port now: restart() must not silently move to another port.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(redis.port());
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  const std::string msg = message_of([&] { redis.restart(); });
  ::close(fd);
  EXPECT_THAT(msg, HasSubstr("Address already in use"));
  EXPECT_THAT(msg, HasSubstr(std::to_string(redis.port())));
}

TEST(HarnessRedis, StopIsAGracefulShutdown) {
  RedisServer redis;
  EXPECT_EQ(redis.stop(), 0);
  EXPECT_FALSE(redis.running());
  EXPECT_THAT(redis.log(), HasSubstr("ready to exit"));
}

TEST(HarnessRedis, PasswordAclAndClientList) {
  RedisServer redis({.extra_args = {"--requirepass", "s3cret"}});
  RedisClient anonymous = redis.connect();
  EXPECT_THAT(anonymous.command({"PING"}), StartsWith("-NOAUTH"));
  EXPECT_EQ(redis.command({"ACL", "SETUSER", "alice", "on", ">alicepw", "~*", "+@all"}), "+OK\r\n");
  RedisClient alice = redis.connect();
  EXPECT_EQ(alice.command({"AUTH", "alice", "alicepw"}), "+OK\r\n");
  EXPECT_EQ(alice.command({"CLIENT", "SETNAME", "alice-conn"}), "+OK\r\n");
  const std::string list = redis.command({"CLIENT", "LIST"});
  EXPECT_THAT(list, HasSubstr("name=alice-conn"));
  EXPECT_THAT(list, HasSubstr("name=corral-harness"));
}

TEST(HarnessRedis, ExtraArgumentsReachTheServer) {
  RedisServer redis({.extra_args = {"--databases", "2"}});
  EXPECT_EQ(redis.command({"CONFIG", "GET", "databases"}), "*2\r\n$9\r\ndatabases\r\n$1\r\n2\r\n");
  RedisClient client = redis.connect();
  EXPECT_THAT(client.command({"SELECT", "5"}), StartsWith("-ERR"));
}

TEST(HarnessRedis, FrozenServerTimesOutThenAnswers) {
  RedisServer redis;
  RedisClient client = redis.connect();
  redis.freeze();
  client.set_timeout(300ms);
  client.send(encode_command({"PING"}));
  EXPECT_THAT(message_of([&] { client.read_reply(); }), HasSubstr("timed out"));
  redis.thaw();
  client.set_timeout(5s);
  EXPECT_EQ(client.read_reply(), "+PONG\r\n");
}

TEST(HarnessRedis, StartFailureShowsTheLog) {
  const std::string msg = message_of([] { RedisServer redis({.extra_args = {"--no-such-option", "1"}}); });
  EXPECT_THAT(msg, HasSubstr("during start-up"));
  EXPECT_THAT(msg, HasSubstr("no-such-option"));
}

// --- mariadbd -------------------------------------------------------------------------------

TEST(HarnessMariaDb, StartsAnswersAndCleansUp) {
  std::filesystem::path dir;
  pid_t pid = 0;
  {
    MariaDbServer db;
    dir = db.dir();
    pid = db.pid();
    EXPECT_NE(db.port(), 0);
    EXPECT_THAT(db.query("SELECT VERSION()").at(0), HasSubstr("MariaDB"));
    EXPECT_EQ(db.query("SELECT @@port").at(0), std::to_string(db.port()));
    EXPECT_EQ(db.query("SELECT @@bind_address").at(0), "127.0.0.1");
    EXPECT_TRUE(std::filesystem::exists(db.socket_path()));
  }
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
  EXPECT_EQ(::kill(pid, 0), -1) << "mariadbd still exists";
}

TEST(HarnessMariaDb, CreatedUserLogsInOverTcp) {
  MariaDbServer db;
  db.create_database("demo");
  db.create_user("app", "app'pw");
  MysqlClient app = db.connect("app", "app'pw", "demo");
  const QueryResult r = app.query("SELECT CURRENT_USER(), DATABASE(), NULL");
  EXPECT_EQ(r.columns.size(), 3u);
  EXPECT_EQ(r.at(0, 0), "app@%");
  EXPECT_EQ(r.at(0, 1), "demo");
  EXPECT_FALSE(r.rows[0][2].has_value());
  app.execute("CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, v TEXT)");
  const QueryResult ins = app.query("INSERT INTO t (v) VALUES ('a'), ('b')");
  EXPECT_EQ(ins.affected_rows, 2u);
  EXPECT_EQ(ins.insert_id, 1u);
  EXPECT_EQ(db.url("app", "pw", "demo"), "mysql://app:pw@127.0.0.1:" + std::to_string(db.port()) + "/demo");

  try {
    db.connect("app", "wrong");
    FAIL() << "a wrong password logged in";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1045u);
    EXPECT_EQ(e.sqlstate(), "28000");
  }
}

TEST(HarnessMariaDb, Ed25519IsAvailableCachingSha2IsNot) {
  MariaDbServer db;
  db.create_user("ed", "edpw", "ed25519");
  EXPECT_EQ(db.connect("ed", "edpw").query("SELECT CURRENT_USER()").at(0), "ed@%");
  EXPECT_EQ(db.query("SELECT plugin FROM mysql.user WHERE user = 'ed'").at(0), "ed25519");
  // MariaDB 10.11 ships no caching_sha2_password server plugin: corral must speak it itself.
  EXPECT_THROW(db.create_user("sha2", "pw", "caching_sha2_password"), MysqlException);
}

TEST(HarnessMariaDb, KillAndRestartOnTheSamePortKeepsCommittedData) {
  MariaDbServer db;
  const uint16_t port = db.port();
  db.create_database("d");
  db.execute("CREATE TABLE d.t (v INT) ENGINE=InnoDB; INSERT INTO d.t VALUES (42)");
  db.create_user("app", "pw");
  MysqlClient app = db.connect("app", "pw");
  db.kill();
  EXPECT_FALSE(db.running());
  EXPECT_FALSE(can_connect("127.0.0.1", port));
  EXPECT_FALSE(app.ping());
  db.restart();
  EXPECT_EQ(db.port(), port);
  EXPECT_EQ(db.connect("app", "pw").query("SELECT v FROM d.t").at(0), "42");
  EXPECT_EQ(db.stop(), 0);
  db.restart();
  EXPECT_EQ(db.query("SELECT COUNT(*) FROM d.t").at(0), "1");
}

TEST(HarnessMariaDb, StatementErrorsCarryCodeAndState) {
  MariaDbServer db;
  try {
    db.execute("SELECT * FROM mysql.no_such_table");
    FAIL() << "query succeeded";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1146u);  // ER_NO_SUCH_TABLE
    EXPECT_EQ(e.sqlstate(), "42S02");
  }
  EXPECT_EQ(sql_quote("it's \\"), "'it''s \\\\'");
  EXPECT_EQ(sql_identifier("a`b"), "`a``b`");
}

// --- CorralProcess (against a stand-in daemon, and the real one once it is built) --------------

TEST(HarnessCorral, StartsOnFreePortsAndStopsWithSigterm) {
  std::filesystem::path dir;
  {
    CorralProcess corral({
        .listeners = {{.name = "r", .protocol = "redis", .backend = "redis://127.0.0.1:1"},
                      {.name = "m", .protocol = "mysql", .backend = "mysql://u:p@127.0.0.1:1", .auth = "users"}},
        .extra_toml = "[server]\nworkers = 1\n\n[[users]]\nname = \"u\"\npassword = \"p\"\n",
        .binary = CORRAL_FAKE_DAEMON,
    });
    dir = corral.dir();
    EXPECT_NE(corral.port("r"), corral.port("m"));
    EXPECT_TRUE(can_connect("127.0.0.1", corral.port("r")));
    EXPECT_TRUE(can_connect("127.0.0.1", corral.port("m")));
    const std::string config = corral.config_text();
    EXPECT_THAT(config, HasSubstr("address = \"127.0.0.1:" + std::to_string(corral.port("m")) + "\""));
    EXPECT_THAT(config, HasSubstr("auth = \"users\""));
    EXPECT_THAT(config, HasSubstr("workers = 1"));
    EXPECT_THROW(corral.port("nope"), HarnessError);
    EXPECT_EQ(corral.stop(), 0);
    EXPECT_THAT(corral.log(), HasSubstr("SIGTERM"));
    corral.restart();
    EXPECT_TRUE(can_connect("127.0.0.1", corral.port("r")));
  }
  EXPECT_FALSE(std::filesystem::exists(dir));
}

TEST(HarnessCorral, ExitDuringStartUpShowsItsOutput) {
  const std::string msg = message_of([] {
    CorralProcess corral({.listeners = {{.name = "r", .protocol = "redis", .backend = "redis://127.0.0.1:1"}},
                          .env = {"FAKE_CORRAL_FAIL=corral.toml:3: listeners[0].protocol must be redis or mysql"},
                          .binary = CORRAL_FAKE_DAEMON});
  });
  EXPECT_THAT(msg, HasSubstr("exited with status 2"));
  EXPECT_THAT(msg, HasSubstr("listeners[0].protocol must be"));
}

TEST(HarnessCorral, MissingBinaryIsAClearError) {
  EXPECT_THAT(message_of([] { CorralProcess::binary_path("/nonexistent/corral"); }),
              HasSubstr("missing or not executable"));
  EXPECT_EQ(toml_quote("a\"b\\c\n"), "\"a\\\"b\\\\c\\n\"");
}

#ifdef CORRAL_HAVE_DAEMON
TEST(HarnessCorral, RealDaemonProxiesRedis) {
  RedisServer redis;
  CorralProcess corral({.listeners = {{.name = "redis", .protocol = "redis", .backend = redis.url(), .auth = "none"}}});
  try {
    RedisClient client = RedisClient::connect("127.0.0.1", corral.port("redis"), 5s);
    EXPECT_EQ(client.command({"SET", "through", "corral"}), "+OK\r\n");
    EXPECT_EQ(redis.command({"GET", "through"}), "$6\r\ncorral\r\n");
  } catch (const HarnessError& e) {
    ADD_FAILURE() << e.what() << "\ncorral output:\n" << corral.log();
  }
  EXPECT_EQ(corral.stop(), 0) << corral.log();
}
#endif

}  // namespace
}  // namespace corral::testing
