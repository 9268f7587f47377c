// One Redis client connection: a coroutine that reads requests, answers or forwards each one, and
// writes the replies back in request order.
//
//   read ──► RequestScanner ──► per request: route()
//     Local    ──► RedisLocalCommands (context) ──────────────────┐
//     Shared   ──► pool(context key).ready_shared()->submit ──────┼──► ReplySink (in order) ──► write
//     Pinned   ──► dedicated connection: MULTI/WATCH, blocking ───┘
//     Relay    ──► subscribe / MONITOR / tracking: RedisRelay (relay.h) on a dedicated connection
//
// The fast path (a Shared request with a ready connection) runs without suspending: a batch of
// pipelined requests is queued in one go and the backend writer sends it with one write. Everything
// that must wait (opening a connection, a local reply behind forwarded ones, a pin) takes the slow path,
// which first waits until every earlier reply arrived, so replies can never overtake each other.
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "pool/backoff.h"
#include "pool/redis_pool.h"
#include "pool/reply_sink.h"
#include "protocols/redis/command_table.h"
#include "protocols/redis/encoder.h"
#include "proxy/redis/client.h"
#include "proxy/redis/client_table.h"
#include "proxy/redis/cluster_session.h"
#include "proxy/redis/context.h"
#include "proxy/redis/frontend.h"
#include "proxy/redis/local_commands.h"
#include "proxy/redis/relay.h"
#include "proxy/redis/session_base.h"
#include "runtime/byte_buffer.h"
#include "runtime/log.h"
#include "runtime/task.h"
#include "runtime/task_scope.h"

namespace corral::proxy {

namespace {

/// A writing buffer larger than this is freed after use instead of kept for an idle client.
constexpr std::size_t kKeepWritingCapacity = 64 * 1024;

/// True for the commands answered from every worker's clients (client_table.h).
bool names_clients(const redis::Route& route) { return route.has(redis::kNamesClients); }

ClientType client_type_of(const RedisContext& context) {
  return context.subscribed ? ClientType::Pubsub : ClientType::Normal;
}

std::optional<long long> parse_id(std::string_view text) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

/// Serves one client of a Redis listener. Not thread-safe: lives on its worker's loop.
/// Lifetime: `frontend` outlives the session (the worker joins its sessions first); the session is in
/// the process's client table (RedisClientEntry) from its construction to its destruction.
class RedisSession final : private RedisSessionBase, private RedisClientEntry, private RelayRewriter {
 public:
  RedisSession(rt::TcpStream client, RedisFrontend& frontend);
  RedisSession(const RedisSession&) = delete;
  RedisSession& operator=(const RedisSession&) = delete;
  ~RedisSession();

  /// Serves the client until it quits, errs, idles out or the worker stops.
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
  /// Handles a request whose reply CLIENT REPLY OFF/SKIP silences: it is dropped once it arrived.
  rt::Task<Step> handle_silenced(const redis::Request& request);
  /// Waits for every outstanding reply and drops them with what else is unwritten. False: closing.
  rt::Task<bool> drop_replies();
  /// auth "backend": logs the client in as the backend URL's user if the backend takes that user
  /// without a password. False when the backend could not say (the error is the reply).
  rt::Task<bool> try_implicit_login();
  /// CLIENT LIST / KILL / UNBLOCK over every worker's clients of this listener.
  rt::Task<Step> handle_client_table(const redis::Request& request);
  rt::Task<Step> client_list(const redis::Request& request);
  rt::Task<Step> client_kill(const redis::Request& request);
  rt::Task<Step> client_unblock(const redis::Request& request);
  /// CLIENT TRACKING ... REDIRECT <corral id>: the request with the backend connection id of the
  /// target's push connection instead, or "" with `error` set to the reply that says why not.
  rt::Task<std::string> rewrite(const redis::Request& request, std::string& error) override;
  std::string report_redirect(std::string reply) const override;
  /// Sends `bytes` (a whole request) like a Shared request: on the pinned or a shared connection.
  rt::Task<void> submit_shared(std::string bytes);
  /// Sends `request` on a shared connection of the client's pool and returns the server's reply for
  /// corral's own use (the client never sees it); nullopt when no connection could be had or the
  /// session was cancelled.
  rt::Task<std::optional<std::string>> ask_backend(std::string request);
  /// Runs the client's SELECT as its own user: "" when the server allows it, else the error line
  /// the client gets (the server's refusal, or corral's when no connection answered).
  rt::Task<std::string> select_refusal(const redis::Request& request);

  rt::Task<Step> handle_slow(const redis::Request& request);
  rt::Task<Step> handle_local(const redis::Request& request);
  rt::Task<Step> handle_shared(const redis::Request& request);
  rt::Task<Step> handle_pinned(const redis::Request& request);
  rt::Task<Step> handle_allowed_while_busy(const redis::Request& request);
  rt::Task<Step> handle_transaction(const redis::Request& request);
  rt::Task<Step> handle_blocking(const redis::Request& request);
  rt::Task<bool> pin();
  rt::Task<bool> wait_blocking_reply(rt::Deadline deadline);
  /// Relay mode until the client leaves (false) or the relayed state ended cleanly (true: serve on).
  rt::Task<bool> relay();

  void forward(pool::RedisConnection& connection, const redis::Request& request);
  /// CLIENT PAUSE / UNPAUSE on their way to the server: the shared RedisServerPauses learn it.
  void note_pause(const redis::Request& request);
  /// A pause forwarded through corral may still hold requests on the server (RedisServerPauses).
  bool server_may_be_paused();
  bool answer_without_backend(Step& step);
  Step answer_local_now(const redis::Request& request);
  Step finish_local(LocalOutcome outcome, const pool::RedisKey& key_before);
  pool::RedisPool& shared_pool();
  /// The context's pool key changed (or may have): the cached pool and connection no longer apply.
  void forget_shared_pool();
  /// The shared connection for the next request without suspending, or nullptr (take the slow
  /// path). With replies outstanding it can only be the connection they come from: a pipeline
  /// stays on one connection instead of waiting for its replies each time the pool's least
  /// loaded connection changes.
  pool::RedisConnection* shared_connection(bool nothing_pending);
  /// Another counted reference to shared_pool() (a pin keeps its pool even if the context moves on).
  pool::RedisPoolRef pool_ref();
  void release_pinned(bool clean);
  void reply_error(std::string_view error_line) { client_.sink->append_local(error_line); }

  // RedisClientEntry
  const RedisContext& context() const override { return context_; }
  const config::Listener& listener() const override { return *env_.listener; }
  void kill() override;
  std::optional<int64_t> blocked_on() const override;
  std::optional<int64_t> keep_push_connection() override;

  pool::RedisPools& pools_;
  pool::RedisPoolRef pool_;   // shared pool for the context, cached
  // Where the outstanding replies come from. While any is outstanding (and nothing is pinned) the
  // connection is alive: a closing connection fails its FIFO entries before it goes away.
  pool::RedisConnection* last_shared_ = nullptr;
  pool::RedisPoolRef pinned_pool_;                   // the pool pinned_ came from
  pool::RedisConnection* pinned_ = nullptr;          // dedicated connection while state needs one
  bool relay_silenced_ = false;                      // the relay began with CLIENT REPLY OFF/SKIP
  bool relaying_ = false;                            // in relay(): pinned_ gets the client's pushes
  bool keep_pinned_ = false;                         // another client's redirect names pinned_: never reuse it
  std::optional<RedirectIds> redirect_;              // the last REDIRECT target rewrite() translated
};


RedisSession::RedisSession(rt::TcpStream client, RedisFrontend& frontend)
    : RedisSessionBase(std::move(client), frontend), pools_(frontend.pools()) {
  env_.shared->redis_clients.add(*env_.loop, context_.id, *this);
}

RedisSession::~RedisSession() {
  env_.shared->redis_clients.remove(*env_.loop, context_.id);
  // Before the sink goes (with client_): a pinned connection's owner is the sink.
  if (pinned_ != nullptr) release_pinned(false);
}

rt::Task<void> RedisSession::run() {
  rt::Clock::time_point batch_started = env_.loop->now();  // the loop iteration that read the batch
  std::uint64_t batch_requests = 0;
  for (;;) {
    for (;;) {
      const redis::ScanStatus status = client_.scanner.scan(client_.in.readable(), client_.request);
      if (status == redis::ScanStatus::NeedMore) break;
      if (status == redis::ScanStatus::Error) {
        // One error reply, then close: the rest of the stream cannot be framed any more.
        reply_error(client_.scanner.error().reply());
        co_await client_.flush();
        co_return;
      }
      Step step = Step::Next;
      ++batch_requests;
      if (context_.reply_off || context_.skip_next_reply) {
        step = co_await handle_silenced(client_.request);
      } else {
        step = handle(client_.request);
        if (step == Step::Slow) step = co_await handle_slow(client_.request);
      }
      client_.in.consume(client_.request.size());
      if (step == Step::Close) {
        co_await client_.flush();
        co_return;
      }
      if (step == Step::Relay) {
        const bool serving = co_await relay();
        if (!serving) co_return;
        continue;
      }
      if (step == Step::ReleasePin) {
        const bool flushed = co_await client_.flush();
        if (!flushed) co_return;
        release_pinned(true);
      }
      if (client_.sink->overflowed()) co_return;
    }
    // Every complete request was consumed (forwarded ones were copied to their connection): a
    // client waiting for its replies holds no read buffer either.
    client_.in.release_if_empty();
    const auto flushed = co_await client_.flush();
    if (!flushed) co_return;
    if (batch_requests > 0) observe_batch(batch_started, std::exchange(batch_requests, 0));
    if (client_.writing.capacity() > kKeepWritingCapacity) std::string().swap(client_.writing);
    const bool more = co_await read_next_batch();
    if (!more) co_return;
    batch_started = env_.loop->now();
  }
}

RedisSession::Step RedisSession::handle(const redis::Request& request) {
  if (request.empty()) return Step::Next;
  route_ = redis::route(request);
  context_.last_command = route_.command;
  context_.last_active = env_.loop->now();
  if (context_.implicit_login && !context_.authenticated) return Step::Slow;
  const bool nothing_pending = client_.sink->outstanding() == 0;
  Step step = Step::Next;
  if (answer_without_backend(step)) return nothing_pending ? step : Step::Slow;
  RedisTransaction& transaction = context_.transaction;
  switch (route_.disposition) {
    case redis::Disposition::Shared: {
      if (pinned_ != nullptr) {
        forward(*pinned_, request);
        return Step::Next;
      }
      if (route_.has(redis::kAllowedWhileBusy)) return Step::Slow;
      pool::RedisConnection* connection = shared_connection(nothing_pending);
      if (connection == nullptr) return Step::Slow;
      forward(*connection, request);
      last_shared_ = connection;
      return Step::Next;
    }
    case redis::Disposition::Local: {
      if (transaction.in_multi() && route_.has(redis::kQueuedInMulti)) {
        forward(*pinned_, request);  // queued inside the transaction, as redis-server does
        return Step::Next;
      }
      return nothing_pending ? answer_local_now(request) : Step::Slow;
    }
    case redis::Disposition::Pinned:
      if (transaction.in_multi()) {
        if (transaction.exec_aborts(route_.transaction())) return Step::Slow;  // EXECABORT, see handle_transaction
        // Inside MULTI everything is queued on the pinned connection; EXEC/DISCARD end the state.
        forward(*pinned_, request);
        transaction.forwarded(route_.transaction());
        return transaction.active() ? Step::Next : Step::ReleasePin;
      }
      return Step::Slow;
    case redis::Disposition::Refused:
      break;
  }
  return Step::Slow;
}

bool RedisSession::answer_without_backend(Step& step) {
  // Errors corral gives itself, in the same order of checks as redis-server: auth, arity, refusal.
  step = Step::Next;
  const bool answer_now = client_.sink->outstanding() == 0;
  if (!context_.authenticated && !route_.has(redis::kAllowedBeforeAuth)) {
    if (answer_now) reply_error("-NOAUTH Authentication required.\r\n");
    return true;
  }
  const bool arity_error = route_.command != nullptr && !route_.arity_ok;
  const bool refused = route_.disposition == redis::Disposition::Refused;
  if (!arity_error && !refused) return false;
  context_.transaction.rejected();
  if (answer_now) {
    scratch_.clear();
    if (arity_error) {
      redis::append_arity_error(scratch_, *route_.command);
    } else if (context_.transaction.in_multi() && route_.has(redis::kNoMulti)) {
      // redis-server rejects it inside MULTI before it could run: corral's refusal never comes up.
      scratch_.append("-ERR Command not allowed inside a transaction\r\n");
    } else {
      redis::append_refusal_error(scratch_, *route_.command);
    }
    reply_error(scratch_);
  }
  return true;
}

rt::Task<RedisSession::Step> RedisSession::handle_slow(const redis::Request& request) {
  // Whatever comes next must not overtake replies still on their way.
  const auto flushed = co_await client_.flush();
  if (!flushed) co_return Step::Close;
  if (context_.implicit_login && !context_.authenticated) {
    const bool verdict = co_await try_implicit_login();
    if (!verdict) co_return Step::Next;
  }
  Step step = Step::Next;
  if (answer_without_backend(step)) co_return step;
  switch (route_.disposition) {
    case redis::Disposition::Local: co_return co_await handle_local(request);
    case redis::Disposition::Shared: co_return co_await handle_shared(request);
    case redis::Disposition::Pinned: co_return co_await handle_pinned(request);
    case redis::Disposition::Refused: break;
  }
  co_return Step::Next;
}

rt::Task<bool> RedisSession::try_implicit_login() {
  // The unauthenticated client's pool key has the URL's user and no password: if the backend opens
  // a connection for it, that user needs no AUTH.
  const auto deadline = queue_deadline();
  pool::Acquired acquired = co_await shared_pool().shared(deadline, &client_.cancel);
  if (acquired.connection != nullptr) {
    local_.log_in_implicitly(context_);
    co_return true;
  }
  if (acquired.refusal.empty()) {
    // No verdict (backend down, pool exhausted): say why; the next command tries again.
    reply_error(acquired.error);
    co_return false;
  }
  context_.implicit_login = false;  // the server wants a password: NOAUTH, as it would say itself
  co_return true;
}

rt::Task<RedisSession::Step> RedisSession::handle_silenced(const redis::Request& request) {
  // What is unwritten now belongs to earlier requests: written first, so that dropping output
  // afterwards drops this request's reply only.
  const bool flushed = co_await client_.flush();
  if (!flushed) co_return Step::Close;
  const redis::Route own = redis::route(request);
  // On the server CLIENT REPLY and RESET clear OFF/SKIP before they answer: their reply is their own.
  const bool silenced = !request.empty() && own.local() != redis::LocalCommand::ClientReply &&
                        !own.has(redis::kResetsConnection);
  Step step = handle(request);
  if (step == Step::Slow) step = co_await handle_slow(request);
  if (silenced) context_.skip_next_reply = false;  // after handle_pinned() saw it
  // A relay started with the backend's own CLIENT REPLY (handle_pinned): pushes still get through.
  if (!silenced || step == Step::Relay) co_return step;
  const bool dropped = co_await drop_replies();
  co_return dropped ? step : Step::Close;
}

rt::Task<bool> RedisSession::drop_replies() {
  for (;;) {
    client_.sink->take_output(client_.writing);
    client_.writing.clear();
    if (client_.sink->overflowed()) co_return false;
    if (client_.sink->outstanding() == 0) co_return true;
    const bool woken = co_await client_.sink->wait(rt::Deadline::never(), &client_.cancel);
    if (!woken) co_return false;
  }
}

rt::Task<RedisSession::Step> RedisSession::handle_local(const redis::Request& request) {
  if (context_.transaction.in_multi() && !route_.has(redis::kRunsInMulti)) {
    // SELECT, AUTH, HELLO, CLIENT... inside MULTI would change the dedicated connection behind corral's back.
    reply_error("-ERR corral: this command is not supported inside MULTI\r\n");
    context_.transaction.rejected();
    co_return Step::Next;
  }
  if (names_clients(route_)) co_return co_await handle_client_table(request);
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
      const bool decided = co_await check_credentials(credentials_key(question), env_.backend_address, auth_verdict);
      if (!decided) {
        // No verdict on the credentials (backend down, pool exhausted): say why, stay unauthenticated.
        reply_error(auth_verdict);
        co_return Step::Next;
      }
      verdict = &auth_verdict;
    } else if (question.check_select) {
      auth_verdict = co_await select_refusal(request);
      verdict = &auth_verdict;
    } else {
      const auto deadline = queue_deadline();
      pool::Acquired acquired = co_await shared_pool().shared(deadline, &client_.cancel);
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
  // unless the answer needs the backend (then handle_local asks it). AUTH, HELLO, SELECT and RESET
  // may move the client to another pool: they take the slow path.
  if (context_.transaction.in_multi() || route_.has(redis::kChangesPoolKey) || names_clients(route_)) {
    return Step::Slow;
  }
  BackendQuestion question;
  scratch_.clear();
  const LocalOutcome outcome = local_.answer(request, route_, context_, shared_pool().server_info(), scratch_, question);
  if (outcome == LocalOutcome::NeedsBackend) return Step::Slow;
  client_.sink->append_local(scratch_);
  return outcome == LocalOutcome::Close ? Step::Close : Step::Next;
}

RedisSession::Step RedisSession::finish_local(LocalOutcome outcome, const pool::RedisKey& key_before) {
  client_.sink->append_local(scratch_);
  if (!(local_.pool_key(context_) == key_before)) forget_shared_pool();
  // RESET ends MULTI and WATCH with the dedicated connection that holds them, even when the pool
  // key stays; closing it discards the queued transaction on the backend.
  if (pinned_ != nullptr && (route_.has(redis::kResetsConnection) || !(local_.pool_key(context_) == key_before))) {
    release_pinned(false);
  }
  return outcome == LocalOutcome::Close ? Step::Close : Step::Next;
}

rt::Task<RedisSession::Step> RedisSession::handle_shared(const redis::Request& request) {
  if (pinned_ != nullptr) {
    forward(*pinned_, request);
    co_return Step::Next;
  }
  if (route_.has(redis::kAllowedWhileBusy)) co_return co_await handle_allowed_while_busy(request);
  pool::RedisConnection* connection = shared_pool().ready_shared();
  if (connection == nullptr) {
    const auto deadline = queue_deadline();
    pool::Acquired acquired = co_await shared_pool().shared(deadline, &client_.cancel);
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

rt::Task<RedisSession::Step> RedisSession::handle_allowed_while_busy(const redis::Request& request) {
  // SCRIPT KILL, FUNCTION KILL, FUNCTION STATS: redis-server answers them while a script runs,
  // but a shared connection may be the one queued behind that script. A dedicated connection is
  // not; a new one skips SELECT (BUSY while a script runs; these commands do not depend on the db)
  // and is closed after this one command.
  pool::RedisPoolRef pool = pool_ref();
  const auto deadline = queue_deadline();
  pool::Acquired acquired = co_await pool->pin(deadline, &client_.cancel, false);
  if (acquired.connection == nullptr) {
    reply_error(acquired.error);
    co_return Step::Next;
  }
  forward(*acquired.connection, request);
  const bool flushed = co_await client_.flush();
  pool->unpin(acquired.connection, flushed);
  co_return flushed ? Step::Next : Step::Close;
}

rt::Task<RedisSession::Step> RedisSession::handle_pinned(const redis::Request& request) {
  std::string redirected;
  if (route_.has(redis::kRedirects) && redis::redirect_index(request) != 0) {
    std::string error;
    redirected = co_await rewrite(request, error);
    if (redirected.empty()) {
      reply_error(error);
      co_return Step::Next;
    }
  }
  const bool had_pin = pinned_ != nullptr;
  if (!had_pin) {
    const bool pinned = co_await pin();
    if (!pinned) co_return Step::Next;
  }
  switch (route_.pin_reason) {
    case redis::PinReason::Transaction: co_return co_await handle_transaction(request);
    case redis::PinReason::Blocking: co_return co_await handle_blocking(request);
    case redis::PinReason::Subscribe:
    case redis::PinReason::Monitor:
    case redis::PinReason::Tracking: {
      std::string start;
      // A silenced client's relay silences on the backend: the server then still sends the pushes
      // (RESP3 messages, invalidations) as it would to the client itself.
      if (context_.reply_off) redis::encode_command(start, {"CLIENT", "REPLY", "OFF"});
      if (context_.skip_next_reply) redis::encode_command(start, {"CLIENT", "REPLY", "SKIP"});
      relay_silenced_ = context_.reply_off || context_.skip_next_reply;
      start.append(redirected.empty() ? redis::resp_bytes(request, scratch_) : std::string_view(redirected));
      start_relay(*pinned_, *client_.sink, start);
      co_return Step::Relay;
    }
    case redis::PinReason::None:
      break;
  }
  forward(*pinned_, request);
  co_return Step::Next;
}

rt::Task<RedisSession::Step> RedisSession::handle_transaction(const redis::Request& request) {
  RedisTransaction& transaction = context_.transaction;
  if (transaction.exec_aborts(route_.transaction())) {
    // As redis-server answers EXEC after rejecting a queued command. The backend queued the rest
    // and would run it: closing the dedicated connection discards the transaction there.
    reply_error("-EXECABORT Transaction discarded because of previous errors.\r\n");
    release_pinned(false);
    co_return Step::Next;
  }
  forward(*pinned_, request);
  transaction.forwarded(route_.transaction());
  if (!transaction.active()) {
    const auto flushed = co_await client_.flush();
    if (!flushed) co_return Step::Close;
    release_pinned(true);
  }
  co_return Step::Next;
}

rt::Task<RedisSession::Step> RedisSession::handle_blocking(const redis::Request& request) {
  // With an owner the backend connection applies no operation timeout: the command blocks as
  // long as it asked to, and wait_blocking_reply() bounds it with the command's own timeout.
  pinned_->set_owner(client_.sink.get());
  forward(*pinned_, request);
  context_.blocked = true;  // CLIENT UNBLOCK may find it now
  const bool answered = co_await wait_blocking_reply(blocking_deadline(request));
  context_.blocked = false;
  if (!answered) {
    // Client gone, or no reply in time: the connection may still be blocked, so it is closed.
    release_pinned(false);
    if (client_.gone) co_return Step::Close;
    reply_error("-ERR corral: blocking command timed out on the backend\r\n");
    co_return Step::Next;
  }
  if (context_.transaction.watching()) {
    pinned_->set_owner(nullptr);  // the transaction goes on: its requests get the operation timeout again
  } else {
    release_pinned(true);
  }
  co_return Step::Next;
}

rt::Task<bool> RedisSession::pin() {
  pool::RedisPoolRef pool = pool_ref();
  const auto deadline = queue_deadline();
  pool::Acquired acquired = co_await pool->pin(deadline, &client_.cancel);
  if (acquired.connection == nullptr) {
    reply_error(acquired.error);
    co_return false;
  }
  pinned_ = acquired.connection;
  pinned_pool_ = std::move(pool);
  co_return true;
}

void RedisSession::release_pinned(bool clean) {
  pinned_pool_->unpin(pinned_, clean && !context_.transaction.active());
  pinned_ = nullptr;
  pinned_pool_.reset();
  context_.transaction.end();
}

rt::Task<bool> RedisSession::wait_blocking_reply(rt::Deadline deadline) {
  // While the backend blocks, the client socket is watched so a client that goes away releases the
  // dedicated connection at once instead of when the command's timeout ends.
  rt::CancelSource watch_cancel(&client_.cancel);
  rt::TaskScope watcher;
  // `client_` outlives the watcher: it is cancelled and joined below, before this frame returns.
  watcher.spawn(watch_client(&client_, &watch_cancel, nullptr));
  bool in_time = true;
  while (client_.sink->outstanding() > 0 && !client_.gone && !client_.cancel.cancelled()) {
    const auto woken = co_await client_.sink->wait(deadline, &client_.cancel);
    if (!woken) {
      in_time = false;
      break;
    }
    // A big reply streams: write what arrived, or the connection would wait for this client.
    if (client_.sink->outstanding() > 0 && client_.sink->has_output()) {
      const bool written = co_await client_.write_output();
      if (!written) {
        client_.gone = true;  // it cannot be written to any more
        break;
      }
    }
  }
  watch_cancel.cancel();
  co_await watcher.join();
  co_return in_time && client_.sink->outstanding() == 0 && !client_.gone;
}

rt::Task<bool> RedisSession::relay() {
  // CLIENT REPLY sent to the backend (handle_pinned) is state only closing the connection removes,
  // like a transaction's: the relay is then sticky.
  const bool sticky_state = context_.transaction.active() || relay_silenced_;
  RedisRelay relay(client_, *pinned_, RelayState(route_.pin_reason, sticky_state), *this);
  relaying_ = true;
  context_.subscribed = route_.pin_reason == redis::PinReason::Subscribe;
  const RelayEnd end = co_await relay.run();
  relaying_ = false;
  context_.subscribed = false;
  const bool keep = std::exchange(keep_pinned_, false);
  if (end == RelayEnd::Leave) {
    // Nothing in flight, no subscription left: as good as new, unless a redirect names it (closing
    // it then tells the redirecting clients, as the server does when the target leaves).
    release_pinned(!keep);
    co_return true;
  }
  // After RESET the connection is in db 0, RESP2, default user: no longer what its pool key says.
  release_pinned(false);
  if (end == RelayEnd::Stopped) co_return false;
  local_.reset(context_);
  forget_shared_pool();
  co_return true;
}

rt::Task<RedisSession::Step> RedisSession::handle_client_table(const redis::Request& request) {
  switch (route_.local()) {
    case redis::LocalCommand::ClientList: co_return co_await client_list(request);
    case redis::LocalCommand::ClientKill: co_return co_await client_kill(request);
    case redis::LocalCommand::ClientUnblock: co_return co_await client_unblock(request);
    default: break;
  }
  co_return Step::Next;
}

rt::Task<RedisSession::Step> RedisSession::client_list(const redis::Request& request) {
  auto parsed = parse_client_list(request);
  if (const auto* error = std::get_if<std::string>(&parsed)) {
    reply_error(*error);
    co_return Step::Next;
  }
  const ClientFilter filter = std::get<ClientFilter>(std::move(parsed));
  const config::Listener* listener = env_.listener;
  const uint64_t asker = context_.id;
  const std::size_t qbuf = request.size();
  ClientVisitor visitor = [filter, listener, asker, qbuf](const RedisClientMap& clients) {
    ClientVisit visit;
    const auto now = std::chrono::steady_clock::now();
    for (const auto& [id, entry] : clients) {
      const RedisContext& client = entry->context();
      if (&entry->listener() != listener || !client_matches(filter, client, client_type_of(client), 0)) continue;
      visit.lines.emplace_back(id, client_line(client, now, id == asker ? qbuf : 0));
    }
    return visit;
  };
  const auto deadline = queue_deadline();
  auto visits = co_await env_.shared->redis_clients.visit_all(std::move(visitor), deadline, &client_.cancel);
  if (!visits) {
    reply_error("-ERR corral: a worker did not answer in time\r\n");
    co_return Step::Next;
  }
  std::vector<std::pair<uint64_t, std::string>> lines;
  for (auto& visit : *visits) std::move(visit.lines.begin(), visit.lines.end(), std::back_inserter(lines));
  // In id order, or in the order CLIENT LIST ID named them (as redis-server lists them).
  auto rank = [&filter](uint64_t id) {
    const auto at = std::find(filter.ids.begin(), filter.ids.end(), id);
    return at == filter.ids.end() ? id : static_cast<uint64_t>(at - filter.ids.begin());
  };
  std::sort(lines.begin(), lines.end(), [&](const auto& a, const auto& b) { return rank(a.first) < rank(b.first); });
  std::string text;
  for (const auto& line : lines) text += line.second;
  scratch_.clear();
  redis::append_verbatim(scratch_, "txt", text, context_.resp);
  client_.sink->append_local(scratch_);
  co_return Step::Next;
}

rt::Task<RedisSession::Step> RedisSession::client_kill(const redis::Request& request) {
  auto parsed = parse_client_kill(request);
  if (const auto* error = std::get_if<std::string>(&parsed)) {
    reply_error(*error);
    co_return Step::Next;
  }
  const ClientFilter filter = std::get<ClientFilter>(std::move(parsed));
  if (filter.user) {
    // The server refuses a user its ACL does not know; corral asks it (a nil reply: no such user).
    std::string question;
    redis::encode_command(question, {"ACL", "GETUSER", std::string_view(*filter.user)});
    const std::optional<std::string> user = co_await ask_backend(std::move(question));
    if (user && (*user == "$-1\r\n" || *user == "*-1\r\n" || *user == "_\r\n")) {
      reply_error("-ERR No such user '" + *filter.user + "'\r\n");
      co_return Step::Next;
    }
  }
  const config::Listener* listener = env_.listener;
  const uint64_t asker = context_.id;
  ClientVisitor visitor = [filter, listener, asker](const RedisClientMap& clients) {
    ClientVisit visit;
    std::vector<RedisClientEntry*> doomed;  // killed after the walk: nothing leaves the map during it
    for (const auto& [id, entry] : clients) {
      const RedisContext& client = entry->context();
      if (&entry->listener() != listener || !client_matches(filter, client, client_type_of(client), asker)) continue;
      ++visit.count;
      if (id == asker) {
        visit.asker_found = true;  // closed by its own session, after this reply
      } else {
        doomed.push_back(entry);
      }
    }
    for (RedisClientEntry* entry : doomed) entry->kill();
    return visit;
  };
  const auto deadline = queue_deadline();
  auto visits = co_await env_.shared->redis_clients.visit_all(std::move(visitor), deadline, &client_.cancel);
  if (!visits) {
    reply_error("-ERR corral: a worker did not answer in time\r\n");
    co_return Step::Next;
  }
  int64_t killed = 0;
  bool kill_me = false;
  for (const auto& visit : *visits) {
    killed += visit.count;
    kill_me = kill_me || visit.asker_found;
  }
  scratch_.clear();
  if (filter.old_style) {
    scratch_ = killed == 0 ? "-ERR No such client\r\n" : "+OK\r\n";
  } else {
    redis::append_integer(scratch_, killed);
  }
  client_.sink->append_local(scratch_);
  co_return kill_me ? Step::Close : Step::Next;
}

rt::Task<RedisSession::Step> RedisSession::client_unblock(const redis::Request& request) {
  if (request.arg_count() > 4) {
    // The server's own "unknown subcommand or wrong number of arguments" wording.
    co_await submit_shared(std::string(redis::resp_bytes(request, scratch_)));
    co_return Step::Next;
  }
  const bool with_reason = request.arg_count() == 4;
  if (with_reason && !redis::iequals(request.arg(3), "timeout") && !redis::iequals(request.arg(3), "error")) {
    reply_error("-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR\r\n");
    co_return Step::Next;
  }
  const auto id = parse_id(request.arg(2));
  if (!id) {
    reply_error("-ERR value is not an integer or out of range\r\n");
    co_return Step::Next;
  }
  const config::Listener* listener = env_.listener;
  const auto target = static_cast<uint64_t>(*id);
  ClientVisitor visitor = [listener, target](const RedisClientMap& clients) {
    ClientVisit visit;
    const auto found = clients.find(target);
    if (found != clients.end() && &found->second->listener() == listener) visit.backend_id = found->second->blocked_on();
    return visit;
  };
  const auto deadline = queue_deadline();
  auto visits = co_await env_.shared->redis_clients.visit_all(std::move(visitor), deadline, &client_.cancel);
  std::optional<int64_t> backend_id;
  if (visits) {
    for (const auto& visit : *visits) {
      if (visit.backend_id) backend_id = visit.backend_id;
    }
  }
  if (!backend_id) {
    client_.sink->append_local(":0\r\n");  // no such client, or not blocked: as the server answers
    co_return Step::Next;
  }
  // The server unblocks the connection the client waits on; the client's session then relays the
  // reply (nil, or the UNBLOCKED error) as it would any other.
  std::string unblock;
  const std::string backend = std::to_string(*backend_id);
  if (with_reason) {
    redis::encode_command(unblock, {"CLIENT", "UNBLOCK", std::string_view(backend), request.arg(3)});
  } else {
    redis::encode_command(unblock, {"CLIENT", "UNBLOCK", std::string_view(backend)});
  }
  co_await submit_shared(std::move(unblock));
  co_return Step::Next;
}

rt::Task<std::string> RedisSession::rewrite(const redis::Request& request, std::string& error) {
  const std::size_t index = redis::redirect_index(request);
  const auto id = parse_id(request.arg(index));
  if (!id) co_return std::string(redis::resp_bytes(request, scratch_));  // the server words the error
  const config::Listener* listener = env_.listener;
  const auto target = static_cast<uint64_t>(*id);
  ClientVisitor visitor = [listener, target](const RedisClientMap& clients) {
    ClientVisit visit;
    const auto found = clients.find(target);
    if (found != clients.end() && &found->second->listener() == listener) {
      visit.count = 1;
      visit.backend_id = found->second->keep_push_connection();
    }
    return visit;
  };
  const auto deadline = queue_deadline();
  auto visits = co_await env_.shared->redis_clients.visit_all(std::move(visitor), deadline, &client_.cancel);
  std::optional<int64_t> backend_id;
  bool exists = false;
  if (visits) {
    for (const auto& visit : *visits) {
      exists = exists || visit.count > 0;
      if (visit.backend_id) backend_id = visit.backend_id;
    }
  }
  if (!exists) {
    error = "-ERR The client ID you want redirect to does not exist.\r\n";
    co_return std::string();
  }
  if (!backend_id) {
    // Invalidations follow a backend connection: the target needs one of its own for corral to name.
    error =
        "-ERR corral: the client to redirect to has no connection of its own yet; it must subscribe "
        "(SUBSCRIBE __redis__:invalidate) or turn tracking on first\r\n";
    co_return std::string();
  }
  std::vector<std::string> args;
  for (std::size_t i = 0; i < request.arg_count(); ++i) args.emplace_back(request.arg(i));
  args[index] = std::to_string(*backend_id);
  redirect_ = RedirectIds{*backend_id, target};
  std::string rewritten;
  for (const auto& arg : args) rewritten += "$" + std::to_string(arg.size()) + "\r\n" + arg + "\r\n";
  co_return "*" + std::to_string(args.size()) + "\r\n" + rewritten;
}

std::string RedisSession::report_redirect(std::string reply) const {
  return redirect_ ? replace_redirect_id(std::move(reply), *redirect_) : reply;
}

rt::Task<void> RedisSession::submit_shared(std::string bytes) {
  pool::RedisConnection* connection = pinned_ != nullptr ? pinned_ : shared_pool().ready_shared();
  if (connection == nullptr) {
    const auto deadline = queue_deadline();
    pool::Acquired acquired = co_await shared_pool().shared(deadline, &client_.cancel);
    if (acquired.connection == nullptr) {
      reply_error(acquired.error);
      co_return;
    }
    connection = acquired.connection;
  }
  connection->submit(bytes, *client_.sink);
  if (connection != pinned_) last_shared_ = connection;
}

rt::Task<std::string> RedisSession::select_refusal(const redis::Request& request) {
  // On a dedicated connection of the client's pool, closed afterwards (it may have moved to another
  // db): a shared one must stay in its key's db for the other clients queued on it.
  pool::RedisPoolRef pool = pool_ref();
  const auto deadline = queue_deadline();
  pool::Acquired acquired = co_await pool->pin(deadline, &client_.cancel);
  if (acquired.connection == nullptr) co_return acquired.error;
  std::string bytes(redis::resp_bytes(request, scratch_));
  pool::ReplySinkRef sink = pool::make_reply_sink(SIZE_MAX, env_.config->client.output_buffer_limit);
  acquired.connection->submit(bytes, *sink);
  bool answered = true;
  while (answered && sink->outstanding() > 0) {
    const bool woken = co_await sink->wait(rt::Deadline::never(), &client_.cancel);
    answered = woken;
  }
  pool->unpin(acquired.connection, false);
  if (!answered) co_return std::string("-ERR corral: the client left before SELECT was answered\r\n");
  std::string reply;
  sink->take_output(reply);
  if (reply.empty() || reply.front() != '-') reply.clear();
  co_return reply;
}

rt::Task<std::optional<std::string>> RedisSession::ask_backend(std::string request) {
  pool::RedisConnection* connection = shared_pool().ready_shared();
  if (connection == nullptr) {
    const auto deadline = queue_deadline();
    pool::Acquired acquired = co_await shared_pool().shared(deadline, &client_.cancel);
    if (acquired.connection == nullptr) co_return std::nullopt;
    connection = acquired.connection;
  }
  // A sink of its own: the reply must not reach the client. The FIFO entry keeps it alive if the
  // session goes first.
  pool::ReplySinkRef sink = pool::make_reply_sink(SIZE_MAX, env_.config->client.output_buffer_limit);
  connection->submit(request, *sink);
  while (sink->outstanding() > 0) {
    const bool woken = co_await sink->wait(rt::Deadline::never(), &client_.cancel);
    if (!woken) co_return std::nullopt;
  }
  std::string reply;
  sink->take_output(reply);
  co_return reply;
}

void RedisSession::kill() {
  // Every wait of the session ends: socket reads and writes fail once it is shut down (the idle wait
  // included), and the cancel source ends waits for the backend.
  ::shutdown(client_.stream.fd(), SHUT_RDWR);
  client_.cancel.cancel();
  // Gone from the table now, not when the session ends on a later turn of the loop: the server
  // frees a killed client before it answers again, so the asker's next CLIENT KILL or LIST must not
  // find it. Called after the visitor's walk, never during it.
  env_.shared->redis_clients.remove(*env_.loop, context_.id);
}

std::optional<int64_t> RedisSession::blocked_on() const {
  if (!context_.blocked || pinned_ == nullptr || pinned_->server_id() <= 0) return std::nullopt;
  return pinned_->server_id();
}

std::optional<int64_t> RedisSession::keep_push_connection() {
  if (!relaying_ || pinned_ == nullptr || pinned_->server_id() <= 0) return std::nullopt;
  keep_pinned_ = true;
  return pinned_->server_id();
}

void RedisSession::forward(pool::RedisConnection& connection, const redis::Request& request) {
  note_pause(request);
  const bool may_be_held = route_.has(redis::kRunsScript) || server_may_be_paused();
  connection.submit(redis::resp_bytes(request, scratch_), *client_.sink, may_be_held);
}

void RedisSession::note_pause(const redis::Request& request) {
  if (route_.has(redis::kUnpausesServer)) {
    env_.shared->redis_pauses.unpaused(env_.listener->backend.address());
    return;
  }
  if (!route_.has(redis::kPausesServer)) return;
  // CLIENT PAUSE <milliseconds> [WRITE|ALL]: a bad timeout gets the server's error, no pause.
  const std::string_view timeout = request.arg(2);
  int64_t ms = 0;
  const auto parsed = std::from_chars(timeout.data(), timeout.data() + timeout.size(), ms);
  if (parsed.ec != std::errc() || parsed.ptr != timeout.data() + timeout.size() || ms < 0) return;
  const int64_t year_ms = int64_t{365} * 24 * 3600 * 1000;  // keeps the time point from overflowing
  const auto until = RedisServerPauses::Clock::now() + std::chrono::milliseconds(std::min(ms, year_ms));
  env_.shared->redis_pauses.paused(env_.listener->backend.address(), until);
}

bool RedisSession::server_may_be_paused() {
  RedisServerPauses& pauses = env_.shared->redis_pauses;
  return pauses.any() && pauses.active(env_.listener->backend.address());
}

pool::RedisPool& RedisSession::shared_pool() {
  if (!pool_) pool_ = pools_.get(local_.pool_key(context_), env_.backend_address);
  return *pool_;
}

void RedisSession::forget_shared_pool() {
  pool_.reset();
  last_shared_ = nullptr;
}

pool::RedisConnection* RedisSession::shared_connection(bool nothing_pending) {
  if (nothing_pending) return shared_pool().ready_shared();
  if (last_shared_ != nullptr && last_shared_->state() == pool::RedisConnection::State::Ready) return last_shared_;
  return nullptr;
}

pool::RedisPoolRef RedisSession::pool_ref() {
  return pool::RedisPoolRef(shared_pool());
}

}  // namespace

rt::Task<void> RedisFrontend::serve(rt::TcpStream client) {
  if (router_ != nullptr) {
    co_await serve_cluster_client(std::move(client), *this);
    co_return;
  }
  // The session lives on the heap so the coroutine frame stays small; it ends with this coroutine.
  auto session = std::make_unique<RedisSession>(std::move(client), *this);
  co_await session->run();
}

}  // namespace corral::proxy
