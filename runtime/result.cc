#include "runtime/result.h"

#include <string>

namespace corral::rt {

namespace {
class CorralCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "corral"; }
  std::string message(int value) const override {
    switch (static_cast<Errc>(value)) {
      case Errc::Ok: return "ok";
      case Errc::PeerClosed: return "connection closed by peer";
      case Errc::Stopped: return "stopped";
    }
    return "unknown corral error";
  }
};
}  // namespace

const std::error_category& corral_category() noexcept {
  static const CorralCategory category;
  return category;
}

}  // namespace corral::rt
