// What a client sees of its own connection through corral is what it would see direct: who it is
// (AUTH, HELLO AUTH, ACL WHOAMI), whether replies come (CLIENT REPLY), what RESET and QUIT do inside
// MULTI, and replies the server nests deeply. Most checks run the same commands direct and through
// corral and compare the bytes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "redis_path.h"

namespace corral::testing::redis_it {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr std::string_view kWrongPass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
constexpr std::string_view kNoAuth = "-NOAUTH Authentication required.\r\n";

/// Sends `commands` as one pipeline, then PING, and returns every reply up to the PONG: replies a
/// silenced client does not get are simply absent.
std::vector<std::string> pipeline_until_pong(RedisClient& client, const std::vector<std::vector<std::string>>& commands) {
  std::string batch;
  for (const auto& command : commands) batch += encode_command(command);
  batch += encode_command({"PING", "end-of-pipeline"});
  client.send(batch);
  std::vector<std::string> replies;
  for (;;) {
    std::string reply = client.read_reply();
    if (reply == "$15\r\nend-of-pipeline\r\n") return replies;
    replies.push_back(std::move(reply));
  }
}

void add_alice(RedisServer& server) {
  ASSERT_EQ(server.command({"ACL", "SETUSER", "alice", "on", ">pw", "~*", "&*", "+@all"}), "+OK\r\n");
}

// ---------------------------------------------------------------------------------------------
// auth = "none": corral has no password, the backend's ACL users still exist.

class AuthNone : public RedisPathTest {
 protected:
  void SetUp() override {
    start_backend();
    add_alice(backend());
    start_proxy();
  }
};

TEST_F(AuthNone, AuthAsAnAclUserSwitchesToThatUsersConnection) {
  RedisClient client = connect();
  EXPECT_EQ(client.command({"ACL", "WHOAMI"}), "$7\r\ndefault\r\n");
  EXPECT_EQ(client.command({"AUTH", "alice", "pw"}), "+OK\r\n");
  EXPECT_EQ(client.command({"ACL", "WHOAMI"}), "$5\r\nalice\r\n");
  EXPECT_EQ(client.command({"SET", "k", "v"}), "+OK\r\n");
  bool alice_connection = false;
  for (const auto& c : client_list(backend())) {
    if (c.at("name") == "corral" && c.at("user") == "alice") alice_connection = true;
  }
  EXPECT_TRUE(alice_connection);
  // Back to the default user, as on the server: any password does for a default user without one.
  EXPECT_EQ(client.command({"AUTH", "default", "whatever"}), "+OK\r\n");
  EXPECT_EQ(client.command({"ACL", "WHOAMI"}), "$7\r\ndefault\r\n");
}

TEST_F(AuthNone, WrongPasswordsGetTheServersOwnErrors) {
  RedisClient direct = connect_direct();
  RedisClient client = connect();
  for (const std::vector<std::string>& auth :
       {std::vector<std::string>{"AUTH", "alice", "nope"}, {"AUTH", "nobody", "pw"}, {"AUTH", "pw"},
        {"HELLO", "3", "AUTH", "alice", "nope"}}) {
    EXPECT_EQ(client.command(auth), direct.command(auth)) << auth[1];
  }
  EXPECT_EQ(client.command({"ACL", "WHOAMI"}), "$7\r\ndefault\r\n");
}

TEST_F(AuthNone, HelloThreeAuthLogsInAsTheAclUser) {
  RedisClient client = connect();
  EXPECT_THAT(client.command({"HELLO", "3", "AUTH", "alice", "pw"}), StartsWith("%7\r\n"));
  EXPECT_EQ(client.command({"ACL", "WHOAMI"}), "$5\r\nalice\r\n");
  EXPECT_THAT(client.command({"CLIENT", "INFO"}), HasSubstr(" user=alice "));
  EXPECT_EQ(client.command({"HSET", "h", "f", "v"}), ":1\r\n");
  EXPECT_EQ(client.command({"HGETALL", "h"}), "%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
}

// redis-server keeps a client's db across AUTH and checks SELECT only when the client runs it: a
// user without +select that AUTHs in db 9 works in db 9 (unit/scripting "Script ACL check").
TEST_F(AuthNone, AuthAsAUserWithoutSelectKeepsTheClientsDb) {
  ASSERT_EQ(backend().command({"ACL", "SETUSER", "bob", "on", ">123", "~*", "+@all", "-select"}), "+OK\r\n");
  RedisClient direct = connect_direct();
  RedisClient client = connect();
  for (RedisClient* c : {&direct, &client}) {
    ASSERT_EQ(c->command({"SELECT", "9"}), "+OK\r\n");
    ASSERT_EQ(c->command({"SET", "k", "nine"}), "+OK\r\n");
  }
  for (const std::vector<std::string>& request :
       {std::vector<std::string>{"AUTH", "bob", "123"}, {"GET", "k"}, {"SELECT", "0"}, {"SELECT", "9"}, {"GET", "k"},
        {"ACL", "WHOAMI"}}) {
    EXPECT_EQ(client.command(request), direct.command(request)) << request[0] << " " << request[1];
  }
  EXPECT_EQ(client.command({"GET", "k"}), "$4\r\nnine\r\n");
}

TEST_F(AuthNone, AuthAsAUserWithSelectMovesOnAsItSelects) {
  ASSERT_EQ(backend().command({"ACL", "SETUSER", "carol", "on", ">123", "~*", "+@all"}), "+OK\r\n");
  ASSERT_EQ(backend().command({"SELECT", "0"}), "+OK\r\n");
  RedisClient client = connect();
  ASSERT_EQ(client.command({"SELECT", "9"}), "+OK\r\n");
  ASSERT_EQ(client.command({"SET", "k", "nine"}), "+OK\r\n");
  EXPECT_EQ(client.command({"AUTH", "carol", "123"}), "+OK\r\n");
  EXPECT_EQ(client.command({"GET", "k"}), "$4\r\nnine\r\n");
  EXPECT_EQ(client.command({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(client.command({"GET", "k"}), "$-1\r\n");
  EXPECT_EQ(client.command({"SET", "k", "zero"}), "+OK\r\n");
  EXPECT_EQ(backend().command({"GET", "k"}), "$4\r\nzero\r\n");
}

class AuthNoneUrlUser : public RedisPathTest {
 protected:
  void SetUp() override {
    start_backend();
    ASSERT_EQ(backend().command({"ACL", "SETUSER", "svc", "on", ">svcpw", "~*", "&*", "+@all"}), "+OK\r\n");
    const std::string url = backend().url();
    start_proxy({.backend = "redis://svc:svcpw@" + url.substr(std::string_view("redis://").size())});
  }
};

TEST_F(AuthNoneUrlUser, WhoamiNamesTheClientsUserNotTheBackendConnections) {
  RedisClient client = connect();
  EXPECT_EQ(client.command({"SET", "k", "v"}), "+OK\r\n");
  EXPECT_EQ(client.command({"ACL", "WHOAMI"}), "$7\r\ndefault\r\n");
}

// ---------------------------------------------------------------------------------------------
// auth = "backend": the client is whoever the backend says, default included.

class AuthBackend : public RedisPathTest {
 protected:
  void SetUp() override {
    start_backend();
    add_alice(backend());
    start_proxy({.auth = "backend"});
  }
};

TEST_F(AuthBackend, NoAuthNeededWhenTheDefaultUserHasNoPassword) {
  RedisClient direct = connect_direct();
  RedisClient client = connect();
  EXPECT_EQ(client.command({"GET", "k"}), direct.command({"GET", "k"}));
  EXPECT_EQ(client.command({"ACL", "WHOAMI"}), "$7\r\ndefault\r\n");
  EXPECT_EQ(client.command({"AUTH", "alice", "pw"}), "+OK\r\n");
  EXPECT_EQ(client.command({"ACL", "WHOAMI"}), "$5\r\nalice\r\n");
  // RESET makes it the default user again, still without AUTH.
  EXPECT_EQ(client.command({"RESET"}), "+RESET\r\n");
  EXPECT_EQ(client.command({"ACL", "WHOAMI"}), "$7\r\ndefault\r\n");
}

TEST_F(AuthBackend, HelloWithoutAuthWorksWhenTheDefaultUserHasNoPassword) {
  RedisClient client = connect();
  EXPECT_THAT(client.command({"HELLO", "3"}), StartsWith("%7\r\n"));
  EXPECT_EQ(client.command({"ACL", "WHOAMI"}), "$7\r\ndefault\r\n");
}

TEST_F(AuthBackend, NoAuthWhenTheDefaultUserNeedsAPassword) {
  ASSERT_EQ(backend().command({"CONFIG", "SET", "requirepass", "secret"}), "+OK\r\n");
  RedisClient direct = connect_direct();
  ASSERT_EQ(direct.command({"GET", "k"}), kNoAuth);
  RedisClient client = connect();
  EXPECT_EQ(client.command({"GET", "k"}), kNoAuth);
  EXPECT_EQ(client.command({"AUTH", "wrong"}), direct.command({"AUTH", "wrong"}));
  EXPECT_EQ(client.command({"AUTH", "secret"}), "+OK\r\n");
  EXPECT_EQ(client.command({"GET", "k"}), "$-1\r\n");
  EXPECT_EQ(client.command({"ACL", "WHOAMI"}), "$7\r\ndefault\r\n");
  RedisClient other = connect();
  EXPECT_EQ(other.command({"AUTH", "alice", "nope"}), kWrongPass);
  EXPECT_EQ(other.command({"AUTH", "alice", "pw"}), "+OK\r\n");
  EXPECT_EQ(other.command({"ACL", "WHOAMI"}), "$5\r\nalice\r\n");
}

// ---------------------------------------------------------------------------------------------
// CLIENT REPLY, RESET and QUIT inside MULTI, deep replies: the same bytes as direct.

class ClientSemantics : public RedisPathTest {
 protected:
  void SetUp() override { start_proxy(); }

  /// Runs `commands` direct and through corral (flushing the database before each) and expects the same replies.
  void expect_as_direct(const std::vector<std::vector<std::string>>& commands) {
    RedisClient direct = connect_direct();
    ASSERT_EQ(direct.command({"FLUSHALL"}), "+OK\r\n");
    const std::vector<std::string> expected = pipeline_until_pong(direct, commands);
    RedisClient client = connect();
    ASSERT_EQ(client.command({"FLUSHALL"}), "+OK\r\n");
    EXPECT_EQ(pipeline_until_pong(client, commands), expected);
  }
};

TEST_F(ClientSemantics, ClientReplyOffOnSkipDropExactlyTheRepliesTheServerDrops) {
  expect_as_direct({{"CLIENT", "REPLY", "OFF"},
                    {"SET", "a", "1"},
                    {"INCR", "a"},
                    {"MULTI"},
                    {"INCR", "a"},
                    {"EXEC"},
                    {"BLPOP", "nolist", "0.01"},
                    {"SELECT", "1"},
                    {"CLIENT", "REPLY", "SKIP"},
                    {"CLIENT", "REPLY", "ON"},
                    {"SELECT", "0"},
                    {"CLIENT", "REPLY", "SKIP"},
                    {"INCR", "a"},
                    {"GET", "a"},
                    {"CLIENT", "REPLY", "bogus"},
                    {"CLIENT", "REPLY", "OFF"},
                    {"RESET"},
                    {"GET", "a"}});
}

TEST_F(ClientSemantics, ClientReplyOffStillDeliversResp3PubSubPushes) {
  RedisClient subscriber = connect();
  RedisClient publisher = connect();
  ASSERT_THAT(subscriber.command({"HELLO", "3"}), StartsWith("%7\r\n"));
  subscriber.send(encode_command({"CLIENT", "REPLY", "OFF"}) + encode_command({"SUBSCRIBE", "ch"}));
  EXPECT_EQ(subscriber.read_reply(), ">3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n");
  EXPECT_EQ(publisher.command({"PUBLISH", "ch", "hi"}), ":1\r\n");
  EXPECT_EQ(subscriber.read_reply(), ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
}

TEST_F(ClientSemantics, ResetInsideMultiDiscardsTheTransaction) {
  expect_as_direct({{"MULTI"}, {"SET", "k", "v"}, {"RESET"}, {"EXEC"}, {"GET", "k"}, {"MULTI"}, {"SET", "k", "w"},
                    {"EXEC"}, {"GET", "k"}});
}

TEST_F(ClientSemantics, ResetWhileWatchingForgetsTheWatch) {
  RedisClient client = connect();
  RedisClient other = connect();
  EXPECT_EQ(client.command({"WATCH", "k"}), "+OK\r\n");
  EXPECT_EQ(client.command({"RESET"}), "+RESET\r\n");
  EXPECT_EQ(other.command({"SET", "k", "changed"}), "+OK\r\n");
  EXPECT_EQ(client.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SET", "k", "mine"}), "+QUEUED\r\n");
  EXPECT_EQ(client.command({"EXEC"}), "*1\r\n+OK\r\n");
  EXPECT_EQ(other.command({"GET", "k"}), "$4\r\nmine\r\n");
}

TEST_F(ClientSemantics, QuitInsideMultiClosesWithoutRunningIt) {
  RedisClient client = connect();
  EXPECT_EQ(client.command({"MULTI"}), "+OK\r\n");
  EXPECT_EQ(client.command({"SET", "k", "v"}), "+QUEUED\r\n");
  EXPECT_EQ(client.command({"QUIT"}), "+OK\r\n");
  EXPECT_TRUE(client.wait_closed(5s));
  EXPECT_EQ(connect().command({"GET", "k"}), "$-1\r\n");
}

TEST_F(ClientSemantics, ScriptRepliesNestedDeeperThanRequestsMayBeAreRelayed) {
  // Read raw until the connection closes after QUIT: the harness's own parser caps the depth.
  const std::string script = encode_command({"EVAL", "local a = {} local b = {a} a[1] = b return a", "0"}) +
                             encode_command({"EVAL", "local t = {} for i = 1, 200 do t = {t} end return t", "0"}) +
                             encode_command({"QUIT"});
  std::string direct_bytes;
  RedisClient direct = connect_direct();
  direct.send(script);
  ASSERT_TRUE(direct.wait_closed(10s, &direct_bytes));
  ASSERT_GT(direct_bytes.size(), 1000u);
  std::string bytes;
  RedisClient client = connect();
  client.send(script);
  ASSERT_TRUE(client.wait_closed(10s, &bytes));
  EXPECT_EQ(bytes, direct_bytes);
}

// ---------------------------------------------------------------------------------------------
// Commands that name connections speak of corral's clients, on every worker.

class ClientTable : public RedisPathTest {
 protected:
  void SetUp() override { start_proxy({.workers = 2}); }
};

std::string client_id(RedisClient& client) {
  const std::string reply = client.command({"CLIENT", "ID"});
  return reply.substr(1, reply.size() - 3);
}

TEST_F(ClientTable, ClientListShowsCorralsClientsOnEveryWorker) {
  std::vector<RedisClient> clients;
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(connect());
    ASSERT_EQ(clients.back().command({"CLIENT", "SETNAME", "c" + std::to_string(i)}), "+OK\r\n");
    ids.push_back(client_id(clients.back()));
  }
  ASSERT_EQ(clients[2].command({"SELECT", "2"}), "+OK\r\n");
  const std::string list = bulk_payload(clients[0].command({"CLIENT", "LIST"}));
  for (int i = 0; i < 6; ++i) {
    EXPECT_NE(list.find("id=" + ids[i] + " "), std::string::npos) << list;
    EXPECT_NE(list.find(" name=c" + std::to_string(i) + " "), std::string::npos) << list;
  }
  EXPECT_NE(list.find(" name=c2 age="), std::string::npos);
  EXPECT_NE(list.find(" db=2 "), std::string::npos) << list;
  EXPECT_EQ(list.find("name=corral"), std::string::npos) << "backend connections listed: " << list;
  EXPECT_NE(list.find("id=" + ids[0] + " "), std::string::npos);
  const std::string mine = bulk_payload(clients[3].command({"CLIENT", "LIST", "ID", ids[3], ids[5]}));
  EXPECT_EQ(mine.find("id=" + ids[3] + " "), 0u) << mine;
  EXPECT_NE(mine.find(" cmd=client|list "), std::string::npos) << mine;
  EXPECT_NE(mine.find("id=" + ids[5] + " "), std::string::npos) << mine;
  EXPECT_EQ(mine.find("id=" + ids[4] + " "), std::string::npos) << mine;
}

TEST_F(ClientTable, ClientKillByIdAndAddrClosesThatClientOnly) {
  std::vector<RedisClient> clients;
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(connect());
    ids.push_back(client_id(clients.back()));
  }
  EXPECT_EQ(clients[0].command({"CLIENT", "KILL", "ID", ids[1]}), ":1\r\n");
  EXPECT_TRUE(clients[1].wait_closed(5s));
  EXPECT_EQ(clients[0].command({"CLIENT", "KILL", "ID", ids[1]}), ":0\r\n");
  // The old form names the address; "No such client" when none has it.
  const std::string info = bulk_payload(clients[2].command({"CLIENT", "INFO"}));
  const std::size_t at = info.find(" addr=") + 6;
  const std::string addr = info.substr(at, info.find(' ', at) - at);
  EXPECT_EQ(clients[0].command({"CLIENT", "KILL", addr}), "+OK\r\n");
  EXPECT_TRUE(clients[2].wait_closed(5s));
  EXPECT_EQ(clients[0].command({"CLIENT", "KILL", "127.0.0.1:1"}), "-ERR No such client\r\n");
  EXPECT_EQ(clients[0].command({"CLIENT", "KILL", "ID", "str"}), "-ERR client-id should be greater than 0\r\n");
  // USER must name a user of the server's ACL, as the server checks.
  RedisClient direct = connect_direct();
  EXPECT_EQ(clients[0].command({"CLIENT", "KILL", "USER", "wrong_user"}),
            direct.command({"CLIENT", "KILL", "USER", "wrong_user"}));
  EXPECT_EQ(clients[0].command({"CLIENT", "KILL", "USER", "nobody-has-it", "SKIPME", "yes"}),
            direct.command({"CLIENT", "KILL", "USER", "nobody-has-it", "SKIPME", "yes"}));
  ASSERT_EQ(backend().command({"ACL", "SETUSER", "carol", "on", ">pw", "~*", "&*", "+@all"}), "+OK\r\n");
  RedisClient carol = connect();
  ASSERT_EQ(carol.command({"AUTH", "carol", "pw"}), "+OK\r\n");
  EXPECT_EQ(clients[0].command({"CLIENT", "KILL", "USER", "carol"}), ":1\r\n");
  EXPECT_TRUE(carol.wait_closed(5s));
  EXPECT_EQ(clients[3].command({"PING"}), "+PONG\r\n");
  // SKIPME no: the asker goes too, after its reply.
  EXPECT_EQ(clients[0].command({"CLIENT", "KILL", "SKIPME", "no"}), ":2\r\n");
  EXPECT_TRUE(clients[0].wait_closed(5s));
  EXPECT_TRUE(clients[3].wait_closed(5s));
  // Nothing happened to the backend's connections: a new client is served at once.
  EXPECT_EQ(connect().command({"PING"}), "+PONG\r\n");
}

// A killed client is gone for the next command at once, as on the server (which frees it before
// it answers again), though its session on the other worker only ends later.
TEST_F(ClientTable, AKilledClientIsNotFoundAgainByTheNextCommand) {
  for (int round = 0; round < 20; ++round) {
    RedisClient victim = connect();
    RedisClient killer = connect();
    const std::string id = client_id(victim);
    killer.send(encode_command({"CLIENT", "KILL", "ID", id}) + encode_command({"CLIENT", "KILL", "ID", id}) +
                encode_command({"CLIENT", "LIST", "ID", id}));
    ASSERT_EQ(killer.read_reply(), ":1\r\n");
    ASSERT_EQ(killer.read_reply(), ":0\r\n") << "round " << round;
    ASSERT_EQ(killer.read_reply(), "$0\r\n\r\n") << "round " << round;
    EXPECT_TRUE(victim.wait_closed(5s));
  }
}

TEST_F(ClientTable, ClientUnblockUnblocksACorralClientInBlpop) {
  RedisClient blocked = connect();
  RedisClient other = connect();
  const std::string id = client_id(blocked);
  EXPECT_EQ(other.command({"CLIENT", "UNBLOCK", id}), ":0\r\n");  // not blocked yet
  blocked.send(encode_command({"BLPOP", "nolist", "0"}));
  std::string unblocked;
  for (int attempt = 0; attempt < 100 && unblocked != ":1\r\n"; ++attempt) {
    unblocked = other.command({"CLIENT", "UNBLOCK", id});
    if (unblocked != ":1\r\n") std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(unblocked, ":1\r\n");
  EXPECT_EQ(blocked.read_reply(), "*-1\r\n");
  blocked.send(encode_command({"BLPOP", "nolist", "0"}));
  unblocked.clear();
  for (int attempt = 0; attempt < 100 && unblocked != ":1\r\n"; ++attempt) {
    unblocked = other.command({"CLIENT", "UNBLOCK", id, "ERROR"});
    if (unblocked != ":1\r\n") std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(unblocked, ":1\r\n");
  EXPECT_EQ(blocked.read_reply(), "-UNBLOCKED client unblocked via CLIENT UNBLOCK\r\n");
  EXPECT_EQ(other.command({"CLIENT", "UNBLOCK", id, "bogus"}), "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n");
}

TEST_F(ClientTable, TrackingRedirectsToASubscribedCorralClient) {
  RedisClient redirection = connect();
  const std::string redirection_id = client_id(redirection);
  ASSERT_EQ(redirection.command({"SUBSCRIBE", "__redis__:invalidate"}),
            "*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n");
  RedisClient tracker = connect();
  EXPECT_EQ(tracker.command({"CLIENT", "TRACKING", "on", "REDIRECT", "999999"}),
            "-ERR The client ID you want redirect to does not exist.\r\n");
  EXPECT_EQ(tracker.command({"CLIENT", "TRACKING", "on", "REDIRECT", redirection_id}), "+OK\r\n");
  EXPECT_EQ(tracker.command({"GET", "tracked"}), "$-1\r\n");
  RedisClient writer = connect();
  EXPECT_EQ(writer.command({"SET", "tracked", "1"}), "+OK\r\n");
  EXPECT_EQ(redirection.read_reply(),
            "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$7\r\ntracked\r\n");
  // The server knows the target by its backend connection; the reports name the corral client.
  EXPECT_EQ(tracker.command({"CLIENT", "GETREDIR"}), ":" + redirection_id + "\r\n");
  const std::string info = tracker.command({"CLIENT", "TRACKINGINFO"});
  EXPECT_NE(info.find("$8\r\nredirect\r\n:" + redirection_id + "\r\n"), std::string::npos) << info;
  // Pipelined behind other requests, each reply stays in its place.
  tracker.send(encode_command({"SET", "tracked", "2"}) + encode_command({"GET", "tracked"}) +
               encode_command({"CLIENT", "GETREDIR"}) + encode_command({"PING"}));
  EXPECT_EQ(tracker.read_reply(), "+OK\r\n");
  EXPECT_EQ(tracker.read_reply(), "$1\r\n2\r\n");
  EXPECT_EQ(tracker.read_reply(), ":" + redirection_id + "\r\n");
  EXPECT_EQ(tracker.read_reply(), "+PONG\r\n");
  // Without tracking there is nothing to report, as the server says.
  EXPECT_EQ(writer.command({"CLIENT", "GETREDIR"}), ":-1\r\n");
}

// CLIENT PAUSE WRITE holds a write on the server. Direct, only that client waits (unit/pause); through
// corral, the held write must neither hold back other clients' reads queued on the same shared
// connection nor be failed by the operation timeout while the pause lasts.
class ClientPause : public RedisPathTest {
 protected:
  void SetUp() override {
    start_backend();
    start_proxy({.workers = 1, .pool_toml = "operation_timeout_ms = 800\n"});
  }
};

TEST_F(ClientPause, AHeldWriteHoldsBackNoOneElseAndOutlivesTheOperationTimeout) {
  RedisClient admin = connect();
  RedisClient writer = connect();
  RedisClient reader = connect();
  ASSERT_EQ(admin.command({"CLIENT", "PAUSE", "5000", "WRITE"}), "+OK\r\n");
  writer.send(encode_command({"SET", "k", "v"}));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  reader.set_timeout(std::chrono::milliseconds(500));
  std::string read;
  try {
    read = reader.command({"GET", "other"});
  } catch (const HarnessError& e) {
    read = std::string("no reply: ") + e.what();
  }
  EXPECT_EQ(read, "$-1\r\n");
  // Longer than pool.operation_timeout_ms: the paused write still gets its own reply at UNPAUSE.
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  EXPECT_EQ(admin.command({"CLIENT", "UNPAUSE"}), "+OK\r\n");
  EXPECT_EQ(writer.read_reply(), "+OK\r\n");
  EXPECT_EQ(reader.command({"GET", "k"}), "$1\r\nv\r\n");
}

TEST_F(ClientPause, HeldWritesOnAllButOneConnectionLeaveTheLastOneForOthers) {
  // pool.max_connections is 4: three held writes on three connections, and the admin's own requests
  // on the fourth, which opens for them (unit/pause "multiple clients": INFO while three SETs wait).
  RedisClient admin = connect();
  ASSERT_EQ(admin.command({"CLIENT", "PAUSE", "5000", "WRITE"}), "+OK\r\n");
  std::vector<RedisClient> writers;
  for (int i = 0; i < 3; ++i) {
    writers.push_back(connect());
    writers.back().send(encode_command({"SET", "k" + std::to_string(i), "v"}));
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
  }
  admin.set_timeout(std::chrono::milliseconds(500));
  for (int i = 0; i < 3; ++i) {
    std::string read;
    try {
      read = admin.command({"GET", "other"});
    } catch (const HarnessError& e) {
      read = std::string("no reply: ") + e.what();
    }
    EXPECT_EQ(read, "$-1\r\n") << "read " << i;
  }
  admin.set_timeout(std::chrono::seconds(10));
  EXPECT_EQ(admin.command({"CLIENT", "UNPAUSE"}), "+OK\r\n");
  for (RedisClient& writer : writers) EXPECT_EQ(writer.read_reply(), "+OK\r\n");
}

}  // namespace
}  // namespace corral::testing::redis_it
