#include "runtime/address_claim.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace corral::rt {

namespace {

/// "/tmp/corral-127.0.0.1-6380.lock"; the ':' of an IPv6 literal would be legal but awkward in a path.
std::string lock_path(const SocketAddress& address, const std::string& lock_dir) {
  std::string host = address.to_string();
  host.resize(host.rfind(':'));
  for (char& c : host) {
    if (c == ':' || c == '[' || c == ']') c = '_';
  }
  return lock_dir + "/corral-" + host + "-" + std::to_string(address.port()) + ".lock";
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

AddressClaim::AddressClaim(AddressClaim&& other) noexcept : lock_fd_(std::exchange(other.lock_fd_, -1)) {}

AddressClaim& AddressClaim::operator=(AddressClaim&& other) noexcept {
  if (this != &other) {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    lock_fd_ = std::exchange(other.lock_fd_, -1);
  }
  return *this;
}

AddressClaim::~AddressClaim() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

Result<AddressClaim> AddressClaim::take(const SocketAddress& address, const std::string& lock_dir) {
  if (address.port() == 0) return AddressClaim();
  // Read-only is enough for flock, and works on a lock file another user created in a sticky /tmp.
  // When the file cannot be opened at all (fs.protected_regular), the probe alone decides: a process of
  // another user cannot join our SO_REUSEPORT group anyway.
  const int fd = ::open(lock_path(address, lock_dir).c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    ::close(fd);
    return errno_code(err == EWOULDBLOCK ? EADDRINUSE : err);
  }
  AddressClaim claim(fd);
  if (const std::error_code probed = probe_bind(address)) return probed;
  return claim;
}

}  // namespace corral::rt
