// One Redis client connection: a coroutine that reads requests, answers or forwards each one, and
// writes the replies back in request order.
//
//   read ──► RequestScanner ──► per request: route()
//     Local    ──► RedisLocalCommands (context) ──────────────────┐
//     Shared   ──► pool(context key).ready_shared()->submit ──────┼──► ReplySink (in order) ──► write
//     Pinned   ──► dedicated connection: MULTI/WATCH, blocking ───┘
//     Relay    ──► subscribe / MONITOR / tracking: full-duplex relay on a dedicated connection
//
// The fast path (a Shared request with a ready connection) runs without suspending: a batch of
// pipelined requests is queued in one go and the backend writer sends it with one write. Everything
// that must wait (opening a connection, a local reply behind forwarded ones, a pin) takes the slow path,
// which first waits until every earlier reply arrived, so replies can never overtake each other.
#include <array>
#include <charconv>
#include <memory>
#include <random>
#include <string>
#include <utility>

#include "pool/redis_pool.h"
#include "pool/reply_sink.h"
#include "protocols/redis/command_table.h"
#include "protocols/redis/encoder.h"
#include "protocols/redis/reply_scanner.h"
#include "protocols/redis/request_scanner.h"
#include "proxy/redis/context.h"
#include "proxy/redis/frontend.h"
#include "runtime/byte_buffer.h"
#include "runtime/log.h"
#include "runtime/task_scope.h"

namespace corral::proxy {

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;
/// Reply bytes that make the session write before every outstanding reply has arrived.
constexpr std::size_t kFlushThreshold = 64 * 1024;
/// While a blocking command waits, at most this much further input is buffered from the client.
constexpr std::size_t kMaxBufferedWhileBlocked = 1024 * 1024;
/// A writing buffer larger than this is freed after use instead of kept for an idle client.
constexpr std::size_t kKeepWritingCapacity = 64 * 1024;

redis::Limits request_limits(const config::RedisLimits& limits) {
  redis::Limits out = redis::Limits::requests();
  out.max_bulk_length = limits.max_bulk_length;
  out.max_array_length = limits.max_array_length;
  out.max_nesting_depth = limits.max_nesting_depth;
  out.max_inline_length = limits.max_inline_length;
  return out;
}

/// How relay mode stands, as decided by the replies that came back (see RedisSession::pass()).
enum class RelayOutcome {
  Relaying,  // forwarding both ways
  Leave,     // every subscription ended cleanly: return the connection, serve normally again
  Reset,     // RESET answered: close the connection, reset the context, serve normally again
};

/// What the session tracks while it relays a subscribe / MONITOR / tracking connection.
struct RelayState {
  bool sticky = false;          // the connection's state may differ from its pool key's: never returned
  bool awaiting_reset = false;  // RESET forwarded: its "+RESET" is the last reply of the relay
  std::string marker_bulk;      // reply to corral's sync PING outside RESP2 subscribe mode; "" = none sent
  std::string marker_array;     // the same reply in RESP2 subscribe mode
  std::string held_reply;       // corral's own reply for the request behind the marker, if any
  int64_t channels = -1;        // count in the last (p)(un)subscribe confirmation; -1: none seen
  int64_t shard_channels = -1;  // count in the last s(un)subscribe confirmation
  RelayOutcome outcome = RelayOutcome::Relaying;
  rt::CancelSource* sync_wait = nullptr;  // ends the request forwarder's pause at a sync point
};

class RedisSession final : private pool::RelayFilter {
 public:
  RedisSession(rt::TcpStream client, RedisFrontend& frontend)
      : client_(std::move(client)),
        env_(frontend.env()),
        pools_(frontend.pools()),
        local_(frontend.local_commands()),
        cancel_(env_.stop_cancel),
        scanner_(request_limits(env_.config->redis)),
        sink_(pool::ReplySink::create(kFlushThreshold, env_.config->client.output_buffer_limit)) {
    sink_->cancel_on_overflow(&cancel_);
    context_.id = env_.shared->next_client_id.fetch_add(1, std::memory_order_relaxed);
    context_.peer = client_.peer_address().to_string();
    context_.local = client_.local_address().to_string();
    local_.init(context_);
  }
  RedisSession(const RedisSession&) = delete;
  RedisSession& operator=(const RedisSession&) = delete;

  ~RedisSession() {
    if (pinned_ != nullptr) release_pinned(false);
    sink_->abandon();
  }

  rt::Task<void> run();

 private:
  /// What the session does after handling one request.
  enum class Step {
    Next,        // go on with the next request
    Slow,        // run handle_slow(): the request must wait for earlier replies or for the backend
    Close,       // write what is pending, then close (QUIT, fatal error)
    Relay,       // switch to relay mode (subscribe, MONITOR, tracking)
    ReleasePin,  // the pinned state ended: wait for its replies, then return the connection
  };

  Step handle(const redis::Request& request);
  rt::Task<Step> handle_slow(const redis::Request& request);
  rt::Task<Step> handle_local(const redis::Request& request);
  rt::Task<Step> handle_shared(const redis::Request& request);
  rt::Task<Step> handle_pinned(const redis::Request& request);
  rt::Task<bool> pin();
  rt::Task<bool> wait_blocking_reply(rt::Deadline deadline);
  static rt::Task<void> watch_client(RedisSession* self, rt::CancelSource* cancel);
  /// Relay mode until the client leaves (false) or the relayed state ended cleanly (true: serve on).
  rt::Task<bool> relay();
  static rt::Task<void> relay_requests(RedisSession* self, rt::CancelSource* cancel);
  /// Forwards one request in relay mode; false at a sync point (forwarding pauses until the
  /// backend's answer to it arrived, see pass()).
  bool relay_one(const redis::Request& request, std::string& encoded);
  /// Sends PING <random token>: its reply proves that every reply before it has arrived.
  void send_sync_marker();
  bool pass(const redis::Reply& reply) override;
  void note_subscription_count(const redis::Reply& reply);
  void end_sync_point();
  /// Pauses the request forwarder at a sync point, still watching the client (it may leave), until
  /// pass() ends the pause. False when relaying is over (client gone, cancelled, relay ended).
  rt::Task<bool> wait_sync_point(rt::CancelSource* cancel);

  rt::Task<bool> flush();
  rt::Task<bool> write_output();
  void forward(pool::RedisConnection& connection, const redis::Request& request);
  /// The request as RESP: its own bytes, or an inline request re-encoded into `storage`.
  static std::string_view wire_bytes(const redis::Request& request, std::string& storage);
  /// Reads more client input into in_ while a dedicated connection is busy; false once the client
  /// is gone (client_gone_ set, session woken) or `cancel` fired.
  rt::Task<bool> read_while_pinned(rt::CancelSource* cancel);
  void update_transaction_state(const redis::Request& request);
  bool answer_without_backend(const redis::Request& request, Step& step);
  Step answer_local_now(const redis::Request& request);
  /// AUTH, HELLO, SELECT and RESET may move the client to another pool; they take the slow path.
  static bool may_change_pool_key(const redis::Request& request);
  Step finish_local(LocalOutcome outcome, const pool::RedisKey& key_before);
  pool::RedisPool& shared_pool();
  /// The shared connection for the next request without suspending, or nullptr (take the slow
  /// path). With replies outstanding it can only be the connection they come from: a pipeline
  /// stays on one connection instead of waiting for its replies each time the pool's least
  /// loaded connection changes.
  pool::RedisConnection* shared_connection(bool nothing_pending);
  /// Another counted reference to shared_pool() (a pin keeps its pool even if the context moves on).
  pool::RedisPoolRef pool_ref();
  void release_pinned(bool clean);
  void reply_error(std::string_view error_line) { sink_->append_local(error_line); }

  rt::TcpStream client_;
  const ListenerEnv& env_;
  pool::RedisPools& pools_;
  const RedisLocalCommands& local_;
  rt::CancelSource cancel_;  // under the worker's stop; also fired when the client's output overflows
  RedisContext context_;
  redis::RequestScanner scanner_;
  redis::Request request_;
  redis::Route route_;        // of the request being handled
  rt::ByteBuffer in_;
  pool::ReplySink* sink_;     // shared with backend FIFO entries (intrusive count)
  std::string writing_;       // replies being written to the client
  std::string scratch_;       // local replies and re-encoded inline requests
  pool::RedisPoolRef pool_;                          // shared pool for the context, cached
  // Where the outstanding replies come from. While any is outstanding (and nothing is pinned) the
  // connection is alive: a closing connection fails its FIFO entries before it goes away.
  pool::RedisConnection* last_shared_ = nullptr;
  pool::RedisPoolRef pinned_pool_;                   // the pool pinned_ came from
  RelayState relay_;                                 // while relaying
  pool::RedisConnection* pinned_ = nullptr;          // dedicated connection while state needs one
  bool client_gone_ = false;
};

rt::Task<void> RedisSession::run() {
  const auto idle_timeout = env_.config->client.idle_timeout;
  for (;;) {
    for (;;) {
      const redis::ScanStatus status = scanner_.scan(in_.readable(), request_);
      if (status == redis::ScanStatus::NeedMore) break;
      if (status == redis::ScanStatus::Error) {
        // One error reply, then close: the rest of the stream cannot be framed any more.
        reply_error(scanner_.error().reply());
        co_await flush();
        co_return;
      }
      Step step = handle(request_);
      if (step == Step::Slow) step = co_await handle_slow(request_);
      in_.consume(request_.size());
      if (step == Step::Close) {
        co_await flush();
        co_return;
      }
      if (step == Step::Relay) {
        const bool serving = co_await relay();
        if (!serving) co_return;
        continue;
      }
      if (step == Step::ReleasePin) {
        const bool flushed = co_await flush();
        if (!flushed) co_return;
        release_pinned(true);
      }
      if (sink_->overflowed()) co_return;
    }
    // Every complete request was consumed (forwarded ones were copied to their connection): a
    // client waiting for its replies holds no read buffer either.
    in_.release_if_empty();
    const auto flushed = co_await flush();
    if (!flushed) co_return;
    if (writing_.capacity() > kKeepWritingCapacity) std::string().swap(writing_);
    const rt::Deadline deadline =
        idle_timeout.count() > 0 ? rt::Deadline::after(idle_timeout) : rt::Deadline::never();
    // Wait without a buffer first: an idle client then costs no read buffer.
    const rt::Result<void> readable = co_await client_.wait_readable(deadline, env_.idle_cancel);
    if (!readable) co_return;
    auto n = co_await client_.read_some(in_.writable(kReadChunk), deadline, env_.idle_cancel);
    if (!n || *n == 0) co_return;
    in_.commit(*n);
  }
}

RedisSession::Step RedisSession::handle(const redis::Request& request) {
  if (request.empty()) return Step::Next;
  route_ = redis::route(request);
  const bool nothing_pending = sink_->outstanding() == 0;
  Step step = Step::Next;
  if (answer_without_backend(request, step)) return nothing_pending ? step : Step::Slow;
  switch (route_.disposition) {
    case redis::Disposition::Shared: {
      if (pinned_ != nullptr) {
        forward(*pinned_, request);
        return Step::Next;
      }
      pool::RedisConnection* connection = shared_connection(nothing_pending);
      if (connection == nullptr) return Step::Slow;
      forward(*connection, request);
      last_shared_ = connection;
      return Step::Next;
    }
    case redis::Disposition::Local: {
      if (context_.in_multi && (request.is_command("ping") || request.is_command("echo"))) {
        forward(*pinned_, request);  // queued inside the transaction, as redis-server does
        return Step::Next;
      }
      return nothing_pending ? answer_local_now(request) : Step::Slow;
    }
    case redis::Disposition::Pinned:
      if (context_.in_multi) {
        if (context_.multi_failed && request.is_command("exec")) return Step::Slow;  // EXECABORT, see handle_pinned
        // Inside MULTI everything is queued on the pinned connection; EXEC/DISCARD end the state.
        forward(*pinned_, request);
        update_transaction_state(request);
        return context_.in_multi || context_.watching ? Step::Next : Step::ReleasePin;
      }
      return Step::Slow;
    case redis::Disposition::Refused:
      break;
  }
  return Step::Slow;
}

bool RedisSession::answer_without_backend(const redis::Request& request, Step& step) {
  // Errors corral gives itself, in the same order of checks as redis-server: auth, arity, refusal.
  step = Step::Next;
  if (!context_.authenticated && !RedisLocalCommands::allowed_unauthenticated(request)) {
    if (sink_->outstanding() == 0) reply_error("-NOAUTH Authentication required.\r\n");
    return true;
  }
  const bool rejected = (route_.command != nullptr && !route_.arity_ok) ||
                        route_.disposition == redis::Disposition::Refused;
  // redis-server discards a transaction in which it rejected a queued command; the backend never sees
  // this one, so corral remembers to do the same at EXEC.
  if (rejected && context_.in_multi) context_.multi_failed = true;
  if (route_.command != nullptr && !route_.arity_ok) {
    if (sink_->outstanding() == 0) {
      scratch_.clear();
      redis::append_arity_error(scratch_, *route_.command);
      reply_error(scratch_);
    }
    return true;
  }
  if (route_.disposition == redis::Disposition::Refused) {
    if (sink_->outstanding() == 0) {
      scratch_.clear();
      redis::append_refusal_error(scratch_, *route_.command);
      reply_error(scratch_);
    }
    return true;
  }
  return false;
}

rt::Task<RedisSession::Step> RedisSession::handle_slow(const redis::Request& request) {
  // Whatever comes next must not overtake replies still on their way.
  const auto flushed = co_await flush();
  if (!flushed) co_return Step::Close;
  Step step = Step::Next;
  if (answer_without_backend(request, step)) co_return step;
  switch (route_.disposition) {
    case redis::Disposition::Local: co_return co_await handle_local(request);
    case redis::Disposition::Shared: co_return co_await handle_shared(request);
    case redis::Disposition::Pinned: co_return co_await handle_pinned(request);
    case redis::Disposition::Refused: break;
  }
  co_return Step::Next;
}

rt::Task<RedisSession::Step> RedisSession::handle_local(const redis::Request& request) {
  if (context_.in_multi) {
    // SELECT, AUTH, HELLO, CLIENT... inside MULTI would change the dedicated connection behind corral's back.
    reply_error("-ERR corral: this command is not supported inside MULTI\r\n");
    context_.multi_failed = true;
    co_return Step::Next;
  }
  const pool::RedisKey before = local_.pool_key(context_);
  std::string auth_verdict;
  const std::string* verdict = nullptr;
  for (int attempt = 0; attempt < 3; ++attempt) {
    BackendQuestion question;
    scratch_.clear();
    const LocalOutcome outcome =
        local_.answer(request, route_, context_, shared_pool().server_info(), scratch_, question, verdict);
    if (outcome != LocalOutcome::NeedsBackend) co_return finish_local(outcome, before);
    if (question.check_credentials) {
      pool::RedisKey key = local_.pool_key(context_);
      key.user = question.user == "default" ? std::string() : question.user;
      key.password = question.password;
      // Held only for this check: a refused key's pool is freed as soon as the reference goes.
      pool::RedisPoolRef candidate = pools_.get(key, env_.backend_address);
      const auto deadline = rt::Deadline::after(env_.config->pool.queue_timeout);
      pool::Acquired acquired = co_await candidate->shared(deadline, &cancel_);
      if (acquired.connection == nullptr && acquired.refusal.empty()) {
        // No verdict on the credentials (backend down, pool exhausted): say why, stay unauthenticated.
        reply_error(acquired.error);
        co_return Step::Next;
      }
      // The server's own refusal ("-WRONGPASS ...") is what the client would get from it directly.
      auth_verdict = acquired.refusal;
      verdict = &auth_verdict;
    } else {
      const auto deadline = rt::Deadline::after(env_.config->pool.queue_timeout);
      pool::Acquired acquired = co_await shared_pool().shared(deadline, &cancel_);
      if (acquired.connection == nullptr) {
        reply_error(acquired.error);
        co_return Step::Next;
      }
    }
  }
  reply_error("-ERR corral: could not learn what the backend needs to answer this command\r\n");
  co_return Step::Next;
}

RedisSession::Step RedisSession::answer_local_now(const redis::Request& request) {
  // Nothing is pending, so a local reply cannot overtake one: answer without leaving the fast path
  // unless the answer needs the backend (then handle_local asks it).
  if (context_.in_multi || may_change_pool_key(request)) return Step::Slow;
  BackendQuestion question;
  scratch_.clear();
  const LocalOutcome outcome = local_.answer(request, route_, context_, shared_pool().server_info(), scratch_, question);
  if (outcome == LocalOutcome::NeedsBackend) return Step::Slow;
  sink_->append_local(scratch_);
  return outcome == LocalOutcome::Close ? Step::Close : Step::Next;
}

bool RedisSession::may_change_pool_key(const redis::Request& request) {
  return request.is_command("auth") || request.is_command("hello") || request.is_command("select") ||
         request.is_command("reset");
}

RedisSession::Step RedisSession::finish_local(LocalOutcome outcome, const pool::RedisKey& key_before) {
  sink_->append_local(scratch_);
  if (!(local_.pool_key(context_) == key_before)) {
    pool_.reset();
    last_shared_ = nullptr;
    if (pinned_ != nullptr) release_pinned(false);  // RESET: the dedicated state ends with it
  }
  return outcome == LocalOutcome::Close ? Step::Close : Step::Next;
}

rt::Task<RedisSession::Step> RedisSession::handle_shared(const redis::Request& request) {
  if (pinned_ != nullptr) {
    forward(*pinned_, request);
    co_return Step::Next;
  }
  pool::RedisConnection* connection = shared_pool().ready_shared();
  if (connection == nullptr) {
    const auto deadline = rt::Deadline::after(env_.config->pool.queue_timeout);
    pool::Acquired acquired = co_await shared_pool().shared(deadline, &cancel_);
    if (acquired.connection == nullptr) {
      reply_error(acquired.error);
      co_return Step::Next;
    }
    connection = acquired.connection;
  }
  forward(*connection, request);
  last_shared_ = connection;
  co_return Step::Next;
}

rt::Task<RedisSession::Step> RedisSession::handle_pinned(const redis::Request& request) {
  const bool had_pin = pinned_ != nullptr;
  if (!had_pin) {
    const bool pinned = co_await pin();
    if (!pinned) co_return Step::Next;
  }
  switch (route_.pin_reason) {
    case redis::PinReason::Transaction:
      if (context_.multi_failed && request.is_command("exec")) {
        // As redis-server answers EXEC after rejecting a queued command. The backend queued the rest
        // and would run it: closing the dedicated connection discards the transaction there.
        reply_error("-EXECABORT Transaction discarded because of previous errors.\r\n");
        release_pinned(false);
        co_return Step::Next;
      }
      forward(*pinned_, request);
      update_transaction_state(request);
      if (!context_.in_multi && !context_.watching) {
        const auto flushed = co_await flush();
        if (!flushed) co_return Step::Close;
        release_pinned(true);
      }
      co_return Step::Next;
    case redis::PinReason::Blocking: {
      // With an owner the backend connection applies no operation timeout: the command blocks as
      // long as it asked to, and wait_blocking_reply() bounds it with the command's own timeout.
      pinned_->set_owner(sink_);
      forward(*pinned_, request);
      rt::Deadline deadline = rt::Deadline::never();
      if (auto timeout = redis::blocking_timeout(route_, request)) {
        const auto ms = redis::parse_timeout_ms(request.arg(timeout->index), timeout->unit);
        if (ms && *ms > 0) deadline = rt::Deadline::after(std::chrono::milliseconds(*ms) + env_.config->pool.operation_timeout);
      }
      const bool answered = co_await wait_blocking_reply(deadline);
      if (!answered) {
        // Client gone, or no reply in time: the connection may still be blocked, so it is closed.
        release_pinned(false);
        if (client_gone_) co_return Step::Close;
        reply_error("-ERR corral: blocking command timed out on the backend\r\n");
        co_return Step::Next;
      }
      if (context_.watching) {
        pinned_->set_owner(nullptr);  // the transaction goes on: its requests get the operation timeout again
      } else {
        release_pinned(true);
      }
      co_return Step::Next;
    }
    case redis::PinReason::Subscribe:
    case redis::PinReason::Monitor:
    case redis::PinReason::Tracking:
      pinned_->set_owner(sink_);
      pinned_->set_passthrough(true);
      pinned_->send_raw(wire_bytes(request, scratch_));
      co_return Step::Relay;
    case redis::PinReason::None:
      break;
  }
  forward(*pinned_, request);
  co_return Step::Next;
}

rt::Task<bool> RedisSession::pin() {
  pool::RedisPoolRef pool = pool_ref();
  const auto deadline = rt::Deadline::after(env_.config->pool.queue_timeout);
  pool::Acquired acquired = co_await pool->pin(deadline, &cancel_);
  if (acquired.connection == nullptr) {
    reply_error(acquired.error);
    co_return false;
  }
  pinned_ = acquired.connection;
  pinned_pool_ = std::move(pool);
  co_return true;
}

void RedisSession::release_pinned(bool clean) {
  pinned_pool_->unpin(pinned_, clean && !context_.in_multi && !context_.watching);
  pinned_ = nullptr;
  pinned_pool_.reset();
  context_.in_multi = false;
  context_.watching = false;
  context_.multi_failed = false;
}

void RedisSession::update_transaction_state(const redis::Request& request) {
  if (request.is_command("multi")) {
    context_.in_multi = true;
  } else if (request.is_command("exec") || request.is_command("discard")) {
    context_.in_multi = false;
    context_.watching = false;
    context_.multi_failed = false;
  } else if (request.is_command("watch")) {
    if (!context_.in_multi) context_.watching = true;
  } else if (request.is_command("unwatch")) {
    if (!context_.in_multi) context_.watching = false;
  }
}

rt::Task<bool> RedisSession::wait_blocking_reply(rt::Deadline deadline) {
  // While the backend blocks, the client socket is watched so a client that goes away releases the
  // dedicated connection at once instead of when the command's timeout ends.
  rt::CancelSource watch_cancel(&cancel_);
  rt::TaskScope watcher;
  // `this` outlives the watcher: it is cancelled and joined below, before this frame returns.
  watcher.spawn(watch_client(this, &watch_cancel));
  bool in_time = true;
  while (sink_->outstanding() > 0 && !client_gone_ && !cancel_.cancelled()) {
    const auto woken = co_await sink_->wait(deadline, &cancel_);
    if (!woken) {
      in_time = false;
      break;
    }
  }
  watch_cancel.cancel();
  co_await watcher.join();
  co_return in_time && sink_->outstanding() == 0 && !client_gone_;
}

rt::Task<void> RedisSession::watch_client(RedisSession* self, rt::CancelSource* cancel) {
  while (self->in_.size() < kMaxBufferedWhileBlocked) {
    const bool more = co_await self->read_while_pinned(cancel);
    if (!more) co_return;
  }
}

rt::Task<bool> RedisSession::read_while_pinned(rt::CancelSource* cancel) {
  auto n = co_await client_.read_some(in_.writable(kReadChunk), rt::Deadline::never(), cancel);
  if (!n && n.error() == std::errc::operation_canceled) co_return false;
  if (!n || *n == 0) {
    client_gone_ = true;
    sink_->wake().notify();  // the main coroutine waits on the sink: tell it the client left
    co_return false;
  }
  in_.commit(*n);
  co_return true;
}

rt::Task<bool> RedisSession::relay() {
  relay_ = RelayState{};
  // Only a plain subscription can end cleanly with UNSUBSCRIBE; MONITOR, tracking and subscribing
  // inside a transaction leave state on the connection that only closing it removes.
  relay_.sticky = route_.pin_reason != redis::PinReason::Subscribe || context_.in_multi || context_.watching;
  pinned_->set_relay_filter(this);
  rt::CancelSource relay_cancel(&cancel_);
  rt::TaskScope requests;
  // `this` outlives the request relay: it is cancelled and joined below.
  requests.spawn(relay_requests(this, &relay_cancel));
  bool written = true;
  for (;;) {
    written = co_await write_output();
    if (!written || client_gone_ || pinned_->state() == pool::RedisConnection::State::Closed) break;
    if (relay_.outcome != RelayOutcome::Relaying) break;
    const auto woken = co_await sink_->wake().wait(rt::Deadline::never(), &cancel_);
    if (!woken) break;
  }
  if (written) written = co_await write_output();  // e.g. the +OK of a QUIT the backend answered before closing
  relay_cancel.cancel();
  co_await requests.join();
  const bool serve_on = written && !client_gone_ && !cancel_.cancelled() &&
                        pinned_->state() != pool::RedisConnection::State::Closed &&
                        relay_.outcome != RelayOutcome::Relaying;
  if (serve_on && relay_.outcome == RelayOutcome::Leave) {
    release_pinned(true);  // nothing in flight, no subscription left: as good as new
    co_return true;
  }
  // After RESET the connection is in db 0, RESP2, default user: no longer what its pool key says.
  release_pinned(false);
  if (!serve_on) co_return false;
  local_.reset(context_);
  pool_.reset();
  last_shared_ = nullptr;
  co_return true;
}

rt::Task<void> RedisSession::relay_requests(RedisSession* self, rt::CancelSource* cancel) {
  std::string encoded;  // not scratch_: the main coroutine runs alongside
  for (;;) {
    for (;;) {
      const redis::ScanStatus status = self->scanner_.scan(self->in_.readable(), self->request_);
      if (status == redis::ScanStatus::NeedMore) break;
      if (status == redis::ScanStatus::Error) {
        self->sink_->deliver_unsolicited(self->scanner_.error().reply());
        self->client_gone_ = true;
        co_return;
      }
      const bool go_on = self->request_.empty() || self->relay_one(self->request_, encoded);
      self->in_.consume(self->request_.size());
      if (go_on) continue;
      const bool resumed = co_await self->wait_sync_point(cancel);
      if (!resumed) co_return;
    }
    const bool more = co_await self->read_while_pinned(cancel);
    if (!more) co_return;
  }
}

namespace {

/// Commands after which a relayed connection's state still matches its pool key.
bool keeps_connection_state(const redis::Route& route, const redis::Request& request) {
  if (route.disposition == redis::Disposition::Shared) return true;
  if (route.disposition == redis::Disposition::Pinned) return route.pin_reason == redis::PinReason::Subscribe;
  return request.is_command("ping") || request.is_command("echo") || request.is_command("quit");
}

bool is_unsubscribe(const redis::Request& request) {
  return request.is_command("unsubscribe") || request.is_command("punsubscribe") ||
         request.is_command("sunsubscribe");
}

}  // namespace

bool RedisSession::relay_one(const redis::Request& request, std::string& encoded) {
  const redis::Route route = redis::route(request);
  if (route.disposition == redis::Disposition::Refused && route.command != nullptr) {
    // corral's refusal must come after the replies still on their way: answered at the marker.
    relay_.held_reply.clear();
    redis::append_refusal_error(relay_.held_reply, *route.command);
    send_sync_marker();
    return false;
  }
  pinned_->send_raw(wire_bytes(request, encoded));
  if (request.is_command("reset")) {
    relay_.awaiting_reset = true;
    return false;
  }
  if (!keeps_connection_state(route, request)) relay_.sticky = true;
  if (is_unsubscribe(request) && !relay_.sticky) {
    send_sync_marker();  // when it comes back, the counts say whether any subscription is left
    return false;
  }
  return true;
}

void RedisSession::send_sync_marker() {
  // A fresh random token per marker: no reply of the client's own can equal it, because nothing
  // could have stored it before the PING carrying it ran.
  std::random_device random;
  std::array<char, 32> token{};
  for (std::size_t i = 0; i < token.size(); i += 8) {
    const uint32_t word = random();
    for (std::size_t j = 0; j < 8; ++j) token[i + j] = "0123456789abcdef"[(word >> (4 * j)) & 0xf];
  }
  const std::string_view text(token.data(), token.size());
  std::string ping;  // not scratch_: the main coroutine runs alongside
  redis::encode_command(ping, {"PING", text});
  pinned_->send_raw(ping);
  relay_.marker_bulk = "$" + std::to_string(text.size()) + "\r\n" + std::string(text) + "\r\n";
  relay_.marker_array = "*2\r\n$4\r\npong\r\n" + relay_.marker_bulk;  // RESP2 subscribe mode's PING reply
}

bool RedisSession::pass(const redis::Reply& reply) {
  if (relay_.awaiting_reset && reply.bytes == "+RESET\r\n") {
    relay_.outcome = RelayOutcome::Reset;  // the client gets the server's +RESET as it is
    end_sync_point();
    return true;
  }
  if (!relay_.marker_bulk.empty() && (reply.bytes == relay_.marker_bulk || reply.bytes == relay_.marker_array)) {
    // Every reply sent before the marker has arrived. In RESP2 the array form means still subscribed;
    // in RESP3 the last confirmations' counts tell.
    const bool subscribed = reply.bytes == relay_.marker_array || relay_.channels > 0 || relay_.shard_channels > 0;
    relay_.marker_bulk.clear();
    relay_.marker_array.clear();
    if (!relay_.held_reply.empty()) {
      sink_->deliver_unsolicited(relay_.held_reply);
      relay_.held_reply.clear();
    } else if (!subscribed && !relay_.sticky) {
      relay_.outcome = RelayOutcome::Leave;
      sink_->wake().notify();
    }
    end_sync_point();
    return false;
  }
  note_subscription_count(reply);
  return true;
}

void RedisSession::note_subscription_count(const redis::Reply& reply) {
  if (reply.type != redis::ReplyType::Array && reply.type != redis::ReplyType::Push) return;
  std::array<redis::ReplyElement, 3> fields{};
  if (redis::peek_elements(reply.bytes, fields) != 3 || fields[2].type != redis::ReplyType::Integer) return;
  const std::string_view kind = fields[0].value;
  int64_t* count = nullptr;
  if (kind == "subscribe" || kind == "psubscribe" || kind == "unsubscribe" || kind == "punsubscribe") {
    count = &relay_.channels;
  } else if (kind == "ssubscribe" || kind == "sunsubscribe") {
    count = &relay_.shard_channels;
  } else {
    return;
  }
  const std::string_view digits = fields[2].value;
  std::from_chars(digits.data(), digits.data() + digits.size(), *count);
}

rt::Task<bool> RedisSession::wait_sync_point(rt::CancelSource* cancel) {
  rt::CancelSource sync_wait(cancel);
  relay_.sync_wait = &sync_wait;
  while (!sync_wait.cancelled()) {
    if (in_.size() < kMaxBufferedWhileBlocked) {
      const bool more = co_await read_while_pinned(&sync_wait);
      if (!more && !sync_wait.cancelled()) break;  // the client left
    } else {
      rt::Notify nobody;  // enough input buffered: wait for the end of the pause without reading
      co_await nobody.wait(rt::Deadline::never(), &sync_wait);
    }
  }
  relay_.sync_wait = nullptr;
  co_return !cancel->cancelled() && !client_gone_ && relay_.outcome == RelayOutcome::Relaying;
}

void RedisSession::end_sync_point() {
  if (relay_.sync_wait != nullptr) relay_.sync_wait->cancel();
}

void RedisSession::forward(pool::RedisConnection& connection, const redis::Request& request) {
  connection.submit(wire_bytes(request, scratch_), sink_);
}

std::string_view RedisSession::wire_bytes(const redis::Request& request, std::string& storage) {
  if (!request.is_inline()) return request.bytes();
  // A backend never sees inline syntax: its splitting of quotes could differ from ours.
  storage.clear();
  redis::encode_request(storage, request);
  return storage;
}

pool::RedisPool& RedisSession::shared_pool() {
  if (!pool_) pool_ = pools_.get(local_.pool_key(context_), env_.backend_address);
  return *pool_;
}

pool::RedisConnection* RedisSession::shared_connection(bool nothing_pending) {
  if (nothing_pending) return shared_pool().ready_shared();
  if (last_shared_ != nullptr && last_shared_->state() == pool::RedisConnection::State::Ready) return last_shared_;
  return nullptr;
}

pool::RedisPoolRef RedisSession::pool_ref() {
  return pool::RedisPoolRef(shared_pool());
}

rt::Task<bool> RedisSession::write_output() {
  while (sink_->has_output()) {
    sink_->take_output(writing_);
    const auto written = co_await client_.write_all(writing_, rt::Deadline::never(), &cancel_);
    if (!written) co_return false;
  }
  co_return !sink_->overflowed();
}

rt::Task<bool> RedisSession::flush() {
  // write_output() inlined: this runs once per batch of requests, and each nested coroutine call
  // costs a frame and two transfers.
  for (;;) {
    while (sink_->has_output()) {
      sink_->take_output(writing_);
      const auto written = co_await client_.write_all(writing_, rt::Deadline::never(), &cancel_);
      if (!written) co_return false;
    }
    if (sink_->overflowed()) co_return false;
    if (sink_->outstanding() == 0) co_return true;
    const bool woken = co_await sink_->wait(rt::Deadline::never(), &cancel_);
    if (!woken) co_return false;
  }
}

}  // namespace

rt::Task<void> RedisFrontend::serve(rt::TcpStream client) {
  // The session lives on the heap so the coroutine frame stays small; it ends with this coroutine.
  auto session = std::make_unique<RedisSession>(std::move(client), *this);
  co_await session->run();
}

}  // namespace corral::proxy
