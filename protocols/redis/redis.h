#pragma once
// corral::redis — the sans-IO Redis codec: framing, encoding, command table. std only.
//
//   client socket ──► read buffer ──► RequestScanner::scan ──► Request (views into the buffer)
//                                                                  │
//                                                     route(request) ─► Route {Local | Shared |
//                                                                  │          Pinned(reason) | Refused}
//                     Local/Refused/arity: encoder.h ─► reply bytes to the client
//                     Shared/Pinned: request.bytes() (inline: encode_request) ─► backend socket
//
//   backend socket ──► read buffer ──► ReplyScanner::scan ──► Reply {size, type, bytes}
//                                                                  │   (peek_elements for
//                                                                  ▼    pub/sub messages)
//                                                     reply.bytes relayed unchanged to the client
//
// Scanners never copy or allocate per frame in the common case, keep a resume offset between
// calls (O(n) however bytes arrive), and cap every length read from the wire with Limits.

#include "protocols/redis/command_table.h"
#include "protocols/redis/encoder.h"
#include "protocols/redis/limits.h"
#include "protocols/redis/protocol_error.h"
#include "protocols/redis/pubsub.h"
#include "protocols/redis/reply_scanner.h"
#include "protocols/redis/request.h"
#include "protocols/redis/request_scanner.h"
