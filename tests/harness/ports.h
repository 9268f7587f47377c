// Loopback ports for test servers: pick a free one, probe whether something listens on one.
#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace corral::testing {

/// Returns a TCP port on 127.0.0.1 that was free a moment ago: binds port 0, reads the port the kernel
/// chose and closes the socket. Never returns the same port twice in one process, so servers started
/// by one test cannot collide with each other; another process may still take the port in between,
/// which is why the servers below retry their start on "address in use". Throws HarnessError.
/// Thread-safe.
uint16_t pick_free_port();

/// True when a TCP connect to host:port (an IPv4 literal) succeeds within `timeout`. The connection is
/// closed at once.
bool can_connect(std::string_view host, uint16_t port,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(200));

/// Opens a blocking TCP connection to host:port (IPv4 literal) with TCP_NODELAY, failing after
/// `timeout`. Returns the fd; throws HarnessError naming the address on failure.
int connect_tcp(std::string_view host, uint16_t port, std::chrono::milliseconds timeout);

}  // namespace corral::testing
