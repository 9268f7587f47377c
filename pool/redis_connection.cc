#include "pool/redis_connection.h"

#include <array>
#include <charconv>
#include <utility>

#include "pool/redis_pool.h"
#include "protocols/redis/encoder.h"
#include "runtime/log.h"

namespace corral::pool {

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;

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

void RedisConnection::submit(std::string_view request, ReplySink& sink) {
  // Idle to busy: the operation timeout counts from now. The reader's pending wait needs no
  // re-arming: it never waits past one operation timeout (see read_deadline()).
  if (fifo_.empty()) last_progress_ = loop_now();
  out_.append(request);
  fifo_.push_back(sink.expect());
  // The writer runs after every session of this loop iteration had its turn: one write for all.
  writer_wake_.notify_last();
}

void RedisConnection::close_backend(std::string_view what) {
  close(error_line("backend " + pool_.key().describe() + " " + std::string(what)));
}

redis::ScanStatus RedisConnection::scan_reply(redis::Reply& reply) {
  const redis::ScanStatus status = scanner_.scan(in_.readable(), reply);
  if (status == redis::ScanStatus::Error) close_backend("sent a malformed reply: " + scanner_.error().message);
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
  if (owner_ != nullptr) return rt::Deadline::never();
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
  // Every reply still expected fails: the requests may or may not have run, so none is re-sent.
  while (!fifo_.empty()) {
    const ReplySinkRef sink = std::move(fifo_.front());
    fifo_.pop_front();
    sink->deliver(close_reason_);
  }
  if (owner_) owner_->wake().notify();
  out_.clear();
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

rt::Task<bool> RedisConnection::handshake() {
  const RedisKey& key = pool_.key();
  RedisServerInfo& info = pool_.server_info();
  std::string request;
  const std::string resp = std::to_string(key.resp);
  if (!key.password.empty()) {
    const std::string_view user = key.user.empty() ? std::string_view("default") : std::string_view(key.user);
    redis::encode_command(request, {"HELLO", resp, "AUTH", user, key.password, "SETNAME", "corral"});
  } else {
    redis::encode_command(request, {"HELLO", resp, "SETNAME", "corral"});
  }
  const std::string db = std::to_string(key.db);
  if (key.db != 0) redis::encode_command(request, {"SELECT", db});
  const bool ask_databases = info.databases < 0;
  if (ask_databases) redis::encode_command(request, {"CONFIG", "GET", "databases"});

  const rt::Deadline deadline = rt::Deadline::after(pool_.limits().connect_timeout);
  const auto sent = co_await stream_.write_all(request, deadline, &cancel_);
  if (!sent) {
    close_backend("closed during handshake");
    co_return false;
  }
  auto hello = co_await read_reply();
  if (!hello) co_return false;
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
  if (key.db != 0) {
    auto selected = co_await read_reply();
    if (!selected) co_return false;
    if (selected->is_error()) {
      close_backend("refused SELECT " + db + ": " + std::string(strip_error_prefix(selected->bytes)));
      co_return false;
    }
    in_.consume(selected->size);
  }
  if (ask_databases) {
    auto databases = co_await read_reply();
    if (!databases) co_return false;
    std::array<redis::ReplyElement, 2> pair{};
    int count_value = 16;  // redis-server's default, when CONFIG is not allowed for this user
    if (!databases->is_error() && redis::peek_elements(databases->bytes, pair) == 2) {
      std::from_chars(pair[1].value.data(), pair[1].value.data() + pair[1].value.size(), count_value);
    }
    info.databases = count_value;
    in_.consume(databases->size);
  }
  co_return true;
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
    auto written = co_await stream_.write_all(writing_, rt::Deadline::after(timeout), &cancel_);
    if (!written) {
      close_backend("write failed: " + written.error().message());
      break;
    }
  }
  writer_running_ = false;
  writer_done_.notify();
}

rt::Task<void> RedisConnection::read_loop() {
  last_progress_ = loop_now();
  while (state_ != State::Closed) {
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
      close_backend(why);
      break;
    }
    if (!n) {
      close_backend("connection lost: " + n.error().message());
      break;
    }
    if (*n == 0) {
      close_backend("closed the connection");
      break;
    }
    in_.commit(*n);
    last_progress_ = loop_now();
    if (!dispatch_replies()) break;
  }
  in_.release_if_empty();
}

bool RedisConnection::dispatch_replies() {
  for (;;) {
    redis::Reply reply;
    const redis::ScanStatus status = scan_reply(reply);
    if (status == redis::ScanStatus::NeedMore) return true;
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
    sink->deliver(reply.bytes);
    return;
  }
  if (!reply.is_push()) {
    // A reply nobody asked for: the stream is out of step, trust nothing after it.
    close_backend("sent an unexpected reply");
  }
  // A push nobody owns (a shared connection never subscribes or tracks): dropped.
}

}  // namespace corral::pool
