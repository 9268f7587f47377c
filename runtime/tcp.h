// TCP sockets on the event loop: a listener and a stream whose operations are awaitables.
//
//   TcpListener::accept ──► TcpStream ──► read_some / write_all / writev_all ──► close
//
// Each operation first tries its syscall; only when the socket would block does the coroutine suspend
// on the loop's Waiter (fd slot + optional deadline + optional cancellation), and the syscall is retried
// on each readiness edge before the coroutine resumes. An operation therefore costs no allocation and,
// when the data is already there, no trip through epoll. On the io_uring backend (runtime/io_ring.h)
// the reads and writes of plain sockets are queued on the loop's ring instead and issued together,
// one io_uring_enter per loop iteration; TLS streams keep their syscalls, driven by the ring's edges.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "runtime/event_loop.h"
#include "runtime/result.h"

namespace corral::rt {

class TlsContext;

namespace detail {
/// Drops `sent` bytes from the front of `iov`.
void advance_iov(std::span<iovec>& iov, std::size_t sent) noexcept;
}  // namespace detail

/// An IPv4 or IPv6 socket address.
class SocketAddress {
 public:
  SocketAddress() = default;
  /// Parses a numeric host (IPv4 or IPv6 literal, no brackets) and a port; nullopt if not numeric.
  static std::optional<SocketAddress> parse(std::string_view host, uint16_t port);
  /// Resolves `host` (numeric or a name) with getaddrinfo. Blocking: start-up only, never on a loop.
  static Result<SocketAddress> resolve(const std::string& host, uint16_t port);
  static SocketAddress of_socket(int fd, bool peer);

  const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return size_; }
  int family() const noexcept { return storage_.ss_family; }
  uint16_t port() const noexcept;
  std::string to_string() const;

 private:
  /// Sets the port of an address whose family is already set.
  void set_port(uint16_t port) noexcept;

  sockaddr_storage storage_{};
  socklen_t size_ = 0;
};

/// A connected, non-blocking TCP socket registered with one loop. Move-only; closes on destruction.
/// At most one reader and one writer coroutine at a time. Not thread-safe: use it on its loop only.
class TcpStream {
 public:
  TcpStream() = default;
  /// Takes ownership of a connected non-blocking `fd` and registers it with `loop`.
  TcpStream(EventLoop& loop, int fd);
  TcpStream(TcpStream&&) noexcept = default;
  TcpStream& operator=(TcpStream&& other) noexcept;
  ~TcpStream();

  /// Connects to `address`. Suspends until connected, `deadline` passes (timed_out) or `cancel` fires.
  /// Sets TCP_NODELAY: corral batches writes itself.
  static class ConnectAwaitable connect(EventLoop& loop, const SocketAddress& address, Deadline deadline,
                                        CancelSource* cancel = nullptr);

  /// Reads what is available into `buffer` (at least 1 byte). Returns 0 at end of stream.
  /// Suspends until data, EOF, error, `deadline` (timed_out) or `cancel` (operation_canceled).
  class ReadAwaitable read_some(std::span<char> buffer, Deadline deadline = Deadline::never(),
                                CancelSource* cancel = nullptr);
  /// Suspends until the socket is (probably) readable, without a buffer: an idle connection then
  /// holds no read buffer while it waits. A following read_some() may still find nothing and wait.
  class ReadableAwaitable wait_readable(Deadline deadline = Deadline::never(), CancelSource* cancel = nullptr);
  /// Writes all of `data`. Suspends while the socket buffer is full. On error some bytes may be sent.
  class WriteAwaitable write_all(std::span<const char> data, Deadline deadline = Deadline::never(),
                                 CancelSource* cancel = nullptr);
  /// Writes all of the buffers with writev. `iov` is consumed in place (advanced as bytes are sent).
  class WritevAwaitable writev_all(std::span<iovec> iov, Deadline deadline = Deadline::never(),
                                   CancelSource* cancel = nullptr);

  /// Sends from `iov` (advanced in place) what the socket takes now, without waiting: what is left
  /// in `iov` did not fit. An error means the connection is unusable.
  Result<void> try_writev(std::span<iovec>& iov);

  /// Runs the server side of a TLS handshake with `context` (runtime/tls.h); afterwards every operation
  /// goes through TLS. `context` must outlive the stream. On failure the stream is unusable: close it.
  class TlsHandshakeAwaitable start_tls_server(const TlsContext& context, Deadline deadline,
                                               CancelSource* cancel = nullptr);
  /// Runs the client side: sends `server_name` as SNI (unless it is an IP address) and, when `context`
  /// verifies the peer, checks the certificate against it (host name or IP address).
  class TlsHandshakeAwaitable start_tls_client(const TlsContext& context, const std::string& server_name,
                                               Deadline deadline, CancelSource* cancel = nullptr);
  bool is_tls() const noexcept { return io_ && io_->tls != nullptr; }
  /// TLS only: OpenSSL holds bytes read from the socket that no read returned yet (a record, or
  /// plaintext of one), which no readiness edge will announce.
  bool tls_has_pending() const noexcept;
  /// The outcome of a later start_tls_server()/start_tls_client() on this stream (ok, or failed for
  /// any reason: refused, timed out, cancelled) is counted in `counters` (null: not counted). Set by
  /// whoever knows what the stream is for (the accepting listener, the backend pool), so every
  /// protocol's TLS, wherever it starts, is counted the same way. Lifetime: `counters` outlives the stream.
  void count_tls_handshakes(TlsHandshakeCounters* counters) noexcept {
    if (io_) io_->tls_handshakes = counters;
  }

  /// Half-closes the write side (FIN) so the peer sees EOF while replies may still be read; over TLS
  /// a close_notify is sent first.
  void shutdown_write() noexcept;
  /// Closes now; a pending read or write resumes with operation_canceled.
  void close() noexcept;

  bool is_open() const noexcept { return io_ != nullptr; }
  int fd() const noexcept { return io_ ? io_->fd : -1; }
  EventLoop* loop() const noexcept { return io_ ? io_->loop : nullptr; }
  IoHandle* io() const noexcept { return io_.get(); }
  SocketAddress peer_address() const { return SocketAddress::of_socket(fd(), true); }
  SocketAddress local_address() const { return SocketAddress::of_socket(fd(), false); }

 private:
  friend class ConnectAwaitable;
  Result<void> try_writev_tls(std::span<iovec>& iov);
  explicit TcpStream(std::unique_ptr<IoHandle> io) noexcept : io_(std::move(io)) {}

  std::unique_ptr<IoHandle> io_;  // heap: epoll holds its address while the stream object moves
};

/// Common part of the socket awaitables: try the syscall, else arm a Waiter and retry on each edge.
/// `Derived::attempt()` returns true when done (result stored), false when the socket would block.
///
/// On the io_uring backend the reads and writes of plain sockets (`Derived::kRingOp`) go through the
/// loop's ring instead: the operation is queued (`Derived::prepare(sqe)`) when the socket is ready
/// by its hint or at its next edge, issued with the loop iteration's others, and its result handed to
/// `Derived::on_ring_result(res)` (same contract as attempt()). Everything else (accept, connect,
/// readiness waits, TLS) keeps the try-then-wait path on the ring's readiness edges.
template <class Derived, class T>
class SocketOp {
 public:
  SocketOp(IoHandle* io, bool for_write, Deadline deadline, CancelSource* cancel)
      : io_(io), for_write_(for_write), deadline_(deadline), cancel_(cancel) {}
  SocketOp(const SocketOp&) = delete;
  SocketOp& operator=(const SocketOp&) = delete;

  bool await_ready() {
    if (result_) return true;  // failed before it could start (e.g. socket() in connect)
    if (io_ == nullptr) {
      result_ = std::make_error_code(std::errc::bad_file_descriptor);
      return true;
    }
    if (cancel_ && cancel_->cancelled()) {
      result_ = cancelled();
      return true;
    }
    if constexpr (Derived::kRingOp) {
      on_ring_ = io_->tls == nullptr && io_->loop->backend() == IoBackend::IoUring;
      if (on_ring_) return self().nothing_to_do() && self().attempt();
    }
    return hint() && self().attempt();
  }

  bool await_suspend(std::coroutine_handle<> handle) {
    if (!waiter_.arm(*io_->loop, handle, io_, for_write_, deadline_, cancel_, &SocketOp::on_ready, this)) {
      result_ = cancelled();
      return false;
    }
    if constexpr (Derived::kRingOp) {
      if (on_ring_ && hint()) queue_on_ring();
    }
    return true;
  }

  Result<T> await_resume() {
    switch (waiter_.reason()) {
      case WakeReason::Timeout: return timed_out();
      case WakeReason::Cancelled:
        if (!result_) return cancelled();
        break;
      case WakeReason::Ready: break;
    }
    return std::move(*result_);
  }

 protected:
  /// Marks the direction as drained so the next operation waits for an edge instead of retrying.
  void would_block() noexcept { hint() = false; }
  void finish(Result<T> r) { result_.emplace(std::move(r)); }
  /// Settles a syscall that failed with `err` (EINTR already retried by the caller): when the socket
  /// would block, waits for the next edge (false); any other error becomes the result (true).
  /// Returns what attempt() returns.
  bool settle_failure(int err) {
    if (err == EAGAIN || err == EWOULDBLOCK) {
      would_block();
      return false;
    }
    finish(errno_code(err));
    return true;
  }

  /// io_uring: queues the operation on the ring. The direction's hint is cleared meanwhile: an edge
  /// that arrives before the result sets it again, which tells a "would block" result to try again
  /// rather than wait for an edge that already came.
  void queue_on_ring() {
    io_uring_sqe* sqe = waiter_.queue_op(&SocketOp::on_result);
    hint() = false;
    self().prepare(sqe);
  }
  /// io_uring: settles a failed operation (`err` = -res) as settle_failure() does a syscall's.
  bool settle_ring_failure(int err) {
    if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
      if (hint() || err == EINTR) queue_on_ring();
      return false;
    }
    finish(errno_code(err));
    return true;
  }

  IoHandle* io_;

 private:
  static bool on_ready(void* self_ptr) {
    auto& op = *static_cast<SocketOp*>(self_ptr);
    if constexpr (Derived::kRingOp) {
      if (op.on_ring_) {
        if (!op.waiter_.op_queued()) op.queue_on_ring();
        return false;
      }
    }
    return op.self().attempt();
  }
  static bool on_result(void* self_ptr, int result) {
    return static_cast<SocketOp*>(self_ptr)->self().on_ring_result(result);
  }
  bool& hint() noexcept { return for_write_ ? io_->writable : io_->readable; }
  Derived& self() { return static_cast<Derived&>(*this); }

  bool for_write_;
  bool on_ring_ = false;  // this operation goes through the loop's io_uring
  Deadline deadline_;
  CancelSource* cancel_;
  Waiter waiter_;
  std::optional<Result<T>> result_;
};

class ReadAwaitable : public SocketOp<ReadAwaitable, std::size_t> {
 public:
  static constexpr bool kRingOp = true;
  ReadAwaitable(IoHandle* io, std::span<char> buffer, Deadline deadline, CancelSource* cancel)
      : SocketOp(io, false, deadline, cancel), buffer_(buffer) {}
  bool attempt();
  bool nothing_to_do() const noexcept { return false; }
  void prepare(io_uring_sqe* sqe);
  bool on_ring_result(int result);

 private:
  bool attempt_tls();
  std::span<char> buffer_;
};

class ReadableAwaitable : public SocketOp<ReadableAwaitable, void> {
 public:
  static constexpr bool kRingOp = false;
  ReadableAwaitable(IoHandle* io, Deadline deadline, CancelSource* cancel) : SocketOp(io, false, deadline, cancel) {}
  /// Called only when the last edge said readable: there is nothing to try, the wait is over.
  bool attempt() {
    finish(Result<void>{});
    return true;
  }
};

class WriteAwaitable : public SocketOp<WriteAwaitable, void> {
 public:
  static constexpr bool kRingOp = true;
  WriteAwaitable(IoHandle* io, std::span<const char> data, Deadline deadline, CancelSource* cancel)
      : SocketOp(io, true, deadline, cancel), data_(data) {}
  bool attempt();
  bool nothing_to_do() const noexcept { return data_.empty(); }
  void prepare(io_uring_sqe* sqe);
  bool on_ring_result(int result);

 private:
  bool attempt_tls();
  std::span<const char> data_;
};

class WritevAwaitable : public SocketOp<WritevAwaitable, void> {
 public:
  static constexpr bool kRingOp = true;
  WritevAwaitable(IoHandle* io, std::span<iovec> iov, Deadline deadline, CancelSource* cancel)
      : SocketOp(io, true, deadline, cancel), iov_(iov) {}
  bool attempt();
  bool nothing_to_do() const noexcept { return iov_.empty(); }
  void prepare(io_uring_sqe* sqe);
  bool on_ring_result(int result);

 private:
  bool attempt_tls();
  std::span<iovec> iov_;
  msghdr msg_{};  // io_uring: the sendmsg header, read by the kernel when the operation is issued
};

/// Owns the connecting socket until it is handed over as a TcpStream.
class ConnectAwaitable : public SocketOp<ConnectAwaitable, TcpStream> {
 public:
  static constexpr bool kRingOp = false;
  ConnectAwaitable(std::unique_ptr<IoHandle> io, std::error_code start_error, Deadline deadline,
                   CancelSource* cancel);
  ~ConnectAwaitable();
  bool attempt();

 private:
  std::unique_ptr<IoHandle> owned_;
};

/// A TLS handshake (runtime/tls.h). Waits in the reader slot; when OpenSSL needs the socket writable
/// it sets IoHandle::reader_wants_write so the writable edge retries it.
class TlsHandshakeAwaitable : public SocketOp<TlsHandshakeAwaitable, void> {
 public:
  static constexpr bool kRingOp = false;
  /// `start_error`: setting up the session failed (the awaitable completes with it at once).
  TlsHandshakeAwaitable(IoHandle* io, std::error_code start_error, Deadline deadline, CancelSource* cancel);
  bool attempt();
  /// The handshake's outcome, counted in IoHandle::tls_handshakes when the stream has counters.
  Result<void> await_resume();
};

/// A listening socket with SO_REUSEPORT, so each worker binds its own on the same port and the kernel
/// spreads connections across workers.
class TcpListener {
 public:
  TcpListener() = default;
  TcpListener(TcpListener&&) noexcept = default;
  TcpListener& operator=(TcpListener&&) noexcept = default;
  ~TcpListener();

  /// Binds and listens on `address` for `loop`. Start-up only (errors are returned, nothing blocks).
  static Result<TcpListener> bind(EventLoop& loop, const SocketAddress& address, int backlog = 1024);

  /// Accepts one connection. Suspends until a client connects or `cancel` fires.
  class AcceptAwaitable accept(CancelSource* cancel = nullptr);

  uint16_t port() const;
  void close() noexcept;
  bool is_open() const noexcept { return io_ != nullptr; }

 private:
  std::unique_ptr<IoHandle> io_;
};

class AcceptAwaitable : public SocketOp<AcceptAwaitable, TcpStream> {
 public:
  static constexpr bool kRingOp = false;
  AcceptAwaitable(IoHandle* io, CancelSource* cancel) : SocketOp(io, false, Deadline::never(), cancel) {}
  bool attempt();
};

inline ReadAwaitable TcpStream::read_some(std::span<char> buffer, Deadline deadline, CancelSource* cancel) {
  return ReadAwaitable(io_.get(), buffer, deadline, cancel);
}
inline ReadableAwaitable TcpStream::wait_readable(Deadline deadline, CancelSource* cancel) {
  return ReadableAwaitable(io_.get(), deadline, cancel);
}
inline WriteAwaitable TcpStream::write_all(std::span<const char> data, Deadline deadline,
                                           CancelSource* cancel) {
  return WriteAwaitable(io_.get(), data, deadline, cancel);
}
inline WritevAwaitable TcpStream::writev_all(std::span<iovec> iov, Deadline deadline, CancelSource* cancel) {
  return WritevAwaitable(io_.get(), iov, deadline, cancel);
}
inline AcceptAwaitable TcpListener::accept(CancelSource* cancel) { return AcceptAwaitable(io_.get(), cancel); }

}  // namespace corral::rt
