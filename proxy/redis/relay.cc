#include "proxy/redis/relay.h"

#include <array>
#include <random>

#include "protocols/redis/encoder.h"
#include "protocols/redis/pubsub.h"
#include "runtime/task_scope.h"

namespace corral::proxy {

RelayRequest RelayState::on_request(const redis::Route& route) {
  if (route.disposition == redis::Disposition::Refused && route.command != nullptr) {
    // corral's refusal must come after the replies still on their way: answered at the marker.
    held_reply_.clear();
    redis::append_refusal_error(held_reply_, *route.command);
    return RelayRequest::RefuseAtMarker;
  }
  if (route.has(redis::kNamesClients)) {
    // Answered from corral's client table, which needs the session; the relayed connection would
    // answer about backend connections instead.
    held_reply_.clear();
    redis::append_refusal_error(held_reply_, *route.command, "not while the connection is subscribed or tracking");
    return RelayRequest::RefuseAtMarker;
  }
  if (route.has(redis::kResetsConnection)) {
    awaiting_reset_ = true;
    return RelayRequest::ForwardThenPause;
  }
  if (!redis::keeps_connection_state(route)) sticky_ = true;
  if (route.has(redis::kReportsRedirect)) {
    // Its reply is the last one before the marker: held back until then, to be rewritten.
    reporting_ = true;
    return RelayRequest::ForwardThenMarker;
  }
  // When the marker comes back, the counts say whether any subscription is left.
  if (route.has(redis::kUnsubscribe) && !sticky_) return RelayRequest::ForwardThenMarker;
  return RelayRequest::Forward;
}

RelayRequest RelayState::refuse(std::string reply) {
  held_reply_ = std::move(reply);
  return RelayRequest::RefuseAtMarker;
}

std::string RelayState::sync_marker(std::string_view token) {
  std::string ping;
  redis::encode_command(ping, {"PING", token});
  marker_bulk_.clear();
  redis::append_bulk(marker_bulk_, token);
  marker_array_ = "*2\r\n$4\r\npong\r\n" + marker_bulk_;  // RESP2 subscribe mode's PING reply
  return ping;
}

RelayReply RelayState::on_reply(const redis::Reply& reply) {
  if (awaiting_reset_ && reply.bytes == "+RESET\r\n") {
    outcome_ = RelayOutcome::Reset;  // the client gets the server's +RESET as it is
    return RelayReply::Reset;
  }
  if (!marker_bulk_.empty() && (reply.bytes == marker_bulk_ || reply.bytes == marker_array_)) {
    const bool subscribed = subscribed_at_marker(reply.bytes);
    marker_bulk_.clear();
    marker_array_.clear();
    reporting_ = false;
    if (held_reply_.empty() && !subscribed && !sticky_) outcome_ = RelayOutcome::Leave;
    return RelayReply::Marker;
  }
  if (reporting_ && !reply.is_push()) {
    // Pushes go on at once; replies wait one step, so the report's is still here at the marker.
    released_ = std::exchange(report_, std::string(reply.bytes));
    return RelayReply::Held;
  }
  if (const auto confirmed = redis::subscription_count(reply)) {
    (confirmed->kind == redis::SubscriptionKind::ShardChannels ? shard_channels_ : channels_) = confirmed->count;
  }
  return RelayReply::Client;
}

bool RelayState::subscribed_at_marker(std::string_view marker_reply) const {
  // Every reply sent before the marker has arrived. In RESP2 the array form means still subscribed;
  // in RESP3 the last confirmations' counts tell.
  return marker_reply == marker_array_ || channels_ > 0 || shard_channels_ > 0;
}

void start_relay(pool::RedisConnection& connection, pool::ReplySink& owner, std::string_view request) {
  connection.set_owner(&owner);
  connection.set_passthrough(true);
  connection.send_raw(request);
}

rt::Task<RelayEnd> RedisRelay::run() {
  connection_.set_relay_filter(this);
  rt::CancelSource relay_cancel(&client_.cancel);
  rt::TaskScope requests;
  // `this` outlives the request forwarder: it is cancelled and joined below.
  requests.spawn(forward_requests(this, &relay_cancel));
  bool written = true;
  for (;;) {
    written = co_await client_.write_output();
    if (!written || client_.gone || connection_.state() == pool::RedisConnection::State::Closed) break;
    if (state_.outcome() != RelayOutcome::Relaying) break;
    const auto woken = co_await client_.sink->wake().wait(rt::Deadline::never(), &client_.cancel);
    if (!woken) break;
  }
  if (written) written = co_await client_.write_output();  // e.g. the +OK of a QUIT the backend answered before closing
  relay_cancel.cancel();
  co_await requests.join();
  connection_.set_relay_filter(nullptr);
  const bool ended = written && !client_.gone && !client_.cancel.cancelled() &&
                     connection_.state() != pool::RedisConnection::State::Closed;
  if (ended && state_.outcome() == RelayOutcome::Leave) co_return RelayEnd::Leave;
  if (ended && state_.outcome() == RelayOutcome::Reset) co_return RelayEnd::Reset;
  co_return RelayEnd::Stopped;
}

rt::Task<void> RedisRelay::forward_requests(RedisRelay* self, rt::CancelSource* cancel) {
  RedisClient& client = self->client_;
  std::string encoded;  // its own: the main coroutine runs alongside
  for (;;) {
    for (;;) {
      const redis::ScanStatus status = client.scanner.scan(client.in.readable(), client.request);
      if (status == redis::ScanStatus::NeedMore) break;
      if (status == redis::ScanStatus::Error) {
        client.sink->deliver_unsolicited(client.scanner.error().reply());
        client.gone = true;
        co_return;
      }
      bool go_on = true;
      if (!client.request.empty()) {
        const redis::Route route = redis::route(client.request);
        if (route.has(redis::kRedirects) && redis::redirect_index(client.request) != 0) {
          // The request stays in client.in meanwhile: this coroutine is its only reader.
          std::string error;
          const std::string bytes = co_await self->rewriter_.rewrite(client.request, error);
          go_on = self->forward_rewritten(route, bytes, std::move(error));
        } else {
          go_on = self->forward(client.request, encoded);
        }
      }
      client.in.consume(client.request.size());
      if (go_on) continue;
      const bool resumed = co_await self->wait_sync_point(cancel);
      if (!resumed) co_return;
    }
    const bool more = co_await client.read_more(cancel);
    if (!more) co_return;
  }
}

bool RedisRelay::forward(const redis::Request& request, std::string& encoded) {
  const RelayRequest action = state_.on_request(redis::route(request));
  if (action != RelayRequest::RefuseAtMarker) connection_.send_raw(redis::resp_bytes(request, encoded));
  if (action == RelayRequest::RefuseAtMarker || action == RelayRequest::ForwardThenMarker) send_sync_marker();
  return action == RelayRequest::Forward;
}

bool RedisRelay::forward_rewritten(const redis::Route& route, std::string_view bytes, std::string error) {
  if (!error.empty()) {
    state_.refuse(std::move(error));
    send_sync_marker();
    return false;
  }
  const RelayRequest action = state_.on_request(route);
  connection_.send_raw(bytes);
  if (action == RelayRequest::ForwardThenMarker) send_sync_marker();
  return action == RelayRequest::Forward;
}

void RedisRelay::send_sync_marker() {
  // A fresh random token per marker: no reply of the client's own can equal it, because nothing
  // could have stored it before the PING carrying it ran.
  std::random_device random;
  std::array<char, 32> token{};
  for (std::size_t i = 0; i < token.size(); i += 8) {
    const uint32_t word = random();
    for (std::size_t j = 0; j < 8; ++j) token[i + j] = "0123456789abcdef"[(word >> (4 * j)) & 0xf];
  }
  connection_.send_raw(state_.sync_marker(std::string_view(token.data(), token.size())));
}

bool RedisRelay::pass(const redis::Reply& reply) {
  const RelayReply kind = state_.on_reply(reply);
  if (kind == RelayReply::Client) return true;
  if (kind == RelayReply::Held) {
    const std::string released = state_.take_released_reply();
    if (!released.empty()) client_.sink->deliver_unsolicited(released);
    return false;
  }
  if (kind == RelayReply::Marker) {
    std::string report = state_.take_report();
    if (!report.empty()) client_.sink->deliver_unsolicited(rewriter_.report_redirect(std::move(report)));
    const std::string held = state_.take_held_reply();
    if (!held.empty()) {
      client_.sink->deliver_unsolicited(held);
    } else if (state_.outcome() == RelayOutcome::Leave) {
      client_.sink->wake().notify();
    }
  }
  end_sync_point();
  return kind == RelayReply::Reset;
}

rt::Task<bool> RedisRelay::wait_sync_point(rt::CancelSource* cancel) {
  rt::CancelSource sync_wait(cancel);
  sync_wait_ = &sync_wait;
  while (!sync_wait.cancelled()) {
    if (client_.in.size() < kMaxBufferedWhilePinned) {
      const bool more = co_await client_.read_more(&sync_wait);
      if (!more && !sync_wait.cancelled()) break;  // the client left
    } else {
      rt::Notify nobody;  // enough input buffered: wait for the end of the pause without reading
      co_await nobody.wait(rt::Deadline::never(), &sync_wait);
    }
  }
  sync_wait_ = nullptr;
  co_return !cancel->cancelled() && !client_.gone && state_.outcome() == RelayOutcome::Relaying;
}

void RedisRelay::end_sync_point() {
  if (sync_wait_ != nullptr) sync_wait_->cancel();
}

}  // namespace corral::proxy
