#include "proxy/redis/cluster_session.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "pool/node_router.h"
#include "pool/redis_connection.h"
#include "pool/redis_pool.h"
#include "pool/reply_sink.h"
#include "protocols/redis/cluster.h"
#include "protocols/redis/command_keys.h"
#include "protocols/redis/command_table.h"
#include "protocols/redis/encoder.h"
#include "proxy/redis/client.h"
#include "proxy/redis/context.h"
#include "proxy/redis/frontend.h"
#include "proxy/redis/local_commands.h"
#include "proxy/redis/relay.h"
#include "proxy/redis/session_base.h"
#include "runtime/log.h"
#include "runtime/task_scope.h"

namespace corral::proxy {

namespace {

using pool::NodeRouter;

/// Redirections followed for one request before its last one goes to the client (redis-cli -c and
/// most cluster clients stop at 5 as well).
constexpr int kMaxRedirects = 5;
/// Requests of one client in flight before corral waits for their replies (bounds what it buffers).
constexpr std::size_t kMaxPending = 256;
/// Top-level elements accepted in one part's reply when merging (MGET of that many keys).
constexpr long long kMaxMergedElements = 1LL << 31;

constexpr std::string_view kOk = "+OK\r\n";
constexpr std::string_view kQueued = "+QUEUED\r\n";
constexpr std::string_view kExecAbort = "-EXECABORT Transaction discarded because of previous errors.\r\n";
constexpr std::string_view kNoMap =
    "-CLUSTERDOWN corral could not read the slot map from any cluster node\r\n";
constexpr std::string_view kSlotUnserved = "-CLUSTERDOWN Hash slot not served\r\n";
/// Keys of one command on several servers of a redis-shards backend: Redis Cluster's error code for
/// the same situation (a hash tag is the remedy in both), naming a shard instead of a slot.
constexpr std::string_view kCrossShardError = "-CROSSSLOT Keys in request don't hash to the same shard\r\n";

/// How the replies of a request's parts become the client's one reply.
enum class Merge : std::uint8_t { Single, Array, Sum, AllOk, Concat, Same };

/// One request to one node: a whole client request, or the share of a split one.
struct Part {
  std::string request;              // wire bytes, kept to re-send after a redirection
  int slot = -1;                    // -1: keyless (sent to `node` as chosen)
  int node = NodeRouter::kNoNode;
  bool runs_script = false;
  bool queue_probe = false;         // sent inside MULTI ... DISCARD: the server says whether it would queue it
  int redirects = 0;
  pool::ReplySinkRef sink;          // the reply on its way; null when `reply` was decided here
  std::string reply;                // once settled
};

/// One client request, in request order.
struct Pending {
  std::vector<Part> parts;          // empty: `local` is the reply
  std::string local;
  Merge merge = Merge::Single;
  bool aborts_multi = false;        // an error reply aborts the client's transaction (a queue probe's)
  // Merge::Array: per key of the request, which part holds its value and at which element.
  std::vector<std::pair<std::uint32_t, std::uint32_t>> order;
};

/// The connection a node's requests went to while their replies are on the way: the next
/// request for that node follows them there, so the node runs them in request order.
struct Sticky {
  pool::RedisConnection* connection = nullptr;
  pool::ReplySinkRef last;  // the last part sent on it; while it is outstanding the connection lives
};

std::optional<long long> integer_of(std::string_view reply) {
  if (reply.size() < 4 || reply.front() != ':' || !reply.ends_with("\r\n")) return std::nullopt;
  long long value = 0;
  const auto [end, ec] = std::from_chars(reply.data() + 1, reply.data() + reply.size() - 2, value);
  if (ec != std::errc{} || end != reply.data() + reply.size() - 2) return std::nullopt;
  return value;
}

bool is_error(std::string_view reply) { return !reply.empty() && (reply.front() == '-' || reply.front() == '!'); }

std::string unexpected_reply() { return "-ERR corral: a node sent an unexpected reply to a merged command\r\n"; }

/// Serves one client of a redis-cluster or redis-shards listener. Not thread-safe: lives on its
/// worker's loop. Lifetime: `frontend` (and its NodeRouter) outlives the session.
class RedisClusterSession final : private RedisSessionBase, private RelayRewriter {
 public:
  RedisClusterSession(rt::TcpStream client, RedisFrontend& frontend);
  RedisClusterSession(const RedisClusterSession&) = delete;
  RedisClusterSession& operator=(const RedisClusterSession&) = delete;
  ~RedisClusterSession();

  rt::Task<void> run();

 private:
  enum class Step { Next, Close, Relay };

  rt::Task<Step> handle(const redis::Request& request);
  rt::Task<Step> handle_local(const redis::Request& request);
  rt::Task<Step> handle_forwarded(const redis::Request& request);
  rt::Task<Step> handle_in_multi(const redis::Request& request);
  rt::Task<Step> handle_transaction(const redis::Request& request);
  rt::Task<Step> handle_blocking(const redis::Request& request);
  /// Waits for a blocking command's reply on `sink` until `deadline`, watching the client socket
  /// meanwhile: a client that leaves ends the wait at once. True when the reply arrived.
  rt::Task<bool> wait_blocking_reply(pool::ReplySink& sink, rt::Deadline deadline);
  rt::Task<Step> handle_subscribe(const redis::Request& request);
  /// Relay mode on the connection handle_subscribe() pinned, after its request was consumed.
  /// False when the client is gone.
  rt::Task<bool> relay();
  rt::Task<Step> exec();
  rt::Task<void> watch(const redis::Request& request, int slot);

  /// The reply to SELECT `db`: Redis Cluster has database 0 only; shards serve the URL's database.
  std::string select_reply(std::string_view db) const;
  /// The error for keys that must be on one node and are not.
  std::string_view cross_error() const {
    return env_.listener->backend.shards ? kCrossShardError : redis::kCrossSlotError;
  }
  /// The slot all of `request`'s keys hash to: -1 without keys, -2 when they span slots.
  int common_slot(const redis::Request& request);
  /// Splits a multi-key request into one part per slot (MGET, MSET, DEL...).
  Pending split(const redis::Request& request, redis::KeySplit how);
  /// Sends `part` to `node` (NodeRouter::kNoNode: the node of its slot, or any master when keyless).
  /// On failure the part is settled with the error.
  rt::Task<void> send(Part& part, int node, bool asking);
  /// Waits for `part`'s reply and follows redirections. False when the session is closing.
  rt::Task<bool> settle(Part& part);
  /// Settles every pending request in order and appends their replies to the client's sink.
  rt::Task<bool> settle_all();
  void reply_local(std::string_view reply);
  std::string merged(Pending& pending) const;

  /// The map is read; false (with the reply given) when no node answered.
  rt::Task<bool> ensure_map();
  rt::Task<void> refresh_map();
  int node_for(int slot) const { return slot >= 0 ? router_.node_of(slot) : router_.any_master(); }
  pool::RedisPoolRef& node_pool(int node);
  /// A shared connection to `node` for the next request, following the requests still in flight
  /// there; nullptr with `error` set when none could be had.
  rt::Task<pool::RedisConnection*> connection_to(int node, std::string& error);
  /// A dedicated connection to `node` (WATCH, EXEC, blocking, subscribe); nullptr with `error`.
  rt::Task<pool::RedisConnection*> pin(int node, std::string& error);
  void release_watch(bool clean);
  /// The context's pool key changed (AUTH, HELLO, RESET): node pools are looked up again.
  void forget_pools();

  rt::Task<std::string> rewrite(const redis::Request& request, std::string& error) override;
  /// Nothing to translate: tracking, and so REDIRECT, is refused with a cluster backend.
  std::string report_redirect(std::string reply) const override { return reply; }

  NodeRouter& router_;
  std::vector<std::size_t> keys_;              // key indices of the request being handled
  std::deque<Pending> pending_;
  std::vector<pool::RedisPoolRef> node_pools_;  // by node index, for the context's key
  std::vector<Sticky> sticky_;                 // by node index
  // MULTI: corral queues the commands and sends them with EXEC to the node of their slot.
  bool in_multi_ = false;
  bool multi_aborted_ = false;
  int multi_slot_ = -1;                        // slot of the queued commands (or of WATCH); -1: none yet
  std::vector<std::string> queued_;
  std::size_t queued_bytes_ = 0;
  // WATCH: a dedicated connection on the watched slot's node, which then runs the transaction.
  pool::RedisConnection* watch_connection_ = nullptr;
  pool::RedisPoolRef watch_pool_;
  int watch_node_ = NodeRouter::kNoNode;
  // Subscriptions: the dedicated connection a relay runs on.
  pool::RedisConnection* relay_connection_ = nullptr;
  pool::RedisPoolRef relay_pool_;
  redis::PinReason relay_reason_ = redis::PinReason::None;
};

RedisClusterSession::RedisClusterSession(rt::TcpStream client, RedisFrontend& frontend)
    : RedisSessionBase(std::move(client), frontend), router_(*frontend.router()) {}

RedisClusterSession::~RedisClusterSession() {
  release_watch(false);
  if (relay_connection_ != nullptr) relay_pool_->unpin(relay_connection_, false);
}

rt::Task<void> RedisClusterSession::run() {
  rt::Clock::time_point batch_started = env_.loop->now();
  std::uint64_t batch_requests = 0;
  for (;;) {
    for (;;) {
      const redis::ScanStatus status = client_.scanner.scan(client_.in.readable(), client_.request);
      if (status == redis::ScanStatus::NeedMore) break;
      if (status == redis::ScanStatus::Error) {
        // One error reply after the replies due before it, then close.
        const bool settled = co_await settle_all();
        if (settled) reply_local(client_.scanner.error().reply());
        co_await settle_all();
        co_await client_.flush();
        co_return;
      }
      ++batch_requests;
      const Step step = co_await handle(client_.request);
      client_.in.consume(client_.request.size());
      if (step == Step::Close) {
        co_await settle_all();
        co_await client_.flush();
        co_return;
      }
      if (step == Step::Relay) {
        const bool serving = co_await relay();
        if (!serving) co_return;
        continue;
      }
      if (pending_.size() >= kMaxPending) {
        const bool settled = co_await settle_all();
        if (!settled) co_return;
      }
    }
    client_.in.release_if_empty();
    const bool settled = co_await settle_all();
    if (!settled) co_return;
    const bool flushed = co_await client_.flush();
    if (!flushed) co_return;
    if (batch_requests > 0) observe_batch(batch_started, std::exchange(batch_requests, 0));
    const bool more = co_await read_next_batch();
    if (!more) co_return;
    batch_started = env_.loop->now();
  }
}

void RedisClusterSession::reply_local(std::string_view reply) {
  Pending pending;
  pending.local = std::string(reply);
  pending_.push_back(std::move(pending));
}

rt::Task<RedisClusterSession::Step> RedisClusterSession::handle(const redis::Request& request) {
  if (request.empty()) co_return Step::Next;
  route_ = redis::route(request);
  context_.last_command = route_.command;
  context_.last_active = env_.loop->now();
  if (!context_.authenticated && !route_.has(redis::kAllowedBeforeAuth)) {
    if (context_.implicit_login) {
      // auth "backend": the URL's user may need no password; a node says so by accepting it.
      const bool mapped = co_await ensure_map();
      if (!mapped) co_return Step::Next;
      std::string error;
      const int node = router_.any_master();
      pool::RedisConnection* connection = nullptr;
      if (node != NodeRouter::kNoNode) connection = co_await connection_to(node, error);
      if (connection != nullptr) local_.log_in_implicitly(context_);
      context_.implicit_login = false;
    }
    if (!context_.authenticated) {
      if (in_multi_) multi_aborted_ = true;
      reply_local("-NOAUTH Authentication required.\r\n");
      co_return Step::Next;
    }
  }
  if (route_.command != nullptr && !route_.arity_ok) {
    if (in_multi_) multi_aborted_ = true;
    scratch_.clear();
    redis::append_arity_error(scratch_, *route_.command);
    reply_local(scratch_);
    co_return Step::Next;
  }
  if (in_multi_) co_return co_await handle_in_multi(request);
  switch (route_.disposition) {
    case redis::Disposition::Refused:
      scratch_.clear();
      redis::append_refusal_error(scratch_, *route_.command);
      reply_local(scratch_);
      co_return Step::Next;
    case redis::Disposition::Local: co_return co_await handle_local(request);
    case redis::Disposition::Shared: co_return co_await handle_forwarded(request);
    case redis::Disposition::Pinned: break;
  }
  switch (route_.pin_reason) {
    case redis::PinReason::Transaction: co_return co_await handle_transaction(request);
    case redis::PinReason::Blocking: co_return co_await handle_blocking(request);
    case redis::PinReason::Subscribe: co_return co_await handle_subscribe(request);
    case redis::PinReason::Monitor:
    case redis::PinReason::Tracking:
    case redis::PinReason::None: break;
  }
  // MONITOR and CLIENT TRACKING follow one server; with many nodes they would see a part of the data.
  scratch_.clear();
  redis::append_refusal_error(scratch_, *route_.command, "it follows one server, and this backend has several");
  reply_local(scratch_);
  co_return Step::Next;
}

rt::Task<RedisClusterSession::Step> RedisClusterSession::handle_local(const redis::Request& request) {
  using redis::LocalCommand;
  const LocalCommand which = route_.local();
  if (which == LocalCommand::Select) {
    reply_local(select_reply(request.arg(1)));
    co_return Step::Next;
  }
  if (route_.has(redis::kNamesClients) || which == LocalCommand::ClientReply) {
    scratch_.clear();
    redis::append_refusal_error(scratch_, *route_.command,
                                fmt::format("not supported with a {} backend yet", env_.listener->backend.scheme()));
    reply_local(scratch_);
    co_return Step::Next;
  }
  const pool::RedisKey before = local_.pool_key(context_);
  std::string verdict_text;
  const std::string* verdict = nullptr;
  for (int attempt = 0; attempt < 3; ++attempt) {
    BackendQuestion question;
    scratch_.clear();
    int node = router_.any_master();
    const pool::RedisServerInfo empty_info;
    const pool::RedisServerInfo& info = node != NodeRouter::kNoNode ? node_pool(node)->server_info() : empty_info;
    const LocalOutcome outcome = local_.answer(request, route_, context_, info, scratch_, question, verdict);
    if (outcome != LocalOutcome::NeedsBackend) {
      reply_local(scratch_);
      if (route_.has(redis::kResetsConnection)) {
        in_multi_ = false;  // RESET ends MULTI and WATCH, as on the server
        queued_.clear();
        multi_slot_ = -1;
      }
      if (!(local_.pool_key(context_) == before) || route_.has(redis::kResetsConnection)) {
        forget_pools();
        release_watch(false);
      }
      co_return outcome == LocalOutcome::Close ? Step::Close : Step::Next;
    }
    const bool have_map = co_await ensure_map();
    if (!have_map) co_return Step::Next;
    node = router_.any_master();
    if (node == NodeRouter::kNoNode) {
      reply_local(kSlotUnserved);
      co_return Step::Next;
    }
    if (question.check_credentials) {
      pool::RedisKey key = credentials_key(question);
      key.host = router_.node(node).address.host;
      key.port = router_.node(node).address.port;
      const bool decided = co_await check_credentials(std::move(key), router_.node(node).socket, verdict_text);
      if (!decided) {
        reply_local(verdict_text);
        co_return Step::Next;
      }
      verdict = &verdict_text;
    } else {
      std::string error;
      pool::RedisConnection* connection = co_await connection_to(node, error);
      if (connection == nullptr) {
        reply_local(error);
        co_return Step::Next;
      }
    }
  }
  reply_local("-ERR corral: could not learn what the backend needs to answer this command\r\n");
  co_return Step::Next;
}

std::string RedisClusterSession::select_reply(std::string_view db) const {
  long long index = 0;
  const auto [end, ec] = std::from_chars(db.data(), db.data() + db.size(), index);
  if (ec != std::errc{} || end != db.data() + db.size()) return "-ERR value is not an integer or out of range\r\n";
  const config::BackendUrl& url = env_.listener->backend;
  if (!url.shards) {
    // Redis Cluster has database 0 only, and says so in these words.
    return index == 0 ? std::string(kOk) : "-ERR SELECT is not allowed in cluster mode\r\n";
  }
  // Every shard's connections are in the URL's database; another one would need a pool per db and shard.
  if (index == url.redis_db) return std::string(kOk);
  return fmt::format("-ERR corral: SELECT is limited to database {} (the redis-shards backend URL's)\r\n",
                     url.redis_db);
}

int RedisClusterSession::common_slot(const redis::Request& request) {
  keys_.clear();
  if (const redis::KeySpec* spec = redis::key_spec(route_)) redis::key_indices(*spec, request, keys_);
  int slot = -1;
  for (const std::size_t index : keys_) {
    const int key_slot = router_.slot_of(request.arg(index));
    if (slot >= 0 && key_slot != slot) return -2;
    slot = key_slot;
  }
  return slot;
}

rt::Task<RedisClusterSession::Step> RedisClusterSession::handle_forwarded(const redis::Request& request) {
  const bool have_map = co_await ensure_map();
  if (!have_map) co_return Step::Next;
  const int slot = common_slot(request);
  Pending pending;
  const std::string_view name = route_.command != nullptr ? route_.command->name : std::string_view{};
  if (slot == -2) {
    const redis::KeySplit how = redis::key_split(name);
    if (how == redis::KeySplit::None) {
      reply_local(cross_error());
      co_return Step::Next;
    }
    pending = split(request, how);
  } else if (slot == -1 && route_.command != nullptr && keys_.empty() && redis::key_spec(route_) == nullptr) {
    const redis::KeylessRoute keyless = redis::keyless_route(name);
    if (keyless == redis::KeylessRoute::Pong) {
      scratch_.clear();
      if (request.arg_count() > 1) {
        redis::append_bulk(scratch_, request.arg(1));
      } else {
        scratch_ = "+PONG\r\n";
      }
      reply_local(scratch_);
      co_return Step::Next;
    }
    if (keyless == redis::KeylessRoute::Refused) {
      scratch_.clear();
      redis::append_refusal_error(scratch_, *route_.command, redis::keyless_refusal(name));
      reply_local(scratch_);
      co_return Step::Next;
    }
    if (keyless != redis::KeylessRoute::AnyMaster) {
      pending.merge = keyless == redis::KeylessRoute::Sum      ? Merge::Sum
                      : keyless == redis::KeylessRoute::Concat ? Merge::Concat
                      : keyless == redis::KeylessRoute::AllOk  ? Merge::AllOk
                                                               : Merge::Same;
      for (const int master : router_.masters()) {
        Part& part = pending.parts.emplace_back();
        part.request = std::string(redis::resp_bytes(request, scratch_));
        part.node = master;
      }
    }
  }
  if (pending.parts.empty()) {
    Part& part = pending.parts.emplace_back();
    part.request = std::string(redis::resp_bytes(request, scratch_));
    part.slot = slot;
    part.runs_script = route_.has(redis::kRunsScript);
  }
  for (Part& part : pending.parts) {
    const int node = part.slot < 0 && part.node != NodeRouter::kNoNode ? part.node : node_for(part.slot);
    co_await send(part, node, false);
  }
  pending_.push_back(std::move(pending));
  co_return Step::Next;
}

Pending RedisClusterSession::split(const redis::Request& request, redis::KeySplit how) {
  // MSET's keys come with their values: the arguments from a key up to the next key go along.
  const std::size_t group = how == redis::KeySplit::AllOk ? 2 : 1;
  Pending pending;
  pending.merge = how == redis::KeySplit::Array ? Merge::Array : how == redis::KeySplit::Sum ? Merge::Sum : Merge::AllOk;
  std::vector<int> slot_of_part;
  std::vector<std::vector<std::string_view>> args;
  for (const std::size_t index : keys_) {
    const int slot = router_.slot_of(request.arg(index));
    auto found = std::find(slot_of_part.begin(), slot_of_part.end(), slot);
    std::size_t part = static_cast<std::size_t>(found - slot_of_part.begin());
    if (found == slot_of_part.end()) {
      slot_of_part.push_back(slot);
      args.push_back({request.arg(0)});
    }
    pending.order.emplace_back(static_cast<std::uint32_t>(part), static_cast<std::uint32_t>(args[part].size() - 1));
    for (std::size_t i = 0; i < group && index + i < request.arg_count(); ++i) args[part].push_back(request.arg(index + i));
  }
  for (std::size_t i = 0; i < args.size(); ++i) {
    Part& part = pending.parts.emplace_back();
    redis::encode_command(part.request, std::span<const std::string_view>(args[i]));
    part.slot = slot_of_part[i];
  }
  return pending;
}

rt::Task<void> RedisClusterSession::send(Part& part, int node, bool asking) {
  if (node == NodeRouter::kNoNode) {
    // The slot has no master in the map: the map may be old (a failover, a new node).
    co_await refresh_map();
    node = node_for(part.slot);
  }
  if (node == NodeRouter::kNoNode) {
    part.reply = router_.known() ? std::string(kSlotUnserved) : std::string(kNoMap);
    co_return;
  }
  std::string error;
  pool::RedisConnection* connection = co_await connection_to(node, error);
  if (connection == nullptr) {
    // A node that cannot be reached may have failed over. The request was not sent, so it may go
    // to the slot's new master (never after an ASK, which goes where the server said, nor a part
    // meant for this very node, as DBSIZE's are).
    co_await refresh_map();
    const int now = asking || part.slot < 0 ? node : node_for(part.slot);
    if (now != node && now != NodeRouter::kNoNode) connection = co_await connection_to(now, error);
    if (connection == nullptr) {
      part.reply = std::move(error);
      co_return;
    }
    node = now;
  }
  part.node = node;
  part.sink = pool::make_reply_sink(SIZE_MAX, env_.config->client.output_buffer_limit);
  // What goes with the request leaves with it on this connection: nothing of another client comes
  // between (ASKING applies to the next request; MULTI ... DISCARD keeps a queue probe from running).
  pool::ReplySinkRef dropped = pool::make_reply_sink(SIZE_MAX, 1024);
  std::string before;
  if (asking) redis::encode_command(before, {"ASKING"});
  if (part.queue_probe) redis::encode_command(before, {"MULTI"});
  if (!before.empty()) connection->submit(before, *dropped);
  connection->submit(part.request, *part.sink, part.runs_script);
  if (part.queue_probe) {
    std::string discard;
    redis::encode_command(discard, {"DISCARD"});
    connection->submit(discard, *dropped);
  }
  Sticky& sticky = sticky_[static_cast<std::size_t>(node)];
  sticky.connection = connection;
  sticky.last = pool::ReplySinkRef(*part.sink);
}

rt::Task<bool> RedisClusterSession::settle(Part& part) {
  for (;;) {
    if (!part.sink) co_return true;  // decided without a backend
    while (part.sink->outstanding() > 0) {
      const bool woken = co_await part.sink->wait(rt::Deadline::never(), &client_.cancel);
      if (!woken) co_return false;
    }
    if (part.sink->overflowed()) {
      rt::log::warn("redis client id={} addr={}: closed, a reply larger than client.output_buffer_limit ({} bytes) "
                    "for it (replies from a cluster are buffered whole)",
                    context_.id, context_.peer, env_.config->client.output_buffer_limit);
      co_return false;
    }
    part.sink->take_output(part.reply);
    part.sink.reset();
    if (pool::is_backend_failure(part.reply)) {
      co_await refresh_map();  // the node may be gone: its replica takes over its slots
      co_return true;
    }
    const std::optional<redis::Redirect> redirect = redis::parse_redirect(part.reply);
    if (!redirect || part.redirects >= kMaxRedirects) co_return true;
    ++part.redirects;
    redis::NodeAddress address = redirect->node;
    if (address.host.empty()) address.host = router_.node(part.node).address.host;
    const int target = router_.find_or_add(address);
    if (target == NodeRouter::kNoNode) co_return true;  // a name corral cannot dial: the client gets it
    const bool moved = redirect->kind == redis::Redirect::Kind::Moved;
    if (moved) {
      router_.moved(redirect->slot, target);
      rt::log::debug("redis-cluster: MOVED {} to {}:{}", redirect->slot, address.host, address.port);
    } else {
      router_.asked();
    }
    co_await send(part, target, !moved);
    if (moved) co_await refresh_map();  // more slots may have moved with it (rate-limited)
  }
}

rt::Task<bool> RedisClusterSession::settle_all() {
  while (!pending_.empty()) {
    Pending& pending = pending_.front();
    for (Part& part : pending.parts) {
      const bool settled = co_await settle(part);
      if (!settled) co_return false;
    }
    const std::string reply = pending.parts.empty() ? pending.local : merged(pending);
    if (pending.aborts_multi && is_error(reply)) multi_aborted_ = true;
    client_.sink->append_local(reply);
    pending_.pop_front();
  }
  co_return !client_.sink->overflowed();
}

std::string RedisClusterSession::merged(Pending& pending) const {
  std::vector<Part>& parts = pending.parts;
  for (const Part& part : parts) {
    if (is_error(part.reply)) return part.reply;
  }
  switch (pending.merge) {
    case Merge::Single:
    case Merge::Same:
      return parts.front().reply;
    case Merge::AllOk:
      for (const Part& part : parts) {
        if (part.reply != kOk) return part.reply;
      }
      return std::string(kOk);
    case Merge::Sum: {
      long long sum = 0;
      for (const Part& part : parts) {
        const std::optional<long long> value = integer_of(part.reply);
        if (!value) return unexpected_reply();
        sum += *value;
      }
      std::string out;
      redis::append_integer(out, sum);
      return out;
    }
    case Merge::Array:
    case Merge::Concat: {
      std::vector<std::vector<redis::ReplyElement>> elements;
      std::size_t total = 0;
      for (const Part& part : parts) {
        elements.push_back(redis::array_elements(part.reply, kMaxMergedElements));
        if (elements.back().empty() && part.reply != "*0\r\n") return unexpected_reply();
        total += elements.back().size();
      }
      std::string out = "*" + std::to_string(pending.merge == Merge::Array ? pending.order.size() : total) + "\r\n";
      if (pending.merge == Merge::Concat) {
        for (const auto& list : elements) {
          for (const redis::ReplyElement& element : list) out.append(element.bytes);
        }
        return out;
      }
      for (const auto& [part, element] : pending.order) {
        if (element >= elements[part].size()) return unexpected_reply();
        out.append(elements[part][element].bytes);
      }
      return out;
    }
  }
  return unexpected_reply();
}

rt::Task<bool> RedisClusterSession::ensure_map() {
  if (router_.known()) co_return true;
  co_await refresh_map();
  if (router_.known()) co_return true;
  reply_local(kNoMap);
  co_return false;
}

rt::Task<void> RedisClusterSession::refresh_map() {
  const std::size_t nodes_before = router_.node_count();
  co_await router_.refresh(local_.pool_key(context_), rt::Deadline::after(env_.config->pool.connect_timeout),
                        &client_.cancel);
  if (router_.node_count() != nodes_before) {
    node_pools_.resize(router_.node_count());
    sticky_.resize(router_.node_count());
  }
}

pool::RedisPoolRef& RedisClusterSession::node_pool(int node) {
  const auto index = static_cast<std::size_t>(node);
  if (node_pools_.size() < router_.node_count()) node_pools_.resize(router_.node_count());
  if (!node_pools_[index]) node_pools_[index] = router_.pool(node, local_.pool_key(context_));
  return node_pools_[index];
}

rt::Task<pool::RedisConnection*> RedisClusterSession::connection_to(int node, std::string& error) {
  const auto index = static_cast<std::size_t>(node);
  if (sticky_.size() < router_.node_count()) sticky_.resize(router_.node_count());
  Sticky& sticky = sticky_[index];
  if (sticky.last && sticky.last->outstanding() > 0 &&
      sticky.connection->state() == pool::RedisConnection::State::Ready) {
    co_return sticky.connection;
  }
  sticky.last.reset();
  pool::RedisPoolRef& pool = node_pool(node);
  pool::RedisConnection* connection = pool->ready_shared();
  if (connection != nullptr) co_return connection;
  pool::Acquired acquired = co_await pool->shared(queue_deadline(), &client_.cancel);
  if (acquired.connection == nullptr) error = std::move(acquired.error);
  co_return acquired.connection;
}

rt::Task<pool::RedisConnection*> RedisClusterSession::pin(int node, std::string& error) {
  pool::RedisPoolRef& pool = node_pool(node);
  pool::Acquired acquired = co_await pool->pin(queue_deadline(), &client_.cancel);
  if (acquired.connection == nullptr) error = std::move(acquired.error);
  co_return acquired.connection;
}

void RedisClusterSession::release_watch(bool clean) {
  if (watch_connection_ == nullptr) return;
  watch_pool_->unpin(watch_connection_, clean);
  watch_connection_ = nullptr;
  watch_pool_.reset();
  watch_node_ = NodeRouter::kNoNode;
}

void RedisClusterSession::forget_pools() {
  node_pools_.clear();
  sticky_.clear();
}

rt::Task<RedisClusterSession::Step> RedisClusterSession::handle_in_multi(const redis::Request& request) {
  switch (route_.transaction()) {
    case redis::TransactionStep::Exec: co_return co_await exec();
    case redis::TransactionStep::Discard:
      in_multi_ = false;
      queued_.clear();
      release_watch(false);  // closing it drops the WATCH on the server
      multi_slot_ = -1;
      reply_local(kOk);
      co_return Step::Next;
    case redis::TransactionStep::Multi:
      reply_local("-ERR MULTI calls can not be nested\r\n");
      co_return Step::Next;
    case redis::TransactionStep::Watch:
      reply_local("-ERR WATCH inside MULTI is not allowed\r\n");
      co_return Step::Next;
    case redis::TransactionStep::Unwatch:
    case redis::TransactionStep::None: break;
  }
  if (route_.disposition == redis::Disposition::Refused) {
    multi_aborted_ = true;
    scratch_.clear();
    redis::append_refusal_error(scratch_, *route_.command);
    reply_local(scratch_);
    co_return Step::Next;
  }
  if (route_.disposition == redis::Disposition::Local && route_.has(redis::kRunsInMulti)) {
    co_return co_await handle_local(request);  // QUIT, RESET
  }
  if (route_.disposition == redis::Disposition::Local && !route_.has(redis::kQueuedInMulti)) {
    multi_aborted_ = true;
    reply_local("-ERR corral: this command is not supported inside MULTI\r\n");
    co_return Step::Next;
  }
  const int slot = common_slot(request);
  if (slot == -2 || (slot >= 0 && multi_slot_ >= 0 && slot != multi_slot_)) {
    // Redis Cluster refuses such a command when it is queued, and EXEC then aborts.
    multi_aborted_ = true;
    reply_local(cross_error());
    co_return Step::Next;
  }
  if (slot >= 0) multi_slot_ = slot;
  const std::string_view bytes = redis::resp_bytes(request, scratch_);
  queued_bytes_ += bytes.size();
  if (queued_bytes_ > env_.config->client.output_buffer_limit) {
    multi_aborted_ = true;
    queued_.clear();
    reply_local("-ERR corral: the transaction is larger than client.output_buffer_limit\r\n");
    co_return Step::Next;
  }
  queued_.emplace_back(bytes);
  if (route_.command != nullptr) {
    reply_local(kQueued);
    co_return Step::Next;
  }
  // A command corral does not know: the server says whether it knows it (+QUEUED) or not (the
  // unknown command error, which then aborts EXEC), as redis-server tells its own client at queue
  // time. Asked inside MULTI ... DISCARD, so it runs nowhere.
  Pending pending;
  pending.aborts_multi = true;
  Part& part = pending.parts.emplace_back();
  part.request = queued_.back();
  part.slot = multi_slot_;
  part.queue_probe = true;
  co_await send(part, node_for(multi_slot_), false);
  pending_.push_back(std::move(pending));
  co_return Step::Next;
}

rt::Task<RedisClusterSession::Step> RedisClusterSession::handle_transaction(const redis::Request& request) {
  switch (route_.transaction()) {
    case redis::TransactionStep::Multi:
      in_multi_ = true;
      multi_aborted_ = false;
      queued_.clear();
      queued_bytes_ = 0;
      if (watch_connection_ == nullptr) multi_slot_ = -1;
      reply_local(kOk);
      co_return Step::Next;
    case redis::TransactionStep::Exec:
      reply_local("-ERR EXEC without MULTI\r\n");
      co_return Step::Next;
    case redis::TransactionStep::Discard:
      reply_local("-ERR DISCARD without MULTI\r\n");
      co_return Step::Next;
    case redis::TransactionStep::Unwatch:
      release_watch(false);
      multi_slot_ = -1;
      reply_local(kOk);
      co_return Step::Next;
    case redis::TransactionStep::Watch: {
      const int slot = common_slot(request);
      if (slot == -2 || (watch_connection_ != nullptr && slot != multi_slot_)) {
        reply_local(cross_error());
        co_return Step::Next;
      }
      co_await watch(request, slot);
      co_return Step::Next;
    }
    case redis::TransactionStep::None: break;
  }
  co_return Step::Next;
}

rt::Task<void> RedisClusterSession::watch(const redis::Request& request, int slot) {
  // WATCH must reach its node before the client's next command does: replies in between are settled.
  const bool settled = co_await settle_all();
  if (!settled) co_return;
  const bool have_map = co_await ensure_map();
  if (!have_map) co_return;
  Part part;
  part.request = std::string(redis::resp_bytes(request, scratch_));
  part.slot = slot;
  for (; part.redirects <= kMaxRedirects; ++part.redirects) {
    const int node = watch_connection_ != nullptr ? watch_node_ : node_for(slot);
    if (watch_connection_ == nullptr) {
      std::string error;
      pool::RedisConnection* connection = co_await pin(node, error);
      if (connection == nullptr) {
        reply_local(error);
        co_return;
      }
      watch_connection_ = connection;
      watch_pool_ = pool::RedisPoolRef(*node_pool(node));
      watch_node_ = node;
    }
    part.sink = pool::make_reply_sink(SIZE_MAX, env_.config->client.output_buffer_limit);
    watch_connection_->submit(part.request, *part.sink);
    while (part.sink->outstanding() > 0) {
      const bool woken = co_await part.sink->wait(rt::Deadline::never(), &client_.cancel);
      if (!woken) co_return;
    }
    part.sink->take_output(part.reply);
    const std::optional<redis::Redirect> redirect = redis::parse_redirect(part.reply);
    if (!redirect || redirect->kind != redis::Redirect::Kind::Moved || multi_slot_ >= 0) break;
    // The first WATCH went to a node that no longer has the slot: nothing is watched there yet.
    release_watch(false);
    redis::NodeAddress address = redirect->node;
    if (address.host.empty()) address.host = router_.node(node).address.host;
    const int target = router_.find_or_add(address);
    if (target == NodeRouter::kNoNode) break;
    router_.moved(redirect->slot, target);
  }
  if (!is_error(part.reply) && slot >= 0) multi_slot_ = slot;
  reply_local(part.reply);
}

rt::Task<RedisClusterSession::Step> RedisClusterSession::exec() {
  in_multi_ = false;
  const std::vector<std::string> queued = std::exchange(queued_, {});
  // Queue probes still on their way may abort the transaction: their replies come first.
  const bool settled = co_await settle_all();
  if (!settled) co_return Step::Close;
  if (multi_aborted_) {
    release_watch(false);
    multi_slot_ = -1;
    reply_local(kExecAbort);
    co_return Step::Next;
  }
  const bool have_map = co_await ensure_map();
  if (!have_map) co_return Step::Next;
  const bool watching = watch_connection_ != nullptr;
  std::string reply;
  // Without WATCH a transaction whose slot moved before EXEC ran nowhere (EXECABORT after MOVED to
  // a queued command): it is sent again, once, to the slot's new master.
  for (int attempt = 0; attempt < 2; ++attempt) {
    const int node = watching ? watch_node_ : node_for(multi_slot_);
    if (node == NodeRouter::kNoNode) {
      reply = std::string(kSlotUnserved);
      break;
    }
    pool::RedisConnection* connection = watch_connection_;
    if (connection == nullptr) {
      std::string error;
      connection = co_await pin(node, error);
      if (connection == nullptr) {
        reply = std::move(error);
        break;
      }
      watch_connection_ = connection;
      watch_pool_ = pool::RedisPoolRef(*node_pool(node));
      watch_node_ = node;
    }
    // MULTI, the queued commands and EXEC in one write; only EXEC's reply is the client's.
    std::string multi;
    redis::encode_command(multi, {"MULTI"});
    std::string exec_request;
    redis::encode_command(exec_request, {"EXEC"});
    pool::ReplySinkRef multi_reply = pool::make_reply_sink(SIZE_MAX, 1024);
    pool::ReplySinkRef exec_reply = pool::make_reply_sink(SIZE_MAX, env_.config->client.output_buffer_limit);
    connection->submit(multi, *multi_reply);
    std::vector<pool::ReplySinkRef> per_command;
    for (const std::string& command : queued) {
      per_command.push_back(pool::make_reply_sink(SIZE_MAX, env_.config->client.output_buffer_limit));
      connection->submit(command, *per_command.back());
    }
    connection->submit(exec_request, *exec_reply);
    while (exec_reply->outstanding() > 0) {
      const bool woken = co_await exec_reply->wait(rt::Deadline::never(), &client_.cancel);
      if (!woken) co_return Step::Close;
    }
    exec_reply->take_output(reply);
    release_watch(!pool::is_backend_failure(reply));  // EXEC ended MULTI and WATCH there
    std::optional<redis::Redirect> moved;
    for (pool::ReplySinkRef& sink : per_command) {
      std::string one;
      sink->take_output(one);
      auto redirect = redis::parse_redirect(one);
      if (redirect && redirect->kind == redis::Redirect::Kind::Moved) moved = redirect;
    }
    if (!moved || watching || !reply.starts_with("-EXECABORT")) break;
    redis::NodeAddress address = moved->node;
    if (address.host.empty()) address.host = router_.node(node).address.host;
    const int target = router_.find_or_add(address);
    if (target == NodeRouter::kNoNode) break;
    router_.moved(moved->slot, target);
  }
  multi_slot_ = -1;
  reply_local(reply);
  co_return Step::Next;
}

rt::Task<RedisClusterSession::Step> RedisClusterSession::handle_blocking(const redis::Request& request) {
  const int slot = common_slot(request);
  if (slot == -2) {
    reply_local(cross_error());
    co_return Step::Next;
  }
  const bool settled = co_await settle_all();
  if (!settled) co_return Step::Close;
  const bool have_map = co_await ensure_map();
  if (!have_map) co_return Step::Next;
  const rt::Deadline deadline = blocking_deadline(request);
  Part part;
  part.request = std::string(redis::resp_bytes(request, scratch_));
  part.slot = slot;
  int node = node_for(slot);
  bool asking = false;
  for (; part.redirects <= kMaxRedirects; ++part.redirects) {
    if (node == NodeRouter::kNoNode) {
      part.reply = std::string(kSlotUnserved);
      break;
    }
    std::string error;
    pool::RedisConnection* connection = co_await pin(node, error);
    if (connection == nullptr) {
      part.reply = std::move(error);
      break;
    }
    pool::RedisPoolRef pinned_pool(*node_pool(node));
    part.sink = pool::make_reply_sink(SIZE_MAX, env_.config->client.output_buffer_limit);
    // With an owner the connection applies no operation timeout: the deadline above bounds the wait.
    connection->set_owner(part.sink.get());
    if (asking) {
      std::string asking_request;
      redis::encode_command(asking_request, {"ASKING"});
      pool::ReplySinkRef dropped = pool::make_reply_sink(SIZE_MAX, 1024);
      connection->submit(asking_request, *dropped);
    }
    connection->submit(part.request, *part.sink);
    context_.blocked = true;
    const bool answered = co_await wait_blocking_reply(*part.sink, deadline);
    context_.blocked = false;
    // Unanswered, the connection may still be blocked on the server: it is closed, not reused.
    pinned_pool->unpin(connection, answered);
    if (!answered) {
      if (client_.gone || client_.cancel.cancelled()) co_return Step::Close;
      part.reply = "-ERR corral: blocking command timed out on the backend\r\n";
      break;
    }
    part.sink->take_output(part.reply);
    const std::optional<redis::Redirect> redirect = redis::parse_redirect(part.reply);
    if (!redirect) break;
    redis::NodeAddress address = redirect->node;
    if (address.host.empty()) address.host = router_.node(node).address.host;
    node = router_.find_or_add(address);
    asking = redirect->kind == redis::Redirect::Kind::Ask;
    if (node == NodeRouter::kNoNode) continue;  // kSlotUnserved next round
    if (asking) {
      router_.asked();
    } else {
      router_.moved(redirect->slot, node);
    }
  }
  reply_local(part.reply);
  co_return Step::Next;
}

rt::Task<bool> RedisClusterSession::wait_blocking_reply(pool::ReplySink& sink, rt::Deadline deadline) {
  rt::CancelSource gone(&client_.cancel);
  rt::CancelSource watch_cancel(&client_.cancel);
  rt::TaskScope watcher;
  // `client_` outlives the watcher: it is cancelled and joined below, before this frame returns.
  watcher.spawn(watch_client(&client_, &watch_cancel, &gone));
  bool answered = true;
  while (answered && sink.outstanding() > 0) {
    const bool woken = co_await sink.wait(deadline, &gone);
    answered = woken;
  }
  watch_cancel.cancel();
  co_await watcher.join();
  co_return answered && !client_.gone;
}

rt::Task<RedisClusterSession::Step> RedisClusterSession::handle_subscribe(const redis::Request& request) {
  // SSUBSCRIBE's channels are keys: the slot's master holds them. Other subscriptions may use any
  // node: the cluster passes PUBLISH messages to every node.
  const int slot = common_slot(request);
  if (slot == -2) {
    reply_local(cross_error());
    co_return Step::Next;
  }
  const bool settled = co_await settle_all();
  if (!settled) co_return Step::Close;
  const bool flushed = co_await client_.flush();
  if (!flushed) co_return Step::Close;
  const bool have_map = co_await ensure_map();
  if (!have_map) co_return Step::Next;
  const int node = node_for(slot);
  if (node == NodeRouter::kNoNode) {
    reply_local(kSlotUnserved);
    co_return Step::Next;
  }
  std::string error;
  pool::RedisConnection* connection = co_await pin(node, error);
  if (connection == nullptr) {
    reply_local(error);
    co_return Step::Next;
  }
  relay_pool_ = pool::RedisPoolRef(*node_pool(node));  // the relay keeps its pool even if the context moves on
  relay_connection_ = connection;
  relay_reason_ = route_.pin_reason;
  start_relay(*connection, *client_.sink, redis::resp_bytes(request, scratch_));
  co_return Step::Relay;
}

rt::Task<bool> RedisClusterSession::relay() {
  RedisRelay relay(client_, *relay_connection_, RelayState(relay_reason_, false), *this);
  context_.subscribed = true;
  const RelayEnd end = co_await relay.run();
  context_.subscribed = false;
  relay_pool_->unpin(std::exchange(relay_connection_, nullptr), end == RelayEnd::Leave);
  relay_pool_.reset();
  if (end == RelayEnd::Stopped) co_return false;
  if (end == RelayEnd::Reset) {
    local_.reset(context_);
    forget_pools();
  }
  co_return true;
}

rt::Task<std::string> RedisClusterSession::rewrite(const redis::Request&, std::string& error) {
  error = fmt::format("-ERR corral: CLIENT TRACKING REDIRECT is not supported with a {} backend\r\n",
                      env_.listener->backend.scheme());
  co_return std::string();
}

}  // namespace

rt::Task<void> serve_cluster_client(rt::TcpStream client, RedisFrontend& frontend) {
  // The session lives on the heap so the coroutine frame stays small; it ends with this coroutine.
  auto session = std::make_unique<RedisClusterSession>(std::move(client), frontend);
  co_await session->run();
}

}  // namespace corral::proxy
