#include "proxy/mysql/client_channel.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

#include "proxy/mysql/context.h"
#include "proxy/shared_state.h"
#include "runtime/log.h"

namespace corral::proxy {

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;

/// ER_NET_UNCOMPRESS_ERROR (MariaDB server error reference): a compressed packet that does not inflate.
constexpr mysql::ErrorSpec kErrUncompress{1157, "08S01", "Couldn't uncompress communication packet"};

/// One per worker thread: zlib's deflate state is ~256 KiB, too much for every compressed client.
mysql::PacketCompressor& compressor() {
  thread_local mysql::PacketCompressor instance;
  return instance;
}

}  // namespace

MysqlClientChannel::MysqlClientChannel(rt::TcpStream client, const ListenerEnv& env, const MysqlContext& context,
                                       rt::CancelSource* cancel)
    : client_(std::move(client)),
      env_(env),
      context_(context),
      cancel_(cancel),
      id_(static_cast<std::uint32_t>(kMysqlFirstConnectionId +
                                     env.shared->next_client_id.fetch_add(1, std::memory_order_relaxed))) {
  limits_.max_packet_size = env.config->mysql.max_packet_size;
}

std::string MysqlClientChannel::peer_host() const {
  const std::string peer = client_.peer_address().to_string();
  // "1.2.3.4:5678" or "[::1]:5678": MySQL names the host without the port (and without brackets).
  std::string_view host = std::string_view(peer).substr(0, peer.rfind(':'));
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return std::string(host);
}

// ---- input ----------------------------------------------------------------------------------------

rt::Task<bool> MysqlClientChannel::read_packet(ClientPacket& packet, rt::Deadline deadline, bool idle,
                                               std::optional<std::uint8_t> first_sequence) {
  end_watch();
  for (;;) {
    const mysql::LogicalPacket logical = mysql::read_logical_packet(
        in_.readable(), limits_, scratch_, compressed_ ? mysql::ChunkSequence::Any : mysql::ChunkSequence::Consecutive);
    // Under the compressed protocol the packets' own sequence ids carry no order (see ChunkSequence).
    if (logical.status == mysql::FrameStatus::Packet && first_sequence && !compressed_ &&
        logical.first_sequence_id != *first_sequence) {
      // A client that lost count of the exchange: nothing it sends can be trusted to be a command of
      // its own. Refused here, never relayed (a backend would drop its connection over it). mariadbd
      // numbers this ERR with the sequence id it expected.
      queue_error(*first_sequence, mysql::ER_NET_PACKETS_OUT_OF_ORDER);
      co_await flush();
      co_return false;
    }
    if (logical.status == mysql::FrameStatus::Packet) {
      read_limit_ = 0;
      packet.payload = logical.payload;
      packet.wire = in_.readable().substr(0, logical.consumed);
      packet.sequence_id = logical.last_sequence_id;
      pending_consume_ = logical.consumed;
      co_return true;
    }
    if (logical.status == mysql::FrameStatus::Error) {
      // The stream cannot be framed any more: one ERR, then the connection closes.
      const std::string_view head = in_.readable();
      const auto sequence_id = static_cast<std::uint8_t>(head.size() > 3 ? static_cast<std::uint8_t>(head[3]) + 1 : 1);
      if (logical.error == mysql::Errc::PacketTooLarge) {
        queue_error(sequence_id, mysql::ER_NET_PACKET_TOO_LARGE);
        co_await flush();
        co_await discard_input();
        co_return false;
      } else if (logical.error == mysql::Errc::BadSequence) {
        queue_error(sequence_id, mysql::ER_NET_PACKETS_OUT_OF_ORDER);
      } else {
        queue_error(sequence_id, kErrMalformedPacket);
      }
      co_await flush();
      co_return false;
    }
    if (compressed_) {
      const Inflate inflated = inflate_one();
      if (inflated == Inflate::Moved) continue;
      if (inflated == Inflate::Malformed) {
        queue_error(static_cast<std::uint8_t>(first_sequence.value_or(0) + 1), kErrUncompress);
        co_await flush();
        co_return false;
      }
    }
    std::size_t want = read_size();
    if (read_limit_ > in_.size()) want = std::min(want, read_limit_ - in_.size());
    rt::CancelSource* cancel = cancel_;
    if (idle && drained()) {
      // Wait without a buffer: an idle client then costs no read buffer. Draining ends this wait.
      in_.release_if_empty();
      compressed_in_.release_if_empty();
      cancel = env_.idle_cancel;
      const rt::Result<void> readable = co_await client_.wait_readable(deadline, cancel);
      if (!readable) co_return false;
    }
    rt::ByteBuffer& target = read_target();
    const auto n = co_await client_.read_some(target.writable(want).first(want), deadline, cancel);
    if (!n || *n == 0) {
      rt::log::debug("mysql client {}: {} while reading", id_, n ? "end of stream" : n.error().message());
      co_return false;
    }
    target.commit(*n);
  }
}

std::size_t MysqlClientChannel::read_size() const noexcept {
  const std::string_view head = compressed_ ? compressed_in_.readable() : in_.readable();
  std::size_t whole = 0;
  if (compressed_) {
    const auto header = mysql::decode_compressed_header(head);
    if (header) whole = header->wire_size();
  } else if (head.size() >= mysql::kPacketHeaderSize) {
    whole = mysql::kPacketHeaderSize + mysql::header_payload_length(head);
  }
  return std::max(kReadChunk, whole > head.size() ? whole - head.size() : 0);
}

void MysqlClientChannel::start_compression() {
  compressed_ = true;
  in_.move_readable_to(compressed_in_);  // whatever the client sent behind its login is compressed already
}

MysqlClientChannel::Inflate MysqlClientChannel::inflate_one() {
  const std::string_view buffered = compressed_in_.readable();
  const auto header = mysql::decode_compressed_header(buffered);
  if (!header || header->wire_size() > buffered.size()) return Inflate::NeedMore;
  // A reply's compressed packets count on from the last one received (an ERR for this one too).
  compressed_sequence_ = static_cast<std::uint8_t>(header->sequence_id + 1);
  const std::size_t size = header->content_size();
  const auto inflated = compressor().decompress(buffered, *header, in_.writable(size).first(size));
  if (!inflated) {
    rt::log::debug("mysql client {}: a compressed packet that does not inflate", id_);
    return Inflate::Malformed;
  }
  in_.commit(size);
  compressed_in_.consume(header->wire_size());
  return Inflate::Moved;
}

rt::Task<bool> MysqlClientChannel::start_tls(const rt::TlsContext& context, rt::Deadline deadline) {
  end_watch();
  read_limit_ = 0;
  if (!in_.empty()) {
    // Bytes between the SSLRequest and the handshake: a client out of step (or an attempt to slip
    // plain text in front of TLS). Nothing after them can be trusted.
    rt::log::debug("mysql client {}: plain bytes after its SSLRequest", id_);
    co_return false;
  }
  in_.release_if_empty();
  const auto shaken = co_await client_.start_tls_server(context, deadline, cancel_);
  if (!shaken) {
    rt::log::debug("mysql client {}: TLS handshake failed: {}", id_, shaken.error().message());
    co_return false;
  }
  co_return true;
}

rt::Task<bool> MysqlClientChannel::read_more(rt::Deadline deadline) {
  end_watch();
  const std::size_t before = in_.size();
  while (in_.size() == before) {
    if (compressed_) {
      const Inflate inflated = inflate_one();
      if (inflated == Inflate::Malformed) co_return false;
      if (inflated == Inflate::Moved) continue;
    }
    rt::ByteBuffer& target = read_target();
    const auto n = co_await client_.read_some(target.writable(read_size()), deadline, cancel_);
    if (!n || *n == 0) co_return false;
    target.commit(*n);
    if (!compressed_) break;
  }
  co_return true;
}

void MysqlClientChannel::end_watch() noexcept {
  watch_allowed_ = false;
  // Completes the watcher's wait now, which frees the socket's reader slot before this returns.
  if (watch_round_ != nullptr) std::exchange(watch_round_, nullptr)->cancel();
}

MysqlClientChannel::Input MysqlClientChannel::probe_input() noexcept {
  rt::IoHandle* io = client_.io();
  if (io == nullptr || io->read_closed) return Input::HungUp;  // FIN or reset seen (a TLS close_notify comes with data)
  if (client_.is_tls() && client_.tls_has_pending()) return Input::Data;  // the hint must stay: no edge will come
  if (!io->readable) return Input::Nothing;  // no edge since the last drained read: no syscall
  char byte = 0;
  const ssize_t n = ::recv(io->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0) return Input::Data;
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
    io->readable = false;
    return Input::Nothing;
  }
  return Input::HungUp;
}

rt::Task<void> MysqlClientChannel::discard_input() {
  // The client may still be writing the packet that was refused; closing now would reset the
  // connection before it reads the error. Let it finish (bounded in time and bytes), then close.
  constexpr std::size_t kMaxDiscarded = std::size_t{1} << 30;
  end_watch();
  client_.shutdown_write();
  in_.consume(in_.size());
  const rt::Deadline deadline = rt::Deadline::after(std::chrono::seconds(2));
  std::size_t discarded = 0;
  while (discarded < kMaxDiscarded) {
    const auto n = co_await client_.read_some(in_.writable(kReadChunk), deadline, cancel_);
    if (!n || *n == 0) break;
    discarded += *n;
  }
}

// ---- output ---------------------------------------------------------------------------------------

void MysqlClientChannel::queue_packet(std::uint8_t sequence_id, std::string_view payload) {
  mysql::append_packet(out_, sequence_id, payload);
}

void MysqlClientChannel::queue_error(std::uint8_t sequence_id, const mysql::ErrorSpec& spec,
                                     std::string_view message) {
  queue_packet(sequence_id, mysql::make_err(spec, message));
}

void MysqlClientChannel::queue_ok(std::uint8_t sequence_id, std::uint64_t affected_rows,
                                  std::uint64_t last_insert_id) {
  mysql::OK_Packet ok;
  ok.affected_rows = affected_rows;
  ok.last_insert_id = last_insert_id;
  ok.status_flags = context_.status_flags();
  const std::size_t at = mysql::begin_packet(out_);
  mysql::encode_ok_packet(out_, ok, context_.capabilities());
  mysql::finish_packet(out_, at, sequence_id);
}

rt::Task<bool> MysqlClientChannel::flush() {
  if (!queued()) co_return true;
  const auto written = co_await write_queued();
  co_return after_write_queued(written);
}

rt::WriteAwaitable MysqlClientChannel::write_queued() {
  if (compressed_) compress_queued({});
  return client_.write_all(compressed_ ? compressed_out_ : out_,
                           rt::Deadline::after(env_.config->pool.operation_timeout), cancel_);
}

bool MysqlClientChannel::after_write_queued(const rt::Result<void>& written) {
  out_.clear();
  compressed_out_.clear();
  if (!written) rt::log::debug("mysql client {}: write failed: {}", id_, written.error().message());
  return written.ok();
}

rt::WritevAwaitable MysqlClientChannel::write_through(std::string_view wire, iovec (&parts)[2]) {
  return client_.writev_all(queued_then(wire, parts), rt::Deadline::after(env_.config->pool.operation_timeout),
                            cancel_);
}

std::span<iovec> MysqlClientChannel::queued_then(std::string_view wire, iovec (&parts)[2]) {
  if (compressed_) {
    compress_queued(wire);
    parts[0] = {compressed_out_.data(), compressed_out_.size()};
    return {parts, 1};
  }
  std::size_t count = 0;
  if (!out_.empty()) parts[count++] = {out_.data(), out_.size()};
  parts[count++] = {const_cast<char*>(wire.data()), wire.size()};
  return {parts, count};
}

bool MysqlClientChannel::send_or_queue(std::string_view wire) {
  iovec parts[2];
  std::span<iovec> unsent = queued_then(wire, parts);
  const rt::Result<void> sent = client_.try_writev(unsent);
  if (!sent) {
    rt::log::debug("mysql client {}: write failed: {}", id_, sent.error().message());
    return false;
  }
  if (compressed_) {
    // Left over: a tail of compressed_out_, which `wire` joined.
    compressed_out_.erase(0, compressed_out_.size() - (unsent.empty() ? 0 : unsent[0].iov_len));
    return true;
  }
  // Left over: a tail of out_ and all of `wire`, or a tail of `wire` (out_ keeps its capacity).
  if (unsent.size() == 2) {
    out_.erase(0, out_.size() - unsent[0].iov_len);
    out_.append(wire);
  } else if (unsent.size() == 1) {
    out_.assign(wire.substr(wire.size() - unsent[0].iov_len));
  } else {
    out_.clear();
  }
  return true;
}

void MysqlClientChannel::compress_queued(std::string_view wire) {
  const std::array<std::string_view, 2> pieces{out_, wire};
  compressed_sequence_ = compressor().compress(compressed_out_, pieces, compressed_sequence_);
  out_.clear();
}

}  // namespace corral::proxy
