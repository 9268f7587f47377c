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
#include <memory>
#include <string>

#include "pool/redis_pool.h"
#include "pool/reply_sink.h"
#include "protocols/redis/command_table.h"
#include "protocols/redis/encoder.h"
#include "protocols/redis/request_scanner.h"
#include "proxy/redis_context.h"
#include "proxy/session.h"
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

class RedisSession {
 public:
  RedisSession(rt::TcpStream client, SessionEnv* env)
      : client_(std::move(client)),
        env_(env),
        local_(*env->redis_local),
        cancel_(env->stop_cancel),
        scanner_(request_limits(env->config->redis)),
        sink_(pool::ReplySink::create(kFlushThreshold, env->config->client.output_buffer_limit)) {
    sink_->cancel_on_overflow(&cancel_);
    context_.id = env->shared->next_client_id.fetch_add(1, std::memory_order_relaxed);
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
  rt::Task<void> relay();
  static rt::Task<void> relay_requests(RedisSession* self, rt::CancelSource* cancel);

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
  /// Another counted reference to shared_pool() (a pin keeps its pool even if the context moves on).
  pool::RedisPoolRef pool_ref();
  void release_pinned(bool clean);
  void reply_error(std::string_view error_line) { sink_->append_local(error_line); }

  rt::TcpStream client_;
  SessionEnv* env_;
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
  const pool::RedisConnection* last_shared_ = nullptr;  // where the outstanding replies come from
  pool::RedisPoolRef pinned_pool_;                   // the pool pinned_ came from
  pool::RedisConnection* pinned_ = nullptr;          // dedicated connection while state needs one
  bool client_gone_ = false;
};

rt::Task<void> RedisSession::run() {
  const auto idle_timeout = env_->config->client.idle_timeout;
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
        co_await relay();
        co_return;
      }
      if (step == Step::ReleasePin) {
        const bool flushed = co_await flush();
        if (!flushed) co_return;
        release_pinned(true);
      }
      if (sink_->overflowed()) co_return;
    }
    const auto flushed = co_await flush();
    if (!flushed) co_return;
    if (writing_.capacity() > kKeepWritingCapacity) std::string().swap(writing_);
    in_.release_if_empty();
    const rt::Deadline deadline =
        idle_timeout.count() > 0 ? rt::Deadline::after(idle_timeout) : rt::Deadline::never();
    // Wait without a buffer first: an idle client then costs no read buffer.
    const rt::Result<void> readable = co_await client_.wait_readable(deadline, env_->idle_cancel);
    if (!readable) co_return;
    auto n = co_await client_.read_some(in_.writable(kReadChunk), deadline, env_->idle_cancel);
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
      pool::RedisConnection* connection = shared_pool().ready_shared();
      if (connection == nullptr || (connection != last_shared_ && !nothing_pending)) return Step::Slow;
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
      pool::RedisPoolRef candidate = env_->redis_pools->get(key, env_->backend_address);
      const auto deadline = rt::Deadline::after(env_->config->pool.queue_timeout);
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
      const auto deadline = rt::Deadline::after(env_->config->pool.queue_timeout);
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
    const auto deadline = rt::Deadline::after(env_->config->pool.queue_timeout);
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
        if (ms && *ms > 0) deadline = rt::Deadline::after(std::chrono::milliseconds(*ms) + env_->config->pool.operation_timeout);
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
  const auto deadline = rt::Deadline::after(env_->config->pool.queue_timeout);
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

rt::Task<void> RedisSession::relay() {
  rt::CancelSource relay_cancel(&cancel_);
  rt::TaskScope requests;
  // `this` outlives the request relay: it is cancelled and joined below.
  requests.spawn(relay_requests(this, &relay_cancel));
  for (;;) {
    const auto written = co_await write_output();
    if (!written) break;
    if (client_gone_ || pinned_->state() == pool::RedisConnection::State::Closed) break;
    const auto woken = co_await sink_->wake().wait(rt::Deadline::never(), &cancel_);
    if (!woken) break;
  }
  co_await write_output();  // e.g. the +OK of a QUIT the backend answered before closing
  relay_cancel.cancel();
  co_await requests.join();
  release_pinned(false);
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
      if (!self->request_.empty()) self->pinned_->send_raw(wire_bytes(self->request_, encoded));
      self->in_.consume(self->request_.size());
    }
    const bool more = co_await self->read_while_pinned(cancel);
    if (!more) co_return;
  }
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
  if (!pool_) pool_ = env_->redis_pools->get(local_.pool_key(context_), env_->backend_address);
  return *pool_;
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
  bool ok = co_await write_output();
  while (ok && sink_->outstanding() > 0) {
    ok = co_await sink_->wait(rt::Deadline::never(), &cancel_);
    if (ok) ok = co_await write_output();
  }
  co_return ok;
}

}  // namespace

rt::Task<void> serve_redis_client(rt::TcpStream client, SessionEnv* env) {
  // The session lives on the heap so the coroutine frame stays small; it ends with this coroutine.
  auto session = std::make_unique<RedisSession>(std::move(client), env);
  co_await session->run();
}

}  // namespace corral::proxy
