#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocols/redis/request.h"

namespace corral::redis {

/// How the proxy handles a command (ARCHITECTURE.md, "The Redis path", step 2).
enum class Disposition : std::uint8_t {
  Local,    ///< answered from the client's connection context
  Shared,   ///< forwarded on a shared, pipelined backend connection (also every unknown command)
  Pinned,   ///< forwarded on a backend connection reserved for this client (see PinReason)
  Refused,  ///< answered with append_refusal_error(): it cannot be made safe behind a proxy
};

/// Why a command needs a backend connection of its own.
enum class PinReason : std::uint8_t {
  None,
  Transaction,  ///< MULTI/EXEC/DISCARD/WATCH/UNWATCH: server-side state on the connection
  Blocking,     ///< blocks the connection until data or timeout
  Subscribe,    ///< the connection switches to pub/sub mode
  Monitor,      ///< the connection becomes a stream of every command the server runs
  Tracking,     ///< client-side caching: invalidations follow the connection
};

/// Which of corral's local handlers answers a Local command (proxy/redis/local_commands.h).
enum class LocalCommand : std::uint8_t {
  None,  ///< not a Local command
  Auth,
  Hello,
  Select,
  ClientId,
  ClientGetname,
  ClientSetname,
  ClientSetinfo,
  ClientInfo,
  ClientReply,
  ClientNoEvict,
  ClientList,     ///< needs every worker's clients: the session answers it (proxy/redis/client_table.h)
  ClientKill,     ///< likewise
  ClientUnblock,  ///< likewise; the unblocking itself is sent to the backend
  AclWhoami,
  Echo,
  Quit,
  Reset,
};

/// What a transaction command does to the connection's MULTI / WATCH state.
enum class TransactionStep : std::uint8_t {
  None,     ///< not a transaction command
  Multi,    ///< starts queueing
  Exec,     ///< runs the queue; ends MULTI and WATCH
  Discard,  ///< drops the queue; ends MULTI and WATCH
  Watch,    ///< watches keys (outside MULTI; inside, the server refuses it)
  Unwatch,  ///< forgets watched keys (outside MULTI; inside, it is queued)
};

std::string_view to_string(Disposition disposition);
std::string_view to_string(PinReason reason);

/// What corral must know about a command beyond its disposition. Each flag is read by the proxy.
enum CommandFlag : std::uint16_t {
  kNone = 0,
  kBlockOption = 1 << 0,        ///< blocks only with a BLOCK option (XREAD, XREADGROUP)
  kChangesPoolKey = 1 << 1,     ///< may change user, db or RESP version: the pool key (AUTH HELLO SELECT RESET)
  kAllowedBeforeAuth = 1 << 2,  ///< runs before the client authenticated (AUTH HELLO QUIT RESET)
  kQueuedInMulti = 1 << 3,      ///< Local, but queued on the backend inside MULTI as redis-server does (ECHO)
  kKeepsConnectionState = 1 << 4,  ///< Local; relayed, it leaves the connection as its key says (ECHO QUIT)
  kUnsubscribe = 1 << 5,        ///< ends subscriptions; the confirmations' counts say how many are left
  kResetsConnection = 1 << 6,   ///< the server answers +RESET and clears the connection's state (RESET)
  kRunsInMulti = 1 << 7,        ///< Local, runs at once inside MULTI instead of being queued (QUIT RESET)
  kNamesClients = 1 << 8,       ///< Local, answered from corral's client table (CLIENT LIST KILL UNBLOCK)
  kRedirects = 1 << 9,          ///< may name a client to send invalidations to (CLIENT TRACKING ... REDIRECT)
  kAllowedWhileBusy = 1 << 10,  ///< redis-server runs it while a script runs (CMD_ALLOW_BUSY): SCRIPT KILL...
  kRunsScript = 1 << 11,        ///< runs a Lua script or function, which may run until SCRIPT/FUNCTION KILL
  kPausesServer = 1 << 12,      ///< pauses the server for its first argument's milliseconds (CLIENT PAUSE)
  kUnpausesServer = 1 << 13,    ///< ends a pause (CLIENT UNPAUSE)
  kNoMulti = 1 << 14,           ///< Refused; inside MULTI redis-server rejects it first (CMD_NO_MULTI: SHUTDOWN)
  kReportsRedirect = 1 << 15,   ///< the reply names the REDIRECT target's connection (CLIENT GETREDIR TRACKINGINFO)
};

/// Unit of a blocking command's timeout argument.
enum class TimeoutUnit : std::uint8_t { None, Seconds, Milliseconds };

/// Where a blocking command carries its timeout.
struct TimeoutSpec {
  std::int8_t index = 0;  ///< > 0: argument index; < 0: from the end (-1 = last); 0: none
  TimeoutUnit unit = TimeoutUnit::None;
};

/// One entry of the command table, sourced from Redis 7.2's command definitions.
struct CommandInfo {
  std::string_view name;  ///< Redis full name, lower case: "get", "client|kill"
  std::int16_t arity;     ///< Redis arity: > 0 exact argument count, < 0 minimum (name included)
  std::uint16_t flags;    ///< CommandFlag bits
  Disposition disposition;
  PinReason pin_reason;
  LocalCommand local;            ///< Local commands only
  TransactionStep transaction;   ///< PinReason::Transaction commands only
  TimeoutSpec timeout;           ///< blocking commands only
  std::string_view refusal;      ///< why, for Refused
  std::span<const CommandInfo> subcommands;  ///< non-empty for containers (CLIENT, CONFIG, ...)

  bool has(CommandFlag flag) const { return (flags & flag) != 0; }
  bool is_container() const { return !subcommands.empty(); }
  /// True when `arg_count` arguments (command name included) satisfy the arity.
  bool arity_accepts(std::size_t arg_count) const;
};

/// Looks a top-level command up by name, ignoring ASCII case, without allocating.
/// Returns nullptr for a command Redis 7.2 does not define (e.g. a module's).
const CommandInfo* find_command(std::string_view name);

/// Looks a subcommand of a container ("kill" in CLIENT KILL) up, ignoring case; nullptr if none.
const CommandInfo* find_subcommand(const CommandInfo& container, std::string_view name);

/// All top-level commands, sorted by name (for tests and COMMAND-like listings).
std::span<const CommandInfo> all_commands();

/// The table's answer for one request.
struct Route {
  const CommandInfo* command = nullptr;  ///< subcommand entry when there is one; nullptr if unknown
  Disposition disposition = Disposition::Shared;
  PinReason pin_reason = PinReason::None;

  /// True when the argument count satisfies the command's arity (unknown commands: always).
  /// When false, answer append_arity_error() locally, as redis-server would.
  bool arity_ok = true;

  /// The command's flag; false for an unknown command.
  bool has(CommandFlag flag) const { return command != nullptr && command->has(flag); }
  LocalCommand local() const { return command != nullptr ? command->local : LocalCommand::None; }
  TransactionStep transaction() const { return command != nullptr ? command->transaction : TransactionStep::None; }
};

/// Decides how to handle `request`: resolves the subcommand of a container (an unknown subcommand
/// falls back to the container's entry, so the backend answers "unknown subcommand"), and pins
/// XREAD/XREADGROUP only when they carry a BLOCK option. Unknown commands are Shared.
/// Does not allocate. `request` must not be empty().
Route route(const Request& request);

/// For XREAD/XREADGROUP: the index of the BLOCK option's value, parsed the way redis-server's
/// xreadCommand walks its options (stopping at STREAMS); nullopt when there is no BLOCK.
std::optional<std::size_t> block_option_index(const Request& request);

/// True when relaying the command leaves a connection's state as its pool key describes: data
/// commands, (un)subscribing, and the Local commands flagged kKeepsConnectionState. Anything else
/// (SELECT, CLIENT TRACKING, MULTI...) may leave state that only closing the connection removes.
bool keeps_connection_state(const Route& route);

/// For CLIENT TRACKING: the index of the client id after its REDIRECT option, walking the options
/// as redis-server's clientCommand does (PREFIX takes a value that may itself read "REDIRECT");
/// 0 when there is none.
std::size_t redirect_index(const Request& request);

/// Where a blocking request carries its timeout, and in which unit.
struct TimeoutArg {
  std::size_t index;
  TimeoutUnit unit;
};

/// The timeout argument of a blocking request (BLPOP ... timeout, BLMPOP timeout ...,
/// XREAD BLOCK ms, WAIT n ms); nullopt for a non-blocking request or a malformed one (too few
/// arguments: the backend reports the error).
std::optional<TimeoutArg> blocking_timeout(const Route& route, const Request& request);

/// Parses a timeout argument into milliseconds: seconds may be fractional ("0.5"), milliseconds
/// are integers; 0 means "block forever". nullopt when negative or unparsable (the backend
/// will reply with its own error, so the proxy should then apply no deadline of its own).
std::optional<std::int64_t> parse_timeout_ms(std::string_view text, TimeoutUnit unit);

/// Appends "-ERR wrong number of arguments for '<full name>' command\r\n", byte for byte what
/// redis-server sends (full name: "get", "client|kill").
void append_arity_error(std::string& out, const CommandInfo& command);

/// Appends "-ERR command 'CLIENT KILL' is not supported by corral (<reason>)\r\n".
void append_refusal_error(std::string& out, const CommandInfo& command);
/// The same with another reason than the command's own (a command refused only in some state).
void append_refusal_error(std::string& out, const CommandInfo& command, std::string_view why);

}  // namespace corral::redis
