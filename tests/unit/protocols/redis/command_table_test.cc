#include "protocols/redis/command_table.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "protocols/redis/encoder.h"
#include "protocols/redis/request_scanner.h"

namespace corral::redis {
namespace {

/// Frames a request built from `args` (encoded as RESP) and keeps its bytes alive.
class Req {
 public:
  explicit Req(std::initializer_list<std::string_view> args) {
    encode_command(wire_, args);
    RequestScanner scanner;
    EXPECT_EQ(scanner.scan(wire_, request_), ScanStatus::Frame);
  }
  const Request& operator*() const { return request_; }

 private:
  std::string wire_;
  Request request_;
};

Route route_of(std::initializer_list<std::string_view> args) { return route(*Req(args)); }

Route route_of_args(const std::vector<std::string_view>& args) {
  std::string wire;
  encode_command(wire, std::span<const std::string_view>(args));
  RequestScanner scanner;
  Request request;
  EXPECT_EQ(scanner.scan(wire, request), ScanStatus::Frame);
  return route(request);
}

// ---------------------------------------------------------------------------------------------
// Lookup.

TEST(RedisCommandTable, LookupIgnoresCase) {
  const CommandInfo* get = find_command("get");
  ASSERT_NE(get, nullptr);
  EXPECT_EQ(find_command("GET"), get);
  EXPECT_EQ(find_command("gEt"), get);
  EXPECT_EQ(get->name, "get");
  EXPECT_EQ(get->arity, 2);
  EXPECT_EQ(get->flags, kNone);
  EXPECT_EQ(get->disposition, Disposition::Shared);
}

TEST(RedisCommandTable, UnknownNames) {
  EXPECT_EQ(find_command("nosuchcommand"), nullptr);
  EXPECT_EQ(find_command(""), nullptr);
  EXPECT_EQ(find_command(std::string(100, 'a')), nullptr);
  EXPECT_EQ(find_command("ge"), nullptr);
  EXPECT_EQ(find_command("gett"), nullptr);
  EXPECT_EQ(find_command("JSON.GET"), nullptr);
}

TEST(RedisCommandTable, IsCompleteForRedis7) {
  // Redis 7.0 has 240 top-level commands; 7.2 adds WAITAOF. POST and HOST: are hidden ones.
  EXPECT_GE(all_commands().size(), 243u);
  for (std::string_view name :
       {"append", "bitfield_ro", "blmpop", "copy", "eval_ro", "expiretime", "fcall_ro", "function", "getdel", "getex",
        "lcs", "lmpop", "lpos", "object", "pexpiretime", "sintercard", "sort_ro", "spublish", "ssubscribe",
        "sunsubscribe", "xautoclaim", "xsetid", "zintercard", "zmpop", "zrangestore", "waitaof", "failover",
        "georadiusbymember_ro", "restore-asking", "pfselftest", "lolwut", "substr", "swapdb", "move"}) {
    EXPECT_NE(find_command(name), nullptr) << name;
  }
  for (const CommandInfo& info : all_commands()) {
    EXPECT_NE(info.arity, 0) << info.name;
    EXPECT_EQ(info.name.find('|'), std::string_view::npos) << info.name;
    for (const CommandInfo& sub : info.subcommands) {
      EXPECT_EQ(sub.name.substr(0, info.name.size() + 1), std::string(info.name) + "|");
      EXPECT_NE(sub.arity, 0) << sub.name;
    }
  }
}

TEST(RedisCommandTable, ContainersHaveTheirSubcommands) {
  const std::vector<std::pair<std::string_view, std::vector<std::string_view>>> expected = {
      {"client", {"caching", "getname", "getredir", "help", "id", "info", "kill", "list", "no-evict", "no-touch",
                  "pause", "reply", "setinfo", "setname", "tracking", "trackinginfo", "unblock", "unpause"}},
      {"config", {"get", "help", "resetstat", "rewrite", "set"}},
      {"object", {"encoding", "freq", "help", "idletime", "refcount"}},
      {"xinfo", {"consumers", "groups", "help", "stream"}},
      {"acl", {"cat", "deluser", "dryrun", "genpass", "getuser", "help", "list", "load", "log", "save", "setuser",
               "users", "whoami"}},
      {"command", {"count", "docs", "getkeys", "getkeysandflags", "help", "info", "list"}},
      {"function", {"delete", "dump", "flush", "help", "kill", "list", "load", "restore", "stats"}},
      {"script", {"debug", "exists", "flush", "help", "kill", "load"}},
      {"memory", {"doctor", "help", "malloc-stats", "purge", "stats", "usage"}},
      {"latency", {"doctor", "graph", "help", "histogram", "history", "latest", "reset"}},
      {"module", {"help", "list", "load", "loadex", "unload"}},
      {"pubsub", {"channels", "help", "numpat", "numsub", "shardchannels", "shardnumsub"}},
      {"slowlog", {"get", "help", "len", "reset"}},
      {"xgroup", {"create", "createconsumer", "delconsumer", "destroy", "help", "setid"}},
      {"cluster", {"addslots", "info", "keyslot", "myshardid", "nodes", "shards", "slots"}},
  };
  for (const auto& [container, subs] : expected) {
    const CommandInfo* info = find_command(container);
    ASSERT_NE(info, nullptr) << container;
    EXPECT_TRUE(info->is_container()) << container;
    for (std::string_view sub : subs) EXPECT_NE(find_subcommand(*info, sub), nullptr) << container << " " << sub;
  }
  EXPECT_FALSE(find_command("debug")->is_container());
  EXPECT_EQ(find_subcommand(*find_command("client"), "KILL")->name, "client|kill");
  EXPECT_EQ(find_subcommand(*find_command("client"), "nope"), nullptr);
}

// ---------------------------------------------------------------------------------------------
// Dispositions from the brief.

TEST(RedisCommandTable, LocalCommands) {
  for (auto args : std::vector<std::vector<std::string_view>>{
           {"AUTH", "p"}, {"HELLO"}, {"SELECT", "1"}, {"CLIENT", "SETNAME", "n"}, {"client", "getname"},
           {"CLIENT", "ID"}, {"CLIENT", "SETINFO", "LIB-NAME", "x"}, {"CLIENT", "INFO"}, {"ECHO", "x"}, {"QUIT"},
           {"RESET"}}) {
    std::string wire;
    encode_command(wire, std::span<const std::string_view>(args));
    RequestScanner scanner;
    Request request;
    ASSERT_EQ(scanner.scan(wire, request), ScanStatus::Frame);
    const Route r = route(request);
    EXPECT_EQ(r.disposition, Disposition::Local) << wire;
    EXPECT_TRUE(r.arity_ok) << wire;
  }
}

TEST(RedisCommandTable, PinnedCommands) {
  const std::vector<std::pair<std::string_view, PinReason>> pinned = {
      {"multi", PinReason::Transaction},    {"exec", PinReason::Transaction},
      {"discard", PinReason::Transaction},  {"watch", PinReason::Transaction},
      {"unwatch", PinReason::Transaction},  {"blpop", PinReason::Blocking},
      {"brpop", PinReason::Blocking},       {"brpoplpush", PinReason::Blocking},
      {"blmove", PinReason::Blocking},      {"blmpop", PinReason::Blocking},
      {"bzpopmin", PinReason::Blocking},    {"bzpopmax", PinReason::Blocking},
      {"bzmpop", PinReason::Blocking},      {"wait", PinReason::Blocking},
      {"waitaof", PinReason::Blocking},     {"subscribe", PinReason::Subscribe},
      {"psubscribe", PinReason::Subscribe}, {"ssubscribe", PinReason::Subscribe},
      {"unsubscribe", PinReason::Subscribe}, {"punsubscribe", PinReason::Subscribe},
      {"sunsubscribe", PinReason::Subscribe}, {"monitor", PinReason::Monitor},
  };
  for (const auto& [name, reason] : pinned) {
    const CommandInfo* info = find_command(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->disposition, Disposition::Pinned) << name;
    EXPECT_EQ(info->pin_reason, reason) << name;
  }
  for (std::string_view sub : {"tracking", "caching"}) {
    const CommandInfo* info = find_subcommand(*find_command("client"), sub);
    EXPECT_EQ(info->disposition, Disposition::Pinned) << sub;
    EXPECT_EQ(info->pin_reason, PinReason::Tracking) << sub;
  }
  // Without tracking (so outside relay mode) the server's -1 / "off" is right on any connection.
  for (std::string_view sub : {"getredir", "trackinginfo"}) {
    const CommandInfo* info = find_subcommand(*find_command("client"), sub);
    EXPECT_EQ(info->disposition, Disposition::Shared) << sub;
    EXPECT_TRUE(info->has(kReportsRedirect)) << sub;
  }
  EXPECT_EQ(route_of({"CLIENT", "TRACKING", "on"}).pin_reason, PinReason::Tracking);
}

TEST(RedisCommandTable, RefusedCommandsSayWhy) {
  for (std::string_view name : {"shutdown", "sync", "psync", "replconf", "replicaof", "slaveof", "debug", "failover",
                                "asking", "readonly", "readwrite", "restore-asking", "post", "host:"}) {
    const CommandInfo* info = find_command(name);
    ASSERT_NE(info, nullptr) << name;
    EXPECT_EQ(info->disposition, Disposition::Refused) << name;
    EXPECT_FALSE(info->refusal.empty()) << name;
  }
  for (std::string_view sub : {"no-touch"}) {
    const CommandInfo* info = find_subcommand(*find_command("client"), sub);
    EXPECT_EQ(info->disposition, Disposition::Refused) << sub;
  }
  EXPECT_EQ(route_of({"SCRIPT", "DEBUG", "yes"}).disposition, Disposition::Refused);
  EXPECT_EQ(route_of({"CLUSTER", "SLOTS"}).disposition, Disposition::Refused);
  for (const CommandInfo& sub : find_command("cluster")->subcommands) {
    EXPECT_EQ(sub.disposition, Disposition::Refused) << sub.name;
  }
  std::string out;
  append_refusal_error(out, *route_of({"client", "no-touch", "on"}).command);
  EXPECT_EQ(out,
            "-ERR command 'CLIENT NO-TOUCH' is not supported by corral "
            "(it sets a flag on a backend connection that other clients share)\r\n");
}

TEST(RedisCommandTable, ClientReplyAndWhoamiAreAnsweredFromTheClientsContext) {
  EXPECT_EQ(route_of({"CLIENT", "REPLY", "OFF"}).local(), LocalCommand::ClientReply);
  EXPECT_EQ(route_of({"acl", "whoami"}).local(), LocalCommand::AclWhoami);
  // Commands that name corral's clients, answered from its client table.
  EXPECT_EQ(route_of({"CLIENT", "LIST"}).local(), LocalCommand::ClientList);
  EXPECT_EQ(route_of({"CLIENT", "KILL", "ID", "3"}).local(), LocalCommand::ClientKill);
  EXPECT_EQ(route_of({"CLIENT", "UNBLOCK", "3"}).local(), LocalCommand::ClientUnblock);
  // Inside MULTI redis-server runs QUIT and RESET at once instead of queueing them.
  EXPECT_TRUE(route_of({"RESET"}).has(kRunsInMulti));
  EXPECT_TRUE(route_of({"QUIT"}).has(kRunsInMulti));
  EXPECT_FALSE(route_of({"SELECT", "1"}).has(kRunsInMulti));
}

TEST(RedisCommandTable, EverythingElseIsShared) {
  for (std::string_view name : {"get", "set", "move", "swapdb", "migrate", "eval", "publish", "flushall", "keys",
                                "xadd", "info", "time", "save", "restore"}) {
    EXPECT_EQ(find_command(name)->disposition, Disposition::Shared) << name;
  }
  EXPECT_EQ(route_of({"CLIENT", "PAUSE", "100"}).disposition, Disposition::Shared);
  EXPECT_EQ(route_of({"CLIENT", "UNPAUSE"}).disposition, Disposition::Shared);
  EXPECT_EQ(route_of({"CONFIG", "GET", "maxmemory"}).disposition, Disposition::Shared);
  EXPECT_EQ(route_of({"SCRIPT", "LOAD", "return 1"}).disposition, Disposition::Shared);
}

TEST(RedisCommandTable, UnknownCommandsAreShared) {
  const Route r = route_of({"JSON.GET", "k"});
  EXPECT_EQ(r.command, nullptr);
  EXPECT_EQ(r.disposition, Disposition::Shared);
  EXPECT_TRUE(r.arity_ok);
}

TEST(RedisCommandTable, UnknownSubcommandFallsBackToTheContainer) {
  const Route r = route_of({"client", "foo"});
  ASSERT_NE(r.command, nullptr);
  EXPECT_EQ(r.command->name, "client");
  EXPECT_EQ(r.disposition, Disposition::Shared);
  EXPECT_TRUE(r.arity_ok);
}

TEST(RedisCommandTable, SubcommandsIgnoreCase) {
  EXPECT_EQ(route_of({"Client", "SetName", "x"}).command->name, "client|setname");
  EXPECT_EQ(route_of({"CONFIG", "get", "x"}).command->name, "config|get");
  EXPECT_EQ(route_of({"xinfo", "STREAM", "s"}).command->name, "xinfo|stream");
}

// ---------------------------------------------------------------------------------------------
// Arity, worded exactly like redis-server 7.

TEST(RedisCommandTable, Arity) {
  EXPECT_TRUE(route_of({"GET", "k"}).arity_ok);
  EXPECT_FALSE(route_of({"GET"}).arity_ok);
  EXPECT_FALSE(route_of({"GET", "a", "b"}).arity_ok);
  EXPECT_TRUE(route_of({"DEL", "a", "b", "c"}).arity_ok);  // -2: at least two
  EXPECT_FALSE(route_of({"DEL"}).arity_ok);
  EXPECT_FALSE(route_of({"CLIENT"}).arity_ok);
  EXPECT_FALSE(route_of({"CLIENT", "KILL"}).arity_ok);
  EXPECT_TRUE(route_of({"PING"}).arity_ok);
  EXPECT_TRUE(route_of({"PING", "x"}).arity_ok);
  std::string out;
  append_arity_error(out, *route_of({"GET"}).command);
  EXPECT_EQ(out, "-ERR wrong number of arguments for 'get' command\r\n");
  out.clear();
  append_arity_error(out, *route_of({"CLIENT", "KILL"}).command);
  EXPECT_EQ(out, "-ERR wrong number of arguments for 'client|kill' command\r\n");
  out.clear();
  append_arity_error(out, *route_of({"CLIENT"}).command);
  EXPECT_EQ(out, "-ERR wrong number of arguments for 'client' command\r\n");
}

// ---------------------------------------------------------------------------------------------
// What the proxy looks up instead of comparing names: each fact on exactly the commands that have it.

/// Every entry of the table, subcommands included.
std::vector<const CommandInfo*> every_entry() {
  std::vector<const CommandInfo*> entries;
  for (const CommandInfo& info : all_commands()) {
    entries.push_back(&info);
    for (const CommandInfo& sub : info.subcommands) entries.push_back(&sub);
  }
  return entries;
}

/// The names of the entries that carry `flag`.
std::set<std::string_view> flagged(CommandFlag flag) {
  std::set<std::string_view> names;
  for (const CommandInfo* info : every_entry()) {
    if (info->has(flag)) names.insert(info->name);
  }
  return names;
}

using Names = std::set<std::string_view>;

TEST(RedisCommandTable, FlagsMarkExactlyTheirCommands) {
  EXPECT_EQ(flagged(kBlockOption), (Names{"xread", "xreadgroup"}));
  EXPECT_EQ(flagged(kChangesPoolKey), (Names{"auth", "hello", "reset", "select"}));
  EXPECT_EQ(flagged(kAllowedBeforeAuth), (Names{"auth", "hello", "quit", "reset"}));
  EXPECT_EQ(flagged(kQueuedInMulti), (Names{"acl|whoami", "echo"}));
  EXPECT_EQ(flagged(kKeepsConnectionState), (Names{"echo", "quit"}));
  EXPECT_EQ(flagged(kUnsubscribe), (Names{"punsubscribe", "sunsubscribe", "unsubscribe"}));
  EXPECT_EQ(flagged(kResetsConnection), (Names{"reset"}));
  EXPECT_EQ(flagged(kRunsInMulti), (Names{"quit", "reset"}));
  EXPECT_EQ(flagged(kNamesClients), (Names{"client|kill", "client|list", "client|unblock"}));
  EXPECT_EQ(flagged(kRedirects), (Names{"client|tracking"}));
  // Redis 7.0's CMD_ALLOW_BUSY commands that corral forwards on a shared connection; the others
  // (AUTH HELLO QUIT RESET MULTI DISCARD WATCH UNWATCH) are local or pinned, SHUTDOWN refused.
  EXPECT_EQ(flagged(kAllowedWhileBusy), (Names{"function|kill", "function|stats", "script|kill"}));
  EXPECT_EQ(flagged(kRunsScript), (Names{"eval", "eval_ro", "evalsha", "evalsha_ro", "fcall", "fcall_ro"}));
}

TEST(RedisCommandTable, PingIsForwardedSoItSaysWhetherTheBackendServes) {
  const Route r = route_of({"PING"});
  EXPECT_EQ(r.disposition, Disposition::Shared);
  EXPECT_TRUE(route_of({"PING", "x"}).arity_ok);
  EXPECT_TRUE(keeps_connection_state(r));
}

TEST(RedisCommandTable, TrackingRedirectIdIsFoundPastPrefixes) {
  EXPECT_EQ(redirect_index(*Req({"CLIENT", "TRACKING", "on", "REDIRECT", "7"})), 4u);
  EXPECT_EQ(redirect_index(*Req({"CLIENT", "TRACKING", "on", "BCAST", "PREFIX", "redirect", "redirect", "9"})), 7u);
  EXPECT_EQ(redirect_index(*Req({"CLIENT", "TRACKING", "on", "PREFIX", "redirect"})), 0u);
  EXPECT_EQ(redirect_index(*Req({"CLIENT", "TRACKING", "on", "REDIRECT"})), 0u);
  EXPECT_EQ(redirect_index(*Req({"CLIENT", "TRACKING", "off"})), 0u);
}

TEST(RedisCommandTable, RoutesAnswerFlagsInAnyCase) {
  EXPECT_TRUE(route_of({"Auth", "p"}).has(kAllowedBeforeAuth));
  EXPECT_TRUE(route_of({"sElEcT", "1"}).has(kChangesPoolKey));
  EXPECT_TRUE(route_of({"PUNSUBSCRIBE"}).has(kUnsubscribe));
  EXPECT_FALSE(route_of({"GET", "k"}).has(kAllowedBeforeAuth));
  EXPECT_FALSE(route_of({"JSON.GET", "k"}).has(kKeepsConnectionState));  // unknown: no flags
  EXPECT_FALSE(route_of({"CLIENT", "SETNAME", "n"}).has(kChangesPoolKey));
}

TEST(RedisCommandTable, EveryLocalCommandNamesItsHandler) {
  const std::vector<std::pair<std::vector<std::string_view>, LocalCommand>> cases = {
      {{"AUTH", "p"}, LocalCommand::Auth},
      {{"HELLO"}, LocalCommand::Hello},
      {{"SELECT", "1"}, LocalCommand::Select},
      {{"CLIENT", "ID"}, LocalCommand::ClientId},
      {{"client", "getname"}, LocalCommand::ClientGetname},
      {{"CLIENT", "SETNAME", "n"}, LocalCommand::ClientSetname},
      {{"CLIENT", "SETINFO", "LIB-NAME", "x"}, LocalCommand::ClientSetinfo},
      {{"CLIENT", "INFO"}, LocalCommand::ClientInfo},
      {{"CLIENT", "REPLY", "ON"}, LocalCommand::ClientReply},
      {{"CLIENT", "NO-EVICT", "on"}, LocalCommand::ClientNoEvict},
      {{"CLIENT", "LIST"}, LocalCommand::ClientList},
      {{"CLIENT", "KILL", "a:1"}, LocalCommand::ClientKill},
      {{"CLIENT", "UNBLOCK", "1"}, LocalCommand::ClientUnblock},
      {{"ACL", "WHOAMI"}, LocalCommand::AclWhoami},
      {{"ECHO", "x"}, LocalCommand::Echo},
      {{"QUIT"}, LocalCommand::Quit},
      {{"RESET"}, LocalCommand::Reset},
  };
  for (const auto& [args, handler] : cases) {
    EXPECT_EQ(route_of_args(args).local(), handler) << ::testing::PrintToString(args);
  }
  // Exactly the Local entries have a handler, and no two share one.
  std::set<LocalCommand> seen;
  for (const CommandInfo* info : every_entry()) {
    EXPECT_EQ(info->disposition == Disposition::Local, info->local != LocalCommand::None) << info->name;
    if (info->local != LocalCommand::None) {
      EXPECT_TRUE(seen.insert(info->local).second) << info->name;
    }
  }
  EXPECT_EQ(seen.size(), cases.size());
  EXPECT_EQ(route_of({"GET", "k"}).local(), LocalCommand::None);
  EXPECT_EQ(route_of({"JSON.GET", "k"}).local(), LocalCommand::None);
}

TEST(RedisCommandTable, TransactionCommandsNameTheirStep) {
  EXPECT_EQ(route_of({"MULTI"}).transaction(), TransactionStep::Multi);
  EXPECT_EQ(route_of({"exec"}).transaction(), TransactionStep::Exec);
  EXPECT_EQ(route_of({"Discard"}).transaction(), TransactionStep::Discard);
  EXPECT_EQ(route_of({"WATCH", "k"}).transaction(), TransactionStep::Watch);
  EXPECT_EQ(route_of({"UNWATCH"}).transaction(), TransactionStep::Unwatch);
  EXPECT_EQ(route_of({"BLPOP", "k", "0"}).transaction(), TransactionStep::None);
  EXPECT_EQ(route_of({"JSON.GET", "k"}).transaction(), TransactionStep::None);
  // Exactly the transaction pins have a step.
  for (const CommandInfo* info : every_entry()) {
    EXPECT_EQ(info->pin_reason == PinReason::Transaction, info->transaction != TransactionStep::None) << info->name;
  }
}

TEST(RedisCommandTable, WhatKeepsARelayedConnectionsState) {
  for (auto args : std::vector<std::vector<std::string_view>>{
           {"GET", "k"}, {"PUBLISH", "c", "m"}, {"JSON.GET", "k"}, {"SUBSCRIBE", "c"}, {"PSUBSCRIBE", "p*"},
           {"SSUBSCRIBE", "s"}, {"UNSUBSCRIBE"}, {"PUNSUBSCRIBE"}, {"SUNSUBSCRIBE"}, {"PING"}, {"ECHO", "x"},
           {"QUIT"}}) {
    EXPECT_TRUE(keeps_connection_state(route_of_args(args))) << ::testing::PrintToString(args);
  }
  for (auto args : std::vector<std::vector<std::string_view>>{
           {"SELECT", "1"}, {"HELLO", "3"}, {"AUTH", "p"}, {"RESET"}, {"CLIENT", "SETNAME", "n"}, {"MULTI"},
           {"WATCH", "k"}, {"BLPOP", "k", "0"}, {"MONITOR"}, {"CLIENT", "TRACKING", "on"}, {"CLIENT", "KILL", "x"}}) {
    EXPECT_FALSE(keeps_connection_state(route_of_args(args))) << ::testing::PrintToString(args);
  }
}

// ---------------------------------------------------------------------------------------------
// XREAD/XREADGROUP block only with BLOCK; timeouts.

TEST(RedisCommandTable, XreadPinsOnlyWithBlock) {
  EXPECT_EQ(route_of({"XREAD", "STREAMS", "s", "0"}).disposition, Disposition::Shared);
  EXPECT_EQ(route_of({"XREAD", "COUNT", "2", "STREAMS", "s", "0"}).disposition, Disposition::Shared);
  const Route blocking = route_of({"xread", "block", "0", "STREAMS", "s", "$"});
  EXPECT_EQ(blocking.disposition, Disposition::Pinned);
  EXPECT_EQ(blocking.pin_reason, PinReason::Blocking);
  // A stream named "block" after STREAMS is a key, not the option.
  EXPECT_EQ(route_of({"XREAD", "STREAMS", "block", "0"}).disposition, Disposition::Shared);
  // BLOCK without a value, or without STREAMS, is a syntax error answered at once.
  EXPECT_EQ(route_of({"XREAD", "BLOCK"}).disposition, Disposition::Shared);
  EXPECT_EQ(route_of({"XREAD", "BLOCK", "0", "s", "0"}).disposition, Disposition::Shared);
  // XREADGROUP: group and consumer names are not options.
  EXPECT_EQ(route_of({"XREADGROUP", "GROUP", "block", "c", "STREAMS", "s", ">"}).disposition, Disposition::Shared);
  const Req group({"XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "NOACK", "BLOCK", "100", "STREAMS", "s", ">"});
  const Route r = route(*group);
  EXPECT_EQ(r.disposition, Disposition::Pinned);
  const auto timeout = blocking_timeout(r, *group);
  ASSERT_TRUE(timeout);
  EXPECT_EQ(timeout->index, 8u);
  EXPECT_EQ(timeout->unit, TimeoutUnit::Milliseconds);
  EXPECT_EQ(block_option_index(*group), 8u);
}

struct TimeoutCase {
  std::vector<std::string_view> args;
  std::size_t index;
  TimeoutUnit unit;
};

TEST(RedisCommandTable, BlockingTimeoutPositions) {
  const std::vector<TimeoutCase> cases = {
      {{"BLPOP", "a", "b", "1.5"}, 3, TimeoutUnit::Seconds},
      {{"BRPOP", "a", "0"}, 2, TimeoutUnit::Seconds},
      {{"BZPOPMIN", "a", "b", "c", "2"}, 4, TimeoutUnit::Seconds},
      {{"BZPOPMAX", "a", "2"}, 2, TimeoutUnit::Seconds},
      {{"BRPOPLPUSH", "s", "d", "5"}, 3, TimeoutUnit::Seconds},
      {{"BLMOVE", "s", "d", "LEFT", "RIGHT", "5"}, 5, TimeoutUnit::Seconds},
      {{"BLMPOP", "0.5", "2", "a", "b", "LEFT"}, 1, TimeoutUnit::Seconds},
      {{"BZMPOP", "1", "1", "z", "MIN", "COUNT", "2"}, 1, TimeoutUnit::Seconds},
      {{"WAIT", "1", "100"}, 2, TimeoutUnit::Milliseconds},
      {{"WAITAOF", "1", "0", "100"}, 3, TimeoutUnit::Milliseconds},
      {{"XREAD", "COUNT", "1", "BLOCK", "250", "STREAMS", "s", "$"}, 4, TimeoutUnit::Milliseconds},
  };
  for (const TimeoutCase& c : cases) {
    std::string wire;
    encode_command(wire, std::span<const std::string_view>(c.args));
    RequestScanner scanner;
    Request request;
    ASSERT_EQ(scanner.scan(wire, request), ScanStatus::Frame);
    const Route r = route(request);
    const auto timeout = blocking_timeout(r, request);
    ASSERT_TRUE(timeout) << c.args[0];
    EXPECT_EQ(timeout->index, c.index) << c.args[0];
    EXPECT_EQ(timeout->unit, c.unit) << c.args[0];
  }
  const Req get({"GET", "k"});
  EXPECT_FALSE(blocking_timeout(route(*get), *get));
  const Req short_blpop({"BLPOP"});  // arity error: no timeout to find
  EXPECT_FALSE(blocking_timeout(route(*short_blpop), *short_blpop));
  const Req xread({"XREAD", "STREAMS", "s", "0"});
  EXPECT_FALSE(blocking_timeout(route(*xread), *xread));
}

TEST(RedisCommandTable, ParseTimeout) {
  EXPECT_EQ(parse_timeout_ms("0", TimeoutUnit::Seconds), 0);
  EXPECT_EQ(parse_timeout_ms("1.5", TimeoutUnit::Seconds), 1500);
  EXPECT_EQ(parse_timeout_ms("0.0001", TimeoutUnit::Seconds), 1);  // rounds up: never 0 (= forever)
  EXPECT_EQ(parse_timeout_ms("250", TimeoutUnit::Milliseconds), 250);
  EXPECT_FALSE(parse_timeout_ms("-1", TimeoutUnit::Seconds));
  EXPECT_FALSE(parse_timeout_ms("-1", TimeoutUnit::Milliseconds));
  EXPECT_FALSE(parse_timeout_ms("1.5", TimeoutUnit::Milliseconds));
  EXPECT_FALSE(parse_timeout_ms("abc", TimeoutUnit::Seconds));
  EXPECT_FALSE(parse_timeout_ms("inf", TimeoutUnit::Seconds));
  EXPECT_FALSE(parse_timeout_ms("", TimeoutUnit::Milliseconds));
  EXPECT_FALSE(parse_timeout_ms("1e30", TimeoutUnit::Seconds));
  EXPECT_FALSE(parse_timeout_ms("5", TimeoutUnit::None));
}

TEST(RedisCommandTable, EnumNames) {
  EXPECT_EQ(to_string(Disposition::Refused), "Refused");
  EXPECT_EQ(to_string(PinReason::Tracking), "Tracking");
}

TEST(RedisCommandTable, NamesAreUniqueAndLowerCase) {
  std::set<std::string_view> seen;
  for (const CommandInfo& info : all_commands()) {
    EXPECT_TRUE(seen.insert(info.name).second) << info.name;
    for (char c : info.name) EXPECT_FALSE(c >= 'A' && c <= 'Z') << info.name;
  }
}

}  // namespace
}  // namespace corral::redis
