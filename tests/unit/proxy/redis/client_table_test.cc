// The I/O-free parts of corral's client table: CLIENT LIST / CLIENT KILL options parsed and worded as
// redis-server 7.0 does, which clients they mean, and the line that describes a client.
#include "proxy/redis/client_table.h"

#include <gtest/gtest.h>

#include "protocols/redis/request_scanner.h"

namespace corral::proxy {
namespace {

/// Keeps the wire bytes a request's views point into.
struct Parsed {
  std::string wire;
  redis::Request request;
};

std::unique_ptr<Parsed> request_of(const std::vector<std::string>& args) {
  auto parsed = std::make_unique<Parsed>();
  parsed->wire = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) parsed->wire += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  redis::RequestScanner scanner;
  EXPECT_EQ(scanner.scan(parsed->wire, parsed->request), redis::ScanStatus::Frame);
  return parsed;
}

std::string kill_error(const std::vector<std::string>& args) {
  const auto parsed = request_of(args);
  const auto result = parse_client_kill(parsed->request);
  return std::holds_alternative<std::string>(result) ? std::get<std::string>(result) : "";
}

ClientFilter kill_filter(const std::vector<std::string>& args) {
  const auto parsed = request_of(args);
  auto result = parse_client_kill(parsed->request);
  EXPECT_TRUE(std::holds_alternative<ClientFilter>(result));
  return std::holds_alternative<ClientFilter>(result) ? std::get<ClientFilter>(result) : ClientFilter{};
}

RedisContext client(uint64_t id, std::string peer, std::string user = "default") {
  RedisContext context;
  context.id = id;
  context.peer = std::move(peer);
  context.local = "127.0.0.1:6380";
  context.user = std::move(user);
  return context;
}

TEST(ClientKillOptions, IllegalArgumentsGetTheServersErrors) {
  EXPECT_EQ(kill_error({"CLIENT", "KILL", "id", "10", "wrong_arg"}), "-ERR syntax error\r\n");
  for (const char* bad : {"str", "-1", "0"}) {
    EXPECT_EQ(kill_error({"CLIENT", "KILL", "id", bad}), "-ERR client-id should be greater than 0\r\n") << bad;
  }
  EXPECT_EQ(kill_error({"CLIENT", "KILL", "type", "wrong_type"}), "-ERR Unknown client type 'wrong_type'\r\n");
  EXPECT_EQ(kill_error({"CLIENT", "KILL", "skipme", "yes_or_no"}), "-ERR syntax error\r\n");
  EXPECT_EQ(kill_error({"CLIENT", "KILL", "nonsense", "x"}), "-ERR syntax error\r\n");
}

TEST(ClientKillOptions, OldStyleAddressMayHitTheAsker) {
  const ClientFilter filter = kill_filter({"CLIENT", "KILL", "127.0.0.1:5000"});
  EXPECT_TRUE(filter.old_style);
  EXPECT_FALSE(filter.skip_me);
  EXPECT_TRUE(client_matches(filter, client(7, "127.0.0.1:5000"), ClientType::Normal, 7));
  EXPECT_FALSE(client_matches(filter, client(8, "127.0.0.1:5001"), ClientType::Normal, 7));
}

TEST(ClientKillOptions, FiltersCombineAndSkipTheAskerByDefault) {
  const ClientFilter by_user = kill_filter({"CLIENT", "KILL", "USER", "alice"});
  EXPECT_TRUE(by_user.skip_me);
  EXPECT_TRUE(client_matches(by_user, client(2, "a:1", "alice"), ClientType::Normal, 1));
  EXPECT_FALSE(client_matches(by_user, client(3, "a:2", "bob"), ClientType::Normal, 1));
  EXPECT_FALSE(client_matches(by_user, client(1, "a:3", "alice"), ClientType::Normal, 1));  // the asker
  const ClientFilter everyone = kill_filter({"CLIENT", "KILL", "SKIPME", "no"});
  EXPECT_TRUE(client_matches(everyone, client(1, "a:3"), ClientType::Normal, 1));
  const ClientFilter by_id_and_type = kill_filter({"CLIENT", "KILL", "ID", "5", "TYPE", "pubsub"});
  EXPECT_TRUE(client_matches(by_id_and_type, client(5, "a:1"), ClientType::Pubsub, 1));
  EXPECT_FALSE(client_matches(by_id_and_type, client(5, "a:1"), ClientType::Normal, 1));
  EXPECT_FALSE(client_matches(by_id_and_type, client(6, "a:1"), ClientType::Pubsub, 1));
  const ClientFilter by_laddr = kill_filter({"CLIENT", "KILL", "LADDR", "127.0.0.1:6380"});
  EXPECT_TRUE(client_matches(by_laddr, client(2, "a:1"), ClientType::Normal, 1));
  const ClientFilter replicas = kill_filter({"CLIENT", "KILL", "TYPE", "replica"});
  EXPECT_FALSE(client_matches(replicas, client(2, "a:1"), ClientType::Normal, 1));  // corral has none
}

TEST(ClientListOptions, TypeAndIds) {
  auto parsed = request_of({"CLIENT", "LIST", "TYPE", "bogus"});
  EXPECT_EQ(std::get<std::string>(parse_client_list(parsed->request)), "-ERR Unknown client type 'bogus'\r\n");
  parsed = request_of({"CLIENT", "LIST", "ID", "3", "x"});
  EXPECT_EQ(std::get<std::string>(parse_client_list(parsed->request)), "-ERR Invalid client ID\r\n");
  parsed = request_of({"CLIENT", "LIST", "whatever"});
  EXPECT_EQ(std::get<std::string>(parse_client_list(parsed->request)), "-ERR syntax error\r\n");
  parsed = request_of({"CLIENT", "LIST", "ID", "3", "9"});
  const ClientFilter ids = std::get<ClientFilter>(parse_client_list(parsed->request));
  EXPECT_TRUE(client_matches(ids, client(9, "a:1"), ClientType::Normal, 0));
  EXPECT_FALSE(client_matches(ids, client(4, "a:1"), ClientType::Normal, 0));
}

TEST(ClientLine, FieldsInTheServersOrder) {
  RedisContext context = client(12, "127.0.0.1:5000");
  context.name = "n";
  context.db = 3;
  context.blocked = true;
  context.no_evict = true;
  context.last_command = redis::find_subcommand(*redis::find_command("client"), "list");
  EXPECT_EQ(client_line(context, context.created, 26),
            "id=12 addr=127.0.0.1:5000 laddr=127.0.0.1:6380 fd=-1 name=n age=0 idle=0 flags=be db=3 sub=0 psub=0 "
            "ssub=0 multi=-1 qbuf=26 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 "
            "events=r cmd=client|list user=default redir=-1 resp=2 lib-name= lib-ver=\n");
  context.blocked = false;
  context.no_evict = false;
  context.last_command = nullptr;
  const std::string line = client_line(context, context.created + std::chrono::seconds(5), 0);
  EXPECT_NE(line.find(" age=5 idle=5 flags=N "), std::string::npos) << line;
  EXPECT_NE(line.find(" cmd=NULL "), std::string::npos) << line;
}

TEST(RedirectReport, GetredirNamesTheTargetsCorralId) {
  const RedirectIds ids{42, 7};
  EXPECT_EQ(replace_redirect_id(":42\r\n", ids), ":7\r\n");
  EXPECT_EQ(replace_redirect_id(":-1\r\n", ids), ":-1\r\n");  // tracking off
  EXPECT_EQ(replace_redirect_id(":0\r\n", ids), ":0\r\n");    // tracking on, no redirect
  EXPECT_EQ(replace_redirect_id(":421\r\n", ids), ":421\r\n");
  EXPECT_EQ(replace_redirect_id("-ERR wrong\r\n", ids), "-ERR wrong\r\n");
}

TEST(RedirectReport, TrackinginfoNamesTheTargetsCorralIdInBothProtocols) {
  const RedirectIds ids{42, 7};
  const std::string tail = "$8\r\nprefixes\r\n*1\r\n$8\r\nredirect\r\n";
  const std::string resp2 = "*6\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$6\r\nbcast\r\n$8\r\nredirect\r\n:42\r\n" + tail;
  const std::string resp3 = "%3\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$15\r\nbroken_redirect\r\n$8\r\nredirect\r\n:42\r\n" + tail;
  EXPECT_EQ(replace_redirect_id(resp2, ids),
            "*6\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$6\r\nbcast\r\n$8\r\nredirect\r\n:7\r\n" + tail);
  EXPECT_EQ(replace_redirect_id(resp3, ids),
            "%3\r\n$5\r\nflags\r\n*2\r\n$2\r\non\r\n$15\r\nbroken_redirect\r\n$8\r\nredirect\r\n:7\r\n" + tail);
  // Another redirect (or none) is left as the server said it.
  const std::string other = "*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n" + tail;
  EXPECT_EQ(replace_redirect_id(other, ids), other);
  // Not a TRACKINGINFO reply: a subscription confirmation on a channel named "redirect".
  const std::string confirmation = "*3\r\n$9\r\nsubscribe\r\n$8\r\nredirect\r\n:42\r\n";
  EXPECT_EQ(replace_redirect_id(confirmation, ids), confirmation);
}

}  // namespace
}  // namespace corral::proxy
