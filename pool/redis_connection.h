// A backend Redis connection, shared (pipelined) or pinned to one session.
//
//   sessions ──submit(bytes, sink)──► out_ ──writer coroutine: one write for many requests──► redis-server
//   redis-server ──reader coroutine: ReplyScanner──► FIFO head sink.deliver(reply)
//
// Shared: requests of many sessions are appended to one buffer and written together; replies come back
// in FIFO order and go to the sink at the head of the FIFO. Pinned: one session owns the connection;
// replies that answer no request (RESP3 push, RESP2 subscribe messages, MONITOR lines) go to the owner.
// A connection that fails closes: every reply still expected gets an error, nothing is re-sent.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "pool/backend_metrics.h"
#include "pool/redis_key.h"
#include "pool/reply_sink.h"
#include "protocols/redis/reply_scanner.h"
#include "runtime/byte_buffer.h"
#include "runtime/notify.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::pool {

class RedisPool;

/// What the first connection to a backend learns about the server, for answers given locally.
struct RedisServerInfo {
  int databases = -1;      // CONFIG GET databases; -1 until known
  std::string version;     // from HELLO
  std::string mode;        // "standalone", "cluster", ...
  std::string role;        // "master", "replica"
};

/// Sees every reply of a relay-mode connection before its owner does (see set_relay_filter()).
class RelayFilter {
 public:
  /// False: the reply is corral's own (a sync marker the session sent) and does not reach the owner.
  virtual bool pass(const redis::Reply& reply) = 0;

 protected:
  ~RelayFilter() = default;
};

/// True for the error line a closed or unreachable backend connection gives its requests
/// ("-ERR corral: backend <host:port> ..."): the request may or may not have run, and the server
/// may be gone (a cluster node that failed, say).
inline bool is_backend_failure(std::string_view reply) { return reply.starts_with("-ERR corral: backend "); }

class RedisConnection {
 public:
  enum class State { Connecting, Ready, Closed };

  /// `select_db` false: the handshake leaves the connection in db 0 whatever the key's db: one for
  /// SCRIPT KILL & co., which redis-server answers while a script runs, when a SELECT would get
  /// BUSY. Such a connection never serves the key's other commands.
  explicit RedisConnection(RedisPool& pool, bool select_db = true) : pool_(pool), select_db_(select_db) {}
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;
  ~RedisConnection();

  State state() const noexcept { return state_; }
  /// False when the connection closed before its handshake completed (an open that failed).
  bool was_ready() const noexcept { return was_ready_; }
  /// The server answered the handshake (even with a refusal): it is up.
  bool server_answered() const noexcept { return server_answered_; }
  /// Closed by the pool (shutdown, idle, a waiter that gave up), not because the backend failed.
  bool closed_by_pool() const noexcept { return state_ == State::Closed && !failed_; }
  std::size_t in_flight() const noexcept { return fifo_.size(); }
  /// Why the connection closed (or failed to open): a RESP error line naming the backend.
  const std::string& close_reason() const noexcept { return close_reason_; }
  /// The server's own error line when it refused the handshake's HELLO (e.g. "-WRONGPASS ...\r\n"),
  /// else "". An AUTH checked on the backend answers the client with exactly this.
  const std::string& refusal() const noexcept { return refusal_; }
  /// The server's id of this connection (its CLIENT ID, from the handshake's HELLO); 0 before.
  int64_t server_id() const noexcept { return server_id_; }
  /// The open failed only because the server was busy running a script (BUSY to the handshake's
  /// SELECT): the server is up, so this is no reason to back off; close_reason() is its BUSY line.
  bool refused_busy() const noexcept { return refused_busy_; }
  /// False for a connection opened without its key's SELECT (see the constructor).
  bool in_key_db() const noexcept { return select_db_ || pool_key_db() == 0; }
  /// A script is in flight, or replies are outstanding and none has arrived for a while: the
  /// connection may wait behind a long command (a script, a client that does not read its big
  /// reply) and new requests should not queue behind it.
  bool stalled() const;

  /// Queues `request` (complete RESP wire bytes); its reply goes to `sink`, which the FIFO entry
  /// keeps alive until then. State must be Ready.
  /// `runs_script`: EVAL/FCALL & co. While such a request is the oldest in flight, the operation
  /// timeout does not apply: a script runs until it ends or SCRIPT/FUNCTION KILL (sent on another
  /// connection) ends it, and closing this connection would not stop it.
  void submit(std::string_view request, ReplySink& sink, bool runs_script = false);
  /// Pinned relay mode: queues `request` with no FIFO entry; whatever the server sends goes to the owner.
  void send_raw(std::string_view request);

  /// Pinned only: replies that answer no queued request (RESP3 push) go to `owner` (nullptr: none).
  /// While there is an owner the reader waits without the operation timeout (blocking commands,
  /// subscriptions): the session bounds the wait itself. Lifetime: not owned; unpinning clears it,
  /// and the session unpins before its sink goes.
  void set_owner(ReplySink* owner) noexcept;
  /// Pinned only: relay mode (subscribe, MONITOR, tracking): every reply goes to the owner, in order.
  void set_passthrough(bool on) noexcept { passthrough_ = on; }
  /// Relay mode only: `filter` sees each reply first (nullptr: none). Cleared by the pool on unpin.
  void set_relay_filter(RelayFilter* filter) noexcept { relay_filter_ = filter; }

  /// Closes the connection; expected replies get `reason` (a RESP error line).
  void close(std::string reason);

  /// Connects, runs the handshake and then the read loop until the connection closes.
  /// Lifetime: the pool owns the connection and removes it only after run() returned.
  rt::Task<void> run();

 private:
  /// After the key's user was refused SELECT db (NOPERM): RedisKey::select_first's identity
  /// SELECTs, then the user AUTHs again. False when any of it was refused.
  rt::Task<bool> select_as_another(const std::string& db);
  rt::Task<bool> handshake();
  rt::Task<void> write_loop();
  rt::Task<void> read_loop();
  bool dispatch_replies();
  /// Hands the settled bytes of an incomplete reply to the sink at the FIFO head (streaming).
  void stream_head_reply();
  /// Backpressure: waits until the FIFO head's client took some of its queued bytes, or gives up
  /// on it after a while (ReplySink::lift_window()).
  rt::Task<void> wait_for_slow_client();
  /// Closes the connection; the replies still expected get "-ERR corral: backend <key> <what>".
  void close_backend(std::string_view what);
  /// close_backend() for a failure of an established connection, counted as `kind` (a failed open is
  /// counted by the pool, once, as connect_failed).
  void fail(BackendError kind, std::string_view what);
  /// Observes the round trips of the requests answered since the last call (see batches_).
  void observe_answered();
  /// Scans the next reply out of in_ into `reply`; on bad bytes closes the connection (Error).
  redis::ScanStatus scan_reply(redis::Reply& reply);
  void deliver(const redis::Reply& reply);
  rt::Task<rt::Result<redis::Reply>> read_reply();  // handshake only
  /// Sets info.databases from the handshake's CONFIG GET databases reply.
  static void learn_databases(std::string_view reply, RedisServerInfo& info);
  rt::Clock::time_point loop_now() const;
  /// When the reader's next wait must end to check the operation and idle timeouts.
  rt::Deadline read_deadline() const;
  /// Which timeout has passed ("timed out", "connection idle"), or nullptr.
  const char* expired() const;
  /// The oldest request in flight runs a script (see submit()).
  bool script_at_head() const noexcept { return !scripts_.empty() && scripts_.front() == answered_; }
  /// A reply for the FIFO head arrived or the FIFO was failed: script bookkeeping follows.
  void answered_one() noexcept;
  int pool_key_db() const noexcept;

  RedisPool& pool_;
  State state_ = State::Connecting;
  bool was_ready_ = false;
  bool server_answered_ = false;  // see server_answered()
  bool failed_ = false;           // closed by close_backend(): the backend's doing
  bool run_finished_ = false;  // run() returned: the pool may delete the connection
  rt::TcpStream stream_;
  std::string out_;       // requests not yet handed to the writer
  std::string writing_;   // requests being written
  std::deque<ReplySinkRef> fifo_;  // one entry per request sent or queued, in order
  uint64_t submitted_ = 0;         // requests ever queued in fifo_
  uint64_t answered_ = 0;          // of them, answered (or failed)
  /// Backend latency: each write of the writer is a batch of the requests queued since the one before
  /// (sequence numbers below `end`); a reply's round trip runs from its batch's write to the read that
  /// completed it. Replies of one batch read together are observed as one (count, duration) pair.
  struct WriteBatch {
    rt::Clock::time_point written_at;
    uint64_t end;
  };
  std::deque<WriteBatch> batches_;
  uint64_t batched_ = 0;           // requests in batches so far (submitted_ when the writer last wrote)
  uint64_t observed_ = 0;          // answered requests whose latency was observed
  std::deque<uint64_t> scripts_;   // sequence numbers (submitted_ at the time) of scripts in flight
  bool head_streamed_ = false;     // part of the FIFO head's reply was delivered (stream_head_reply())
  ReplySink* owner_ = nullptr;     // not owned: see set_owner()
  bool passthrough_ = false;
  RelayFilter* relay_filter_ = nullptr;
  rt::ByteBuffer in_;
  redis::ReplyScanner scanner_;
  rt::Notify writer_wake_;
  rt::Notify writer_done_;
  bool writer_running_ = false;
  rt::CancelSource cancel_;
  rt::CancelSource* owned_wait_ = nullptr;  // the reader's wait without deadline while there is an owner
  rt::Clock::time_point last_progress_{};  // last reply bytes, or the idle-to-busy submit (timeouts)
  std::string close_reason_;
  std::string refusal_;   // the server's error reply to HELLO, see refusal()
  int64_t server_id_ = 0;  // see server_id()
  bool select_db_;        // the handshake selects the key's db (see the constructor)
  bool refused_busy_ = false;

  friend class RedisPool;
};

}  // namespace corral::pool
