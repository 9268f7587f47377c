// One MySQL session's statements on backend connections: get a backend for the statement, relay its
// response to the client, learn from it, keep the lease while a pin is in force or give it back.
//
//   relay_statement(client packet, traits):
//     ready_backend()  (pinned lease, or an idle matching connection: no coroutine)
//       └─ else backend_for_statement()  (pool wait / open / convert, replayed variables, LAST_INSERT_ID)
//     ─► send_command_wire(client bytes) ─► relay_response():
//          runs of whole packets ─► client (writev from the backend's read buffer, no copy; OK packets
//          re-encoded without session state for clients without CLIENT_SESSION_TRACK; LOCAL INFILE)
//     ─► end_statement(): the context learns ─► pinned: the lease stays; else release_backend()
//
// Prepared statements (statements.h) use the same pieces for COM_STMT_*. State that lives on the lent
// connection and must end with it (cursors) is told through LeaseBoundState.
// Not thread-safe: one session.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "pool/mysql_pool.h"
#include "protocols/mysql/mysql.h"
#include "proxy/frontend.h"
#include "proxy/mysql/client_channel.h"
#include "proxy/mysql/context.h"
#include "runtime/task.h"

namespace corral::proxy {

/// Session state kept on the lent backend connection, which ends when the lease does.
class LeaseBoundState {
 public:
  /// The lease is about to end; its connection may still be touched. Returns true when state ended.
  virtual bool lease_ending() noexcept = 0;

 protected:
  ~LeaseBoundState() = default;
};

class MysqlExchange {
 public:
  /// How relaying a response ended.
  enum class RelayEnd {
    Complete,    // the whole response reached the client (or its write buffer)
    BackendLost, // the backend failed mid-response: an ERR went to the client, the lease is gone
    ClientGone,  // the client stopped reading or disconnected
  };

  /// Lifetime: every argument outlives the exchange; `cancel` fires when the worker stops.
  MysqlExchange(MysqlClientChannel& client, MysqlContext& context, pool::MysqlPools& pools,
                const ListenerEnv& env, rt::CancelSource* cancel, LeaseBoundState& lease_bound);
  MysqlExchange(const MysqlExchange&) = delete;
  MysqlExchange& operator=(const MysqlExchange&) = delete;
  ~MysqlExchange();

  MysqlClientChannel& client() noexcept { return client_; }
  MysqlContext& context() noexcept { return context_; }
  /// This worker's MySQL pools (and their prepared statement templates).
  pool::MysqlPools& pools() noexcept { return pools_; }
  /// Fires when the worker stops; every wait of the session uses it.
  rt::CancelSource* cancel() noexcept { return cancel_; }

  /// Relays a client command that has a response (COM_QUERY, COM_INIT_DB...) on a backend connection
  /// and ends the statement. Returns false when the session must close (the client is gone, or the
  /// backend failed while the session held state on it). Lifetime: `packet`, `traits` outlive the task.
  rt::Task<bool> relay_statement(const ClientPacket& packet, const mysql::StatementTraits& traits);

  /// Lets the next ready_backend() / backend_for_statement() take a healthy replica for a statement
  /// that only reads (`traits.read_only`, see choose_replica()), and keep a one-statement hold on a
  /// replica for it; end_routing() ends that once the statement has its connection.
  void route_read(const mysql::StatementTraits& traits);
  void end_routing() noexcept {
    target_ = nullptr;
    keep_replica_hold_ = false;
    causal_check_ = false;
  }
  /// The backend connection for the next command: the pinned one, or a lease from the context's pool
  /// on which the context's replayable variables have been applied (and LAST_INSERT_ID when
  /// `needs_last_insert_id`). Suspends while the pool opens, converts or waits (pool.queue_timeout).
  /// On failure an ERR (naming the backend, never its password) has been queued for the client with
  /// `reply_sequence` and nullptr is returned. Lifetime: valid until end_statement() or release_backend().
  /// With `wants_previous` (the statement reads ROW_COUNT(), FOUND_ROWS() or LAST_INSERT_ID()), the
  /// connection that ran the session's previous statement is taken again when it is still idle and
  /// nobody borrowed it since; then LAST_INSERT_ID is set only if that connection does not have it.
  rt::Task<pool::MysqlConnection*> backend_for_statement(std::uint8_t reply_sequence,
                                                         bool needs_last_insert_id = false,
                                                         bool wants_previous = false);
  /// backend_for_statement() when it has nothing to wait for, without a coroutine: the pinned
  /// connection, or an idle connection of the context's pool that matches the key and lacks nothing
  /// to replay. nullptr (and nothing queued) when backend_for_statement() has work to do.
  pool::MysqlConnection* ready_backend(bool needs_last_insert_id);
  /// Lets the client's statement about to be sent on `backend` run as long as mysql.statement_timeout
  /// allows (no bound by default, as on a direct connection) instead of pool.operation_timeout, which
  /// is meant for corral's own short statements. Lasts until the connection goes back to the pool.
  void apply_statement_timeout(pool::MysqlConnection& backend) const noexcept {
    backend.set_operation_timeout(env_.config->mysql.statement_timeout);
  }
  /// Relays the response to the command just sent on the backend connection: everything buffered is
  /// written with one client write, straight from the backend's read buffer (writev with what is
  /// queued before it, no copy); the client's socket applies backpressure. A LOCAL INFILE request is
  /// relayed when mysql.local_infile allows it (the client's file packets go to the backend unchanged).
  /// `file_requested`: the packet queued last (queue_relayed_packet()) was the backend's LOCAL INFILE
  /// request, so the client's file is relayed first.
  rt::Task<RelayEnd> relay_response(pool::MysqlConnection& backend, bool file_requested = false);
  /// Queues a response packet read from `backend` before relay_response() takes over (the first packet
  /// of an execute, which corral looks at before the client may see it): as relay_response() would,
  /// with the session-state block stripped for clients without CLIENT_SESSION_TRACK.
  void queue_relayed_packet(const pool::MysqlConnection& backend, const mysql::WirePacket& packet,
                            const mysql::ResponseEvent& event);
  /// Ends a statement whose response was relayed completely: the context learns from it, then the
  /// lease stays with the session while a pin is in force, else it goes back to the pool.
  void end_statement(pool::MysqlConnection& backend, const mysql::StatementTraits& traits);

  /// Gives the lease back (closing the connection unless `clean`) and ends what is bound to it.
  void release_backend(bool clean);
  /// Gives the lease back (clean) unless a pin is in force; for commands that end without a response
  /// to learn from (COM_STMT_CLOSE of a statement with an open cursor).
  void release_if_unpinned();
  /// The backend thread id of the connection the session holds now (0: none), for KILLs of a thread
  /// id from the process list (MysqlClientTable::add()). Written on the session's loop only.
  const std::atomic<std::uint32_t>* serving_thread() const noexcept { return &serving_thread_; }
  /// The backend connection the session holds between statements (a pin is in force), or nullptr.
  pool::MysqlConnection* held_backend() noexcept { return lease_ ? lease_.get() : nullptr; }
  /// True when the connection that ran the previous statement can be taken again now (nobody
  /// borrowed it since): a statement about the previous one is then best answered there.
  bool previous_reclaimable() { return !lease_ && previous_pool().reclaimable(previous_); }
  /// The session was reset (COM_RESET_CONNECTION, COM_CHANGE_USER): what its previous connection
  /// holds (ROW_COUNT(), LAST_INSERT_ID()) no longer belongs to it.
  void forget_previous() noexcept {
    previous_ = {};
    insert_id_here_ = false;
  }
  /// The held connection no longer matches its pool (COM_SET_OPTION changed the key): it is closed
  /// instead of pooled when the lease ends.
  void retire_held_backend() noexcept;
  /// A backend round trip of corral's own failed (the connection closed itself): the client gets the
  /// connection's error with `reply_sequence` and the lease ends. Returns after_backend_lost().
  bool fail_backend(pool::MysqlConnection& backend, std::uint8_t reply_sequence);
  /// After the backend failed mid-command: the client got an ERR. Returns false when the session must
  /// close because it held state that is now gone (a transaction, user variables...), so the client
  /// cannot go on as if it were still there.
  bool after_backend_lost();

 private:
  pool::MysqlPool& context_pool();
  /// At a statement that holds no backend connection: when a reload named another backend for the
  /// listener (ListenerEnv::mysql_target), the session's statements go there from now on; after a
  /// login (COM_CHANGE_USER), whose key names the session's own listener's backend, that one again.
  void follow_backend();
  /// The primary, address and replicas the session's statements use (see follow_backend()).
  void use_backend(const config::Listener* listener, const rt::SocketAddress* address,
                   pool::MysqlReplicaSet* replicas);
  /// The context's key on replica `i` of the listener (replicas_).
  pool::MysqlPool& replica_pool(std::size_t i);
  bool is_replica(const pool::MysqlPool& pool) const noexcept;
  /// Where the statement being relayed goes when no connection is held: a healthy replica's pool for
  /// a read-only statement outside a transaction and past the read-your-writes window, else nullptr
  /// (the primary).
  pool::MysqlPool* choose_replica(const mysql::StatementTraits& traits);
  pool::MysqlPool& statement_pool() { return target_ != nullptr ? *target_ : context_pool(); }
  /// True when `gtid` looks like the tracker's last_gtid (digits, '-' and ','), so it may go into SQL.
  static bool is_gtid_list(std::string_view gtid) noexcept;
  /// Causal reads: whether `replica` has applied the session's last GTID (MASTER_GTID_WAIT, no wait).
  rt::Task<bool> caught_up(pool::MysqlConnection& replica);
  /// The pool the previous statement's connection went back to (the primary's or a replica's).
  pool::MysqlPool& previous_pool();
  /// True when the held lease is only a one-statement hold that must not serve the next statement.
  bool hold_is_stale() const noexcept;
  /// A lease from `pool`: waits in its queue, opens or converts (see MysqlPool::Turn).
  rt::Task<pool::MysqlAcquired> acquire_from(pool::MysqlPool& pool);
  /// Makes `lease` the session's, noting whether its LAST_INSERT_ID is still the client's.
  void adopt(pool::MysqlLease lease);
  /// A replay failed (the connection closed itself): the client gets its error, the lease ends.
  pool::MysqlConnection* fail_replay(std::uint8_t reply_sequence);
  /// Sets what the context's variables (and LAST_INSERT_ID when `needs_last_insert_id`) need on a newly
  /// lent `backend`. An assignment the server refuses is logged and dropped from the context: the
  /// client's statement still runs. False only when the connection failed (it closed itself).
  rt::Task<bool> replay_session(pool::MysqlConnection& backend, bool needs_last_insert_id);
  /// Turns transaction-info tracking off on `backend` while its session's query cache is on, and back
  /// on when it is off (MysqlConnection::tracking_to_match_query_cache()). False only when the
  /// connection failed.
  rt::Task<bool> match_tracking_to_query_cache(pool::MysqlConnection& backend);
  rt::Task<bool> relay_local_infile(pool::MysqlConnection& backend);
  /// relay_response()'s end when the backend failed mid-response: the client gets its error as the
  /// next packet and the lease ends.
  RelayEnd lost_mid_response(pool::MysqlConnection& backend);
  /// True when `event` is an OK_Packet carrying a session-state block.
  static bool carries_session_state(const pool::MysqlConnection& backend, const mysql::ResponseEvent& event) noexcept;
  /// True when the backend's session-state blocks are not the client's as they are: a client without
  /// CLIENT_SESSION_TRACK reads an OK_Packet's info as string<EOF>, and one with it asked for the
  /// reports of its own trackers only (MysqlContext::trackers()).
  bool rewrites_session_state(const pool::MysqlConnection& backend) const noexcept {
    return (backend.capabilities() & mysql::CLIENT_SESSION_TRACK) != 0 &&
           ((context_.capabilities() & mysql::CLIENT_SESSION_TRACK) == 0 || context_.trackers().has_value());
  }
  /// Queues the OK_Packet whose bytes are `wire` for the client: `backend_ok` re-encoded with what
  /// the client gets of its session-state block, or `wire` itself when that is all of it.
  void queue_client_ok(const mysql::OK_Packet& backend_ok, std::string_view wire, std::uint8_t sequence_id);
  /// After a SET of the client's own session_track_* variables (`assigned`: mysql::SessionTracker
  /// bits): reads them on `backend` (which the SET pinned) into the context.
  rt::Task<void> learn_client_trackers(pool::MysqlConnection& backend, std::uint8_t assigned);
  void count_pins(MysqlPins started);
  /// A statement told the client `backend`'s thread id: a KILL of that id reaches this session
  /// (MysqlClientTable::publish_backend_thread()). It stays the client's across COM_RESET_CONNECTION
  /// and COM_CHANGE_USER, as a server thread's id does; a KILL is checked against the account then.
  void tell_thread(const pool::MysqlConnection& backend);

  MysqlClientChannel& client_;
  MysqlContext& context_;
  pool::MysqlPools& pools_;
  const ListenerEnv& env_;
  rt::CancelSource* cancel_;
  LeaseBoundState& lease_bound_;
  pool::MysqlLease lease_;           // held between statements only while pinned
  std::atomic<std::uint32_t> serving_thread_{0};  // lease_'s backend thread id: serving_thread()
  pool::MysqlPool* pool_ = nullptr;  // the context's pool, cached for key_version_
  std::uint64_t pool_key_version_ = ~0ull;
  std::uint64_t lease_key_version_ = 0;  // the context's key when the held lease was taken
  std::uint8_t last_relayed_sequence_ = 0;
  bool last_result_set_ = false;  // the last response ended with a result set (not an OK)
  bool discard_lease_ = false;    // the held connection no longer matches its pool (COM_SET_OPTION)
  pool::MysqlIdleTicket previous_;  // where the last lease went idle (reclaimed for ROW_COUNT() & co.)
  bool insert_id_here_ = false;     // the held / previous connection has the client's LAST_INSERT_ID()
  // The backend: the listener's as the session started, until follow_backend() moves it.
  const config::Listener* backend_listener_;
  const rt::SocketAddress* backend_address_;
  pool::MysqlReplicaSet* replicas_;
  // Replicas (replicas_; see choose_replica()).
  std::vector<pool::MysqlPool*> replica_pools_;  // the context's key per replica, made on first use
  std::uint64_t replica_key_version_ = ~0ull;    // the context's key replica_pools_ are for
  std::size_t next_replica_;                     // round robin start
  pool::MysqlPool* target_ = nullptr;            // the statement being relayed goes to this replica
  bool keep_replica_hold_ = false;               // ... and may use a one-statement hold on a replica
  bool causal_check_ = false;                    // ... once it applied the client's last GTID
  bool lease_on_replica_ = false;                // the held lease is a replica's
  bool wrote_ = false;                           // the client wrote at last_write_ (read-your-writes)
  rt::Clock::time_point last_write_{};
};

}  // namespace corral::proxy
