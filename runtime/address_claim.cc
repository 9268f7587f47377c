#include "runtime/address_claim.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>

namespace corral::rt {

namespace {

/// Binds a Unix socket at "\0corral-listen-127.0.0.1:6380" in the abstract namespace; the fd, or the
/// bind's error (EADDRINUSE: another process has it).
Result<int> bind_claim_socket(const SocketAddress& address) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_code(errno);
  sockaddr_un name{};
  name.sun_family = AF_UNIX;
  const std::string text = "corral-listen-" + address.to_string();
  const std::size_t length = std::min(text.size(), sizeof name.sun_path - 1);
  std::memcpy(name.sun_path + 1, text.data(), length);  // sun_path[0] == '\0': abstract
  const auto size = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + length);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&name), size) != 0) {
    const int err = errno;
    ::close(fd);
    return errno_code(err);
  }
  return fd;
}

/// Binds a socket without SO_REUSEPORT, which fails with EADDRINUSE whenever any socket is bound there,
/// whatever options that one has. SO_REUSEADDR so that connections of a previous run in TIME_WAIT do not count.
std::error_code probe_bind(const SocketAddress& address) {
  const int fd = ::socket(address.family(), SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_code(errno);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  std::error_code error;
  if (::bind(fd, address.data(), address.size()) != 0) error = errno_code(errno);
  ::close(fd);
  return error;
}

}  // namespace

AddressClaim::AddressClaim(AddressClaim&& other) noexcept : claim_fd_(std::exchange(other.claim_fd_, -1)) {}

AddressClaim& AddressClaim::operator=(AddressClaim&& other) noexcept {
  if (this != &other) {
    if (claim_fd_ >= 0) ::close(claim_fd_);
    claim_fd_ = std::exchange(other.claim_fd_, -1);
  }
  return *this;
}

AddressClaim::~AddressClaim() {
  if (claim_fd_ >= 0) ::close(claim_fd_);
}

Result<AddressClaim> AddressClaim::take(const SocketAddress& address) {
  if (address.port() == 0) return AddressClaim();
  auto fd = bind_claim_socket(address);
  if (!fd) return fd.error();
  AddressClaim claim(*fd);
  if (const std::error_code probed = probe_bind(address)) return probed;
  return claim;
}

}  // namespace corral::rt
