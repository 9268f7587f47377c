#include "ports.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>
#include <string>

#include "harness_error.h"

namespace corral::testing {

namespace {

sockaddr_in loopback_address(std::string_view host, uint16_t port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  const std::string host_copy(host);
  if (::inet_pton(AF_INET, host_copy.c_str(), &addr.sin_addr) != 1) {
    throw HarnessError("not an IPv4 address: " + host_copy);
  }
  return addr;
}

std::string endpoint(std::string_view host, uint16_t port) {
  return std::string(host) + ":" + std::to_string(port);
}

// Returns the connected fd (blocking mode), or -1 with errno set.
int try_connect(std::string_view host, uint16_t port, std::chrono::milliseconds timeout) {
  const sockaddr_in addr = loopback_address(host, port);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return -1;
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd pfd{fd, POLLOUT, 0};
    rc = ::poll(&pfd, 1, static_cast<int>(timeout.count()));
    if (rc == 0) {
      errno = ETIMEDOUT;
      rc = -1;
    } else if (rc > 0) {
      int err = 0;
      socklen_t len = sizeof err;
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      errno = err;
      rc = err == 0 ? 0 : -1;
    }
  }
  if (rc != 0) {
    const int saved = errno;
    ::close(fd);
    errno = saved;
    return -1;
  }
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

}  // namespace

uint16_t pick_free_port() {
  static std::mutex mutex;
  static std::set<uint16_t> handed_out;
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw HarnessError(std::string("socket: ") + std::strerror(errno));
    sockaddr_in addr = loopback_address("127.0.0.1", 0);
    socklen_t len = sizeof addr;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                    ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
    const int saved = errno;
    ::close(fd);
    if (!ok) throw HarnessError(std::string("cannot bind 127.0.0.1:0: ") + std::strerror(saved));
    const uint16_t port = ntohs(addr.sin_port);
    const std::lock_guard lock(mutex);
    if (handed_out.insert(port).second) return port;
  }
  throw HarnessError("pick_free_port: the kernel kept returning ports already handed out");
}

bool can_connect(std::string_view host, uint16_t port, std::chrono::milliseconds timeout) {
  const int fd = try_connect(host, port, timeout);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

int connect_tcp(std::string_view host, uint16_t port, std::chrono::milliseconds timeout) {
  const int fd = try_connect(host, port, timeout);
  if (fd < 0) {
    throw HarnessError("cannot connect to " + endpoint(host, port) + ": " + std::strerror(errno));
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

}  // namespace corral::testing
