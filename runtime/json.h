// The one JSON piece corral writes by hand: a string literal (logs in JSON, the admin's /ready).
#pragma once

#include <string>
#include <string_view>

namespace corral::rt {

/// `text` as a JSON string, quotes included: '"', '\' and control characters escaped. Bytes >= 0x80
/// pass through (UTF-8 stays UTF-8).
std::string json_string(std::string_view text);

}  // namespace corral::rt
