// RelayState: what relay mode does with each request and reply, and when it ends — subscription
// counts in RESP2 arrays and RESP3 pushes, the sync marker's reply in both forms, RESET, sticky
// connections.
#include "proxy/redis/relay.h"

#include <gtest/gtest.h>

#include <deque>
#include <string>
#include <vector>

#include "protocols/redis/encoder.h"
#include "protocols/redis/reply_scanner.h"
#include "protocols/redis/request_scanner.h"

namespace corral::proxy {
namespace {

using redis::PinReason;

constexpr std::string_view kToken = "0123456789abcdef0123456789abcdef";
const std::string kMarkerBulk = "$32\r\n" + std::string(kToken) + "\r\n";
const std::string kMarkerArray = "*2\r\n$4\r\npong\r\n" + kMarkerBulk;

/// A relay's state with helpers that frame requests and replies from wire bytes.
class Relay {
 public:
  explicit Relay(PinReason reason, bool in_transaction = false) : state_(reason, in_transaction) {}

  RelayRequest request(std::vector<std::string_view> args) {
    std::string& wire = wires_.emplace_back();
    redis::encode_command(wire, std::span<const std::string_view>(args));
    redis::RequestScanner scanner;
    redis::Request framed;
    EXPECT_EQ(scanner.scan(wire, framed), redis::ScanStatus::Frame);
    return state_.on_request(redis::route(framed));
  }

  RelayReply reply(const std::string& bytes) {
    const std::string& wire = wires_.emplace_back(bytes);
    redis::ReplyScanner scanner;
    redis::Reply framed;
    EXPECT_EQ(scanner.scan(wire, framed), redis::ScanStatus::Frame) << bytes;
    return state_.on_reply(framed);
  }

  std::string marker() { return state_.sync_marker(kToken); }

  RelayState& state() { return state_; }

 private:
  RelayState state_;
  std::deque<std::string> wires_;  // framed requests and replies point into these
};

std::string confirmation(char type, std::string_view kind, std::string_view channel, int count) {
  std::string out(1, type);
  out += "3\r\n";
  redis::append_bulk(out, kind);
  redis::append_bulk(out, channel);
  out += ":" + std::to_string(count) + "\r\n";
  return out;
}
std::string resp2(std::string_view kind, std::string_view channel, int count) {
  return confirmation('*', kind, channel, count);
}
std::string resp3(std::string_view kind, std::string_view channel, int count) {
  return confirmation('>', kind, channel, count);
}

TEST(RelayState, OnlyAPlainSubscriptionCanEndCleanly) {
  EXPECT_FALSE(RelayState(PinReason::Subscribe, false).sticky());
  EXPECT_TRUE(RelayState(PinReason::Subscribe, true).sticky());  // under MULTI or WATCH
  EXPECT_TRUE(RelayState(PinReason::Monitor, false).sticky());
  EXPECT_TRUE(RelayState(PinReason::Tracking, false).sticky());
}

TEST(RelayState, CommandsThatKeepTheConnectionsStateAreJustForwarded) {
  Relay relay(PinReason::Subscribe);
  for (const auto& args : std::vector<std::vector<std::string_view>>{
           {"SUBSCRIBE", "a"}, {"PSUBSCRIBE", "p*"}, {"SSUBSCRIBE", "s"}, {"PING"}, {"ECHO", "x"}, {"GET", "k"},
           {"PUBLISH", "a", "m"}, {"QUIT"}}) {
    EXPECT_EQ(relay.request(args), RelayRequest::Forward) << args[0];
  }
  EXPECT_FALSE(relay.state().sticky());
}

TEST(RelayState, ACommandThatMayChangeTheConnectionMakesItSticky) {
  for (const auto& args : std::vector<std::vector<std::string_view>>{
           {"SELECT", "2"}, {"CLIENT", "SETNAME", "n"}, {"CLIENT", "TRACKING", "on"}, {"MONITOR"}, {"HELLO", "3"}}) {
    Relay relay(PinReason::Subscribe);
    EXPECT_EQ(relay.request(args), RelayRequest::Forward) << args[0];
    EXPECT_TRUE(relay.state().sticky()) << args[0];
    // Sticky: no marker after UNSUBSCRIBE, the relay never leaves; the connection is closed at the end.
    EXPECT_EQ(relay.request({"UNSUBSCRIBE"}), RelayRequest::Forward);
  }
}

TEST(RelayState, UnsubscribeIsFollowedByAMarker) {
  for (std::string_view command : {"UNSUBSCRIBE", "PUNSUBSCRIBE", "SUNSUBSCRIBE"}) {
    Relay relay(PinReason::Subscribe);
    EXPECT_EQ(relay.request({command}), RelayRequest::ForwardThenMarker) << command;
  }
}

TEST(RelayState, TheMarkerIsAPingWithTheToken) {
  Relay relay(PinReason::Subscribe);
  EXPECT_EQ(relay.marker(), "*2\r\n$4\r\nPING\r\n$32\r\n" + std::string(kToken) + "\r\n");
}

TEST(RelayState, Resp2LeavesWhenTheMarkerComesBackAsABulkString) {
  // In RESP2 subscribe mode the server answers PING with ["pong", message]; out of it, with a bulk.
  Relay relay(PinReason::Subscribe);
  EXPECT_EQ(relay.reply(resp2("subscribe", "a", 1)), RelayReply::Client);
  EXPECT_EQ(relay.request({"UNSUBSCRIBE"}), RelayRequest::ForwardThenMarker);
  relay.marker();
  EXPECT_EQ(relay.reply(resp2("unsubscribe", "a", 0)), RelayReply::Client);
  EXPECT_EQ(relay.state().outcome(), RelayOutcome::Relaying);
  EXPECT_EQ(relay.reply(kMarkerBulk), RelayReply::Marker);
  EXPECT_EQ(relay.state().outcome(), RelayOutcome::Leave);
  EXPECT_EQ(relay.state().take_held_reply(), "");
}

TEST(RelayState, Resp2StaysWhileTheMarkerComesBackAsAPongArray) {
  Relay relay(PinReason::Subscribe);
  EXPECT_EQ(relay.reply(resp2("subscribe", "a", 1)), RelayReply::Client);
  EXPECT_EQ(relay.reply(resp2("psubscribe", "p*", 2)), RelayReply::Client);
  EXPECT_EQ(relay.request({"UNSUBSCRIBE", "a"}), RelayRequest::ForwardThenMarker);
  relay.marker();
  EXPECT_EQ(relay.reply(resp2("unsubscribe", "a", 1)), RelayReply::Client);
  EXPECT_EQ(relay.reply(kMarkerArray), RelayReply::Marker);
  EXPECT_EQ(relay.state().outcome(), RelayOutcome::Relaying);
  // The marker is swallowed once: the same bytes later are the client's.
  EXPECT_EQ(relay.reply(kMarkerArray), RelayReply::Client);
}

TEST(RelayState, Resp3CountsDecideBecauseTheMarkerIsAlwaysABulkString) {
  Relay relay(PinReason::Subscribe);
  EXPECT_EQ(relay.reply(resp3("subscribe", "a", 1)), RelayReply::Client);
  EXPECT_EQ(relay.reply(resp3("ssubscribe", "s", 1)), RelayReply::Client);
  EXPECT_EQ(relay.request({"UNSUBSCRIBE"}), RelayRequest::ForwardThenMarker);
  relay.marker();
  EXPECT_EQ(relay.reply(resp3("unsubscribe", "a", 0)), RelayReply::Client);
  EXPECT_EQ(relay.reply(kMarkerBulk), RelayReply::Marker);
  EXPECT_EQ(relay.state().outcome(), RelayOutcome::Relaying);  // a shard channel is left

  EXPECT_EQ(relay.request({"SUNSUBSCRIBE"}), RelayRequest::ForwardThenMarker);
  relay.marker();
  EXPECT_EQ(relay.reply(resp3("sunsubscribe", "s", 0)), RelayReply::Client);
  EXPECT_EQ(relay.reply(kMarkerBulk), RelayReply::Marker);
  EXPECT_EQ(relay.state().outcome(), RelayOutcome::Leave);
}

TEST(RelayState, MessagesAndOtherRepliesGoToTheClient) {
  Relay relay(PinReason::Subscribe);
  EXPECT_EQ(relay.reply(resp3("subscribe", "a", 1)), RelayReply::Client);
  relay.marker();
  EXPECT_EQ(relay.reply(">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n"), RelayReply::Client);
  EXPECT_EQ(relay.reply("$32\r\nffffffffffffffffffffffffffffffff\r\n"), RelayReply::Client);  // another token
  EXPECT_EQ(relay.reply("+RESET\r\n"), RelayReply::Client);  // no RESET was forwarded
  EXPECT_EQ(relay.state().outcome(), RelayOutcome::Relaying);
}

TEST(RelayState, ARefusedCommandIsAnsweredAtTheMarkerAndNeverLeaves) {
  Relay relay(PinReason::Subscribe);
  EXPECT_EQ(relay.reply(resp2("subscribe", "a", 1)), RelayReply::Client);
  EXPECT_EQ(relay.reply(resp2("unsubscribe", "a", 0)), RelayReply::Client);
  EXPECT_EQ(relay.request({"CLIENT", "KILL", "ID", "1"}), RelayRequest::RefuseAtMarker);
  relay.marker();
  EXPECT_EQ(relay.reply(kMarkerBulk), RelayReply::Marker);
  EXPECT_EQ(relay.state().take_held_reply(),
            "-ERR command 'CLIENT KILL' is not supported by corral "
            "(not while the connection is subscribed or tracking)\r\n");
  EXPECT_EQ(relay.state().take_held_reply(), "");  // handed over once
  EXPECT_EQ(relay.state().outcome(), RelayOutcome::Relaying);
  EXPECT_FALSE(relay.state().sticky());
}

TEST(RelayState, ARewriteCorralRefusesIsAnsweredAtTheMarker) {
  // CLIENT TRACKING ... REDIRECT <id> naming no client: the session's reply, after what is in flight.
  Relay relay(PinReason::Tracking);
  EXPECT_EQ(relay.state().refuse("-ERR The client ID you want redirect to does not exist.\r\n"),
            RelayRequest::RefuseAtMarker);
  relay.marker();
  EXPECT_EQ(relay.reply(kMarkerBulk), RelayReply::Marker);
  EXPECT_EQ(relay.state().take_held_reply(), "-ERR The client ID you want redirect to does not exist.\r\n");
  EXPECT_EQ(relay.state().outcome(), RelayOutcome::Relaying);
}

TEST(RelayState, ResetEndsTheRelayWithTheServersReply) {
  for (const PinReason reason : {PinReason::Subscribe, PinReason::Monitor, PinReason::Tracking}) {
    Relay relay(reason);
    EXPECT_EQ(relay.request({"RESET"}), RelayRequest::ForwardThenPause);
    EXPECT_EQ(relay.reply("+OK\r\n"), RelayReply::Client);  // an earlier command's reply
    EXPECT_EQ(relay.reply("+RESET\r\n"), RelayReply::Reset);
    EXPECT_EQ(relay.state().outcome(), RelayOutcome::Reset);
  }
}

TEST(RelayState, AStickyRelayNeverLeavesEvenWithNothingSubscribed) {
  Relay relay(PinReason::Subscribe, true);
  EXPECT_EQ(relay.reply(resp2("subscribe", "a", 1)), RelayReply::Client);
  EXPECT_EQ(relay.request({"UNSUBSCRIBE"}), RelayRequest::Forward);
  EXPECT_EQ(relay.reply(resp2("unsubscribe", "a", 0)), RelayReply::Client);
  relay.marker();  // e.g. for a refused command
  EXPECT_EQ(relay.reply(kMarkerBulk), RelayReply::Marker);
  EXPECT_EQ(relay.state().outcome(), RelayOutcome::Relaying);
}

TEST(RelayState, AReportsReplyIsHeldUntilTheMarker) {
  // GET (in flight), then CLIENT GETREDIR: each reply waits one step, so the last before the marker
  // (GETREDIR's) is handed over there to be rewritten; pushes are not held.
  Relay relay(PinReason::Tracking);
  EXPECT_EQ(relay.request({"CLIENT", "GETREDIR"}), RelayRequest::ForwardThenMarker);
  relay.marker();
  EXPECT_EQ(relay.reply("$3\r\nbar\r\n"), RelayReply::Held);
  EXPECT_EQ(relay.state().take_released_reply(), "");
  EXPECT_EQ(relay.reply(">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nfoo\r\n"), RelayReply::Client);
  EXPECT_EQ(relay.reply(":42\r\n"), RelayReply::Held);
  EXPECT_EQ(relay.state().take_released_reply(), "$3\r\nbar\r\n");
  EXPECT_EQ(relay.reply(kMarkerBulk), RelayReply::Marker);
  EXPECT_EQ(relay.state().take_report(), ":42\r\n");
  EXPECT_EQ(relay.state().take_held_reply(), "");
  // Afterwards replies go through again.
  EXPECT_EQ(relay.reply("+OK\r\n"), RelayReply::Client);
  EXPECT_EQ(relay.state().outcome(), RelayOutcome::Relaying);
}

TEST(RelayState, AReportInASubscriptionIsHeldAndTheSubscriptionGoesOn) {
  Relay relay(PinReason::Subscribe);
  EXPECT_EQ(relay.reply(resp3("subscribe", "a", 1)), RelayReply::Client);
  EXPECT_EQ(relay.request({"CLIENT", "TRACKINGINFO"}), RelayRequest::ForwardThenMarker);
  relay.marker();
  EXPECT_EQ(relay.reply("%3\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n"),
            RelayReply::Held);
  EXPECT_EQ(relay.reply(kMarkerBulk), RelayReply::Marker);
  EXPECT_EQ(relay.state().outcome(), RelayOutcome::Relaying);
  EXPECT_TRUE(relay.state().take_report().starts_with("%3\r\n$5\r\nflags"));
  EXPECT_FALSE(relay.state().sticky());
}

}  // namespace
}  // namespace corral::proxy
