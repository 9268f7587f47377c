// The MULTI / WATCH state of one Redis client, which lives on its pinned backend connection.
//
//   WATCH ──► watching ──MULTI──► in MULTI ──EXEC/DISCARD──► none (connection goes back)
//   MULTI ──► in MULTI ──a command corral rejects itself──► failed ──EXEC──► EXECABORT (connection closed)
//   UNWATCH (outside MULTI) ──► none
//
// The session forwards the commands and drives this state with the steps the command table names;
// the state decides when the pinned connection's transaction state has ended. I/O-free.
#pragma once

#include "protocols/redis/command_table.h"

namespace corral::proxy {

/// Not thread-safe: one session.
class RedisTransaction {
 public:
  /// Between MULTI and EXEC/DISCARD: commands are queued on the pinned connection.
  bool in_multi() const noexcept { return in_multi_; }
  /// WATCH issued, not yet ended by EXEC/DISCARD/UNWATCH.
  bool watching() const noexcept { return watching_; }
  /// MULTI or WATCH holds state on the pinned connection: it must stay pinned.
  bool active() const noexcept { return in_multi_ || watching_; }

  /// A command with `step` was forwarded on the pinned connection (queued, if inside MULTI).
  void forwarded(redis::TransactionStep step) noexcept;

  /// corral answered a command with an error itself (arity, refusal, a local command inside MULTI).
  /// Inside MULTI redis-server would discard the transaction at EXEC; the backend never saw this
  /// command, so corral remembers to do the same.
  void rejected() noexcept {
    if (in_multi_) failed_ = true;
  }

  /// True when EXEC must be answered with EXECABORT by corral (see rejected()).
  bool exec_aborts(redis::TransactionStep step) const noexcept {
    return failed_ && step == redis::TransactionStep::Exec;
  }

  /// The pinned connection went away (released, closed, RESET): no state is left.
  void end() noexcept { *this = RedisTransaction{}; }

 private:
  bool in_multi_ = false;
  bool watching_ = false;
  bool failed_ = false;  // a command queued in MULTI was rejected by corral
};

}  // namespace corral::proxy
