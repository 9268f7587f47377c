#pragma once
// One corral per listening address. Workers of one process share a port through SO_REUSEPORT, but
// the kernel lets any process of the same user join that group too, so a second corral started by
// mistake would silently take part of the traffic. An AddressClaim is what keeps it out.

#include "runtime/result.h"
#include "runtime/tcp.h"

namespace corral::rt {

/// Held for as long as this process serves `address`. Taking it fails with errc::address_in_use when
/// another process holds the claim (a Unix socket bound in the abstract namespace under a name made of
/// the address: the kernel allows one, frees it when the process dies, and scopes it to the network
/// namespace, like the port itself) or is bound there (a probe bind without SO_REUSEPORT, which any
/// bound socket refuses: that catches what is not a corral). Port 0 (any free port) is never contended.
class AddressClaim {
 public:
  AddressClaim() = default;
  AddressClaim(AddressClaim&& other) noexcept;
  AddressClaim& operator=(AddressClaim&& other) noexcept;
  AddressClaim(const AddressClaim&) = delete;
  AddressClaim& operator=(const AddressClaim&) = delete;
  ~AddressClaim();

  /// Start-up only.
  static Result<AddressClaim> take(const SocketAddress& address);

 private:
  explicit AddressClaim(int claim_fd) : claim_fd_(claim_fd) {}
  int claim_fd_ = -1;
};

}  // namespace corral::rt
