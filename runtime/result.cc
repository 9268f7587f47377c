#include "runtime/result.h"

namespace corral::rt {

std::string_view to_string(Errc e) noexcept {
  switch (e) {
    case Errc::Ok: return "ok";
    case Errc::PeerClosed: return "connection closed by peer";
    case Errc::Stopped: return "stopped";
  }
  return "unknown corral error";
}

const std::error_category& corral_category() noexcept {
  static const EnumCategory<Errc> category("corral");
  return category;
}

}  // namespace corral::rt
