// systemd's readiness protocol (sd_notify(3)) without libsystemd: one datagram to $NOTIFY_SOCKET.
// With Type=notify, systemd considers corral started when it says READY=1 (listeners bound, workers
// serving), and knows it is stopping from STOPPING=1.
#pragma once

#include <string_view>

namespace corral::rt {

/// Sends `state` ("READY=1", "STOPPING=1", "STATUS=...") when $NOTIFY_SOCKET is set; a no-op otherwise.
/// Returns false when the variable is set but the message could not be sent.
bool sd_notify(std::string_view state);

}  // namespace corral::rt
