#pragma once
// One corral per listening address. Workers of one process share a port through SO_REUSEPORT, but
// the kernel lets any process of the same user join that group too, so a second corral started by
// mistake would silently take part of the traffic. An AddressClaim is what keeps it out.

#include <string>

#include "runtime/result.h"
#include "runtime/tcp.h"

namespace corral::rt {

/// Held for as long as this process serves `address`. Taking it fails with errc::address_in_use when
/// another process is bound there (a probe bind without SO_REUSEPORT, which any bound socket refuses)
/// or holds the claim (an flock on a lock file named after the address, which closes the window between
/// two processes probing at the same moment). Port 0 (any free port) is never contended.
class AddressClaim {
 public:
  AddressClaim() = default;
  AddressClaim(AddressClaim&& other) noexcept;
  AddressClaim& operator=(AddressClaim&& other) noexcept;
  AddressClaim(const AddressClaim&) = delete;
  AddressClaim& operator=(const AddressClaim&) = delete;
  ~AddressClaim();

  /// Start-up only (opens a file). `lock_dir` holds the lock files (the daemon passes /tmp).
  static Result<AddressClaim> take(const SocketAddress& address, const std::string& lock_dir);

 private:
  explicit AddressClaim(int lock_fd) : lock_fd_(lock_fd) {}
  int lock_fd_ = -1;
};

}  // namespace corral::rt
