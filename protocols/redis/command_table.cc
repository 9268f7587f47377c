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

constexpr CommandInfo shared(std::string_view name, int arity, unsigned flags) {
  return {name, static_cast<std::int16_t>(arity), static_cast<std::uint16_t>(flags), Disposition::Shared,
          PinReason::None, {}, {}, {}};
}

constexpr CommandInfo local(std::string_view name, int arity, unsigned flags) {
  return {name, static_cast<std::int16_t>(arity), static_cast<std::uint16_t>(flags), Disposition::Local,
          PinReason::None, {}, {}, {}};
}

constexpr CommandInfo pinned(std::string_view name, int arity, unsigned flags, PinReason reason,
                             TimeoutSpec timeout = {}) {
  return {name, static_cast<std::int16_t>(arity), static_cast<std::uint16_t>(flags), Disposition::Pinned,
          reason, timeout, {}, {}};
}

constexpr CommandInfo refused(std::string_view name, int arity, unsigned flags, std::string_view why) {
  return {name, static_cast<std::int16_t>(arity), static_cast<std::uint16_t>(flags), Disposition::Refused,
          PinReason::None, {}, why, {}};
}

/// A container command (CLIENT, CONFIG, ...): the entry itself is used when no subcommand is
/// given or the subcommand is unknown, and forwarding lets the backend word the error.
constexpr CommandInfo container(std::string_view name, int arity, std::span<const CommandInfo> subcommands) {
  return {name, static_cast<std::int16_t>(arity), kNone, Disposition::Shared, PinReason::None, {}, {}, subcommands};
}

constexpr TimeoutSpec timeout_last(TimeoutUnit unit) { return {-1, unit}; }
constexpr TimeoutSpec timeout_at(int index, TimeoutUnit unit) { return {static_cast<std::int8_t>(index), unit}; }

// ---------------------------------------------------------------------------------------------
// Why each Refused command cannot be made safe behind a proxy that shares backend connections.
// The text ends up in the client's error: "... is not supported by corral (<why>)".

// CLIENT KILL: by ID, ADDR, USER or SKIPME it can hit corral's own shared connections.
constexpr std::string_view kWhyKill = "it could close backend connections that other clients share";
// CLIENT PAUSE: every shared connection stalls; in-flight requests of all clients hit timeouts.
// (CLIENT UNPAUSE stays allowed: harmless, and it lets an operator undo a pause made elsewhere.)
constexpr std::string_view kWhyPause = "pausing the server stalls the connections every client shares";
// CLIENT REPLY OFF/SKIP: the backend stops answering, and replies are matched to clients by order.
constexpr std::string_view kWhyReply = "replies on a shared connection are matched to clients by order";
// CLIENT NO-EVICT/NO-TOUCH, READONLY, READWRITE: connection flags would leak to other clients.
constexpr std::string_view kWhyConnectionFlag = "it sets a flag on a backend connection that other clients share";
// CLIENT UNBLOCK: the ids a client sees through corral (CLIENT ID is answered locally) are not
// backend connection ids, so it would unblock the wrong connection.
constexpr std::string_view kWhyClientIds = "client ids seen through corral do not name backend connections";
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
// The table. Names, arities and flags come from Redis 7.0's COMMAND INFO plus the 7.2 additions
// (WAITAOF, CLIENT SETINFO, CLIENT NO-TOUCH, CLUSTER MYSHARDID). kWrite also marks commands Redis
// does not flag "write" but whose effects must not be repeated by a retry (EVAL, FCALL, PUBLISH,
// CONFIG SET, ...). Both levels are sorted by (sub)command name: lookups binary-search them.

constexpr CommandInfo kAclSubcommands[] = {
    shared("acl|cat", -2, kNone),
    shared("acl|deluser", -3, kWrite | kAdmin),
    shared("acl|dryrun", -4, kAdmin),
    shared("acl|genpass", -2, kNone),
    shared("acl|getuser", 3, kAdmin),
    shared("acl|help", 2, kNone),
    shared("acl|list", 2, kAdmin),
    shared("acl|load", 2, kWrite | kAdmin),
    shared("acl|log", -2, kAdmin),
    shared("acl|save", 2, kWrite | kAdmin),
    shared("acl|setuser", -3, kWrite | kAdmin),
    shared("acl|users", 2, kAdmin),
    shared("acl|whoami", 2, kNone),
};

constexpr CommandInfo kClientSubcommands[] = {
    pinned("client|caching", 3, kNone, PinReason::Tracking),
    local("client|getname", 2, kNone),
    pinned("client|getredir", 2, kNone, PinReason::Tracking),
    shared("client|help", 2, kNone),
    local("client|id", 2, kNone),
    local("client|info", 2, kNone),
    refused("client|kill", -3, kWrite | kAdmin, kWhyKill),
    shared("client|list", -2, kAdmin),
    refused("client|no-evict", 3, kAdmin, kWhyConnectionFlag),
    refused("client|no-touch", 3, kNone, kWhyConnectionFlag),
    refused("client|pause", -3, kWrite | kAdmin, kWhyPause),
    refused("client|reply", 3, kNone, kWhyReply),
    local("client|setinfo", 4, kNone),
    local("client|setname", 3, kNone),
    pinned("client|tracking", -3, kNone, PinReason::Tracking),
    shared("client|trackinginfo", 2, kNone),
    refused("client|unblock", -3, kWrite | kAdmin, kWhyClientIds),
    shared("client|unpause", 2, kWrite | kAdmin),
};

constexpr CommandInfo kClusterSubcommands[] = {
    refused("cluster|addslots", -3, kWrite | kAdmin, kWhyCluster),
    refused("cluster|addslotsrange", -4, kWrite | kAdmin, kWhyCluster),
    refused("cluster|bumpepoch", 2, kWrite | kAdmin, kWhyCluster),
    refused("cluster|count-failure-reports", 3, kAdmin, kWhyCluster),
    refused("cluster|countkeysinslot", 3, kNone, kWhyCluster),
    refused("cluster|delslots", -3, kWrite | kAdmin, kWhyCluster),
    refused("cluster|delslotsrange", -4, kWrite | kAdmin, kWhyCluster),
    refused("cluster|failover", -2, kWrite | kAdmin, kWhyCluster),
    refused("cluster|flushslots", 2, kWrite | kAdmin, kWhyCluster),
    refused("cluster|forget", 3, kWrite | kAdmin, kWhyCluster),
    refused("cluster|getkeysinslot", 4, kNone, kWhyCluster),
    refused("cluster|help", 2, kNone, kWhyCluster),
    refused("cluster|info", 2, kNone, kWhyCluster),
    refused("cluster|keyslot", 3, kNone, kWhyCluster),
    refused("cluster|links", 2, kNone, kWhyCluster),
    refused("cluster|meet", -4, kWrite | kAdmin, kWhyCluster),
    refused("cluster|myid", 2, kNone, kWhyCluster),
    refused("cluster|myshardid", 2, kNone, kWhyCluster),
    refused("cluster|nodes", 2, kNone, kWhyCluster),
    refused("cluster|replicas", 3, kAdmin, kWhyCluster),
    refused("cluster|replicate", 3, kWrite | kAdmin, kWhyCluster),
    refused("cluster|reset", -2, kWrite | kAdmin, kWhyCluster),
    refused("cluster|saveconfig", 2, kWrite | kAdmin, kWhyCluster),
    refused("cluster|set-config-epoch", 3, kWrite | kAdmin, kWhyCluster),
    refused("cluster|setslot", -4, kWrite | kAdmin, kWhyCluster),
    refused("cluster|shards", 2, kNone, kWhyCluster),
    refused("cluster|slaves", 3, kAdmin, kWhyCluster),
    refused("cluster|slots", 2, kNone, kWhyCluster),
};

constexpr CommandInfo kCommandSubcommands[] = {
    shared("command|count", 2, kNone),
    shared("command|docs", -2, kNone),
    shared("command|getkeys", -4, kNone),
    shared("command|getkeysandflags", -4, kNone),
    shared("command|help", 2, kNone),
    shared("command|info", -2, kNone),
    shared("command|list", -2, kNone),
};

constexpr CommandInfo kConfigSubcommands[] = {
    shared("config|get", -3, kAdmin),
    shared("config|help", 2, kNone),
    shared("config|resetstat", 2, kWrite | kAdmin),
    shared("config|rewrite", 2, kWrite | kAdmin),
    shared("config|set", -4, kWrite | kAdmin),
};

constexpr CommandInfo kFunctionSubcommands[] = {
    shared("function|delete", 3, kWrite),
    shared("function|dump", 2, kNone),
    shared("function|flush", -2, kWrite),
    shared("function|help", 2, kNone),
    shared("function|kill", 2, kWrite),
    shared("function|list", -2, kNone),
    shared("function|load", -3, kWrite),
    shared("function|restore", -3, kWrite),
    shared("function|stats", 2, kNone),
};

constexpr CommandInfo kLatencySubcommands[] = {
    shared("latency|doctor", 2, kAdmin),
    shared("latency|graph", 3, kAdmin),
    shared("latency|help", 2, kNone),
    shared("latency|histogram", -2, kAdmin),
    shared("latency|history", 3, kAdmin),
    shared("latency|latest", 2, kAdmin),
    shared("latency|reset", -2, kWrite | kAdmin),
};

constexpr CommandInfo kMemorySubcommands[] = {
    shared("memory|doctor", 2, kNone),
    shared("memory|help", 2, kNone),
    shared("memory|malloc-stats", 2, kNone),
    shared("memory|purge", 2, kWrite),
    shared("memory|stats", 2, kNone),
    shared("memory|usage", -3, kReadonly),
};

constexpr CommandInfo kModuleSubcommands[] = {
    shared("module|help", 2, kNone),
    shared("module|list", 2, kAdmin),
    shared("module|load", -3, kWrite | kAdmin),
    shared("module|loadex", -3, kWrite | kAdmin),
    shared("module|unload", 3, kWrite | kAdmin),
};

constexpr CommandInfo kObjectSubcommands[] = {
    shared("object|encoding", 3, kReadonly),
    shared("object|freq", 3, kReadonly),
    shared("object|help", 2, kNone),
    shared("object|idletime", 3, kReadonly),
    shared("object|refcount", 3, kReadonly),
};

constexpr CommandInfo kPubsubSubcommands[] = {
    shared("pubsub|channels", -2, kPubSub),
    shared("pubsub|help", 2, kNone),
    shared("pubsub|numpat", 2, kPubSub),
    shared("pubsub|numsub", -2, kPubSub),
    shared("pubsub|shardchannels", -2, kPubSub),
    shared("pubsub|shardnumsub", -2, kPubSub),
};

constexpr CommandInfo kScriptSubcommands[] = {
    refused("script|debug", 3, kNone, kWhyScriptDebug),
    shared("script|exists", -3, kNone),
    shared("script|flush", -2, kWrite),
    shared("script|help", 2, kNone),
    shared("script|kill", 2, kWrite),
    shared("script|load", 3, kWrite),
};

constexpr CommandInfo kSlowlogSubcommands[] = {
    shared("slowlog|get", -2, kAdmin),
    shared("slowlog|help", 2, kNone),
    shared("slowlog|len", 2, kAdmin),
    shared("slowlog|reset", 2, kWrite | kAdmin),
};

constexpr CommandInfo kXgroupSubcommands[] = {
    shared("xgroup|create", -5, kWrite),
    shared("xgroup|createconsumer", 5, kWrite),
    shared("xgroup|delconsumer", 5, kWrite),
    shared("xgroup|destroy", 4, kWrite),
    shared("xgroup|help", 2, kNone),
    shared("xgroup|setid", -5, kWrite),
};

constexpr CommandInfo kXinfoSubcommands[] = {
    shared("xinfo|consumers", 4, kReadonly),
    shared("xinfo|groups", 3, kReadonly),
    shared("xinfo|help", 2, kNone),
    shared("xinfo|stream", -3, kReadonly),
};

constexpr CommandInfo kCommands[] = {
    container("acl", -2, kAclSubcommands),
    shared("append", 3, kWrite),
    refused("asking", 1, kNone, kWhyAsking),
    local("auth", -2, kNone),
    shared("bgrewriteaof", 1, kWrite | kAdmin),
    shared("bgsave", -1, kWrite | kAdmin),
    shared("bitcount", -2, kReadonly),
    shared("bitfield", -2, kWrite),
    shared("bitfield_ro", -2, kReadonly),
    shared("bitop", -4, kWrite),
    shared("bitpos", -3, kReadonly),
    pinned("blmove", 6, kWrite | kBlocking, PinReason::Blocking, timeout_at(5, TimeoutUnit::Seconds)),
    pinned("blmpop", -5, kWrite | kBlocking, PinReason::Blocking, timeout_at(1, TimeoutUnit::Seconds)),
    pinned("blpop", -3, kWrite | kBlocking, PinReason::Blocking, timeout_last(TimeoutUnit::Seconds)),
    pinned("brpop", -3, kWrite | kBlocking, PinReason::Blocking, timeout_last(TimeoutUnit::Seconds)),
    pinned("brpoplpush", 4, kWrite | kBlocking, PinReason::Blocking, timeout_at(3, TimeoutUnit::Seconds)),
    pinned("bzmpop", -5, kWrite | kBlocking, PinReason::Blocking, timeout_at(1, TimeoutUnit::Seconds)),
    pinned("bzpopmax", -3, kWrite | kBlocking, PinReason::Blocking, timeout_last(TimeoutUnit::Seconds)),
    pinned("bzpopmin", -3, kWrite | kBlocking, PinReason::Blocking, timeout_last(TimeoutUnit::Seconds)),
    container("client", -2, kClientSubcommands),
    container("cluster", -2, kClusterSubcommands),
    container("command", -1, kCommandSubcommands),
    container("config", -2, kConfigSubcommands),
    shared("copy", -3, kWrite),
    shared("dbsize", 1, kReadonly),
    refused("debug", -2, kWrite | kAdmin, kWhyDebug),
    shared("decr", 2, kWrite),
    shared("decrby", 3, kWrite),
    shared("del", -2, kWrite),
    pinned("discard", 1, kNone, PinReason::Transaction),
    shared("dump", 2, kReadonly),
    local("echo", 2, kNone),
    shared("eval", -3, kWrite),
    shared("eval_ro", -3, kReadonly),
    shared("evalsha", -3, kWrite),
    shared("evalsha_ro", -3, kReadonly),
    pinned("exec", 1, kWrite, PinReason::Transaction),
    shared("exists", -2, kReadonly),
    shared("expire", -3, kWrite),
    shared("expireat", -3, kWrite),
    shared("expiretime", 2, kReadonly),
    refused("failover", -1, kWrite | kAdmin, kWhyRole),
    shared("fcall", -3, kWrite),
    shared("fcall_ro", -3, kReadonly),
    shared("flushall", -1, kWrite),
    shared("flushdb", -1, kWrite),
    container("function", -2, kFunctionSubcommands),
    shared("geoadd", -5, kWrite),
    shared("geodist", -4, kReadonly),
    shared("geohash", -2, kReadonly),
    shared("geopos", -2, kReadonly),
    shared("georadius", -6, kWrite),
    shared("georadius_ro", -6, kReadonly),
    shared("georadiusbymember", -5, kWrite),
    shared("georadiusbymember_ro", -5, kReadonly),
    shared("geosearch", -7, kReadonly),
    shared("geosearchstore", -8, kWrite),
    shared("get", 2, kReadonly),
    shared("getbit", 3, kReadonly),
    shared("getdel", 2, kWrite),
    shared("getex", -2, kWrite),
    shared("getrange", 4, kReadonly),
    shared("getset", 3, kWrite),
    shared("hdel", -3, kWrite),
    local("hello", -1, kNone),
    shared("hexists", 3, kReadonly),
    shared("hget", 3, kReadonly),
    shared("hgetall", 2, kReadonly),
    shared("hincrby", 4, kWrite),
    shared("hincrbyfloat", 4, kWrite),
    shared("hkeys", 2, kReadonly),
    shared("hlen", 2, kReadonly),
    shared("hmget", -3, kReadonly),
    shared("hmset", -4, kWrite),
    refused("host:", -1, kNone, kWhyDropsConnection),
    shared("hrandfield", -2, kReadonly),
    shared("hscan", -3, kReadonly),
    shared("hset", -4, kWrite),
    shared("hsetnx", 4, kWrite),
    shared("hstrlen", 3, kReadonly),
    shared("hvals", 2, kReadonly),
    shared("incr", 2, kWrite),
    shared("incrby", 3, kWrite),
    shared("incrbyfloat", 3, kWrite),
    shared("info", -1, kNone),
    shared("keys", 2, kReadonly),
    shared("lastsave", 1, kNone),
    container("latency", -2, kLatencySubcommands),
    shared("lcs", -3, kReadonly),
    shared("lindex", 3, kReadonly),
    shared("linsert", 5, kWrite),
    shared("llen", 2, kReadonly),
    shared("lmove", 5, kWrite),
    shared("lmpop", -4, kWrite),
    shared("lolwut", -1, kReadonly),
    shared("lpop", -2, kWrite),
    shared("lpos", -3, kReadonly),
    shared("lpush", -3, kWrite),
    shared("lpushx", -3, kWrite),
    shared("lrange", 4, kReadonly),
    shared("lrem", 4, kWrite),
    shared("lset", 4, kWrite),
    shared("ltrim", 4, kWrite),
    container("memory", -2, kMemorySubcommands),
    shared("mget", -2, kReadonly),
    shared("migrate", -6, kWrite),
    container("module", -2, kModuleSubcommands),
    pinned("monitor", 1, kAdmin, PinReason::Monitor),
    shared("move", 3, kWrite),
    shared("mset", -3, kWrite),
    shared("msetnx", -3, kWrite),
    pinned("multi", 1, kNone, PinReason::Transaction),
    container("object", -2, kObjectSubcommands),
    shared("persist", 2, kWrite),
    shared("pexpire", -3, kWrite),
    shared("pexpireat", -3, kWrite),
    shared("pexpiretime", 2, kReadonly),
    shared("pfadd", -2, kWrite),
    shared("pfcount", -2, kReadonly),
    shared("pfdebug", 3, kWrite | kAdmin),
    shared("pfmerge", -2, kWrite),
    shared("pfselftest", 1, kWrite | kAdmin),
    local("ping", -1, kNone),
    refused("post", -1, kNone, kWhyDropsConnection),
    shared("psetex", 4, kWrite),
    pinned("psubscribe", -2, kPubSub, PinReason::Subscribe),
    refused("psync", -3, kAdmin, kWhyReplication),
    shared("pttl", 2, kReadonly),
    shared("publish", 3, kWrite | kPubSub),
    container("pubsub", -2, kPubsubSubcommands),
    pinned("punsubscribe", -1, kPubSub, PinReason::Subscribe),
    local("quit", -1, kNone),
    shared("randomkey", 1, kReadonly),
    refused("readonly", 1, kNone, kWhyConnectionFlag),
    refused("readwrite", 1, kNone, kWhyConnectionFlag),
    shared("rename", 3, kWrite),
    shared("renamenx", 3, kWrite),
    refused("replconf", -1, kAdmin, kWhyReplication),
    refused("replicaof", 3, kWrite | kAdmin, kWhyRole),
    local("reset", 1, kNone),
    shared("restore", -4, kWrite),
    refused("restore-asking", -4, kWrite, kWhyCluster),
    shared("role", 1, kNone),
    shared("rpop", -2, kWrite),
    shared("rpoplpush", 3, kWrite),
    shared("rpush", -3, kWrite),
    shared("rpushx", -3, kWrite),
    shared("sadd", -3, kWrite),
    shared("save", 1, kWrite | kAdmin),
    shared("scan", -2, kReadonly),
    shared("scard", 2, kReadonly),
    container("script", -2, kScriptSubcommands),
    shared("sdiff", -2, kReadonly),
    shared("sdiffstore", -3, kWrite),
    local("select", 2, kNone),
    shared("set", -3, kWrite),
    shared("setbit", 4, kWrite),
    shared("setex", 4, kWrite),
    shared("setnx", 3, kWrite),
    shared("setrange", 4, kWrite),
    refused("shutdown", -1, kWrite | kAdmin, kWhyShutdown),
    shared("sinter", -2, kReadonly),
    shared("sintercard", -3, kReadonly),
    shared("sinterstore", -3, kWrite),
    shared("sismember", 3, kReadonly),
    refused("slaveof", 3, kWrite | kAdmin, kWhyRole),
    container("slowlog", -2, kSlowlogSubcommands),
    shared("smembers", 2, kReadonly),
    shared("smismember", -3, kReadonly),
    shared("smove", 4, kWrite),
    shared("sort", -2, kWrite),
    shared("sort_ro", -2, kReadonly),
    shared("spop", -2, kWrite),
    shared("spublish", 3, kWrite | kPubSub),
    shared("srandmember", -2, kReadonly),
    shared("srem", -3, kWrite),
    shared("sscan", -3, kReadonly),
    pinned("ssubscribe", -2, kPubSub, PinReason::Subscribe),
    shared("strlen", 2, kReadonly),
    pinned("subscribe", -2, kPubSub, PinReason::Subscribe),
    shared("substr", 4, kReadonly),
    shared("sunion", -2, kReadonly),
    shared("sunionstore", -3, kWrite),
    pinned("sunsubscribe", -1, kPubSub, PinReason::Subscribe),
    shared("swapdb", 3, kWrite),
    refused("sync", 1, kAdmin, kWhyReplication),
    shared("time", 1, kNone),
    shared("touch", -2, kReadonly),
    shared("ttl", 2, kReadonly),
    shared("type", 2, kReadonly),
    shared("unlink", -2, kWrite),
    pinned("unsubscribe", -1, kPubSub, PinReason::Subscribe),
    pinned("unwatch", 1, kNone, PinReason::Transaction),
    pinned("wait", 3, kBlocking, PinReason::Blocking, timeout_at(2, TimeoutUnit::Milliseconds)),
    pinned("waitaof", 4, kBlocking, PinReason::Blocking, timeout_at(3, TimeoutUnit::Milliseconds)),
    pinned("watch", -2, kNone, PinReason::Transaction),
    shared("xack", -4, kWrite),
    shared("xadd", -5, kWrite),
    shared("xautoclaim", -6, kWrite),
    shared("xclaim", -6, kWrite),
    shared("xdel", -3, kWrite),
    container("xgroup", -2, kXgroupSubcommands),
    container("xinfo", -2, kXinfoSubcommands),
    shared("xlen", 2, kReadonly),
    shared("xpending", -3, kReadonly),
    shared("xrange", -4, kReadonly),
    shared("xread", -4, kReadonly | kBlocking | kBlockOption),
    shared("xreadgroup", -7, kWrite | kBlocking | kBlockOption),
    shared("xrevrange", -4, kReadonly),
    shared("xsetid", -3, kWrite),
    shared("xtrim", -4, kWrite),
    shared("zadd", -4, kWrite),
    shared("zcard", 2, kReadonly),
    shared("zcount", 4, kReadonly),
    shared("zdiff", -3, kReadonly),
    shared("zdiffstore", -4, kWrite),
    shared("zincrby", 4, kWrite),
    shared("zinter", -3, kReadonly),
    shared("zintercard", -3, kReadonly),
    shared("zinterstore", -4, kWrite),
    shared("zlexcount", 4, kReadonly),
    shared("zmpop", -4, kWrite),
    shared("zmscore", -3, kReadonly),
    shared("zpopmax", -2, kWrite),
    shared("zpopmin", -2, kWrite),
    shared("zrandmember", -2, kReadonly),
    shared("zrange", -4, kReadonly),
    shared("zrangebylex", -4, kReadonly),
    shared("zrangebyscore", -4, kReadonly),
    shared("zrangestore", -5, kWrite),
    shared("zrank", 3, kReadonly),
    shared("zrem", -3, kWrite),
    shared("zremrangebylex", 4, kWrite),
    shared("zremrangebyrank", 4, kWrite),
    shared("zremrangebyscore", 4, kWrite),
    shared("zrevrange", -4, kReadonly),
    shared("zrevrangebylex", -4, kReadonly),
    shared("zrevrangebyscore", -4, kReadonly),
    shared("zrevrank", 3, kReadonly),
    shared("zscan", -3, kReadonly),
    shared("zscore", 3, kReadonly),
    shared("zunion", -3, kReadonly),
    shared("zunionstore", -4, kWrite),
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
  if ((info->flags & kBlockOption) != 0 && block_option_index(request)) {
    result.disposition = Disposition::Pinned;
    result.pin_reason = PinReason::Blocking;
  }
  return result;
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

std::optional<TimeoutArg> blocking_timeout(const Route& route_info, const Request& request) {
  const CommandInfo* info = route_info.command;
  if (info == nullptr || route_info.pin_reason != PinReason::Blocking) return std::nullopt;
  if ((info->flags & kBlockOption) != 0) {
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
  out += "-ERR command '";
  for (char c : command.name) {
    out += c == '|' ? ' ' : (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  out += "' is not supported by corral (";
  out += command.refusal;
  out += ")\r\n";
}

}  // namespace corral::redis
