// Where a command's keys are: what a Redis Cluster client needs to route it by slot.
//
//   Route (command_table.h) ──key_spec(full name)──► KeySpec ──key_indices(request)──► argument indices
//
// The positions come from Redis's own command definitions: for most commands the (first key, last
// key, step) triple COMMAND reports (redis-server 7.0.15's output, which 7.2 keeps for every command
// listed here); for the "movable keys" commands from their key specs in Redis 7.2's
// src/commands/*.json (a numkeys argument, the STREAMS keyword, a STORE option).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "protocols/redis/command_table.h"
#include "protocols/redis/request.h"

namespace corral::redis {

/// How a command's keys are found among its arguments (index 0 is the command name).
enum class KeySearch : std::uint8_t {
  Range,         ///< first..last every step; last < 0 counts from the end (-1: the last argument)
  Numkeys,       ///< argument `numkeys` says how many keys follow from `first` (EVAL, ZUNION, LMPOP...)
  StoreNumkeys,  ///< a destination key at 1, then numkeys at 2 and the keys from 3 (ZUNIONSTORE...)
  Streams,       ///< the keys are the first half of what follows the STREAMS keyword (XREAD...)
  WithStore,     ///< a key at 1, plus the value of a STORE or STOREDIST option (SORT, GEORADIUS)
};

struct KeySpec {
  KeySearch search = KeySearch::Range;
  std::int8_t first = 1;    ///< Range: first key; Numkeys: first key
  std::int8_t last = 1;     ///< Range only
  std::int8_t step = 1;     ///< Range only
  std::int8_t numkeys = 0;  ///< Numkeys: index of the numkeys argument
};

/// One row of the key table.
struct KeyedCommand {
  std::string_view name;  ///< full name, lower case, as in the command table ("object|encoding")
  KeySpec spec;
};

/// Every command with keys, sorted by name (for tests).
std::span<const KeyedCommand> keyed_commands();

/// The key positions of a command by its full name ("get", "object|encoding"), or nullptr for a
/// command without keys (PING, INFO, CLUSTER..., SUBSCRIBE: channels are no keys).
const KeySpec* key_spec(std::string_view full_name);

/// The key positions of `route`'s command (nullptr for an unknown or keyless command).
inline const KeySpec* key_spec(const Route& route) {
  return route.command != nullptr ? key_spec(route.command->name) : nullptr;
}

/// Appends the argument indices of `request`'s keys to `out` (cleared first), in argument order.
/// A request too short for its spec, or with a numkeys that is not a count its arguments hold,
/// yields no keys: such a request is wrong anyway and any node answers it with Redis's own error.
void key_indices(const KeySpec& spec, const Request& request, std::vector<std::size_t>& out);

/// How a cluster client runs a multi-key command whose keys are in different slots: one request per
/// slot, and the replies merged. Only commands that are not atomic across their keys may be split
/// (MSETNX, RENAME, SUNIONSTORE... may not: they get CROSSSLOT, as from Redis Cluster).
enum class KeySplit : std::uint8_t {
  None,   ///< not splittable: keys in several slots are a CROSSSLOT error
  Array,  ///< MGET: one array, the values in the request's key order
  Sum,    ///< DEL, UNLINK, EXISTS, TOUCH: the sum of the integer replies
  AllOk,  ///< MSET: +OK when every part said +OK (the first other reply otherwise)
};

/// How a cluster client runs a command without keys.
enum class KeylessRoute : std::uint8_t {
  AnyMaster,  ///< one master answers for the cluster (INFO, TIME, EVAL with no keys, PUBLISH...)
  Pong,       ///< PING: answered by the proxy itself
  Sum,        ///< DBSIZE: summed over every master
  Concat,     ///< KEYS: every master's array, concatenated
  AllOk,      ///< FLUSHDB, FLUSHALL, SCRIPT FLUSH, FUNCTION FLUSH/DELETE: +OK when every master said it
  Same,       ///< SCRIPT LOAD, FUNCTION LOAD: run on every master (EVALSHA/FCALL may go to any); its reply
  Refused,    ///< SCAN, RANDOMKEY: no meaning over several masters (refusal_of_keyless() says why)
};

KeySplit key_split(std::string_view full_name);
KeylessRoute keyless_route(std::string_view full_name);
/// Why a KeylessRoute::Refused command is refused with a cluster (or sharded) backend.
std::string_view keyless_refusal(std::string_view full_name);

}  // namespace corral::redis
