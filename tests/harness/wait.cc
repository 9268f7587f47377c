#include "wait.h"

namespace corral::testing {

std::string wait_timeout_message(std::string_view what, std::chrono::milliseconds timeout) {
  return "timed out after " + std::to_string(timeout.count()) + " ms waiting for " + std::string(what);
}

}  // namespace corral::testing
