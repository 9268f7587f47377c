// One MySQL client connection: corral as the server. A coroutine logs the client in, then reads one
// command at a time and answers it locally or relays it to a backend connection lent for it.
//
//   handshake(): HandshakeV10 ─► HandshakeResponse41 ◄─ ─► authenticate() (native / caching_sha2 fast
//                path / full path over RSA / auth switch) ─► [CONNECT_WITH_DB checked on the backend] ─► OK
//   run():       read_command() ─► dispatch()
//     COM_QUERY, COM_INIT_DB, COM_FIELD_LIST, COM_STATISTICS ─► relay_statement():
//         backend_for_statement() (pinned lease, or pool lease + replayed variables / LAST_INSERT_ID)
//         ─► send_command_wire ─► relay_response() (packets streamed, one client write per batch)
//         ─► end_statement(): learn from the response, keep the lease while pinned, else release it
//     COM_PING, COM_QUIT, COM_SET_OPTION, COM_RESET_CONNECTION, COM_CHANGE_USER ─► answered here
//     COM_STMT_* ─► MysqlStatements::handle()    (the one entry point of prepared statements)
//     anything else ─► ERR 1047
//
// The pieces a command handler needs are public: the context, a backend connection for the context,
// relaying a response, ending a statement, writing packets and errors to the client.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "pool/mysql_pool.h"
#include "protocols/mysql/mysql.h"
#include "proxy/mysql/context.h"
#include "proxy/mysql/statements.h"
#include "proxy/frontend.h"
#include "proxy/mysql/frontend.h"
#include "runtime/byte_buffer.h"
#include "runtime/notify.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::proxy {

/// One command packet from the client. Lifetime: views the session's read buffer (or scratch) and is
/// valid until the session reads more client input or the command is consumed.
struct ClientPacket {
  std::string_view payload;  // the logical packet's payload (reassembled when it spans wire packets)
  std::string_view wire;     // the wire packets as received (headers included): relayed unchanged
  std::uint8_t sequence_id = 0;  // of the last wire packet; a reply starts at sequence_id + 1
};

class MysqlSession {
 public:
  /// What the session does after a command.
  enum class Step { Next, Close };
  /// How relaying a response ended.
  enum class RelayEnd {
    Complete,    // the whole response reached the client (or its write buffer)
    BackendLost, // the backend failed mid-response: an ERR went to the client, the lease is gone
    ClientGone,  // the client stopped reading or disconnected
  };

  MysqlSession(rt::TcpStream client, MysqlFrontend& frontend);
  MysqlSession(const MysqlSession&) = delete;
  MysqlSession& operator=(const MysqlSession&) = delete;
  ~MysqlSession();

  /// Serves the client until it quits, fails, or the worker stops.
  rt::Task<void> run();

  // ---- the pieces command handlers are built from ------------------------------------------------

  MysqlContext& context() noexcept { return context_; }
  /// This worker's MySQL pools (and their prepared statement templates).
  pool::MysqlPools& pools() noexcept { return frontend_.pools(); }
  const ListenerEnv& env() const noexcept { return env_; }
  /// Fires when the worker stops; every wait of the session uses it.
  rt::CancelSource* cancel() noexcept { return &cancel_; }

  /// The backend connection for the next command: the pinned one, or a lease from the context's pool
  /// on which the context's replayable variables have been applied (and LAST_INSERT_ID when
  /// `needs_last_insert_id`). Suspends while the pool opens, converts or waits (pool.queue_timeout).
  /// On failure an ERR (naming the backend, never its password) has been queued for the
  /// client and nullptr is returned. Lifetime: valid until end_statement() or release_backend().
  rt::Task<pool::MysqlConnection*> backend_for_statement(bool needs_last_insert_id = false);
  /// backend_for_statement() when it has nothing to wait for, without a coroutine: the pinned
  /// connection, or an idle connection of the context's pool that matches the key and lacks nothing
  /// to replay. nullptr (and nothing queued) when backend_for_statement() has work to do.
  pool::MysqlConnection* ready_backend(bool needs_last_insert_id);
  /// Relays the response to the command just sent on the backend connection: everything buffered is
  /// written with one client write, straight from the backend's read buffer (writev with what is
  /// queued before it, no copy); the client's socket applies backpressure. A LOCAL INFILE request is relayed when
  /// mysql.local_infile allows it (the client's file packets go to the backend unchanged).
  rt::Task<RelayEnd> relay_response(pool::MysqlConnection& backend);
  /// Ends a statement whose response was relayed completely: the context learns from it, then the
  /// lease stays with the session while a pin is in force, else it goes back to the pool.
  void end_statement(pool::MysqlConnection& backend, const mysql::StatementTraits& traits);
  /// Lets the client's statement about to be sent on `backend` run as long as mysql.statement_timeout
  /// allows (no bound by default, as on a direct connection) instead of pool.operation_timeout, which
  /// is meant for corral's own short statements. Lasts until the connection goes back to the pool.
  void apply_statement_timeout(pool::MysqlConnection& backend) const noexcept {
    backend.set_operation_timeout(env_.config->mysql.statement_timeout);
  }
  /// Gives the lease back (closing the connection unless `clean`) and forgets the pins.
  void release_backend(bool clean);
  /// Gives the lease back (clean) unless a pin is in force; for commands that end without a response
  /// to learn from (COM_STMT_CLOSE of a statement with an open cursor).
  void release_if_unpinned();
  /// The backend connection the session holds between statements (a pin is in force), or nullptr.
  pool::MysqlConnection* held_backend() noexcept { return lease_ ? lease_.get() : nullptr; }
  /// Prepared statements: whether a cursor keeps the backend connection (pin reason `cursor`).
  void set_cursor_pin(bool open) noexcept { context_.set_cursor_open(open); }
  /// After the backend failed mid-command: the client got an ERR; the session is closed when it held
  /// state that is now gone (a transaction, user variables...), so the client cannot go on as if it
  /// were still there. Returns the step to take.
  Step after_backend_lost();

  /// Queues one packet for the client (written by flush()).
  void queue_packet(std::uint8_t sequence_id, std::string_view payload);
  /// Queues a response packet read from `backend` before relay_response() takes over (the first packet
  /// of an execute, which corral looks at before the client may see it): as relay_response() would,
  /// with the session-state block stripped for clients without CLIENT_SESSION_TRACK.
  void queue_relayed_packet(const pool::MysqlConnection& backend, const mysql::WirePacket& packet,
                            const mysql::ResponseEvent& event);
  /// Queues an ERR_Packet; `message` replaces the spec's default message when not empty.
  void queue_error(std::uint8_t sequence_id, const mysql::ErrorSpec& spec, std::string_view message = {});
  /// Queues an OK_Packet with the context's status flags.
  void queue_ok(std::uint8_t sequence_id, std::uint64_t affected_rows = 0, std::uint64_t last_insert_id = 0);
  /// Writes what is queued. Suspends while the client's socket is full (pool.operation_timeout without
  /// progress closes the client). False when the client is gone.
  rt::Task<bool> flush();
  /// flush() in two halves, so per-statement paths (relay_statement(), COM_STMT_EXECUTE) await the
  /// client's socket without one more coroutine frame: the write of what is queued (nothing to write
  /// completes at once), and its outcome (the queue is cleared; false when the client is gone).
  rt::WriteAwaitable write_queued();
  bool after_write_queued(const rt::Result<void>& written);

 private:
  struct AuthOutcome {
    bool ok = false;
    std::uint8_t next_sequence_id = 0;
  };

  rt::Task<bool> handshake();
  rt::Task<bool> learn_server();
  rt::Task<AuthOutcome> authenticate(const config::User* user, std::string_view user_name, std::string plugin,
                                     std::string token, std::uint8_t sequence_id);
  rt::Task<AuthOutcome> caching_sha2_auth(const config::User* user, std::string_view user_name,
                                          std::string_view token, std::uint8_t sequence_id);
  rt::Task<bool> check_schema(std::uint8_t sequence_id);
  /// Reads one whole client packet into `packet`. Idle waits use the worker's idle cancel (drain).
  rt::Task<bool> read_packet(ClientPacket& packet, rt::Deadline deadline, bool idle);
  void consume_packet() noexcept;
  rt::Task<void> discard_input();

  rt::Task<Step> dispatch(const ClientPacket& packet);
  rt::Task<Step> handle_query(const ClientPacket& packet);
  rt::Task<Step> relay_statement(const ClientPacket& packet, const mysql::StatementTraits& traits);
  rt::Task<Step> answer_locally(const mysql::StatementTraits& traits);
  rt::Task<Step> handle_set_option(const ClientPacket& packet);
  rt::Task<Step> handle_change_user(const ClientPacket& packet);
  rt::Task<Step> handle_reset_connection();
  rt::Task<bool> relay_local_infile(pool::MysqlConnection& backend);
  /// What is queued (out_, if any), then `wire`, as the buffers of one writev in `parts`.
  std::span<iovec> queued_then(std::string_view wire, iovec (&parts)[2]);
  /// Sends what is queued, then `wire`, as far as the client's socket takes them now; what it does
  /// not take is left queued in out_. False when the client is gone.
  bool send_or_queue(std::string_view wire);
  /// True when `event` is an OK_Packet carrying a session-state block (relay_response() strips it
  /// for clients without CLIENT_SESSION_TRACK).
  static bool needs_session_state_stripped(const pool::MysqlConnection& backend,
                                           const mysql::ResponseEvent& event) noexcept;
  /// Queues `backend_ok` without its session-state block, re-encoded for the client's capabilities.
  void queue_stripped_ok(const mysql::OK_Packet& backend_ok, std::uint8_t sequence_id);
  pool::MysqlPool& context_pool();
  void count_pins(MysqlPins started);
  std::string access_denied(std::string_view user_name, bool with_password) const;

  rt::TcpStream client_;
  const ListenerEnv& env_;
  MysqlFrontend& frontend_;
  rt::CancelSource cancel_;    // under the worker's stop
  MysqlContext context_;
  MysqlStatements statements_;  // COM_STMT_*: the client's prepared statements
  mysql::Limits limits_;       // client packets: mysql.max_packet_size
  rt::ByteBuffer in_;
  std::string scratch_;        // client packets that span wire packets
  std::string out_;            // packets queued for the client
  std::size_t pending_consume_ = 0;  // bytes of the packet being handled, consumed after it
  std::string scramble_;
  std::string peer_host_;
  mysql::CapabilityFlags server_capabilities_ = 0;  // what the greeting offered
  std::uint32_t connection_id_ = 0;
  pool::MysqlLease lease_;     // held between statements only while pinned
  pool::MysqlPool* pool_ = nullptr;  // the context's pool, cached for key_version_
  std::uint64_t pool_key_version_ = ~0ull;
  std::uint64_t lease_key_version_ = 0;  // the context's key when the held lease was taken
  std::uint8_t last_relayed_sequence_ = 0;
  std::uint8_t reply_sequence_ = 1;  // of the first packet answering the command being handled
  bool last_result_set_ = false;  // the last response ended with a result set (not an OK)
  bool discard_lease_ = false;    // the held connection no longer matches its pool (COM_SET_OPTION)
};

}  // namespace corral::proxy
