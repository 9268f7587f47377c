#include "runtime/tcp.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <liburing.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>

namespace corral::rt {

namespace {

void set_nodelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

std::unique_ptr<IoHandle> make_io(EventLoop& loop, int fd) {
  auto io = std::make_unique<IoHandle>();
  io->fd = fd;
  loop.register_io(*io);
  return io;
}

void close_io(std::unique_ptr<IoHandle>& io) noexcept {
  if (!io) return;
  // io_uring: the fd's poll holds a reference to the socket until the loop's next io_uring_enter
  // removes it, so close() alone would leave the connection open (no FIN, a listener still in its
  // SO_REUSEPORT group) until then. shutdown() ends it now, whoever else holds the socket.
  if (io->loop->backend() == IoBackend::IoUring) ::shutdown(io->fd, SHUT_RDWR);
  io->loop->unregister_io(*io);
  if (io->tls) SSL_free(io->tls);
  ::close(io->fd);
  io.reset();
}

bool retry_later(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

/// Flags of every socket operation on the ring: MSG_DONTWAIT keeps it from waiting in the kernel
/// (runtime/io_ring.h), MSG_NOSIGNAL as for send().
constexpr int kRingSendFlags = MSG_DONTWAIT | MSG_NOSIGNAL;
/// One ring operation's length is a 32-bit count and its result an int.
constexpr std::size_t kMaxRingBytes = std::size_t{1} << 30;

/// Sends from `iov` (advanced in place) until it is empty, the socket is full (returns 0) or an
/// error (returns errno).
int send_iov(int fd, std::span<iovec>& iov) {
  while (!iov.empty()) {
    msghdr msg{};
    msg.msg_iov = iov.data();
    msg.msg_iovlen = iov.size() > IOV_MAX ? IOV_MAX : iov.size();
    const ssize_t n = ::sendmsg(fd, &msg, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return retry_later(errno) ? 0 : errno;
    }
    detail::advance_iov(iov, static_cast<std::size_t>(n));
  }
  return 0;
}

}  // namespace

void detail::advance_iov(std::span<iovec>& iov, std::size_t sent) noexcept {
  while (!iov.empty() && sent >= iov.front().iov_len) {
    sent -= iov.front().iov_len;
    iov = iov.subspan(1);
  }
  if (sent > 0) {
    iov.front().iov_base = static_cast<char*>(iov.front().iov_base) + sent;
    iov.front().iov_len -= sent;
  }
}

// ---- SocketAddress ------------------------------------------------------------------------------

std::optional<SocketAddress> SocketAddress::parse(std::string_view host, uint16_t port) {
  const std::string text(host);
  SocketAddress address;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&address.storage_);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&address.storage_);
  if (::inet_pton(AF_INET, text.c_str(), &v4->sin_addr) == 1) {
    address.storage_.ss_family = AF_INET;
    address.size_ = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, text.c_str(), &v6->sin6_addr) == 1) {
    address.storage_.ss_family = AF_INET6;
    address.size_ = sizeof(sockaddr_in6);
  } else {
    return std::nullopt;
  }
  address.set_port(port);
  return address;
}

void SocketAddress::set_port(uint16_t port) noexcept {
  if (family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&storage_)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&storage_)->sin6_port = htons(port);
  }
}

Result<SocketAddress> SocketAddress::resolve(const std::string& host, uint16_t port) {
  if (auto numeric = parse(host, port)) return *numeric;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return std::make_error_code(std::errc::host_unreachable);
  }
  SocketAddress address;
  std::memcpy(&address.storage_, found->ai_addr, found->ai_addrlen);
  address.size_ = found->ai_addrlen;
  ::freeaddrinfo(found);
  address.set_port(port);
  return address;
}

SocketAddress SocketAddress::of_socket(int fd, bool peer) {
  SocketAddress address;
  address.size_ = sizeof address.storage_;
  auto* sa = reinterpret_cast<sockaddr*>(&address.storage_);
  const int rc = peer ? ::getpeername(fd, sa, &address.size_) : ::getsockname(fd, sa, &address.size_);
  if (rc != 0) address = SocketAddress{};
  return address;
}

uint16_t SocketAddress::port() const noexcept {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

std::string SocketAddress::to_string() const {
  char text[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr, text, sizeof text);
    return std::string(text) + ":" + std::to_string(port());
  }
  if (family() == AF_INET6) {
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text, sizeof text);
    return "[" + std::string(text) + "]:" + std::to_string(port());
  }
  return "(unknown)";
}

// ---- TcpStream ----------------------------------------------------------------------------------

TcpStream::TcpStream(EventLoop& loop, int fd) : io_(make_io(loop, fd)) {}

TcpStream& TcpStream::operator=(TcpStream&& other) noexcept {
  if (this != &other) {
    close();
    io_ = std::move(other.io_);
  }
  return *this;
}

TcpStream::~TcpStream() { close(); }

void TcpStream::close() noexcept { close_io(io_); }

Result<void> TcpStream::try_writev(std::span<iovec>& iov) {
  if (!io_) return std::make_error_code(std::errc::bad_file_descriptor);
  if (!io_->writable) return Result<void>{};  // full at the last try: wait for the next edge
  if (io_->tls) return try_writev_tls(iov);
  const int err = send_iov(io_->fd, iov);
  if (err != 0) return errno_code(err);
  if (!iov.empty()) io_->writable = false;
  return Result<void>{};
}

void TcpStream::shutdown_write() noexcept {
  if (!io_) return;
  if (io_->tls) SSL_shutdown(io_->tls);  // best effort: a full socket buffer just loses the close_notify
  ::shutdown(io_->fd, SHUT_WR);
}

ConnectAwaitable TcpStream::connect(EventLoop& loop, const SocketAddress& address, Deadline deadline,
                                    CancelSource* cancel) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return ConnectAwaitable(nullptr, errno_code(errno), deadline, cancel);
  set_nodelay(fd);
  std::unique_ptr<IoHandle> io = make_io(loop, fd);
  if (::connect(fd, address.data(), address.size()) != 0) {
    if (errno != EINPROGRESS) {
      const int err = errno;
      close_io(io);
      return ConnectAwaitable(nullptr, errno_code(err), deadline, cancel);
    }
    io->writable = false;  // wait for the EPOLLOUT edge that ends the handshake
  }
  return ConnectAwaitable(std::move(io), {}, deadline, cancel);
}

bool ReadAwaitable::attempt() {
  if (io_->tls) return attempt_tls();
  for (;;) {
    const ssize_t n = ::read(io_->fd, buffer_.data(), buffer_.size());
    if (n >= 0) {
      // A short read means the socket is drained (stream socket): skip the EAGAIN read next time.
      if (static_cast<std::size_t>(n) < buffer_.size() && !io_->read_closed) would_block();
      finish(static_cast<std::size_t>(n));
      return true;
    }
    if (errno == EINTR) continue;
    return settle_failure(errno);
  }
}

void ReadAwaitable::prepare(io_uring_sqe* sqe) {
  io_uring_prep_recv(sqe, io_->fd, buffer_.data(), std::min(buffer_.size(), kMaxRingBytes), MSG_DONTWAIT);
}

bool ReadAwaitable::on_ring_result(int result) {
  if (result < 0) return settle_ring_failure(-result);
  const auto n = static_cast<std::size_t>(result);
  // A full buffer may have left more behind; a short read drained the socket, unless an edge came
  // since the read was queued (the edge set the hint again).
  if (n == buffer_.size() || io_->read_closed) io_->readable = true;
  finish(n);
  return true;
}

void WriteAwaitable::prepare(io_uring_sqe* sqe) {
  io_uring_prep_send(sqe, io_->fd, data_.data(), std::min(data_.size(), kMaxRingBytes), kRingSendFlags);
}

bool WriteAwaitable::on_ring_result(int result) {
  if (result < 0) return settle_ring_failure(-result);
  data_ = data_.subspan(static_cast<std::size_t>(result));
  io_->writable = true;
  if (data_.empty()) {
    finish(Result<void>{});
    return true;
  }
  // A short send usually means a full socket buffer: the next try says so (EAGAIN) and then waits.
  queue_on_ring();
  return false;
}

void WritevAwaitable::prepare(io_uring_sqe* sqe) {
  msg_ = msghdr{};
  msg_.msg_iov = iov_.data();
  msg_.msg_iovlen = std::min<std::size_t>(iov_.size(), IOV_MAX);
  io_uring_prep_sendmsg(sqe, io_->fd, &msg_, kRingSendFlags);
}

bool WritevAwaitable::on_ring_result(int result) {
  if (result < 0) return settle_ring_failure(-result);
  detail::advance_iov(iov_, static_cast<std::size_t>(result));
  io_->writable = true;
  if (iov_.empty()) {
    finish(Result<void>{});
    return true;
  }
  queue_on_ring();
  return false;
}

bool WriteAwaitable::attempt() {
  if (io_->tls) return attempt_tls();
  while (!data_.empty()) {
    const ssize_t n = ::send(io_->fd, data_.data(), data_.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data_ = data_.subspan(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    return settle_failure(errno);
  }
  finish(Result<void>{});
  return true;
}

bool WritevAwaitable::attempt() {
  if (io_->tls) return attempt_tls();
  const int err = send_iov(io_->fd, iov_);
  if (err == 0 && !iov_.empty()) {
    would_block();
    return false;
  }
  finish(err == 0 ? Result<void>{} : Result<void>{errno_code(err)});
  return true;
}

ConnectAwaitable::ConnectAwaitable(std::unique_ptr<IoHandle> io, std::error_code start_error,
                                   Deadline deadline, CancelSource* cancel)
    : SocketOp(io.get(), true, deadline, cancel), owned_(std::move(io)) {
  if (start_error) finish(start_error);
}

ConnectAwaitable::~ConnectAwaitable() { close_io(owned_); }

bool ConnectAwaitable::attempt() {
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(owned_->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) {
    finish(errno_code(err));
  } else {
    finish(TcpStream(std::move(owned_)));
  }
  return true;
}

// ---- TcpListener --------------------------------------------------------------------------------

TcpListener::~TcpListener() { close(); }

void TcpListener::close() noexcept { close_io(io_); }

Result<TcpListener> TcpListener::bind(EventLoop& loop, const SocketAddress& address, int backlog) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_code(errno);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (::bind(fd, address.data(), address.size()) != 0 || ::listen(fd, backlog) != 0) {
    const int err = errno;
    ::close(fd);
    return errno_code(err);
  }
  TcpListener listener;
  listener.io_ = make_io(loop, fd);
  return listener;
}

uint16_t TcpListener::port() const { return SocketAddress::of_socket(io_->fd, false).port(); }

bool AcceptAwaitable::attempt() {
  for (;;) {
    const int fd = ::accept4(io_->fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      set_nodelay(fd);
      finish(TcpStream(*io_->loop, fd));
      return true;
    }
    if (errno == EINTR || errno == ECONNABORTED) continue;
    // EMFILE/ENFILE and friends: reported; the accept loop decides how to back off.
    return settle_failure(errno);
  }
}

}  // namespace corral::rt
