// Errors raised by the test harness: a server that cannot start, a missing binary, a failed query.
#pragma once

#include <stdexcept>
#include <string>

namespace corral::testing {

/// Thrown for every harness failure. The message is meant to be read by a person looking at a failed
/// test: it names the binary, port and the tail of the server's log when those apply.
class HarnessError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace corral::testing
