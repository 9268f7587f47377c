#include "pool/redis_connection.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <utility>

#include "pool/redis_pool.h"
#include "protocols/redis/encoder.h"
#include "runtime/log.h"

namespace corral::pool {

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;
/// Silence after which a connection with replies outstanding counts as stalled (see stalled()).
/// Short: a stalled connection only makes the pool open another one for new requests, and a
/// healthy server answers a pipeline's first reply within microseconds.
constexpr auto kStalledAfter = std::chrono::milliseconds(50);
/// Settled bytes of an incomplete reply that are handed to its client at once: a big reply
/// streams through instead of being buffered whole; smaller ones are never split.
constexpr std::size_t kStreamChunk = 16 * 1024;
/// How long the reader waits for a client that takes none of its reply bytes (backpressure)
/// before it reads on and lets them queue for that client up to client.output_buffer_limit.
constexpr auto kSlowClientWait = std::chrono::seconds(1);

bool is_busy_error(std::string_view reply) { return reply.starts_with("-BUSY "); }

std::string error_line(std::string_view text) {
  std::string line = "-ERR corral: ";
  line.append(text);
  line.append("\r\n");
  return line;
}

std::string_view strip_error_prefix(std::string_view reply) {
  // "-WRONGPASS invalid ...\r\n" or "!21\r\n...": keep the text the server sent, without framing.
  if (!reply.empty() && (reply.front() == '-')) reply.remove_prefix(1);
  while (!reply.empty() && (reply.back() == '\n' || reply.back() == '\r')) reply.remove_suffix(1);
  return reply;
}

}  // namespace

RedisConnection::~RedisConnection() {
  for (ReplySinkRef& sink : fifo_) sink->deliver(close_reason_.empty() ? error_line("connection closed") : close_reason_);
}

void RedisConnection::submit(std::string_view request, ReplySink& sink, bool runs_script) {
  // Idle to busy: the operation timeout counts from now. The reader's pending wait needs no
  // re-arming: it never waits past one operation timeout (see read_deadline()).
  if (fifo_.empty()) last_progress_ = loop_now();
  out_.append(request);
  if (runs_script) scripts_.push_back(submitted_);
  ++submitted_;
  fifo_.push_back(sink.expect());
  // The writer runs after every session of this loop iteration had its turn: one write for all.
  writer_wake_.notify_last();
}

void RedisConnection::answered_one() noexcept {
  if (!scripts_.empty() && scripts_.front() == answered_) scripts_.pop_front();
  ++answered_;
}

bool RedisConnection::stalled() const {
  // A script in flight may run for ever: redis-server answers a request queued behind it only when
  // it ends, but the same request on another connection with BUSY once the script ran past
  // busy-reply-threshold.
  return !scripts_.empty() || (!fifo_.empty() && loop_now() - last_progress_ >= kStalledAfter);
}

int RedisConnection::pool_key_db() const noexcept { return pool_.key().db; }

void RedisConnection::close_backend(std::string_view what) {
  if (state_ != State::Closed) failed_ = true;
  close(error_line("backend " + pool_.key().describe() + " " + std::string(what)));
}

void RedisConnection::fail(BackendError kind, std::string_view what) {
  if (was_ready_ && state_ != State::Closed) pool_.counters().error(kind);
  close_backend(what);
}

void RedisConnection::observe_answered() {
  const rt::Clock::time_point now = loop_now();
  rt::LatencyHistogram& latency = pool_.counters().figures.latency;
  while (observed_ < answered_ && !batches_.empty()) {
    const WriteBatch& head = batches_.front();
    const uint64_t upto = std::min(head.end, answered_);
    latency.observe(now - head.written_at, upto - observed_);
    observed_ = upto;
    if (upto < head.end) break;
    batches_.pop_front();
  }
}

redis::ScanStatus RedisConnection::scan_reply(redis::Reply& reply) {
  const redis::ScanStatus status = scanner_.scan(in_.readable(), reply);
  if (status == redis::ScanStatus::Error) {
    fail(BackendError::ProtocolError, "sent a malformed reply: " + scanner_.error().message);
  }
  return status;
}

void RedisConnection::send_raw(std::string_view request) {
  out_.append(request);
  writer_wake_.notify_last();
}

void RedisConnection::set_owner(ReplySink* owner) noexcept {
  owner_ = owner;
  if (owner == nullptr && owned_wait_ != nullptr) owned_wait_->cancel();
}

rt::Clock::time_point RedisConnection::loop_now() const { return rt::EventLoop::current()->now(); }

rt::Deadline RedisConnection::read_deadline() const {
  // A pinned connection with an owner waits as long as its session does (blocking commands,
  // subscriptions): the session bounds the wait itself.
  if (owner_ != nullptr || script_at_head()) return rt::Deadline::never();
  const config::PoolLimits& limits = pool_.limits();
  if (!fifo_.empty()) return rt::Deadline{last_progress_ + limits.operation_timeout};
  // Idle: wake at the idle timeout, but never later than one operation timeout from now, so a
  // request submitted meanwhile is checked in time without disturbing this wait.
  rt::Clock::time_point wake = loop_now() + limits.operation_timeout;
  if (limits.idle_timeout.count() > 0) wake = std::min(wake, last_progress_ + limits.idle_timeout);
  return rt::Deadline{wake};
}

const char* RedisConnection::expired() const {
  const config::PoolLimits& limits = pool_.limits();
  const rt::Clock::duration quiet = loop_now() - last_progress_;
  if (script_at_head()) return nullptr;
  if (!fifo_.empty()) return quiet >= limits.operation_timeout ? "timed out" : nullptr;
  if (limits.idle_timeout.count() > 0 && quiet >= limits.idle_timeout) return "connection idle";
  return nullptr;
}

void RedisConnection::close(std::string reason) {
  if (state_ == State::Closed) return;
  state_ = State::Closed;
  close_reason_ = std::move(reason);
  cancel_.cancel();
  stream_.close();
  batches_.clear();  // failed replies are errors, not round trips
  // Every reply still expected fails: the requests may or may not have run, so none is re-sent.
  if (head_streamed_ && !fifo_.empty()) fifo_.front()->cut_mid_reply();
  head_streamed_ = false;
  while (!fifo_.empty()) {
    const ReplySinkRef sink = std::move(fifo_.front());
    fifo_.pop_front();
    answered_one();
    sink->deliver(close_reason_);
  }
  if (owner_) owner_->wake().notify();
  out_.clear();
  observed_ = answered_;
}

rt::Task<void> RedisConnection::run() {
  const config::PoolLimits& limits = pool_.limits();
  auto connected = co_await rt::TcpStream::connect(*rt::EventLoop::current(), pool_.address(),
                                                   rt::Deadline::after(limits.connect_timeout), &cancel_);
  if (!connected) {
    close_backend("unavailable: " + connected.error().message());
    co_return;
  }
  stream_ = std::move(*connected);
  stream_.count_tls_handshakes(&pool_.counters().tls);
  if (pool_.key().tls != nullptr) {
    const auto tls_ok = co_await stream_.start_tls_client(*pool_.key().tls, pool_.key().host,
                                                          rt::Deadline::after(limits.connect_timeout), &cancel_);
    if (!tls_ok) {
      close_backend("TLS handshake failed: " + tls_ok.error().message());
      co_return;
    }
  }
  const auto handshake_ok = co_await handshake();
  if (!handshake_ok) co_return;
  state_ = State::Ready;
  was_ready_ = true;
  pool_.on_ready(this);
  writer_running_ = true;
  // The writer's frame references this connection, which outlives it: read_loop's end waits for it.
  rt::spawn_detached(write_loop(), "redis backend writer");
  co_await read_loop();
  if (writer_running_) {
    writer_wake_.notify();
    co_await writer_done_.wait();
  }
}

namespace {

// HELLO with AUTH when there is a password (an empty user is the default user), else as the
// server's default user without AUTH.
void encode_hello(std::string& out, std::string_view resp, std::string_view user, std::string_view password) {
  if (password.empty()) {
    redis::encode_command(out, {"HELLO", resp, "SETNAME", "corral"});
    return;
  }
  const std::string_view name = user.empty() ? std::string_view("default") : user;
  redis::encode_command(out, {"HELLO", resp, "AUTH", name, password, "SETNAME", "corral"});
}

void encode_auth(std::string& out, std::string_view user, std::string_view password) {
  const std::string_view name = user.empty() ? std::string_view("default") : user;
  redis::encode_command(out, {"AUTH", name, password});
}

}  // namespace

rt::Task<bool> RedisConnection::handshake() {
  const RedisKey& key = pool_.key();
  RedisServerInfo& info = pool_.server_info();
  std::string request;
  const std::string resp = std::to_string(key.resp);
  const std::string db = std::to_string(key.db);
  const bool select = select_db_ && key.db != 0;
  encode_hello(request, resp, key.user, key.password);
  if (select) redis::encode_command(request, {"SELECT", db});
  // Asked on every open, not once per server: a restarted server may have another count, and
  // SELECT is answered from it (one more command in the handshake's one write costs nothing).
  redis::encode_command(request, {"CONFIG", "GET", "databases"});

  const rt::Deadline deadline = rt::Deadline::after(pool_.limits().connect_timeout);
  const auto sent = co_await stream_.write_all(request, deadline, &cancel_);
  if (!sent) {
    close_backend("closed during handshake");
    co_return false;
  }
  auto hello = co_await read_reply();
  if (!hello) co_return false;
  server_answered_ = true;
  if (hello->is_error()) {
    refusal_ = std::string(hello->bytes);
    close_backend("refused HELLO: " + std::string(strip_error_prefix(hello->bytes)));
    in_.consume(hello->size);
    co_return false;
  }
  std::array<redis::ReplyElement, 12> fields{};
  const std::size_t count = redis::peek_elements(hello->bytes, fields);
  for (std::size_t i = 0; i + 1 < count; i += 2) {
    if (fields[i].value == "version") info.version = fields[i + 1].value;
    if (fields[i].value == "mode") info.mode = fields[i + 1].value;
    if (fields[i].value == "role") info.role = fields[i + 1].value;
    if (fields[i].value == "id") {
      const std::string_view id = fields[i + 1].value;
      std::from_chars(id.data(), id.data() + id.size(), server_id_);
    }
  }
  in_.consume(hello->size);
  if (select) {
    auto selected = co_await read_reply();
    if (!selected) co_return false;
    if (is_busy_error(selected->bytes)) {
      // A script runs: the server's own BUSY is what the client would get from a command now.
      refused_busy_ = true;
      failed_ = true;
      close(std::string(selected->bytes));
      co_return false;
    }
    if (selected->is_error()) {
      const std::string refused = "refused SELECT " + db + ": " + std::string(strip_error_prefix(selected->bytes));
      const bool denied = selected->bytes.starts_with("-NOPERM");
      in_.consume(selected->size);
      if (!denied || !key.select_first) {
        close_backend(refused);
        co_return false;
      }
      const bool entered = co_await select_as_another(db);
      if (!entered) close_backend(refused);
      co_return entered;  // CONFIG GET databases was read on the way
    } else {
      in_.consume(selected->size);
    }
  }
  auto databases = co_await read_reply();
  if (!databases) co_return false;
  learn_databases(databases->bytes, info);
  in_.consume(databases->size);
  co_return true;
}

rt::Task<bool> RedisConnection::select_as_another(const std::string& db) {
  // The key's user may not SELECT; the identity of RedisKey::select_first enters the db and the
  // user logs in again, as a client that AUTHs in that db stays there on redis-server. The CONFIG
  // GET databases handshake() already sent is answered first.
  const RedisKey& key = pool_.key();
  std::string request;
  encode_auth(request, key.select_user, key.select_password);
  redis::encode_command(request, {"SELECT", db});
  encode_auth(request, key.user, key.password);
  const rt::Deadline deadline = rt::Deadline::after(pool_.limits().connect_timeout);
  const auto sent = co_await stream_.write_all(request, deadline, &cancel_);
  if (!sent) co_return false;
  auto databases = co_await read_reply();
  if (!databases) co_return false;
  learn_databases(databases->bytes, pool_.server_info());
  in_.consume(databases->size);
  bool ok = true;
  for (int i = 0; i < 3; ++i) {
    auto reply = co_await read_reply();
    if (!reply) co_return false;
    ok = ok && !reply->is_error();
    in_.consume(reply->size);
  }
  co_return ok;
}

void RedisConnection::learn_databases(std::string_view reply, RedisServerInfo& info) {
  // While a script runs the server answers BUSY: keep what an earlier connection learned.
  if (is_busy_error(reply)) return;
  std::array<redis::ReplyElement, 2> pair{};
  int count_value = 16;  // redis-server's default, when CONFIG is not allowed for this user
  if (redis::peek_elements(reply, pair) == 2) {
    std::from_chars(pair[1].value.data(), pair[1].value.data() + pair[1].value.size(), count_value);
  }
  info.databases = count_value;
}

rt::Task<rt::Result<redis::Reply>> RedisConnection::read_reply() {
  for (;;) {
    redis::Reply reply;
    const redis::ScanStatus status = scan_reply(reply);
    if (status == redis::ScanStatus::Frame) co_return reply;
    if (status == redis::ScanStatus::Error) co_return std::make_error_code(std::errc::protocol_error);
    auto n = co_await stream_.read_some(in_.writable(kReadChunk), rt::Deadline::after(pool_.limits().connect_timeout),
                                        &cancel_);
    if (!n || *n == 0) {
      close_backend("closed during handshake");
      co_return n ? std::make_error_code(std::errc::connection_reset) : n.error();
    }
    in_.commit(*n);
  }
}

rt::Task<void> RedisConnection::write_loop() {
  const rt::Clock::duration timeout = pool_.limits().operation_timeout;
  while (state_ != State::Closed) {
    if (out_.empty()) {
      const auto woken = co_await writer_wake_.wait(rt::Deadline::never(), &cancel_);
      if (!woken) break;
      continue;
    }
    writing_.clear();
    writing_.swap(out_);
    if (submitted_ > batched_) {
      batches_.push_back(WriteBatch{loop_now(), submitted_});
      batched_ = submitted_;
    }
    auto written = co_await stream_.write_all(writing_, rt::Deadline::after(timeout), &cancel_);
    if (!written) {
      const bool timed_out = written.error() == std::errc::timed_out;
      fail(timed_out ? BackendError::Timeout : BackendError::BackendClosed,
           "write failed: " + written.error().message());
      break;
    }
  }
  writer_running_ = false;
  writer_done_.notify();
}

rt::Task<void> RedisConnection::read_loop() {
  last_progress_ = loop_now();
  while (state_ != State::Closed) {
    if (!fifo_.empty() && fifo_.front()->over_window()) {
      co_await wait_for_slow_client();
      continue;
    }
    // Replies are awaited for at most the operation timeout of silence; an idle connection closes
    // after the idle timeout. A wake-up at the deadline re-checks both against last_progress_, which
    // submit() may have moved meanwhile.
    rt::Result<std::size_t> n = std::size_t{0};
    if (owner_ == nullptr) {
      n = co_await stream_.read_some(in_.writable(kReadChunk), read_deadline(), &cancel_);
    } else {
      // No deadline while an owner bounds the wait; set_owner(nullptr) ends this wait so the next
      // one has the timeouts again.
      rt::CancelSource owned_wait(&cancel_);
      owned_wait_ = &owned_wait;
      n = co_await stream_.read_some(in_.writable(kReadChunk), rt::Deadline::never(), &owned_wait);
      owned_wait_ = nullptr;
      if (!n && n.error() == std::errc::operation_canceled && !cancel_.cancelled()) continue;
    }
    if (!n && n.error() == std::errc::timed_out) {
      // An owner set meanwhile (blocking command, relay) bounds the wait itself: none applies.
      const char* why = owner_ == nullptr ? expired() : nullptr;
      if (why == nullptr) continue;  // not yet: wait again with the deadline as it is now
      if (fifo_.empty()) {
        close_backend(why);  // idle: corral's own close, no failure
      } else {
        fail(BackendError::Timeout, why);
      }
      break;
    }
    if (!n) {
      fail(BackendError::BackendClosed, "connection lost: " + n.error().message());
      break;
    }
    if (*n == 0) {
      fail(BackendError::BackendClosed, "closed the connection");
      break;
    }
    in_.commit(*n);
    last_progress_ = loop_now();
    if (!dispatch_replies()) break;
  }
  in_.release_if_empty();
}

rt::Task<void> RedisConnection::wait_for_slow_client() {
  // The FIFO entry may go (the connection closes) while this waits: hold the sink.
  const ReplySinkRef sink(*fifo_.front());
  const auto drained = co_await sink->wait_drained(rt::Deadline::after(kSlowClientWait), &cancel_);
  if (!drained && !cancel_.cancelled()) sink->lift_window();
  // The backend was not the one that kept silent.
  last_progress_ = loop_now();
}

void RedisConnection::stream_head_reply() {
  // Only a FIFO reply streams; relay mode and pushes need the whole reply (filters, owner).
  if (passthrough_ || fifo_.empty() || !scanner_.frame_type_known() || scanner_.frame_type() == redis::ReplyType::Push) {
    return;
  }
  const std::size_t settled = scanner_.settled(in_.size());
  if (settled < kStreamChunk) return;
  fifo_.front()->deliver_part(in_.readable().substr(0, settled));
  head_streamed_ = true;
  in_.consume(settled);
  scanner_.discard(settled);
}

bool RedisConnection::dispatch_replies() {
  for (;;) {
    redis::Reply reply;
    const redis::ScanStatus status = scan_reply(reply);
    if (status == redis::ScanStatus::NeedMore) {
      observe_answered();
      stream_head_reply();
      return true;
    }
    if (status == redis::ScanStatus::Error) return false;
    deliver(reply);
    in_.consume(reply.size);
    if (state_ == State::Closed) return false;
  }
}

void RedisConnection::deliver(const redis::Reply& reply) {
  if (passthrough_ || (reply.is_push() && owner_ != nullptr)) {
    if (passthrough_ && relay_filter_ != nullptr && !relay_filter_->pass(reply)) return;
    owner_->deliver_unsolicited(reply.bytes);
    return;
  }
  if (!fifo_.empty() && !reply.is_push()) {
    const ReplySinkRef sink = std::move(fifo_.front());
    fifo_.pop_front();
    answered_one();
    head_streamed_ = false;
    if (reply.is_error()) pool_.counters().error(BackendError::ServerError);
    sink->deliver(reply.bytes);
    return;
  }
  if (!reply.is_push()) {
    // A reply nobody asked for: the stream is out of step, trust nothing after it.
    fail(BackendError::ProtocolError, "sent an unexpected reply");
  }
  // A push nobody owns (a shared connection never subscribes or tracks): dropped.
}

}  // namespace corral::pool
