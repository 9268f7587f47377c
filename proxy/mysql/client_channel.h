// The client's socket of one MySQL session, as packets: command packets in, queued reply packets out.
//
//   socket ─► in_ ─► read_packet() (whole logical packets, mysql.max_packet_size) ─► ClientPacket
//                    consume_packet() once the command is handled (the packet views in_ until then)
//   queue_packet / queue_error / queue_ok / output() ─► out_ ─► flush() | write_queued()
//                                                           ─► send_or_queue(wire): out_ + a backend
//                                                              run in one writev, the rest kept queued
//
// With the compressed protocol (CLIENT_COMPRESS, from start_compression() on) the socket's bytes go
// through compressed_in_ (inflated one compressed packet at a time into in_, as the framing needs
// them) and out_ plus a backend run are deflated together into compressed_out_ at each write.
//
// Not thread-safe: one session.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "protocols/mysql/mysql.h"
#include "proxy/frontend.h"
#include "runtime/byte_buffer.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::proxy {

/// corral's MySQL connection ids (the greeting's, which KILL takes) start here, above any backend
/// thread id a server reaches in practice: a KILL with an id read from CONNECTION_ID() (the backend
/// thread's, as processlist shows it) then finds no client rather than the wrong one.
inline constexpr std::uint32_t kMysqlFirstConnectionId = 1'000'000'000;

class MysqlContext;

/// ER_MALFORMED_PACKET (MariaDB server error reference): a client packet corral cannot decode.
inline constexpr mysql::ErrorSpec kErrMalformedPacket{1835, "HY000", "Malformed communication packet"};

/// One command packet from the client. Lifetime: views the session's read buffer (or scratch) and is
/// valid until the session reads more client input or the command is consumed.
struct ClientPacket {
  std::string_view payload;  // the logical packet's payload (reassembled when it spans wire packets)
  std::string_view wire;     // the wire packets as received (headers included): relayed unchanged
  std::uint8_t sequence_id = 0;  // of the last wire packet; a reply starts at sequence_id + 1

  /// The sequence id of the first packet answering this one.
  std::uint8_t reply_sequence() const noexcept { return static_cast<std::uint8_t>(sequence_id + 1); }
};

class MysqlClientChannel {
 public:
  /// Buffers larger than this are freed between commands instead of kept for an idle client.
  static constexpr std::size_t kKeepBufferCapacity = 256 * 1024;

  /// `context` gives OK packets their status flags and format; `cancel` fires when the worker stops.
  /// Lifetime: both outlive the channel.
  MysqlClientChannel(rt::TcpStream client, const ListenerEnv& env, const MysqlContext& context,
                     rt::CancelSource* cancel);

  /// Reads one whole client packet into `packet`. Suspends until it is buffered, `deadline` passes or
  /// the worker stops; idle waits (`idle`) also end when the worker drains. A packet that cannot be
  /// framed, or whose first sequence id is not `first_sequence` (when given: 0 for a command, 1 for
  /// the handshake response), gets its ERR (1153, 1156, 1835) before false is returned, as mariadbd
  /// answers. False: close the session.
  rt::Task<bool> read_packet(ClientPacket& packet, rt::Deadline deadline, bool idle,
                             std::optional<std::uint8_t> first_sequence = std::nullopt);
  /// True when nothing of a next command is buffered: wait_idle() before read_packet() then.
  bool drained() const noexcept { return in_.empty() && compressed_in_.empty(); }
  /// Waits for the client's next command as read_packet(..., idle = true) would, without a read
  /// buffer and as an awaitable (no coroutine frame): an idle session holds only its own frames. An
  /// error: close the session (`deadline` passed, the worker drains or stops).
  rt::ReadableAwaitable wait_idle(rt::Deadline deadline) {
    end_watch();
    in_.release_if_empty();
    return client_.wait_readable(deadline, env_.idle_cancel);
  }
  /// Drops the packet read_packet() returned from the read buffer (it views the buffer until then).
  void consume_packet() noexcept {
    in_.consume(pending_consume_);
    pending_consume_ = 0;
  }
  /// Client bytes buffered after the packets consumed so far (LOCAL INFILE file packets).
  std::string_view buffered() const noexcept { return in_.readable(); }
  void consume(std::size_t bytes) noexcept { in_.consume(bytes); }
  /// Reads more client bytes into the buffer. False when the client is gone or `deadline` passed.
  rt::Task<bool> read_more(rt::Deadline deadline);

  /// Until `bytes` are buffered, reads take no more than that: a client sends its TLS ClientHello
  /// right behind an SSLRequest, and those bytes must stay in the socket for OpenSSL.
  void limit_reads_to(std::size_t bytes) noexcept { read_limit_ = bytes; }
  /// Runs the server side of the TLS handshake (after an SSLRequest, with nothing buffered); every
  /// later read and write goes through TLS. Suspends until done, `deadline` or the worker stops.
  /// False (logged at debug level) when it failed: close without a reply, the client speaks TLS now.
  rt::Task<bool> start_tls(const rt::TlsContext& context, rt::Deadline deadline);
  // Watching for a hang-up while a command runs (the session's watcher, session.h): the client may
  // close its socket while its statement waits on a backend, and nobody reads the socket then.
  /// What the client's socket holds when nobody reads it.
  enum class Input : std::uint8_t {
    Nothing,  // nothing yet: the socket is drained
    Data,     // bytes (a command sent ahead): the client is there
    HungUp,   // end of stream, a reset, or a half-close: the client is gone
  };
  /// A command is running: wait_input() may watch the socket until end_watch().
  void begin_watch() noexcept { watch_allowed_ = true; }
  /// The command ended, or the channel reads the socket itself: a wait_input() in progress ends
  /// (cancelled) and no other starts. Every read of the channel calls it first (one reader per socket).
  void end_watch() noexcept;
  bool watch_allowed() const noexcept { return watch_allowed_; }
  /// Suspends until the socket may hold input (or a hang-up), `round` fires or end_watch() ends it;
  /// then probe_input() says which. Call only while watch_allowed(). Lifetime: `round` outlives the
  /// wait (end_watch() cancels it).
  rt::ReadableAwaitable wait_input(rt::CancelSource* round) {
    watch_round_ = round;
    return client_.wait_readable(rt::Deadline::never(), round);
  }
  /// After wait_input(): forgets the round (the watcher's source is about to go).
  void watch_ended() noexcept { watch_round_ = nullptr; }
  /// Looks at the socket without reading it (MSG_PEEK). Nothing also clears the readiness hint, so
  /// the next wait_input() waits for an edge.
  Input probe_input() noexcept;

  /// The login succeeded with CLIENT_COMPRESS and its OK was written: from now on both directions
  /// speak the compressed protocol.
  void start_compression();
  bool compressed() const noexcept { return compressed_; }

  /// The client's socket (for MysqlClientTable: a KILL CONNECTION from another worker shuts it down).
  int socket_fd() const noexcept { return client_.fd(); }
  bool is_tls() const noexcept { return client_.is_tls(); }

  /// Queues one packet for the client (written by flush()).
  void queue_packet(std::uint8_t sequence_id, std::string_view payload);
  /// Queues an ERR_Packet; `message` replaces the spec's default message when not empty.
  void queue_error(std::uint8_t sequence_id, const mysql::ErrorSpec& spec, std::string_view message = {});
  /// Queues an OK_Packet with the context's status flags.
  void queue_ok(std::uint8_t sequence_id, std::uint64_t affected_rows = 0, std::uint64_t last_insert_id = 0);
  /// The bytes queued for the client, to append whole encoded packets to.
  std::string& output() noexcept { return out_; }
  /// True when something waits to be written to the client.
  bool queued() const noexcept { return !out_.empty() || !compressed_out_.empty(); }

  /// Writes what is queued. Suspends while the client's socket is full (pool.operation_timeout without
  /// progress closes the client). False when the client is gone.
  rt::Task<bool> flush();
  /// flush() in two halves, so per-statement paths await the client's socket without one more
  /// coroutine frame: the write of what is queued (nothing to write completes at once), and its
  /// outcome (the queue is cleared; false when the client is gone).
  rt::WriteAwaitable write_queued();
  bool after_write_queued(const rt::Result<void>& written);
  /// The write of what is queued, then `wire`, waiting for the client (the streaming part of a
  /// response: the client paces the backend); after_write_queued() takes its outcome. An awaitable,
  /// not a coroutine: no frame per streamed run. Lifetime: `wire` and `parts` outlive the await.
  rt::WritevAwaitable write_through(std::string_view wire, iovec (&parts)[2]);
  /// Sends what is queued, then `wire`, as far as the client's socket takes them now; what it does
  /// not take is left queued. False when the client is gone.
  bool send_or_queue(std::string_view wire);

  /// Frees buffers grown by a large command, so an idle client does not keep them.
  void shrink_buffers() {
    if (out_.capacity() > kKeepBufferCapacity) std::string().swap(out_);
    if (scratch_.capacity() > kKeepBufferCapacity) std::string().swap(scratch_);
    if (compressed_out_.capacity() > kKeepBufferCapacity) std::string().swap(compressed_out_);
  }
  /// After a refused oversized packet: stops writing and reads (bounded) what the client still sends,
  /// so it reads the error before the connection closes.
  rt::Task<void> discard_input();

  /// "1.2.3.4" or "::1": the peer as MySQL names hosts in account names.
  std::string peer_host() const;
  std::uint32_t id() const noexcept { return id_; }
  /// Limits on what the client sends (mysql.max_packet_size), for decoding its packets.
  const mysql::Limits& limits() const noexcept { return limits_; }

 private:
  /// What is queued (out_, if any), then `wire`, as the buffers of one writev in `parts`; compressed:
  /// both deflated into compressed_out_, its one buffer.
  std::span<iovec> queued_then(std::string_view wire, iovec (&parts)[2]);
  /// Compressed protocol: deflates out_ and then `wire` onto compressed_out_ (out_ is emptied).
  void compress_queued(std::string_view wire);
  /// Compressed protocol: the outcome of moving one compressed packet from compressed_in_ to in_.
  enum class Inflate : std::uint8_t { Moved, NeedMore, Malformed };
  Inflate inflate_one();
  /// The buffer socket reads go into, and how many bytes to ask for: the rest of the compressed packet
  /// (compressed) or of the wire packet at its front, kReadChunk at least.
  rt::ByteBuffer& read_target() noexcept { return compressed_ ? compressed_in_ : in_; }
  std::size_t read_size() const noexcept;

  rt::TcpStream client_;
  const ListenerEnv& env_;
  const MysqlContext& context_;
  rt::CancelSource* cancel_;
  std::uint32_t id_;                  // corral's connection id (the greeting's; in log lines)
  mysql::Limits limits_;              // client packets: mysql.max_packet_size
  rt::ByteBuffer in_;
  std::string scratch_;               // client packets that span wire packets
  std::string out_;                   // packets queued for the client
  std::size_t pending_consume_ = 0;   // bytes of the packet being handled, consumed after it
  std::size_t read_limit_ = 0;        // reads stop here until this much is buffered (limit_reads_to)
  bool watch_allowed_ = false;        // begin_watch() .. end_watch()
  bool compressed_ = false;           // start_compression() was called
  std::uint8_t compressed_sequence_ = 0;  // the next compressed packet's sequence id
  rt::ByteBuffer compressed_in_;      // socket bytes not inflated yet (compressed protocol)
  std::string compressed_out_;        // deflated bytes not written yet (compressed protocol)
  rt::CancelSource* watch_round_ = nullptr;  // the wait_input() in progress, if any
};

}  // namespace corral::proxy
