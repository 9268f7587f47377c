#include "proxy/redis/session_base.h"

#include <utility>

#include "pool/backoff.h"
#include "pool/redis_pool.h"
#include "proxy/metrics.h"
#include "proxy/redis/frontend.h"
#include "runtime/log.h"

namespace corral::proxy {

RedisSessionBase::RedisSessionBase(rt::TcpStream client, RedisFrontend& frontend)
    : client_(std::move(client), *frontend.env().config, frontend.env().stop_cancel),
      env_(frontend.env()),
      local_(frontend.local_commands()) {
  context_.id = env_.shared->next_client_id.fetch_add(1, std::memory_order_relaxed);
  context_.peer = client_.stream.peer_address().to_string();
  context_.local = client_.stream.local_address().to_string();
  local_.init(context_);
}

RedisSessionBase::~RedisSessionBase() {
  const pool::ReplySink& sink = *client_.sink;
  if (sink.cut()) {
    rt::log::warn("redis client id={} addr={}: closed, its backend connection failed in the middle of a reply",
                  context_.id, context_.peer);
  } else if (sink.overflowed()) {
    rt::log::warn("redis client id={} addr={}: closed, more than client.output_buffer_limit ({} bytes) of replies "
                  "queued for it",
                  context_.id, context_.peer, env_.config->client.output_buffer_limit);
  }
}

rt::Task<bool> RedisSessionBase::read_next_batch() {
  const auto idle_timeout = env_.config->client.idle_timeout;
  const rt::Deadline deadline = idle_timeout.count() > 0 ? rt::Deadline::after(idle_timeout) : rt::Deadline::never();
  const rt::Result<void> readable = co_await client_.stream.wait_readable(deadline, env_.idle_cancel);
  if (!readable) co_return false;
  auto n = co_await client_.stream.read_some(client_.in.writable(kClientReadChunk), deadline, env_.idle_cancel);
  if (!n || *n == 0) co_return false;
  client_.in.commit(*n);
  co_return true;
}

void RedisSessionBase::observe_batch(rt::Clock::time_point started, std::uint64_t requests) {
  // Pipelined requests are read and answered together: each is counted with the batch's time.
  // The loop's time (refreshed each iteration, so the time the reply was read, within the iteration
  // that wrote it): no clock read per request.
  const auto took = env_.loop->now() - started;
  env_.request_stats->observe(RequestClass::Command, took, requests);
  const auto slow = env_.config->server.slow_request;
  if (slow.count() == 0 || took < slow) return;
  // The command's name only: arguments may be values or secrets.
  const std::string_view last = route_.command != nullptr ? route_.command->name : std::string_view("?");
  rt::log::warn("listener {}: slow request: client {} (user '{}') took {} for {} command(s), the last {}",
                env_.listener->name, context_.id, context_.user, pool::milliseconds_text(took), requests, last);
}

rt::Deadline RedisSessionBase::queue_deadline() const { return rt::Deadline::after(env_.config->pool.queue_timeout); }

rt::Deadline RedisSessionBase::blocking_deadline(const redis::Request& request) const {
  if (auto timeout = redis::blocking_timeout(route_, request)) {
    const auto ms = redis::parse_timeout_ms(request.arg(timeout->index), timeout->unit);
    if (ms && *ms > 0) return rt::Deadline::after(std::chrono::milliseconds(*ms) + env_.config->pool.operation_timeout);
  }
  return rt::Deadline::never();
}

rt::Task<void> RedisSessionBase::watch_client(RedisClient* client, rt::CancelSource* cancel, rt::CancelSource* gone) {
  // What the client pipelines behind the blocking command waits in its read buffer (the request's
  // own bytes are consumed by size afterwards, so the buffer may grow meanwhile).
  while (client->in.size() < kMaxBufferedWhilePinned) {
    const bool more = co_await client->read_more(cancel);
    if (!more) {
      if (client->gone && gone != nullptr) gone->cancel();
      co_return;
    }
  }
}

pool::RedisKey RedisSessionBase::credentials_key(const BackendQuestion& question) const {
  pool::RedisKey key = local_.pool_key(context_);
  local_.set_credentials(key, question.user, question.password);
  return key;
}

rt::Task<bool> RedisSessionBase::check_credentials(pool::RedisKey key, rt::SocketAddress address,
                                                   std::string& verdict) {
  // Held only for this check: a refused key's pool is freed as soon as the reference goes.
  pool::RedisPoolRef candidate = env_.pools->redis.get(key, address);
  pool::Acquired acquired = co_await candidate->shared(queue_deadline(), &client_.cancel);
  if (acquired.connection == nullptr && acquired.refusal.empty()) {
    verdict = std::move(acquired.error);
    co_return false;
  }
  // The server's own refusal ("-WRONGPASS ...") is what the client would get from it directly.
  verdict = std::move(acquired.refusal);
  co_return true;
}

}  // namespace corral::proxy
