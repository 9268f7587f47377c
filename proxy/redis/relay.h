// Relay mode: a Redis client that subscribed (SUBSCRIBE family), ran MONITOR or turned on CLIENT
// TRACKING talks to its dedicated backend connection full duplex, until the relayed state ends.
//
//   client ──RedisRelay::forward_requests()──► RelayState::on_request() ──► dedicated connection
//   dedicated connection ──every reply──► RedisRelay::pass() ──► RelayState::on_reply()
//        ├─ the client's reply (counts of (un)subscribe confirmations noted) ──► client
//        ├─ +RESET after a forwarded RESET ──► client; the relay ends (Reset)
//        ├─ corral's sync marker ──► swallowed; the paused forwarder resumes; the relay ends (Leave)
//        │  when nothing is subscribed any more and the connection is not sticky
//        └─ before the marker that follows CLIENT GETREDIR / TRACKINGINFO: each reply held back one
//           step, so the last one (the report's) is rewritten at the marker to name corral's client id
//
// Replies in relay mode cannot be counted (one UNSUBSCRIBE may get any number of confirmations), so
// corral finds the end of what is in flight with a sync marker: it pauses forwarding and sends
// PING <random token>; when that exact reply comes back, every earlier reply has arrived.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "pool/redis_connection.h"
#include "protocols/redis/command_table.h"
#include "protocols/redis/reply_scanner.h"
#include "proxy/redis/client.h"
#include "runtime/event_loop.h"
#include "runtime/task.h"

namespace corral::proxy {

/// How relay mode stands, as decided by the replies that came back.
enum class RelayOutcome {
  Relaying,  // forwarding both ways
  Leave,     // every subscription ended cleanly: return the connection, serve normally again
  Reset,     // RESET answered: close the connection, reset the context, serve normally again
};

/// What the relay does with one client request.
enum class RelayRequest {
  Forward,             // send it on and go on reading
  ForwardThenMarker,   // send it and a sync marker; pause until the marker is back (UNSUBSCRIBE)
  ForwardThenPause,    // send it; pause until its reply ended the relay (RESET)
  RefuseAtMarker,      // not sent: corral refuses it; send a marker and answer at it, in order
};

/// What one reply of the dedicated connection is.
enum class RelayReply {
  Client,  // the client's: deliver it
  Reset,   // the server's +RESET for a forwarded RESET: deliver it; the relay is over
  Marker,  // corral's sync marker: swallow it; the pause is over (deliver take_report(), rewritten,
           // and take_held_reply(), if any)
  Held,    // kept back until the marker, in case it is the report's: deliver take_released_reply()
};

/// The relay's decisions, I/O-free: whether the connection is sticky, what a request needs, what a
/// reply is, and when relaying ends. Not thread-safe: one session.
class RelayState {
 public:
  /// Relay mode started by a command pinned for `reason`; `in_transaction`: under MULTI or WATCH.
  /// Only a plain subscription can end cleanly with UNSUBSCRIBE; MONITOR, tracking and subscribing
  /// inside a transaction leave state on the connection that only closing it removes (sticky).
  RelayState(redis::PinReason reason, bool in_transaction)
      : sticky_(reason != redis::PinReason::Subscribe || in_transaction) {}

  RelayRequest on_request(const redis::Route& route);
  /// A request corral answers itself with `reply` instead of sending it: answered at a marker.
  RelayRequest refuse(std::string reply);
  /// Records the replies that mark the sync point `token` and returns the request to send for it.
  std::string sync_marker(std::string_view token);
  RelayReply on_reply(const redis::Reply& reply);

  /// corral's own reply for the request behind the last marker ("" if none), handed over once.
  std::string take_held_reply() { return std::exchange(held_reply_, std::string()); }
  /// At a marker: the server's reply to CLIENT GETREDIR / TRACKINGINFO ("" if none), handed over once.
  std::string take_report() { return std::exchange(report_, std::string()); }
  /// After RelayReply::Held: the reply held before it, now known not to be the report's ("" if none).
  std::string take_released_reply() { return std::exchange(released_, std::string()); }
  RelayOutcome outcome() const noexcept { return outcome_; }
  /// The connection's state may differ from its pool key's: it is never returned to the pool.
  bool sticky() const noexcept { return sticky_; }

 private:
  bool subscribed_at_marker(std::string_view marker_reply) const;

  bool sticky_;
  bool awaiting_reset_ = false;  // RESET forwarded: its "+RESET" is the last reply of the relay
  std::string marker_bulk_;      // reply to corral's sync PING outside RESP2 subscribe mode; "" = none sent
  std::string marker_array_;     // the same reply in RESP2 subscribe mode
  std::string held_reply_;       // corral's own reply for the request behind the marker, if any
  bool reporting_ = false;       // CLIENT GETREDIR / TRACKINGINFO forwarded; its marker not back yet
  std::string report_;           // while reporting_: the latest reply, held back
  std::string released_;         // the reply report_ held before, to deliver now
  int64_t channels_ = -1;        // count in the last (p)(un)subscribe confirmation; -1: none seen
  int64_t shard_channels_ = -1;  // count in the last s(un)subscribe confirmation
  RelayOutcome outcome_ = RelayOutcome::Relaying;
};

/// Makes `connection` (pinned by the session) a relay to `owner` and sends the request that starts it.
void start_relay(pool::RedisConnection& connection, pool::ReplySink& owner, std::string_view request);

/// Rewrites a relayed request that names another corral client (CLIENT TRACKING ... REDIRECT <id>)
/// into what the backend understands. Lifetime: outlives the relay (the session implements it).
class RelayRewriter {
 public:
  /// The request's bytes to send instead, or "" with `error` set to the reply the client gets.
  /// Suspends while the client is looked up.
  virtual rt::Task<std::string> rewrite(const redis::Request& request, std::string& error) = 0;
  /// A CLIENT GETREDIR / TRACKINGINFO reply naming the REDIRECT target by the corral client id that
  /// rewrite() translated, instead of the backend connection id the server knows it by.
  virtual std::string report_redirect(std::string reply) const = 0;

 protected:
  ~RelayRewriter() = default;
};

/// How a relay ended.
enum class RelayEnd {
  Stopped,  // the client left, the connection closed or the session was stopped: close the connection
  Leave,    // see RelayOutcome::Leave
  Reset,    // see RelayOutcome::Reset
};

/// Runs relay mode on a connection start_relay() prepared. Not thread-safe: one session.
/// Lifetime: `client` and `connection` outlive the relay; the session unpins the connection after run().
class RedisRelay final : private pool::RelayFilter {
 public:
  RedisRelay(RedisClient& client, pool::RedisConnection& connection, RelayState state, RelayRewriter& rewriter)
      : client_(client), connection_(connection), state_(std::move(state)), rewriter_(rewriter) {}
  RedisRelay(const RedisRelay&) = delete;
  RedisRelay& operator=(const RedisRelay&) = delete;

  /// Relays both ways until the relayed state ended or the relay stopped. Suspends on the client
  /// socket and the sink. Cancellation: the client's cancel source stops it (Stopped).
  rt::Task<RelayEnd> run();

 private:
  static rt::Task<void> forward_requests(RedisRelay* self, rt::CancelSource* cancel);
  /// Forwards one request; false at a sync point (forwarding pauses until pass() ends it).
  bool forward(const redis::Request& request, std::string& encoded);
  /// Sends what rewrite() made of a request, or has corral's reply given at a marker; false likewise.
  bool forward_rewritten(const redis::Route& route, std::string_view bytes, std::string error);
  /// Sends PING <random token>: its reply proves that every reply before it has arrived.
  void send_sync_marker();
  bool pass(const redis::Reply& reply) override;
  /// Pauses the request forwarder at a sync point, still watching the client (it may leave), until
  /// pass() ends the pause. False when relaying is over (client gone, cancelled, relay ended).
  rt::Task<bool> wait_sync_point(rt::CancelSource* cancel);
  void end_sync_point();

  RedisClient& client_;
  pool::RedisConnection& connection_;
  RelayState state_;
  RelayRewriter& rewriter_;
  rt::CancelSource* sync_wait_ = nullptr;  // ends the request forwarder's pause at a sync point
};

}  // namespace corral::proxy
