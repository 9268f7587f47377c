// The admin endpoint's `/` page: one self-contained HTML document (no build step, no external assets)
// that polls /stats.json and /ready and shows listeners, clients and live rates.
#pragma once

#include <string_view>

namespace corral::proxy {

std::string_view dashboard_html();

}  // namespace corral::proxy
