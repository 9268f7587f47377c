// Every Redis client of the process, for the commands that name other connections: CLIENT LIST,
// CLIENT KILL, CLIENT UNBLOCK and CLIENT TRACKING ... REDIRECT speak of corral's clients and the ids
// corral gave them (CLIENT ID), not of corral's backend connections.
//
//   session (its loop) ──add()/remove()──► its worker's slot (touched on that loop only)
//   CLIENT LIST on loop A ──visit_all()──post──► each worker loop: visitor over its clients
//                                        ◄─post─ result back to loop A ──► reply
//
// Shared-nothing like the rest: no locks, no object touched from another loop; work is handed to
// the owning loop with EventLoop::post() and the answer comes back the same way.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "config/config.h"
#include "protocols/redis/request.h"
#include "proxy/redis/context.h"
#include "runtime/event_loop.h"
#include "runtime/task.h"

namespace corral::proxy {

/// What the table may do with one session, always on the session's own loop.
class RedisClientEntry {
 public:
  virtual const RedisContext& context() const = 0;
  /// The listener the client came through: clients of one listener share one backend server.
  virtual const config::Listener& listener() const = 0;
  /// Closes the client (CLIENT KILL): its session ends soon after.
  virtual void kill() = 0;
  /// The server's id of the backend connection the client is blocked on (BLPOP...), or nullopt.
  virtual std::optional<int64_t> blocked_on() const = 0;
  /// The server's id of the dedicated connection that receives the client's pushes (subscribed,
  /// tracking), or nullopt. The connection is kept for the client (closed, never reused, when the
  /// client leaves it) so that a redirect to it can never reach another client.
  virtual std::optional<int64_t> keep_push_connection() = 0;

 protected:
  ~RedisClientEntry() = default;
};

/// The clients of one worker, in id order.
using RedisClientMap = std::map<uint64_t, RedisClientEntry*>;

/// What a visitor found on one worker.
struct ClientVisit {
  std::vector<std::pair<uint64_t, std::string>> lines;  // CLIENT LIST: client id, its line
  int64_t count = 0;                    // clients found (and killed, for CLIENT KILL)
  bool asker_found = false;             // the asking client is among them
  std::optional<int64_t> backend_id;    // the backend connection a client is blocked on / gets pushes on
};

/// Runs on each worker's loop over its clients; called on several threads at once, so it may only
/// read what it captured (by value).
using ClientVisitor = std::function<ClientVisit(const RedisClientMap& clients)>;

/// Process-wide; lives in SharedState. Thread-safety: add_worker() before the workers run; add() and
/// remove() on the adding loop; visit_all() from any worker loop.
class RedisClientTable {
 public:
  /// Start-up only: one slot per worker loop.
  void add_worker(rt::EventLoop& loop);
  /// On `loop`'s thread. Lifetime: `entry` stays registered until remove().
  void add(rt::EventLoop& loop, uint64_t id, RedisClientEntry& entry);
  void remove(rt::EventLoop& loop, uint64_t id);

  /// Runs `visitor` on every worker's loop and returns the results, one per worker. Suspends until
  /// every worker answered; nullopt after `deadline` or when `cancel` fired (a late answer is dropped).
  rt::Task<std::optional<std::vector<ClientVisit>>> visit_all(ClientVisitor visitor, rt::Deadline deadline,
                                                              rt::CancelSource* cancel);

 private:
  struct Worker {
    rt::EventLoop* loop;
    RedisClientMap clients;  // touched on `loop` only
  };
  Worker& of(rt::EventLoop& loop);

  std::vector<std::unique_ptr<Worker>> workers_;  // fixed after start-up
};

// ---------------------------------------------------------------------------------------------
// I/O-free pieces: the filters of CLIENT LIST / CLIENT KILL and the line that describes a client.

/// redis-server's client types, as CLIENT LIST TYPE / CLIENT KILL TYPE name them.
enum class ClientType { Normal, Pubsub, Replica, Master };

/// Which clients CLIENT LIST or CLIENT KILL means (redis-server 7.0 networking.c's options).
struct ClientFilter {
  std::vector<uint64_t> ids;        // LIST ID ... (in the order given) / KILL ID
  std::optional<ClientType> type;
  std::string addr;                 // "" = any
  std::string laddr;
  std::optional<std::string> user;
  bool skip_me = false;             // KILL: not the client that asks
  bool old_style = false;           // KILL <addr>: "+OK" / "No such client" instead of a count
};

/// Parses CLIENT LIST's options; the error line ("-ERR ...\r\n") when they are bad.
std::variant<ClientFilter, std::string> parse_client_list(const redis::Request& request);
/// Parses CLIENT KILL's options; the error line when they are bad.
std::variant<ClientFilter, std::string> parse_client_kill(const redis::Request& request);

/// True when the client `context` (of type `type`) is one `filter` means; `asker` is the id of the
/// client that asks.
bool client_matches(const ClientFilter& filter, const RedisContext& context, ClientType type, uint64_t asker);

/// The REDIRECT target's backend connection id and the corral client id it stands for.
struct RedirectIds {
  int64_t backend_id = 0;
  uint64_t client_id = 0;
};

/// `reply` of CLIENT GETREDIR (an integer) or CLIENT TRACKINGINFO (RESP2 array or RESP3 map) with
/// `ids.backend_id` as the redirect replaced by `ids.client_id`; any other reply unchanged.
std::string replace_redirect_id(std::string reply, const RedirectIds& ids);

/// The client's CLIENT LIST / CLIENT INFO line (with its "\n"), fields in redis-server 7.2's order.
/// `qbuf`: bytes of the request being handled (the asker's own CLIENT LIST), else 0.
std::string client_line(const RedisContext& context, std::chrono::steady_clock::time_point now, std::size_t qbuf);

}  // namespace corral::proxy
