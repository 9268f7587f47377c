// RedisLocalCommands: every reply corral gives itself, checked to the byte in RESP2 and RESP3, and
// the context and pool key each command leaves behind.
#include "proxy/redis/local_commands.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocols/redis/request_scanner.h"

namespace corral::proxy {
namespace {

using redis::RespVersion;
using ::testing::StartsWith;

constexpr std::string_view kWrongPass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
constexpr std::string_view kBadName = "-ERR Client names cannot contain spaces, newlines or special characters.\r\n";

/// What one call of answer() produced.
struct Answer {
  LocalOutcome outcome;
  std::string out;
  BackendQuestion question;
};

std::string encode(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  return out;
}

/// One listener and its local commands, with a client context and what the backend told about itself.
class LocalCommands : public ::testing::Test {
 protected:
  void SetUp() override { configure(config::AuthMode::None); }

  void configure(config::AuthMode mode) {
    config_ = config::Config{};
    config::User app;
    app.name = "app";
    app.password = "secret";
    app.backend_user = "svc";
    app.backend_password = "svcpw";
    config::User plain;
    plain.name = "default";
    plain.password = "dpw";
    config_.users = {app, plain};
    config::Listener listener;
    listener.name = "redis";
    listener.auth = mode;
    listener.backend.host = "10.0.0.7";
    listener.backend.port = 6390;
    listener.backend.user = "urluser";
    listener.backend.password = "urlpw";
    listener.backend.redis_db = 1;
    config_.listeners = {listener};
    local_ = std::make_unique<RedisLocalCommands>(config_, config_.listeners.front());
    context_ = RedisContext{};
    context_.id = 42;
    context_.peer = "127.0.0.1:5555";
    context_.local = "127.0.0.1:6380";
    local_->init(context_);
  }

  Answer run(const std::vector<std::string>& args, const std::string* backend_verdict = nullptr) {
    wire_ = encode(args);  // the request's views point into wire_
    redis::RequestScanner scanner;
    redis::Request request;
    EXPECT_EQ(scanner.scan(wire_, request), redis::ScanStatus::Frame);
    const redis::Route route = redis::route(request);
    EXPECT_EQ(route.disposition, redis::Disposition::Local) << args.front();
    Answer answer{LocalOutcome::Answered, {}, {}};
    answer.outcome = local_->answer(request, route, context_, info_, answer.out, answer.question, backend_verdict);
    return answer;
  }
  /// The reply of a command that must be answered without asking the backend.
  std::string reply(const std::vector<std::string>& args) {
    const Answer a = run(args);
    EXPECT_EQ(a.outcome, LocalOutcome::Answered) << args.front();
    return a.out;
  }

  static std::string hello_map(RespVersion resp, int64_t id) {
    std::string out = resp == RespVersion::Resp3 ? "%7\r\n" : "*14\r\n";
    out += "$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:";
    out += resp == RespVersion::Resp3 ? "3" : "2";
    out += "\r\n$2\r\nid\r\n:" + std::to_string(id) + "\r\n";
    out += "$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n";
    return out;
  }

  config::Config config_;
  std::unique_ptr<RedisLocalCommands> local_;
  RedisContext context_;
  pool::RedisServerInfo info_{16, "7.0.15", "standalone", "master"};
  std::string wire_;
};

/// Runs each case in RESP2 and in RESP3.
class LocalCommandsBothResp : public LocalCommands, public ::testing::WithParamInterface<RespVersion> {
 protected:
  void SetUp() override {
    LocalCommands::SetUp();
    context_.resp = GetParam();
  }
  bool resp3() const { return GetParam() == RespVersion::Resp3; }
  std::string null() const { return resp3() ? "_\r\n" : "$-1\r\n"; }
};

INSTANTIATE_TEST_SUITE_P(Resp, LocalCommandsBothResp, ::testing::Values(RespVersion::Resp2, RespVersion::Resp3),
                         [](const auto& param_info) { return param_info.param == RespVersion::Resp3 ? "Resp3" : "Resp2"; });

// ---- context and pool key -----------------------------------------------------------------------

TEST_F(LocalCommands, InitStartsAuthenticatedOnlyWithoutAuth) {
  EXPECT_TRUE(context_.authenticated);
  EXPECT_EQ(context_.db, 1);
  EXPECT_EQ(context_.user, "default");
  configure(config::AuthMode::Users);
  EXPECT_FALSE(context_.authenticated);
  configure(config::AuthMode::Backend);
  EXPECT_FALSE(context_.authenticated);
}

TEST_F(LocalCommands, PoolKeyFollowsTheContext) {
  pool::RedisKey key = local_->pool_key(context_);
  EXPECT_EQ(key.host, "10.0.0.7");
  EXPECT_EQ(key.port, 6390);
  EXPECT_EQ(key.user, "urluser");
  EXPECT_EQ(key.password, "urlpw");
  EXPECT_EQ(key.db, 1);
  EXPECT_EQ(key.resp, 2);
  EXPECT_EQ(reply({"SELECT", "5"}), "+OK\r\n");
  EXPECT_THAT(reply({"HELLO", "3"}), StartsWith("%7\r\n"));
  key = local_->pool_key(context_);
  EXPECT_EQ(key.db, 5);
  EXPECT_EQ(key.resp, 3);
}

TEST_F(LocalCommands, OnlyAuthHelloQuitResetRunBeforeAuthentication) {
  for (const auto* name : {"AUTH", "hello", "Quit", "RESET"}) {
    wire_ = encode({name});
    redis::RequestScanner scanner;
    redis::Request request;
    ASSERT_EQ(scanner.scan(wire_, request), redis::ScanStatus::Frame);
    EXPECT_TRUE(redis::route(request).has(redis::kAllowedBeforeAuth)) << name;
  }
  for (const auto* name : {"PING", "ECHO", "SELECT", "CLIENT", "GET"}) {
    wire_ = encode({name});
    redis::RequestScanner scanner;
    redis::Request request;
    ASSERT_EQ(scanner.scan(wire_, request), redis::ScanStatus::Frame);
    EXPECT_FALSE(redis::route(request).has(redis::kAllowedBeforeAuth)) << name;
  }
}

TEST_P(LocalCommandsBothResp, NoAuthBeforeAuthentication) {
  configure(config::AuthMode::Users);
  context_.resp = GetParam();
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"ECHO", "x"}, {"SELECT", "1"}, {"CLIENT", "ID"}, {"CLIENT", "SETNAME", "n"}}) {
    EXPECT_EQ(reply(args), "-NOAUTH Authentication required.\r\n") << args[0];
  }
  EXPECT_EQ(context_.name, "");
  EXPECT_EQ(context_.db, 1);
}

// ---- ECHO, QUIT, RESET (PING is forwarded) ---------------------------------------------------------

TEST_P(LocalCommandsBothResp, Echo) {
  EXPECT_EQ(reply({"ECHO", std::string("bin\0ary\r\n", 9)}), std::string("$9\r\nbin\0ary\r\n\r\n", 15));
  EXPECT_EQ(reply({"ECHO"}), "-ERR wrong number of arguments for 'echo' command\r\n");
  EXPECT_EQ(reply({"ECHO", "a", "b"}), "-ERR wrong number of arguments for 'echo' command\r\n");
}

TEST_P(LocalCommandsBothResp, QuitRepliesOkAndCloses) {
  const Answer a = run({"QUIT"});
  EXPECT_EQ(a.outcome, LocalOutcome::Close);
  EXPECT_EQ(a.out, "+OK\r\n");
  configure(config::AuthMode::Users);  // allowed before AUTH too
  const Answer b = run({"quit"});
  EXPECT_EQ(b.outcome, LocalOutcome::Close);
  EXPECT_EQ(b.out, "+OK\r\n");
}

// A backend user other than the URL's enters its db through the URL's identity (the client keeps
// its db across AUTH); its own SELECT is asked of the backend, and a refusal leaves the db as it was.
TEST_P(LocalCommandsBothResp, SelectOfAnotherBackendUserIsCheckedByTheBackend) {
  configure(config::AuthMode::Users);
  EXPECT_EQ(reply({"AUTH", "app", "secret"}), "+OK\r\n");
  const pool::RedisKey key = local_->pool_key(context_);
  EXPECT_TRUE(key.select_first);
  EXPECT_EQ(key.user, "svc");
  EXPECT_EQ(key.select_user, "urluser");
  EXPECT_EQ(key.select_password, "urlpw");
  const Answer asked = run({"SELECT", "7"});
  EXPECT_EQ(asked.outcome, LocalOutcome::NeedsBackend);
  EXPECT_TRUE(asked.question.check_select);
  const std::string refusal = "-NOPERM User svc has no permissions to run the 'select' command\r\n";
  EXPECT_EQ(run({"SELECT", "7"}, &refusal).out, refusal);
  EXPECT_EQ(context_.db, 1);
  const std::string allowed;
  EXPECT_EQ(run({"SELECT", "7"}, &allowed).out, "+OK\r\n");
  EXPECT_EQ(context_.db, 7);
  // The URL's own user SELECTs itself in the handshake: answered at once, as before.
  EXPECT_EQ(reply({"AUTH", "default", "dpw"}), "+OK\r\n");
  EXPECT_FALSE(local_->pool_key(context_).select_first);
  EXPECT_EQ(reply({"SELECT", "3"}), "+OK\r\n");
}

TEST_P(LocalCommandsBothResp, ResetRestoresTheInitialContextButKeepsTheConnectionIdentityAndLibrary) {
  configure(config::AuthMode::Users);
  context_.resp = GetParam();
  EXPECT_EQ(reply({"AUTH", "app", "secret"}), "+OK\r\n");
  const std::string allowed;  // the backend let app's backend user SELECT
  EXPECT_EQ(run({"SELECT", "7"}, &allowed).out, "+OK\r\n");
  EXPECT_EQ(reply({"CLIENT", "SETNAME", "named"}), "+OK\r\n");
  EXPECT_EQ(reply({"CLIENT", "SETINFO", "LIB-NAME", "lib"}), "+OK\r\n");
  context_.transaction.forwarded(redis::TransactionStep::Watch);
  context_.transaction.forwarded(redis::TransactionStep::Multi);
  const auto created = context_.created;
  EXPECT_EQ(reply({"RESET"}), "+RESET\r\n");
  EXPECT_EQ(context_.id, 42u);
  EXPECT_EQ(context_.peer, "127.0.0.1:5555");
  EXPECT_EQ(context_.local, "127.0.0.1:6380");
  EXPECT_EQ(context_.created, created);
  EXPECT_EQ(context_.db, 1);
  EXPECT_EQ(context_.resp, RespVersion::Resp2);
  EXPECT_FALSE(context_.authenticated);
  EXPECT_EQ(context_.user, "default");
  EXPECT_EQ(context_.backend_user, "urluser");
  EXPECT_EQ(context_.backend_password, "urlpw");
  EXPECT_EQ(context_.name, "");
  // redis-server keeps lib-name and lib-ver: they still describe the library behind the connection.
  EXPECT_EQ(context_.lib_name, "lib");
  EXPECT_FALSE(context_.transaction.in_multi());
  EXPECT_FALSE(context_.transaction.watching());
}

// ---- AUTH ---------------------------------------------------------------------------------------

TEST_P(LocalCommandsBothResp, AuthWithoutAuthModeBehavesLikeAServerWithoutPassword) {
  EXPECT_EQ(reply({"AUTH", "pw"}),
            "-ERR AUTH <password> called without any password configured for the default user. Are you sure your "
            "configuration is correct?\r\n");
  EXPECT_EQ(reply({"AUTH", "default", "anything"}), "+OK\r\n");
  EXPECT_EQ(reply({"AUTH", "a", "b", "c"}), "-ERR syntax error\r\n");
  EXPECT_EQ(reply({"AUTH"}), "-ERR wrong number of arguments for 'auth' command\r\n");
  EXPECT_TRUE(context_.authenticated);
}

TEST_P(LocalCommandsBothResp, AuthWithoutAuthModeLetsTheBackendCheckItsAclUsers) {
  // The server's other ACL users exist behind corral too: the backend says whether they log in.
  const Answer ask = run({"AUTH", "bob", "pw"});
  EXPECT_EQ(ask.outcome, LocalOutcome::NeedsBackend);
  EXPECT_TRUE(ask.question.check_credentials);
  EXPECT_EQ(ask.question.user, "bob");
  const std::string refused(kWrongPass);
  EXPECT_EQ(run({"AUTH", "bob", "pw"}, &refused).out, kWrongPass);
  EXPECT_EQ(context_.user, "default");
  EXPECT_EQ(local_->pool_key(context_).user, "urluser");
  const std::string accepted;
  EXPECT_EQ(run({"AUTH", "bob", "pw"}, &accepted).out, "+OK\r\n");
  EXPECT_EQ(context_.user, "bob");
  EXPECT_EQ(local_->pool_key(context_).user, "bob");
  EXPECT_EQ(local_->pool_key(context_).password, "pw");
  EXPECT_EQ(reply({"ACL", "WHOAMI"}), "$3\r\nbob\r\n");
  // The default user is the URL's credentials again.
  EXPECT_EQ(reply({"AUTH", "default", "x"}), "+OK\r\n");
  EXPECT_EQ(local_->pool_key(context_).user, "urluser");
  EXPECT_EQ(local_->pool_key(context_).password, "urlpw");
  EXPECT_EQ(reply({"ACL", "WHOAMI"}), "$7\r\ndefault\r\n");
}

TEST_F(LocalCommands, BackendModeLogsInImplicitlyOnlyWhenTheUrlHasNoPassword) {
  configure(config::AuthMode::Backend);
  EXPECT_FALSE(context_.implicit_login);  // urluser has a password: clients must AUTH
  config_.listeners.front().backend.password.clear();
  context_ = RedisContext{};
  local_->init(context_);
  EXPECT_TRUE(context_.implicit_login);
  EXPECT_FALSE(context_.authenticated);
  local_->log_in_implicitly(context_);
  EXPECT_TRUE(context_.authenticated);
  EXPECT_FALSE(context_.implicit_login);
  EXPECT_EQ(context_.user, "urluser");
  EXPECT_EQ(reply({"ACL", "WHOAMI"}), "$7\r\nurluser\r\n");
  // RESET makes it a new client, which may log in implicitly again.
  EXPECT_EQ(reply({"RESET"}), "+RESET\r\n");
  EXPECT_TRUE(context_.implicit_login);
  EXPECT_FALSE(context_.authenticated);
}

TEST_F(LocalCommands, ClientReplyFollowsTheServersFlags) {
  EXPECT_EQ(reply({"CLIENT", "REPLY", "SKIP"}), "");
  EXPECT_TRUE(context_.skip_next_reply);
  EXPECT_EQ(reply({"CLIENT", "REPLY", "ON"}), "+OK\r\n");
  EXPECT_FALSE(context_.skip_next_reply);
  EXPECT_EQ(reply({"CLIENT", "REPLY", "off"}), "");
  EXPECT_TRUE(context_.reply_off);
  EXPECT_EQ(reply({"CLIENT", "REPLY", "SKIP"}), "");  // SKIP while OFF changes nothing
  EXPECT_FALSE(context_.skip_next_reply);
  EXPECT_EQ(reply({"CLIENT", "REPLY", "maybe"}), "-ERR syntax error\r\n");
  EXPECT_EQ(reply({"RESET"}), "+RESET\r\n");
  EXPECT_FALSE(context_.reply_off);
}

TEST_P(LocalCommandsBothResp, AuthAgainstConfiguredUsers) {
  configure(config::AuthMode::Users);
  context_.resp = GetParam();
  EXPECT_EQ(reply({"AUTH", "app", "wrong"}), kWrongPass);
  EXPECT_FALSE(context_.authenticated);
  EXPECT_EQ(reply({"AUTH", "nobody", "secret"}), kWrongPass);
  EXPECT_FALSE(context_.authenticated);
  EXPECT_EQ(reply({"AUTH", "app", "secret"}), "+OK\r\n");
  EXPECT_TRUE(context_.authenticated);
  EXPECT_EQ(context_.user, "app");
  // The user's own backend credentials go into the pool key.
  EXPECT_EQ(local_->pool_key(context_).user, "svc");
  EXPECT_EQ(local_->pool_key(context_).password, "svcpw");
  // AUTH <password> is the default user; one without backend credentials uses the URL's.
  EXPECT_EQ(reply({"AUTH", "dpw"}), "+OK\r\n");
  EXPECT_EQ(context_.user, "default");
  EXPECT_EQ(local_->pool_key(context_).user, "urluser");
  EXPECT_EQ(local_->pool_key(context_).password, "urlpw");
  // A failed AUTH leaves an authenticated client as it was, as redis-server does.
  EXPECT_EQ(reply({"AUTH", "app", "wrong"}), kWrongPass);
  EXPECT_TRUE(context_.authenticated);
  EXPECT_EQ(context_.user, "default");
}

TEST_P(LocalCommandsBothResp, AuthInBackendModeAsksTheBackendThenAppliesItsVerdict) {
  configure(config::AuthMode::Backend);
  context_.resp = GetParam();
  const Answer ask = run({"AUTH", "alice", "pw"});
  EXPECT_EQ(ask.outcome, LocalOutcome::NeedsBackend);
  EXPECT_EQ(ask.out, "");
  EXPECT_TRUE(ask.question.check_credentials);
  EXPECT_FALSE(ask.question.server_info);
  EXPECT_EQ(ask.question.user, "alice");
  EXPECT_EQ(ask.question.password, "pw");
  EXPECT_FALSE(context_.authenticated);

  const std::string refused(kWrongPass);
  const Answer no = run({"AUTH", "alice", "pw"}, &refused);
  EXPECT_EQ(no.outcome, LocalOutcome::Answered);
  EXPECT_EQ(no.out, kWrongPass);
  EXPECT_FALSE(context_.authenticated);

  const std::string accepted;
  const Answer yes = run({"AUTH", "alice", "pw"}, &accepted);
  EXPECT_EQ(yes.outcome, LocalOutcome::Answered);
  EXPECT_EQ(yes.out, "+OK\r\n");
  EXPECT_TRUE(context_.authenticated);
  EXPECT_EQ(context_.user, "alice");
  EXPECT_EQ(local_->pool_key(context_).user, "alice");
  EXPECT_EQ(local_->pool_key(context_).password, "pw");

  // AUTH <password> asks for the default user, which the pool key spells as no user.
  const Answer ask_default = run({"AUTH", "pw2"});
  EXPECT_EQ(ask_default.outcome, LocalOutcome::NeedsBackend);
  EXPECT_EQ(ask_default.question.user, "default");
  EXPECT_EQ(ask_default.question.password, "pw2");
  EXPECT_EQ(run({"AUTH", "pw2"}, &accepted).out, "+OK\r\n");
  EXPECT_EQ(local_->pool_key(context_).user, "");
  EXPECT_EQ(local_->pool_key(context_).password, "pw2");
}

// ---- HELLO --------------------------------------------------------------------------------------

TEST_P(LocalCommandsBothResp, HelloRepliesWithTheServerMapInTheRequestedVersion) {
  EXPECT_EQ(reply({"HELLO"}), hello_map(GetParam(), 42));  // no version: reports, changes nothing
  EXPECT_EQ(context_.resp, GetParam());
  EXPECT_EQ(reply({"HELLO", "3"}), hello_map(RespVersion::Resp3, 42));
  EXPECT_EQ(context_.resp, RespVersion::Resp3);
  EXPECT_EQ(reply({"HELLO", "2"}), hello_map(RespVersion::Resp2, 42));
  EXPECT_EQ(context_.resp, RespVersion::Resp2);
}

TEST_P(LocalCommandsBothResp, HelloErrors) {
  EXPECT_EQ(reply({"HELLO", "4"}), "-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(reply({"HELLO", "1"}), "-NOPROTO unsupported protocol version\r\n");
  EXPECT_EQ(reply({"HELLO", "three"}), "-ERR Protocol version is not an integer or out of range\r\n");
  EXPECT_EQ(reply({"HELLO", "3", "FOO"}), "-ERR Syntax error in HELLO option 'FOO'\r\n");
  EXPECT_EQ(reply({"HELLO", "3", "AUTH", "only-user"}), "-ERR Syntax error in HELLO option 'AUTH'\r\n");
  EXPECT_EQ(reply({"HELLO", "3", "SETNAME"}), "-ERR Syntax error in HELLO option 'SETNAME'\r\n");
  EXPECT_EQ(reply({"HELLO", "3", "SETNAME", "a b"}), kBadName);
  EXPECT_EQ(context_.resp, GetParam());  // nothing changed by a failed HELLO
  EXPECT_EQ(context_.name, "");
}

TEST_P(LocalCommandsBothResp, HelloSetnameNamesTheClient) {
  EXPECT_EQ(reply({"HELLO", "3", "SETNAME", "worker-1"}), hello_map(RespVersion::Resp3, 42));
  EXPECT_EQ(context_.name, "worker-1");
  EXPECT_EQ(reply({"CLIENT", "GETNAME"}), "$8\r\nworker-1\r\n");
}

TEST_P(LocalCommandsBothResp, HelloNeedsServerInfoFirst) {
  info_ = pool::RedisServerInfo{};
  const Answer a = run({"HELLO", "3"});
  EXPECT_EQ(a.outcome, LocalOutcome::NeedsBackend);
  EXPECT_TRUE(a.question.server_info);
  EXPECT_EQ(a.out, "");
  EXPECT_EQ(context_.resp, GetParam());
}

TEST_P(LocalCommandsBothResp, HelloWithAuthLogsInAgainstUsers) {
  configure(config::AuthMode::Users);
  context_.resp = GetParam();
  EXPECT_EQ(reply({"HELLO", "3"}),
            "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH "
            "<user> <pass> option can be used to authenticate the client and select the RESP protocol version at "
            "the same time\r\n");
  EXPECT_EQ(reply({"HELLO", "3", "AUTH", "app", "wrong"}), kWrongPass);
  EXPECT_FALSE(context_.authenticated);
  EXPECT_EQ(context_.resp, GetParam());
  EXPECT_EQ(reply({"HELLO", "3", "AUTH", "app", "secret", "SETNAME", "n"}), hello_map(RespVersion::Resp3, 42));
  EXPECT_TRUE(context_.authenticated);
  EXPECT_EQ(context_.user, "app");
  EXPECT_EQ(context_.name, "n");
  EXPECT_EQ(local_->pool_key(context_).user, "svc");
  EXPECT_EQ(local_->pool_key(context_).resp, 3);
}

TEST_P(LocalCommandsBothResp, HelloWithAuthInBackendMode) {
  configure(config::AuthMode::Backend);
  context_.resp = GetParam();
  const Answer ask = run({"HELLO", "3", "AUTH", "alice", "pw"});
  EXPECT_EQ(ask.outcome, LocalOutcome::NeedsBackend);
  EXPECT_TRUE(ask.question.check_credentials);
  EXPECT_EQ(ask.question.user, "alice");
  EXPECT_EQ(ask.question.password, "pw");
  const std::string refused(kWrongPass);
  EXPECT_EQ(run({"HELLO", "3", "AUTH", "alice", "pw"}, &refused).out, kWrongPass);
  EXPECT_FALSE(context_.authenticated);
  EXPECT_EQ(context_.resp, GetParam());
  const std::string accepted;
  EXPECT_EQ(run({"HELLO", "3", "AUTH", "alice", "pw"}, &accepted).out, hello_map(RespVersion::Resp3, 42));
  EXPECT_TRUE(context_.authenticated);
  EXPECT_EQ(context_.user, "alice");
  EXPECT_EQ(local_->pool_key(context_).user, "alice");
}

TEST_F(LocalCommands, HelloWithAuthChecksTheCredentialsBeforeAskingForTheServersVersion) {
  // The client's own pool may refuse it (the default user needs a password): the version is learnt
  // through the pool of the credentials HELLO brings, so those are checked first.
  configure(config::AuthMode::Backend);
  info_ = pool::RedisServerInfo{};
  const Answer ask = run({"HELLO", "3", "AUTH", "alice", "pw"});
  EXPECT_EQ(ask.outcome, LocalOutcome::NeedsBackend);
  EXPECT_TRUE(ask.question.check_credentials);
  EXPECT_FALSE(ask.question.server_info);
  const std::string accepted;
  const Answer then = run({"HELLO", "3", "AUTH", "alice", "pw"}, &accepted);
  EXPECT_EQ(then.outcome, LocalOutcome::NeedsBackend);
  EXPECT_TRUE(then.question.server_info);
  EXPECT_FALSE(context_.authenticated);  // nothing applied before the reply
}

// ---- SELECT -------------------------------------------------------------------------------------

TEST_P(LocalCommandsBothResp, SelectChecksTheIndexLikeRedisServer) {
  EXPECT_EQ(reply({"SELECT", "15"}), "+OK\r\n");
  EXPECT_EQ(context_.db, 15);
  EXPECT_EQ(reply({"SELECT", "0"}), "+OK\r\n");
  EXPECT_EQ(context_.db, 0);
  EXPECT_EQ(reply({"SELECT", "16"}), "-ERR DB index is out of range\r\n");
  EXPECT_EQ(reply({"SELECT", "-1"}), "-ERR DB index is out of range\r\n");
  EXPECT_EQ(reply({"SELECT", "x"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(reply({"SELECT", "1.5"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(reply({"SELECT", ""}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(reply({"SELECT", "99999999999"}),
            "-ERR value is out of range, value must between -2147483648 and 2147483647\r\n");
  EXPECT_EQ(reply({"SELECT", "99999999999999999999"}), "-ERR value is not an integer or out of range\r\n");
  EXPECT_EQ(reply({"SELECT"}), "-ERR wrong number of arguments for 'select' command\r\n");
  EXPECT_EQ(reply({"SELECT", "1", "2"}), "-ERR wrong number of arguments for 'select' command\r\n");
  EXPECT_EQ(context_.db, 0);  // unchanged by the errors
}

TEST_P(LocalCommandsBothResp, SelectNeedsTheDatabaseCountFirst) {
  info_.databases = -1;
  const Answer a = run({"SELECT", "3"});
  EXPECT_EQ(a.outcome, LocalOutcome::NeedsBackend);
  EXPECT_TRUE(a.question.server_info);
  EXPECT_EQ(context_.db, 1);
  info_.databases = 4;
  EXPECT_EQ(reply({"SELECT", "3"}), "+OK\r\n");
  EXPECT_EQ(reply({"SELECT", "4"}), "-ERR DB index is out of range\r\n");
}

// ---- CLIENT -------------------------------------------------------------------------------------

TEST_P(LocalCommandsBothResp, ClientIdAndNames) {
  EXPECT_EQ(reply({"CLIENT", "ID"}), ":42\r\n");
  EXPECT_EQ(reply({"client", "getname"}), null());
  EXPECT_EQ(reply({"CLIENT", "SETNAME", "my-app"}), "+OK\r\n");
  EXPECT_EQ(reply({"CLIENT", "GETNAME"}), "$6\r\nmy-app\r\n");
  EXPECT_EQ(reply({"CLIENT", "SETNAME", "has space"}), kBadName);
  EXPECT_EQ(reply({"CLIENT", "SETNAME", "new\nline"}), kBadName);
  EXPECT_EQ(reply({"CLIENT", "GETNAME"}), "$6\r\nmy-app\r\n");
  EXPECT_EQ(reply({"CLIENT", "SETNAME", ""}), "+OK\r\n");  // clears the name, as redis-server does
  EXPECT_EQ(reply({"CLIENT", "GETNAME"}), null());
  EXPECT_EQ(reply({"CLIENT", "SETNAME"}), "-ERR wrong number of arguments for 'client|setname' command\r\n");
  EXPECT_EQ(reply({"CLIENT", "ID", "x"}), "-ERR wrong number of arguments for 'client|id' command\r\n");
}

TEST_P(LocalCommandsBothResp, ClientSetinfo) {
  EXPECT_EQ(reply({"CLIENT", "SETINFO", "LIB-NAME", "redis-py"}), "+OK\r\n");
  EXPECT_EQ(reply({"CLIENT", "SETINFO", "lib-ver", "5.0.1"}), "+OK\r\n");
  EXPECT_EQ(context_.lib_name, "redis-py");
  EXPECT_EQ(context_.lib_ver, "5.0.1");
  EXPECT_EQ(reply({"CLIENT", "SETINFO", "color", "red"}), "-ERR Unrecognized option 'color'\r\n");
  EXPECT_EQ(reply({"CLIENT", "SETINFO", "LIB-NAME", "a b"}),
            "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n");
  EXPECT_EQ(reply({"CLIENT", "SETINFO", "LIB-VER", "1\n2"}),
            "-ERR lib-ver cannot contain spaces, newlines or special characters.\r\n");
  EXPECT_EQ(context_.lib_name, "redis-py");
  EXPECT_EQ(reply({"CLIENT", "SETINFO", "lib-name"}),
            "-ERR wrong number of arguments for 'client|setinfo' command\r\n");
}

TEST_P(LocalCommandsBothResp, ClientInfoDescribesThisClient) {
  EXPECT_EQ(reply({"CLIENT", "SETNAME", "inf"}), "+OK\r\n");
  EXPECT_EQ(reply({"CLIENT", "SETINFO", "LIB-NAME", "lib"}), "+OK\r\n");
  EXPECT_EQ(reply({"CLIENT", "SETINFO", "LIB-VER", "1.2"}), "+OK\r\n");
  const std::string proto = resp3() ? "3" : "2";
  const std::string line =
      "id=42 addr=127.0.0.1:5555 laddr=127.0.0.1:6380 fd=-1 name=inf age=0 idle=0 flags=N db=1 sub=0 psub=0 ssub=0 "
      "multi=-1 qbuf=26 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=client|info "
      "user=default redir=-1 resp=" + proto + " lib-name=lib lib-ver=1.2\n";
  // redis-server's verbatim string: "=<len>\r\ntxt:<line>\r\n" in RESP3, a bulk string in RESP2.
  const std::string expected = resp3() ? "=" + std::to_string(line.size() + 4) + "\r\ntxt:" + line + "\r\n"
                                       : "$" + std::to_string(line.size()) + "\r\n" + line + "\r\n";
  // qbuf: the request itself, as redis-server counts the query buffer while running it.
  EXPECT_EQ(reply({"CLIENT", "INFO"}), expected);
}

}  // namespace
}  // namespace corral::proxy
