#include "protocols/redis/command_table.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace corral::redis {

namespace {

// ---------------------------------------------------------------------------------------------
// Row builders keep the table to one line per command.

constexpr CommandInfo row(std::string_view name, int arity, unsigned flags, Disposition disposition) {
  return {name, static_cast<std::int16_t>(arity), static_cast<std::uint16_t>(flags), disposition, PinReason::None,
          LocalCommand::None, TransactionStep::None, {}, {}, {}};
}

constexpr CommandInfo shared(std::string_view name, int arity, unsigned flags = kNone) {
  return row(name, arity, flags, Disposition::Shared);
}

constexpr CommandInfo local(std::string_view name, int arity, LocalCommand handler, unsigned flags = kNone) {
  CommandInfo info = row(name, arity, flags, Disposition::Local);
  info.local = handler;
  return info;
}

constexpr CommandInfo pinned(std::string_view name, int arity, PinReason reason, TimeoutSpec timeout = {}) {
  CommandInfo info = row(name, arity, kNone, Disposition::Pinned);
  info.pin_reason = reason;
  info.timeout = timeout;
  return info;
}

constexpr CommandInfo transaction(std::string_view name, int arity, TransactionStep step) {
  CommandInfo info = pinned(name, arity, PinReason::Transaction);
  info.transaction = step;
  return info;
}

constexpr CommandInfo unsubscribe(std::string_view name, int arity) {
  CommandInfo info = pinned(name, arity, PinReason::Subscribe);
  info.flags = kUnsubscribe;
  return info;
}

constexpr CommandInfo tracking_with_redirect(std::string_view name, int arity) {
  CommandInfo info = pinned(name, arity, PinReason::Tracking);
  info.flags = kRedirects;
  return info;
}

constexpr CommandInfo refused(std::string_view name, int arity, std::string_view why, unsigned flags = kNone) {
  CommandInfo info = row(name, arity, flags, Disposition::Refused);
  info.refusal = why;
  return info;
}

/// A container command (CLIENT, CONFIG, ...): the entry itself is used when no subcommand is
/// given or the subcommand is unknown, and forwarding lets the backend word the error.
constexpr CommandInfo container(std::string_view name, int arity, std::span<const CommandInfo> subcommands) {
  CommandInfo info = shared(name, arity);
  info.subcommands = subcommands;
  return info;
}

constexpr TimeoutSpec timeout_last(TimeoutUnit unit) { return {-1, unit}; }
constexpr TimeoutSpec timeout_at(int index, TimeoutUnit unit) { return {static_cast<std::int8_t>(index), unit}; }

// ---------------------------------------------------------------------------------------------
// Why each Refused command cannot be made safe behind a proxy that shares backend connections.
// The text ends up in the client's error: "... is not supported by corral (<why>)".

// CLIENT NO-TOUCH, READONLY, READWRITE: connection flags would leak to other clients.
constexpr std::string_view kWhyConnectionFlag = "it sets a flag on a backend connection that other clients share";
// SHUTDOWN: takes the backend away from every client of the pool.
constexpr std::string_view kWhyShutdown = "it stops the backend that every client shares";
// SYNC, PSYNC, REPLCONF: replication protocol; the connection would stop speaking request/reply.
constexpr std::string_view kWhyReplication = "it turns the connection into a replication link";
// REPLICAOF, SLAVEOF, FAILOVER: change the backend's role (and writability) under corral's pools.
constexpr std::string_view kWhyRole = "changing the backend's replication role is an operator task";
// DEBUG: SEGFAULT, SLEEP, RELOAD... stall or kill the backend for every client.
constexpr std::string_view kWhyDebug = "it can crash, stall or reload the backend under every client";
// ASKING: a one-shot flag for the connection's next command, which may be another client's.
constexpr std::string_view kWhyAsking = "its one-shot flag would apply to another client's next command";
// SCRIPT DEBUG: the Lua debugger takes over the connection with its own interactive protocol.
constexpr std::string_view kWhyScriptDebug = "the script debugger takes over the connection";
// POST and "Host:": redis-server treats them as a cross-protocol attack and drops the connection,
// which would fail every request in flight on a shared connection.
constexpr std::string_view kWhyDropsConnection = "redis-server drops the connection when it sees it";
// CLUSTER *, RESTORE-ASKING: corral presents one standalone server; slot maps would send cluster
// clients straight to the backends, past the proxy.
constexpr std::string_view kWhyCluster = "corral presents one standalone server, not a cluster";

// ---------------------------------------------------------------------------------------------
// The table. Names and arities come from Redis 7.0's COMMAND INFO plus the 7.2 additions
// (WAITAOF, CLIENT SETINFO, CLIENT NO-TOUCH, CLUSTER MYSHARDID); dispositions and flags are
// corral's. Both levels are sorted by (sub)command name: lookups binary-search them.

constexpr CommandInfo kAclSubcommands[] = {
    shared("acl|cat", -2),
    shared("acl|deluser", -3),
    shared("acl|dryrun", -4),
    shared("acl|genpass", -2),
    shared("acl|getuser", 3),
    shared("acl|help", 2),
    shared("acl|list", 2),
    shared("acl|load", 2),
    shared("acl|log", -2),
    shared("acl|save", 2),
    shared("acl|setuser", -3),
    shared("acl|users", 2),
    local("acl|whoami", 2, LocalCommand::AclWhoami, kQueuedInMulti),
};

constexpr CommandInfo kClientSubcommands[] = {
    pinned("client|caching", 3, PinReason::Tracking),
    local("client|getname", 2, LocalCommand::ClientGetname),
    // Tracking is relay mode: there the reply's backend id becomes the target's corral id (relay.h).
    shared("client|getredir", 2, kReportsRedirect),
    shared("client|help", 2),
    local("client|id", 2, LocalCommand::ClientId),
    local("client|info", 2, LocalCommand::ClientInfo),
    local("client|kill", -3, LocalCommand::ClientKill, kNamesClients),
    local("client|list", -2, LocalCommand::ClientList, kNamesClients),
    local("client|no-evict", 3, LocalCommand::ClientNoEvict),
    refused("client|no-touch", 3, kWhyConnectionFlag),
    // Pauses the backend server, and with it every client of it, as CLIENT PAUSE does direct.
    shared("client|pause", -3, kPausesServer),
    local("client|reply", 3, LocalCommand::ClientReply),
    local("client|setinfo", 4, LocalCommand::ClientSetinfo),
    local("client|setname", 3, LocalCommand::ClientSetname),
    tracking_with_redirect("client|tracking", -3),
    shared("client|trackinginfo", 2, kReportsRedirect),
    local("client|unblock", -3, LocalCommand::ClientUnblock, kNamesClients),
    shared("client|unpause", 2, kUnpausesServer),
};

constexpr CommandInfo kClusterSubcommands[] = {
    refused("cluster|addslots", -3, kWhyCluster),
    refused("cluster|addslotsrange", -4, kWhyCluster),
    refused("cluster|bumpepoch", 2, kWhyCluster),
    refused("cluster|count-failure-reports", 3, kWhyCluster),
    refused("cluster|countkeysinslot", 3, kWhyCluster),
    refused("cluster|delslots", -3, kWhyCluster),
    refused("cluster|delslotsrange", -4, kWhyCluster),
    refused("cluster|failover", -2, kWhyCluster),
    refused("cluster|flushslots", 2, kWhyCluster),
    refused("cluster|forget", 3, kWhyCluster),
    refused("cluster|getkeysinslot", 4, kWhyCluster),
    refused("cluster|help", 2, kWhyCluster),
    refused("cluster|info", 2, kWhyCluster),
    refused("cluster|keyslot", 3, kWhyCluster),
    refused("cluster|links", 2, kWhyCluster),
    refused("cluster|meet", -4, kWhyCluster),
    refused("cluster|myid", 2, kWhyCluster),
    refused("cluster|myshardid", 2, kWhyCluster),
    refused("cluster|nodes", 2, kWhyCluster),
    refused("cluster|replicas", 3, kWhyCluster),
    refused("cluster|replicate", 3, kWhyCluster),
    refused("cluster|reset", -2, kWhyCluster),
    refused("cluster|saveconfig", 2, kWhyCluster),
    refused("cluster|set-config-epoch", 3, kWhyCluster),
    refused("cluster|setslot", -4, kWhyCluster),
    refused("cluster|shards", 2, kWhyCluster),
    refused("cluster|slaves", 3, kWhyCluster),
    refused("cluster|slots", 2, kWhyCluster),
};

constexpr CommandInfo kCommandSubcommands[] = {
    shared("command|count", 2),
    shared("command|docs", -2),
    shared("command|getkeys", -4),
    shared("command|getkeysandflags", -4),
    shared("command|help", 2),
    shared("command|info", -2),
    shared("command|list", -2),
};

constexpr CommandInfo kConfigSubcommands[] = {
    shared("config|get", -3),
    shared("config|help", 2),
    shared("config|resetstat", 2),
    shared("config|rewrite", 2),
    shared("config|set", -4),
};

constexpr CommandInfo kFunctionSubcommands[] = {
    shared("function|delete", 3),
    shared("function|dump", 2),
    shared("function|flush", -2),
    shared("function|help", 2),
    shared("function|kill", 2, kAllowedWhileBusy),
    shared("function|list", -2),
    shared("function|load", -3),
    shared("function|restore", -3),
    shared("function|stats", 2, kAllowedWhileBusy),
};

constexpr CommandInfo kLatencySubcommands[] = {
    shared("latency|doctor", 2),
    shared("latency|graph", 3),
    shared("latency|help", 2),
    shared("latency|histogram", -2),
    shared("latency|history", 3),
    shared("latency|latest", 2),
    shared("latency|reset", -2),
};

constexpr CommandInfo kMemorySubcommands[] = {
    shared("memory|doctor", 2),
    shared("memory|help", 2),
    shared("memory|malloc-stats", 2),
    shared("memory|purge", 2),
    shared("memory|stats", 2),
    shared("memory|usage", -3),
};

constexpr CommandInfo kModuleSubcommands[] = {
    shared("module|help", 2),
    shared("module|list", 2),
    shared("module|load", -3),
    shared("module|loadex", -3),
    shared("module|unload", 3),
};

constexpr CommandInfo kObjectSubcommands[] = {
    shared("object|encoding", 3),
    shared("object|freq", 3),
    shared("object|help", 2),
    shared("object|idletime", 3),
    shared("object|refcount", 3),
};

constexpr CommandInfo kPubsubSubcommands[] = {
    shared("pubsub|channels", -2),
    shared("pubsub|help", 2),
    shared("pubsub|numpat", 2),
    shared("pubsub|numsub", -2),
    shared("pubsub|shardchannels", -2),
    shared("pubsub|shardnumsub", -2),
};

constexpr CommandInfo kScriptSubcommands[] = {
    refused("script|debug", 3, kWhyScriptDebug),
    shared("script|exists", -3),
    shared("script|flush", -2),
    shared("script|help", 2),
    shared("script|kill", 2, kAllowedWhileBusy),
    shared("script|load", 3),
};

constexpr CommandInfo kSlowlogSubcommands[] = {
    shared("slowlog|get", -2),
    shared("slowlog|help", 2),
    shared("slowlog|len", 2),
    shared("slowlog|reset", 2),
};

constexpr CommandInfo kXgroupSubcommands[] = {
    shared("xgroup|create", -5),
    shared("xgroup|createconsumer", 5),
    shared("xgroup|delconsumer", 5),
    shared("xgroup|destroy", 4),
    shared("xgroup|help", 2),
    shared("xgroup|setid", -5),
};

constexpr CommandInfo kXinfoSubcommands[] = {
    shared("xinfo|consumers", 4),
    shared("xinfo|groups", 3),
    shared("xinfo|help", 2),
    shared("xinfo|stream", -3),
};

constexpr CommandInfo kCommands[] = {
    container("acl", -2, kAclSubcommands),
    shared("append", 3),
    refused("asking", 1, kWhyAsking),
    local("auth", -2, LocalCommand::Auth, kChangesPoolKey | kAllowedBeforeAuth),
    shared("bgrewriteaof", 1),
    shared("bgsave", -1),
    shared("bitcount", -2),
    shared("bitfield", -2),
    shared("bitfield_ro", -2),
    shared("bitop", -4),
    shared("bitpos", -3),
    pinned("blmove", 6, PinReason::Blocking, timeout_at(5, TimeoutUnit::Seconds)),
    pinned("blmpop", -5, PinReason::Blocking, timeout_at(1, TimeoutUnit::Seconds)),
    pinned("blpop", -3, PinReason::Blocking, timeout_last(TimeoutUnit::Seconds)),
    pinned("brpop", -3, PinReason::Blocking, timeout_last(TimeoutUnit::Seconds)),
    pinned("brpoplpush", 4, PinReason::Blocking, timeout_at(3, TimeoutUnit::Seconds)),
    pinned("bzmpop", -5, PinReason::Blocking, timeout_at(1, TimeoutUnit::Seconds)),
    pinned("bzpopmax", -3, PinReason::Blocking, timeout_last(TimeoutUnit::Seconds)),
    pinned("bzpopmin", -3, PinReason::Blocking, timeout_last(TimeoutUnit::Seconds)),
    container("client", -2, kClientSubcommands),
    container("cluster", -2, kClusterSubcommands),
    container("command", -1, kCommandSubcommands),
    container("config", -2, kConfigSubcommands),
    shared("copy", -3),
    shared("dbsize", 1),
    refused("debug", -2, kWhyDebug),
    shared("decr", 2),
    shared("decrby", 3),
    shared("del", -2),
    transaction("discard", 1, TransactionStep::Discard),
    shared("dump", 2),
    local("echo", 2, LocalCommand::Echo, kQueuedInMulti | kKeepsConnectionState),
    shared("eval", -3, kRunsScript),
    shared("eval_ro", -3, kRunsScript),
    shared("evalsha", -3, kRunsScript),
    shared("evalsha_ro", -3, kRunsScript),
    transaction("exec", 1, TransactionStep::Exec),
    shared("exists", -2),
    shared("expire", -3),
    shared("expireat", -3),
    shared("expiretime", 2),
    refused("failover", -1, kWhyRole),
    shared("fcall", -3, kRunsScript),
    shared("fcall_ro", -3, kRunsScript),
    shared("flushall", -1),
    shared("flushdb", -1),
    container("function", -2, kFunctionSubcommands),
    shared("geoadd", -5),
    shared("geodist", -4),
    shared("geohash", -2),
    shared("geopos", -2),
    shared("georadius", -6),
    shared("georadius_ro", -6),
    shared("georadiusbymember", -5),
    shared("georadiusbymember_ro", -5),
    shared("geosearch", -7),
    shared("geosearchstore", -8),
    shared("get", 2),
    shared("getbit", 3),
    shared("getdel", 2),
    shared("getex", -2),
    shared("getrange", 4),
    shared("getset", 3),
    shared("hdel", -3),
    local("hello", -1, LocalCommand::Hello, kChangesPoolKey | kAllowedBeforeAuth),
    shared("hexists", 3),
    shared("hget", 3),
    shared("hgetall", 2),
    shared("hincrby", 4),
    shared("hincrbyfloat", 4),
    shared("hkeys", 2),
    shared("hlen", 2),
    shared("hmget", -3),
    shared("hmset", -4),
    refused("host:", -1, kWhyDropsConnection),
    shared("hrandfield", -2),
    shared("hscan", -3),
    shared("hset", -4),
    shared("hsetnx", 4),
    shared("hstrlen", 3),
    shared("hvals", 2),
    shared("incr", 2),
    shared("incrby", 3),
    shared("incrbyfloat", 3),
    shared("info", -1),
    shared("keys", 2),
    shared("lastsave", 1),
    container("latency", -2, kLatencySubcommands),
    shared("lcs", -3),
    shared("lindex", 3),
    shared("linsert", 5),
    shared("llen", 2),
    shared("lmove", 5),
    shared("lmpop", -4),
    shared("lolwut", -1),
    shared("lpop", -2),
    shared("lpos", -3),
    shared("lpush", -3),
    shared("lpushx", -3),
    shared("lrange", 4),
    shared("lrem", 4),
    shared("lset", 4),
    shared("ltrim", 4),
    container("memory", -2, kMemorySubcommands),
    shared("mget", -2),
    shared("migrate", -6),
    container("module", -2, kModuleSubcommands),
    pinned("monitor", 1, PinReason::Monitor),
    shared("move", 3),
    shared("mset", -3),
    shared("msetnx", -3),
    transaction("multi", 1, TransactionStep::Multi),
    container("object", -2, kObjectSubcommands),
    shared("persist", 2),
    shared("pexpire", -3),
    shared("pexpireat", -3),
    shared("pexpiretime", 2),
    shared("pfadd", -2),
    shared("pfcount", -2),
    shared("pfdebug", 3),
    shared("pfmerge", -2),
    shared("pfselftest", 1),
    shared("ping", -1),  // forwarded: the answer says whether the backend serves (docs/ARCHITECTURE.md)
    refused("post", -1, kWhyDropsConnection),
    shared("psetex", 4),
    pinned("psubscribe", -2, PinReason::Subscribe),
    refused("psync", -3, kWhyReplication),
    shared("pttl", 2),
    shared("publish", 3),
    container("pubsub", -2, kPubsubSubcommands),
    unsubscribe("punsubscribe", -1),
    local("quit", -1, LocalCommand::Quit, kAllowedBeforeAuth | kKeepsConnectionState | kRunsInMulti),
    shared("randomkey", 1),
    refused("readonly", 1, kWhyConnectionFlag),
    refused("readwrite", 1, kWhyConnectionFlag),
    shared("rename", 3),
    shared("renamenx", 3),
    refused("replconf", -1, kWhyReplication),
    refused("replicaof", 3, kWhyRole),
    local("reset", 1, LocalCommand::Reset, kChangesPoolKey | kAllowedBeforeAuth | kResetsConnection | kRunsInMulti),
    shared("restore", -4),
    refused("restore-asking", -4, kWhyCluster),
    shared("role", 1),
    shared("rpop", -2),
    shared("rpoplpush", 3),
    shared("rpush", -3),
    shared("rpushx", -3),
    shared("sadd", -3),
    shared("save", 1),
    shared("scan", -2),
    shared("scard", 2),
    container("script", -2, kScriptSubcommands),
    shared("sdiff", -2),
    shared("sdiffstore", -3),
    local("select", 2, LocalCommand::Select, kChangesPoolKey),
    shared("set", -3),
    shared("setbit", 4),
    shared("setex", 4),
    shared("setnx", 3),
    shared("setrange", 4),
    refused("shutdown", -1, kWhyShutdown, kNoMulti),
    shared("sinter", -2),
    shared("sintercard", -3),
    shared("sinterstore", -3),
    shared("sismember", 3),
    refused("slaveof", 3, kWhyRole),
    container("slowlog", -2, kSlowlogSubcommands),
    shared("smembers", 2),
    shared("smismember", -3),
    shared("smove", 4),
    shared("sort", -2),
    shared("sort_ro", -2),
    shared("spop", -2),
    shared("spublish", 3),
    shared("srandmember", -2),
    shared("srem", -3),
    shared("sscan", -3),
    pinned("ssubscribe", -2, PinReason::Subscribe),
    shared("strlen", 2),
    pinned("subscribe", -2, PinReason::Subscribe),
    shared("substr", 4),
    shared("sunion", -2),
    shared("sunionstore", -3),
    unsubscribe("sunsubscribe", -1),
    shared("swapdb", 3),
    refused("sync", 1, kWhyReplication),
    shared("time", 1),
    shared("touch", -2),
    shared("ttl", 2),
    shared("type", 2),
    shared("unlink", -2),
    unsubscribe("unsubscribe", -1),
    transaction("unwatch", 1, TransactionStep::Unwatch),
    pinned("wait", 3, PinReason::Blocking, timeout_at(2, TimeoutUnit::Milliseconds)),
    pinned("waitaof", 4, PinReason::Blocking, timeout_at(3, TimeoutUnit::Milliseconds)),
    transaction("watch", -2, TransactionStep::Watch),
    shared("xack", -4),
    shared("xadd", -5),
    shared("xautoclaim", -6),
    shared("xclaim", -6),
    shared("xdel", -3),
    container("xgroup", -2, kXgroupSubcommands),
    container("xinfo", -2, kXinfoSubcommands),
    shared("xlen", 2),
    shared("xpending", -3),
    shared("xrange", -4),
    shared("xread", -4, kBlockOption),
    shared("xreadgroup", -7, kBlockOption),
    shared("xrevrange", -4),
    shared("xsetid", -3),
    shared("xtrim", -4),
    shared("zadd", -4),
    shared("zcard", 2),
    shared("zcount", 4),
    shared("zdiff", -3),
    shared("zdiffstore", -4),
    shared("zincrby", 4),
    shared("zinter", -3),
    shared("zintercard", -3),
    shared("zinterstore", -4),
    shared("zlexcount", 4),
    shared("zmpop", -4),
    shared("zmscore", -3),
    shared("zpopmax", -2),
    shared("zpopmin", -2),
    shared("zrandmember", -2),
    shared("zrange", -4),
    shared("zrangebylex", -4),
    shared("zrangebyscore", -4),
    shared("zrangestore", -5),
    shared("zrank", 3),
    shared("zrem", -3),
    shared("zremrangebylex", 4),
    shared("zremrangebyrank", 4),
    shared("zremrangebyscore", 4),
    shared("zrevrange", -4),
    shared("zrevrangebylex", -4),
    shared("zrevrangebyscore", -4),
    shared("zrevrank", 3),
    shared("zscan", -3),
    shared("zscore", 3),
    shared("zunion", -3),
    shared("zunionstore", -4),
};

constexpr std::string_view sub_name(const CommandInfo& info) {
  const std::size_t bar = info.name.find('|');
  return bar == std::string_view::npos ? info.name : info.name.substr(bar + 1);
}

constexpr bool sorted_by_name(std::span<const CommandInfo> table) {
  return std::is_sorted(table.begin(), table.end(),
                        [](const CommandInfo& a, const CommandInfo& b) { return sub_name(a) < sub_name(b); });
}

constexpr bool table_sorted() {
  if (!sorted_by_name(kCommands)) return false;
  for (const CommandInfo& info : kCommands) {
    if (!sorted_by_name(info.subcommands)) return false;
  }
  return true;
}
static_assert(table_sorted(), "command table rows must stay sorted by name");

/// Longest name we look up; anything longer is no Redis command ("count-failure-reports" is 21).
constexpr std::size_t kMaxNameLength = 32;

/// Lower-cases `name` into `buffer`; the view is empty when the name is empty or too long.
std::string_view lowered(std::string_view name, std::array<char, kMaxNameLength>& buffer) {
  if (name.size() > kMaxNameLength) return {};
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    buffer[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  }
  return {buffer.data(), name.size()};
}

const CommandInfo* find_in(std::span<const CommandInfo> table, std::string_view name) {
  std::array<char, kMaxNameLength> buffer{};
  const std::string_view key = lowered(name, buffer);
  if (key.empty()) return nullptr;
  const auto it = std::lower_bound(table.begin(), table.end(), key,
                                   [](const CommandInfo& info, std::string_view k) { return sub_name(info) < k; });
  if (it == table.end() || sub_name(*it) != key) return nullptr;
  return &*it;
}

/// Top-level command lookup by hash: routing runs for every request, and a binary search over
/// ~240 names costs ~9 string compares. Open addressing, FNV-1a over the lower-cased name; the table
/// is built once from kCommands at compile time.
constexpr std::size_t kHashSlots = 1024;  // > 4x the commands: probes stay short
static_assert(std::size(kCommands) * 4 <= kHashSlots);
constexpr std::uint16_t kEmptySlot = 0xffff;

constexpr std::uint32_t name_hash(std::string_view lowered_name) {
  std::uint32_t hash = 2166136261u;
  for (char c : lowered_name) {
    hash ^= static_cast<std::uint8_t>(c);
    hash *= 16777619u;
  }
  return hash;
}

constexpr std::array<std::uint16_t, kHashSlots> build_command_index() {
  std::array<std::uint16_t, kHashSlots> slots{};
  for (auto& slot : slots) slot = kEmptySlot;
  for (std::size_t i = 0; i < std::size(kCommands); ++i) {
    std::size_t at = name_hash(kCommands[i].name) & (kHashSlots - 1);
    while (slots[at] != kEmptySlot) at = (at + 1) & (kHashSlots - 1);
    slots[at] = static_cast<std::uint16_t>(i);
  }
  return slots;
}

constexpr std::array<std::uint16_t, kHashSlots> kCommandIndex = build_command_index();

const CommandInfo* find_top_level(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return nullptr;
  // Lower-cases and hashes in one pass (name_hash() over the lowered name); only the bytes
  // written are ever read, so the buffer needs no zeroing.
  std::array<char, kMaxNameLength> buffer;
  std::uint32_t hash = 2166136261u;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    buffer[i] = lower;
    hash ^= static_cast<std::uint8_t>(lower);
    hash *= 16777619u;
  }
  const std::string_view key(buffer.data(), name.size());
  for (std::size_t at = hash & (kHashSlots - 1);; at = (at + 1) & (kHashSlots - 1)) {
    const std::uint16_t index = kCommandIndex[at];
    if (index == kEmptySlot) return nullptr;
    const std::string_view candidate = kCommands[index].name;
    if (candidate.size() == key.size() && std::memcmp(candidate.data(), key.data(), key.size()) == 0) {
      return &kCommands[index];
    }
  }
}

bool is_xreadgroup(const Request& request) { return iequals(request.arg(0), "xreadgroup"); }

}  // namespace

std::string_view to_string(Disposition disposition) {
  switch (disposition) {
    case Disposition::Local: return "Local";
    case Disposition::Shared: return "Shared";
    case Disposition::Pinned: return "Pinned";
    case Disposition::Refused: return "Refused";
  }
  return "?";
}

std::string_view to_string(PinReason reason) {
  switch (reason) {
    case PinReason::None: return "None";
    case PinReason::Transaction: return "Transaction";
    case PinReason::Blocking: return "Blocking";
    case PinReason::Subscribe: return "Subscribe";
    case PinReason::Monitor: return "Monitor";
    case PinReason::Tracking: return "Tracking";
  }
  return "?";
}

bool CommandInfo::arity_accepts(std::size_t arg_count) const {
  if (arity >= 0) return arg_count == static_cast<std::size_t>(arity);
  return arg_count >= static_cast<std::size_t>(-arity);
}

const CommandInfo* find_command(std::string_view name) { return find_top_level(name); }

const CommandInfo* find_subcommand(const CommandInfo& container_info, std::string_view name) {
  return find_in(container_info.subcommands, name);
}

std::span<const CommandInfo> all_commands() { return kCommands; }

Route route(const Request& request) {
  Route result;
  if (request.empty()) return result;
  const CommandInfo* info = find_command(request.arg(0));
  if (info == nullptr) return result;
  if (info->is_container() && request.arg_count() >= 2) {
    if (const CommandInfo* sub = find_subcommand(*info, request.arg(1))) info = sub;
  }
  result.command = info;
  result.disposition = info->disposition;
  result.pin_reason = info->pin_reason;
  result.arity_ok = info->arity_accepts(request.arg_count());
  if (info->has(kBlockOption) && block_option_index(request)) {
    result.disposition = Disposition::Pinned;
    result.pin_reason = PinReason::Blocking;
  }
  return result;
}

bool keeps_connection_state(const Route& route_info) {
  switch (route_info.disposition) {
    case Disposition::Shared: return true;
    case Disposition::Pinned: return route_info.pin_reason == PinReason::Subscribe;
    case Disposition::Local: return route_info.has(kKeepsConnectionState);
    case Disposition::Refused: break;
  }
  return false;
}

// Mirrors xreadCommand's option loop: XREAD [COUNT n] [BLOCK ms] STREAMS ...; XREADGROUP adds
// GROUP g c and NOACK. A syntax error means the backend answers at once, so nothing blocks.
std::optional<std::size_t> block_option_index(const Request& request) {
  const bool group = is_xreadgroup(request);
  std::optional<std::size_t> block;
  const std::size_t argc = request.arg_count();
  for (std::size_t i = 1; i < argc; ++i) {
    const std::size_t more = argc - i - 1;
    const std::string_view arg = request.arg(i);
    if (iequals(arg, "BLOCK") && more > 0) {
      block = ++i;
    } else if (iequals(arg, "COUNT") && more > 0) {
      ++i;
    } else if (iequals(arg, "STREAMS") && more > 0) {
      return block;
    } else if (group && iequals(arg, "GROUP") && more >= 2) {
      i += 2;
    } else if (group && iequals(arg, "NOACK")) {
      continue;
    } else {
      return std::nullopt;
    }
  }
  return std::nullopt;  // no STREAMS: a syntax error
}

std::size_t redirect_index(const Request& request) {
  for (std::size_t i = 3; i < request.arg_count(); ++i) {
    const bool more = i + 1 < request.arg_count();
    if (iequals(request.arg(i), "redirect") && more) return i + 1;
    if (iequals(request.arg(i), "prefix") && more) ++i;
  }
  return 0;
}

std::optional<TimeoutArg> blocking_timeout(const Route& route_info, const Request& request) {
  const CommandInfo* info = route_info.command;
  if (info == nullptr || route_info.pin_reason != PinReason::Blocking) return std::nullopt;
  if (info->has(kBlockOption)) {
    const auto index = block_option_index(request);
    if (!index) return std::nullopt;
    return TimeoutArg{*index, TimeoutUnit::Milliseconds};
  }
  const TimeoutSpec spec = info->timeout;
  const auto argc = static_cast<std::int64_t>(request.arg_count());
  const std::int64_t index = spec.index > 0 ? spec.index : argc + spec.index;
  if (spec.index == 0 || index < 1 || index >= argc) return std::nullopt;
  return TimeoutArg{static_cast<std::size_t>(index), spec.unit};
}

std::optional<std::int64_t> parse_timeout_ms(std::string_view text, TimeoutUnit unit) {
  const char* first = text.data();
  const char* last = text.data() + text.size();
  if (unit == TimeoutUnit::Milliseconds) {
    std::int64_t ms = 0;
    const auto [ptr, ec] = std::from_chars(first, last, ms);
    if (ec != std::errc{} || ptr != last || ms < 0) return std::nullopt;
    return ms;
  }
  if (unit != TimeoutUnit::Seconds) return std::nullopt;
  double seconds = 0;
  const auto [ptr, ec] = std::from_chars(first, last, seconds);
  if (ec != std::errc{} || ptr != last || !std::isfinite(seconds) || seconds < 0) return std::nullopt;
  const double ms = std::ceil(seconds * 1000.0);
  if (ms > 9.2e18) return std::nullopt;
  return static_cast<std::int64_t>(ms);
}

void append_arity_error(std::string& out, const CommandInfo& command) {
  out += "-ERR wrong number of arguments for '";
  out += command.name;
  out += "' command\r\n";
}

void append_refusal_error(std::string& out, const CommandInfo& command) {
  append_refusal_error(out, command, command.refusal);
}

void append_refusal_error(std::string& out, const CommandInfo& command, std::string_view why) {
  out += "-ERR command '";
  for (char c : command.name) {
    out += c == '|' ? ' ' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  out += "' is not supported by corral (";
  out += why;
  out += ")\r\n";
}

}  // namespace corral::redis
