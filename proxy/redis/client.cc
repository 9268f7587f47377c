#include "proxy/redis/client.h"

#include <algorithm>
#include <span>
#include <utility>

namespace corral::proxy {

namespace {

/// Reply bytes that make the session write before every outstanding reply has arrived.
constexpr std::size_t kFlushThreshold = 64 * 1024;
/// Largest single write: after each, the sink learns that the client took the bytes, so a backend
/// connection held back for this client (ReplySink::over_window()) reads on while it reads.
constexpr std::size_t kWriteSlice = 256 * 1024;

redis::Limits request_limits(const config::RedisLimits& limits) {
  redis::Limits out = redis::Limits::requests();
  out.max_bulk_length = limits.max_bulk_length;
  out.max_array_length = limits.max_array_length;
  out.max_nesting_depth = limits.max_nesting_depth;
  out.max_inline_length = limits.max_inline_length;
  return out;
}

}  // namespace

RedisClient::RedisClient(rt::TcpStream client_stream, const config::Config& config, rt::CancelSource* stop)
    : stream(std::move(client_stream)),
      cancel(stop),
      scanner(request_limits(config.redis)),
      sink(pool::make_reply_sink(kFlushThreshold, config.client.output_buffer_limit)) {
  sink->cancel_on_overflow(&cancel);
}

rt::Task<bool> RedisClient::read_more(rt::CancelSource* read_cancel) {
  auto n = co_await stream.read_some(in.writable(kClientReadChunk), rt::Deadline::never(), read_cancel);
  if (!n && n.error() == std::errc::operation_canceled) co_return false;
  if (!n || *n == 0) {
    gone = true;
    sink->wake().notify();  // the session's main coroutine waits on the sink: tell it the client left
    co_return false;
  }
  in.commit(*n);
  co_return true;
}

rt::Task<bool> RedisClient::write_output() {
  while (sink->has_output()) {
    sink->take_output(writing);
    for (std::size_t at = 0; at < writing.size();) {
      const std::size_t n = std::min(kWriteSlice, writing.size() - at);
      const auto written = co_await stream.write_all(std::span(writing).subspan(at, n), rt::Deadline::never(), &cancel);
      if (!written) co_return false;
      at += n;
      sink->wrote(n);
    }
  }
  co_return !sink->overflowed();
}

rt::Task<bool> RedisClient::flush() {
  // write_output() inlined: this runs once per batch of requests, and each nested coroutine call
  // costs a frame and two transfers.
  for (;;) {
    while (sink->has_output()) {
      sink->take_output(writing);
      for (std::size_t at = 0; at < writing.size();) {
        const std::size_t n = std::min(kWriteSlice, writing.size() - at);
        const auto written =
            co_await stream.write_all(std::span(writing).subspan(at, n), rt::Deadline::never(), &cancel);
        if (!written) co_return false;
        at += n;
        sink->wrote(n);
      }
    }
    if (sink->overflowed()) co_return false;
    if (sink->outstanding() == 0) co_return true;
    const bool woken = co_await sink->wait(rt::Deadline::never(), &cancel);
    if (!woken) co_return false;
  }
}

}  // namespace corral::proxy
