// Every MySQL client session of the process by the connection id corral gave it in its greeting, so a
// KILL on any worker reaches the session it names on that session's own loop.
//
//   session (loop A): add(id, loop A, session, "") ─ login ─► set_backend_user() ... remove(id)
//   KILL id (loop B): kill(id, killer's backend user, scope) ─► lookup under the mutex
//                     [CONNECTION: shutdown(2) of the client's socket, under the mutex]
//                     ─► loop A.post(): lookup again ─► MysqlKillable::kill(scope) on loop A
//
// The mutex is taken at login, logout and KILL only, never per statement. A session is only ever
// touched on its own loop: the posted function finds it again there, where it cannot be destroyed
// while the function runs (sessions end on their own loop).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "protocols/mysql/statement_classifier.h"
#include "runtime/event_loop.h"

namespace corral::proxy {

/// What a KILL ends: the running statement, or the whole connection.
enum class MysqlKillScope : std::uint8_t { Query, Connection };

/// Why corral does not carry out `kill` (the message of its ERR 1235), or empty when it does: a KILL
/// [QUERY | CONNECTION] of a number (a corral connection id), of CONNECTION_ID(), or of an expression
/// the server evaluates to one. The same for a KILL sent as a query and one prepared with
/// COM_STMT_PREPARE.
std::string_view kill_refusal(const std::optional<mysql::KillStatement>& kill) noexcept;

/// A session that can be killed. kill() runs on the session's own loop.
class MysqlKillable {
 public:
  virtual void kill(MysqlKillScope scope) noexcept = 0;

 protected:
  ~MysqlKillable() = default;
};

/// Thread-safe (one mutex). Lifetime: outlives every worker (it lives in SharedState).
class MysqlClientTable {
 public:
  enum class KillOutcome : std::uint8_t {
    Posted,      // handed to the target's loop
    NoSuchId,    // no session has this id (ERR 1094)
    NotOwner,    // another backend account (ERR 1095)
    Self,        // the killer's own session: nothing posted (the KILL itself is what runs)
  };

  /// Registers a session; call on `loop`, which runs it. KILLs find it once it has a backend user.
  /// `socket_fd` is its client socket, open until after remove() (the session's stream closes it).
  /// `serving_thread` (written on the session's loop, read here under the table's mutex) is the backend
  /// thread id of the connection the session holds now, 0 when none: a KILL of a thread id read from
  /// the process list reaches the session whose statement runs there (mtr main.lock_multi).
  void add(std::uint32_t id, rt::EventLoop* loop, MysqlKillable* session, std::string backend_user, int socket_fd,
           const std::atomic<std::uint32_t>* serving_thread);
  /// After COM_CHANGE_USER.
  void set_backend_user(std::uint32_t id, std::string backend_user);
  /// Session `id` was told backend thread id `thread` (CONNECTION_ID()); 0: none any more. A KILL of
  /// `thread` then reaches that session as a KILL of `id` would, until another session is told the
  /// same thread id or this one another: the id names the client that last read it, never the thread,
  /// so such a KILL only ever stops that client's own statement, wherever it runs now.
  void publish_backend_thread(std::uint32_t id, std::uint32_t thread);
  /// The session ends (on its loop): no kill reaches it afterwards.
  void remove(std::uint32_t id);
  /// Hands a KILL of session `id` (a corral connection id, or a backend thread id a session was told)
  /// to its loop when `killer_backend_user` is the account it logs in to
  /// the backend with: the server lets an account kill its own threads only (corral cannot see a
  /// CONNECTION ADMIN privilege, so other accounts are refused). A KILL CONNECTION also shuts the
  /// client's socket down before it returns, as the server does before it answers the killer: the
  /// victim's next command finds the connection closed (a client library then reconnects) instead of
  /// being sent and lost.
  KillOutcome kill(std::uint32_t id, std::uint32_t killer, std::string_view killer_backend_user, MysqlKillScope scope);
  /// The sessions listed now (logging in or logged in).
  std::size_t size();

 private:
  struct Entry {
    rt::EventLoop* loop;
    MysqlKillable* session;
    std::string backend_user;
    int socket_fd;
    const std::atomic<std::uint32_t>* serving_thread;  // see add()
    std::uint32_t told_thread = 0;  // publish_backend_thread()
  };
  /// The session a KILL of `id` names (under mutex_): a corral id, else a published backend thread id,
  /// else the session holding the backend connection of that thread id now.
  std::unordered_map<std::uint32_t, Entry>::iterator find_target(std::uint32_t id);
  /// Drops the thread id `entry` (of session `id`) was told, if it still names that session.
  void unpublish(std::uint32_t id, Entry& entry);
  /// On the target's loop: the session if it is still there.
  MysqlKillable* find_here(std::uint32_t id);

  std::mutex mutex_;
  std::unordered_map<std::uint32_t, Entry> entries_;  // guarded by mutex_
  std::unordered_map<std::uint32_t, std::uint32_t> told_threads_;  // backend thread id -> session id; guarded by mutex_
};

}  // namespace corral::proxy
