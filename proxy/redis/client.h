// The client side of one Redis session: the socket, the requests framed from what it sent, and the
// sink its replies gather in, in request order, until they are written.
//
//   socket ──read──► in ──scanner──► request ──► session (serving) / relay (forwarding)
//   backend replies, local replies ──► sink ──write_output() / flush()──► socket
//
// The session's modes share it: serving requests, waiting for a blocking reply while watching the
// socket, and relaying a subscribed connection. Not thread-safe: one session, one loop.
#pragma once

#include <cstddef>
#include <string>

#include "config/config.h"
#include "pool/reply_sink.h"
#include "protocols/redis/request.h"
#include "protocols/redis/request_scanner.h"
#include "runtime/byte_buffer.h"
#include "runtime/event_loop.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::proxy {

/// Bytes read from a client socket at a time.
constexpr std::size_t kClientReadChunk = 16 * 1024;
/// While a dedicated connection is busy (a blocking command, a relay's sync point), at most this
/// much further input is buffered from the client.
constexpr std::size_t kMaxBufferedWhilePinned = 1024 * 1024;

struct RedisClient {
  /// Lifetime: `stop` (the worker's) outlives the client.
  RedisClient(rt::TcpStream client_stream, const config::Config& config, rt::CancelSource* stop);
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;
  /// The session is gone: replies still on their way are dropped.
  ~RedisClient() { sink->abandon(); }

  /// Reads more input into `in` while a dedicated connection is busy. Suspends until bytes arrive.
  /// False once the client is gone (`gone` set, the sink's waiter woken) or `read_cancel` fired.
  rt::Task<bool> read_more(rt::CancelSource* read_cancel);
  /// Writes the replies waiting in the sink. False when the write failed or the sink overflowed.
  rt::Task<bool> write_output();
  /// Writes replies until every outstanding one arrived and was written. Suspends on the sink and
  /// the socket. False when the write failed, the sink overflowed or `cancel` fired.
  rt::Task<bool> flush();

  rt::TcpStream stream;
  rt::CancelSource cancel;          // under the worker's stop; also fired when the output overflows
  redis::RequestScanner scanner;
  redis::Request request;           // the request being handled; views into `in`
  rt::ByteBuffer in;                // bytes read, not yet consumed
  pool::ReplySinkRef sink;          // shared with the backend FIFO entries of outstanding replies
  std::string writing;              // replies being written
  bool gone = false;                // the client closed its side (seen while a connection was busy)
};

}  // namespace corral::proxy
