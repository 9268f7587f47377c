#include "protocols/redis/command_keys.h"

#include <algorithm>
#include <charconv>
#include <iterator>


namespace corral::redis {

namespace {

constexpr KeySpec range(int first, int last, int step) {
  return {KeySearch::Range, static_cast<std::int8_t>(first), static_cast<std::int8_t>(last),
          static_cast<std::int8_t>(step), 0};
}
constexpr KeySpec numkeys(int numkeys_index, int first) {
  return {KeySearch::Numkeys, static_cast<std::int8_t>(first), 0, 1, static_cast<std::int8_t>(numkeys_index)};
}
constexpr KeySpec store_numkeys() { return {KeySearch::StoreNumkeys, 3, 0, 1, 2}; }
constexpr KeySpec streams() { return {KeySearch::Streams, 0, 0, 1, 0}; }
constexpr KeySpec with_store() { return {KeySearch::WithStore, 1, 1, 1, 0}; }

// Sorted by name (binary search). Commands not listed have no keys.
constexpr KeyedCommand kKeyRows[] = {
    {"append", range(1, 1, 1)},
    {"bitcount", range(1, 1, 1)},
    {"bitfield", range(1, 1, 1)},
    {"bitfield_ro", range(1, 1, 1)},
    {"bitop", range(2, -1, 1)},
    {"bitpos", range(1, 1, 1)},
    {"blmove", range(1, 2, 1)},
    {"blmpop", numkeys(2, 3)},
    {"blpop", range(1, -2, 1)},
    {"brpop", range(1, -2, 1)},
    {"brpoplpush", range(1, 2, 1)},
    {"bzmpop", numkeys(2, 3)},
    {"bzpopmax", range(1, -2, 1)},
    {"bzpopmin", range(1, -2, 1)},
    {"copy", range(1, 2, 1)},
    {"decr", range(1, 1, 1)},
    {"decrby", range(1, 1, 1)},
    {"del", range(1, -1, 1)},
    {"dump", range(1, 1, 1)},
    {"eval", numkeys(2, 3)},
    {"eval_ro", numkeys(2, 3)},
    {"evalsha", numkeys(2, 3)},
    {"evalsha_ro", numkeys(2, 3)},
    {"exists", range(1, -1, 1)},
    {"expire", range(1, 1, 1)},
    {"expireat", range(1, 1, 1)},
    {"expiretime", range(1, 1, 1)},
    {"fcall", numkeys(2, 3)},
    {"fcall_ro", numkeys(2, 3)},
    {"geoadd", range(1, 1, 1)},
    {"geodist", range(1, 1, 1)},
    {"geohash", range(1, 1, 1)},
    {"geopos", range(1, 1, 1)},
    {"georadius", with_store()},
    {"georadius_ro", range(1, 1, 1)},
    {"georadiusbymember", with_store()},
    {"georadiusbymember_ro", range(1, 1, 1)},
    {"geosearch", range(1, 1, 1)},
    {"geosearchstore", range(1, 2, 1)},
    {"get", range(1, 1, 1)},
    {"getbit", range(1, 1, 1)},
    {"getdel", range(1, 1, 1)},
    {"getex", range(1, 1, 1)},
    {"getrange", range(1, 1, 1)},
    {"getset", range(1, 1, 1)},
    {"hdel", range(1, 1, 1)},
    {"hexists", range(1, 1, 1)},
    {"hget", range(1, 1, 1)},
    {"hgetall", range(1, 1, 1)},
    {"hincrby", range(1, 1, 1)},
    {"hincrbyfloat", range(1, 1, 1)},
    {"hkeys", range(1, 1, 1)},
    {"hlen", range(1, 1, 1)},
    {"hmget", range(1, 1, 1)},
    {"hmset", range(1, 1, 1)},
    {"hrandfield", range(1, 1, 1)},
    {"hscan", range(1, 1, 1)},
    {"hset", range(1, 1, 1)},
    {"hsetnx", range(1, 1, 1)},
    {"hstrlen", range(1, 1, 1)},
    {"hvals", range(1, 1, 1)},
    {"incr", range(1, 1, 1)},
    {"incrby", range(1, 1, 1)},
    {"incrbyfloat", range(1, 1, 1)},
    {"lcs", range(1, 2, 1)},
    {"lindex", range(1, 1, 1)},
    {"linsert", range(1, 1, 1)},
    {"llen", range(1, 1, 1)},
    {"lmove", range(1, 2, 1)},
    {"lmpop", numkeys(1, 2)},
    {"lpop", range(1, 1, 1)},
    {"lpos", range(1, 1, 1)},
    {"lpush", range(1, 1, 1)},
    {"lpushx", range(1, 1, 1)},
    {"lrange", range(1, 1, 1)},
    {"lrem", range(1, 1, 1)},
    {"lset", range(1, 1, 1)},
    {"ltrim", range(1, 1, 1)},
    {"memory|usage", range(2, 2, 1)},
    {"mget", range(1, -1, 1)},
    {"migrate", range(3, 3, 1)},
    {"move", range(1, 1, 1)},
    {"mset", range(1, -1, 2)},
    {"msetnx", range(1, -1, 2)},
    {"object|encoding", range(2, 2, 1)},
    {"object|freq", range(2, 2, 1)},
    {"object|idletime", range(2, 2, 1)},
    {"object|refcount", range(2, 2, 1)},
    {"persist", range(1, 1, 1)},
    {"pexpire", range(1, 1, 1)},
    {"pexpireat", range(1, 1, 1)},
    {"pexpiretime", range(1, 1, 1)},
    {"pfadd", range(1, 1, 1)},
    {"pfcount", range(1, -1, 1)},
    {"pfdebug", range(2, 2, 1)},
    {"pfmerge", range(1, -1, 1)},
    {"psetex", range(1, 1, 1)},
    {"pttl", range(1, 1, 1)},
    {"rename", range(1, 2, 1)},
    {"renamenx", range(1, 2, 1)},
    {"restore", range(1, 1, 1)},
    {"restore-asking", range(1, 1, 1)},
    {"rpop", range(1, 1, 1)},
    {"rpoplpush", range(1, 2, 1)},
    {"rpush", range(1, 1, 1)},
    {"rpushx", range(1, 1, 1)},
    {"sadd", range(1, 1, 1)},
    {"scard", range(1, 1, 1)},
    {"sdiff", range(1, -1, 1)},
    {"sdiffstore", range(1, -1, 1)},
    {"set", range(1, 1, 1)},
    {"setbit", range(1, 1, 1)},
    {"setex", range(1, 1, 1)},
    {"setnx", range(1, 1, 1)},
    {"setrange", range(1, 1, 1)},
    {"sinter", range(1, -1, 1)},
    {"sintercard", numkeys(1, 2)},
    {"sinterstore", range(1, -1, 1)},
    {"sismember", range(1, 1, 1)},
    {"smembers", range(1, 1, 1)},
    {"smismember", range(1, 1, 1)},
    {"smove", range(1, 2, 1)},
    {"sort", with_store()},
    {"sort_ro", range(1, 1, 1)},
    {"spop", range(1, 1, 1)},
    {"spublish", range(1, 1, 1)},
    {"srandmember", range(1, 1, 1)},
    {"srem", range(1, 1, 1)},
    {"sscan", range(1, 1, 1)},
    {"ssubscribe", range(1, -1, 1)},
    {"strlen", range(1, 1, 1)},
    {"substr", range(1, 1, 1)},
    {"sunion", range(1, -1, 1)},
    {"sunionstore", range(1, -1, 1)},
    {"sunsubscribe", range(1, -1, 1)},
    {"touch", range(1, -1, 1)},
    {"ttl", range(1, 1, 1)},
    {"type", range(1, 1, 1)},
    {"unlink", range(1, -1, 1)},
    {"watch", range(1, -1, 1)},
    {"xack", range(1, 1, 1)},
    {"xadd", range(1, 1, 1)},
    {"xautoclaim", range(1, 1, 1)},
    {"xclaim", range(1, 1, 1)},
    {"xdel", range(1, 1, 1)},
    {"xgroup|create", range(2, 2, 1)},
    {"xgroup|createconsumer", range(2, 2, 1)},
    {"xgroup|delconsumer", range(2, 2, 1)},
    {"xgroup|destroy", range(2, 2, 1)},
    {"xgroup|setid", range(2, 2, 1)},
    {"xinfo|consumers", range(2, 2, 1)},
    {"xinfo|groups", range(2, 2, 1)},
    {"xinfo|stream", range(2, 2, 1)},
    {"xlen", range(1, 1, 1)},
    {"xpending", range(1, 1, 1)},
    {"xrange", range(1, 1, 1)},
    {"xread", streams()},
    {"xreadgroup", streams()},
    {"xrevrange", range(1, 1, 1)},
    {"xsetid", range(1, 1, 1)},
    {"xtrim", range(1, 1, 1)},
    {"zadd", range(1, 1, 1)},
    {"zcard", range(1, 1, 1)},
    {"zcount", range(1, 1, 1)},
    {"zdiff", numkeys(1, 2)},
    {"zdiffstore", store_numkeys()},
    {"zincrby", range(1, 1, 1)},
    {"zinter", numkeys(1, 2)},
    {"zintercard", numkeys(1, 2)},
    {"zinterstore", store_numkeys()},
    {"zlexcount", range(1, 1, 1)},
    {"zmpop", numkeys(1, 2)},
    {"zmscore", range(1, 1, 1)},
    {"zpopmax", range(1, 1, 1)},
    {"zpopmin", range(1, 1, 1)},
    {"zrandmember", range(1, 1, 1)},
    {"zrange", range(1, 1, 1)},
    {"zrangebylex", range(1, 1, 1)},
    {"zrangebyscore", range(1, 1, 1)},
    {"zrangestore", range(1, 2, 1)},
    {"zrank", range(1, 1, 1)},
    {"zrem", range(1, 1, 1)},
    {"zremrangebylex", range(1, 1, 1)},
    {"zremrangebyrank", range(1, 1, 1)},
    {"zremrangebyscore", range(1, 1, 1)},
    {"zrevrange", range(1, 1, 1)},
    {"zrevrangebylex", range(1, 1, 1)},
    {"zrevrangebyscore", range(1, 1, 1)},
    {"zrevrank", range(1, 1, 1)},
    {"zscan", range(1, 1, 1)},
    {"zscore", range(1, 1, 1)},
    {"zunion", numkeys(1, 2)},
    {"zunionstore", store_numkeys()},
};

/// A non-negative count in `text`, or -1.
long long parse_count(std::string_view text) {
  long long value = -1;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || value < 0) return -1;
  return value;
}

void range_keys(const KeySpec& spec, std::size_t argc, std::vector<std::size_t>& out) {
  const auto first = static_cast<std::size_t>(spec.first);
  if (first >= argc) return;
  const std::size_t last =
      spec.last >= 0 ? static_cast<std::size_t>(spec.last) : argc - static_cast<std::size_t>(-spec.last);
  if (last >= argc || last < first) return;
  for (std::size_t i = first; i <= last; i += static_cast<std::size_t>(spec.step)) out.push_back(i);
}

void numkeys_keys(std::size_t numkeys_at, std::size_t first, const Request& request, std::vector<std::size_t>& out) {
  const std::size_t argc = request.arg_count();
  if (numkeys_at >= argc) return;
  const long long count = parse_count(request.arg(numkeys_at));
  if (count < 0 || static_cast<unsigned long long>(count) > argc - first) return;
  for (std::size_t i = 0; i < static_cast<std::size_t>(count); ++i) out.push_back(first + i);
}

/// XREAD/XREADGROUP: [GROUP g c] [COUNT n] [BLOCK ms] [NOACK] STREAMS k1 k2 id1 id2. The options are
/// walked as redis-server's xreadCommand walks them, so a group or consumer named "streams" is no keyword.
void streams_keys(const Request& request, std::vector<std::size_t>& out) {
  const std::size_t argc = request.arg_count();
  for (std::size_t i = 1; i < argc; ++i) {
    const std::string_view arg = request.arg(i);
    if (iequals(arg, "group")) {
      i += 2;
    } else if (iequals(arg, "count") || iequals(arg, "block")) {
      i += 1;
    } else if (iequals(arg, "streams")) {
      const std::size_t rest = argc - i - 1;
      if (rest == 0 || rest % 2 != 0) return;
      for (std::size_t k = 0; k < rest / 2; ++k) out.push_back(i + 1 + k);
      return;
    }
  }
}

/// SORT key ... STORE dest / GEORADIUS key ... STORE|STOREDIST dest.
void with_store_keys(const Request& request, std::vector<std::size_t>& out) {
  const std::size_t argc = request.arg_count();
  if (argc < 2) return;
  out.push_back(1);
  for (std::size_t i = 2; i + 1 < argc; ++i) {
    if (iequals(request.arg(i), "store") || iequals(request.arg(i), "storedist")) {
      out.push_back(i + 1);
      return;
    }
  }
}

}  // namespace

std::span<const KeyedCommand> keyed_commands() { return kKeyRows; }

const KeySpec* key_spec(std::string_view full_name) {
  const auto* end = std::end(kKeyRows);
  const auto* it = std::lower_bound(std::begin(kKeyRows), end, full_name,
                                    [](const KeyedCommand& row, std::string_view name) { return row.name < name; });
  return it != end && it->name == full_name ? &it->spec : nullptr;
}

void key_indices(const KeySpec& spec, const Request& request, std::vector<std::size_t>& out) {
  out.clear();
  switch (spec.search) {
    case KeySearch::Range:
      range_keys(spec, request.arg_count(), out);
      return;
    case KeySearch::Numkeys:
      numkeys_keys(static_cast<std::size_t>(spec.numkeys), static_cast<std::size_t>(spec.first), request, out);
      return;
    case KeySearch::StoreNumkeys:
      if (request.arg_count() < 2) return;
      numkeys_keys(2, 3, request, out);
      out.insert(out.begin(), 1);
      return;
    case KeySearch::Streams:
      streams_keys(request, out);
      return;
    case KeySearch::WithStore:
      with_store_keys(request, out);
      return;
  }
}

namespace {

struct SplitRow {
  std::string_view name;
  KeySplit split;
};
constexpr SplitRow kSplitRows[] = {
    {"del", KeySplit::Sum},   {"exists", KeySplit::Sum}, {"mget", KeySplit::Array},
    {"mset", KeySplit::AllOk}, {"touch", KeySplit::Sum}, {"unlink", KeySplit::Sum},
};

struct KeylessRow {
  std::string_view name;
  KeylessRoute route;
  std::string_view refusal;
};
// SCAN's cursor names a position in one node's table: a cursor that crossed nodes would need
// corral to encode the node in it, which cluster clients do not expect of a standalone server.
// RANDOMKEY of one master may be nil while others hold keys.
constexpr KeylessRow kKeylessRows[] = {
    {"dbsize", KeylessRoute::Sum, {}},
    {"flushall", KeylessRoute::AllOk, {}},
    {"flushdb", KeylessRoute::AllOk, {}},
    {"function|delete", KeylessRoute::AllOk, {}},
    {"function|flush", KeylessRoute::AllOk, {}},
    {"function|load", KeylessRoute::Same, {}},
    {"keys", KeylessRoute::Concat, {}},
    {"ping", KeylessRoute::Pong, {}},
    {"randomkey", KeylessRoute::Refused, "a random key of one server is no random key of them all"},
    {"scan", KeylessRoute::Refused, "a SCAN cursor cannot say which server it walks; use SCAN on each server"},
    {"script|flush", KeylessRoute::AllOk, {}},
    {"script|load", KeylessRoute::Same, {}},
};

template <typename Row, std::size_t N>
const Row* find_row(const Row (&rows)[N], std::string_view name) {
  const auto* it = std::find_if(std::begin(rows), std::end(rows), [&](const Row& row) { return row.name == name; });
  return it != std::end(rows) ? it : nullptr;
}

}  // namespace

KeySplit key_split(std::string_view full_name) {
  const SplitRow* row = find_row(kSplitRows, full_name);
  return row != nullptr ? row->split : KeySplit::None;
}

KeylessRoute keyless_route(std::string_view full_name) {
  const KeylessRow* row = find_row(kKeylessRows, full_name);
  return row != nullptr ? row->route : KeylessRoute::AnyMaster;
}

std::string_view keyless_refusal(std::string_view full_name) {
  const KeylessRow* row = find_row(kKeylessRows, full_name);
  return row != nullptr ? row->refusal : std::string_view{};
}

}  // namespace corral::redis
