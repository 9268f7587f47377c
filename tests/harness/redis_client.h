// A small blocking RESP client for tests: sends raw bytes or commands, reads whole raw replies.
//
//   command({"SET","k","v"}) --encode_command--> socket --read until resp_reply_length() != nullopt--> "+OK\r\n"
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace corral::testing {

/// Encodes a command as a RESP array of bulk strings.
std::string encode_command(const std::vector<std::string>& args);
std::string encode_command(std::initializer_list<std::string_view> args);

/// Length in bytes of the first complete RESP2/RESP3 reply at the start of `buffer`, or nullopt when
/// more bytes are needed. Throws HarnessError on bytes that are not RESP (streamed RESP3 aggregates
/// included: tests do not need them).
std::optional<std::size_t> resp_reply_length(std::string_view buffer);

/// One blocking TCP connection speaking RESP. Every read waits at most the timeout given to connect()
/// (or set_timeout()), then throws HarnessError. Move-only; the destructor closes the socket.
/// Not thread-safe.
class RedisClient {
 public:
  /// Connects to host:port (IPv4 literal). Throws HarnessError.
  static RedisClient connect(std::string_view host, uint16_t port,
                             std::chrono::milliseconds timeout = std::chrono::seconds(10));
  RedisClient() = default;
  ~RedisClient();
  RedisClient(RedisClient&& other) noexcept;
  RedisClient& operator=(RedisClient&& other) noexcept;
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  /// Sends `command` and returns its raw reply, e.g. "+PONG\r\n" or "$1\r\nv\r\n".
  std::string command(std::initializer_list<std::string_view> args);
  std::string command(const std::vector<std::string>& args);
  /// Writes raw bytes (pipelines, inline commands, malformed input). Throws HarnessError.
  void send(std::string_view bytes);
  /// Reads exactly one raw reply. Throws HarnessError on EOF, timeout or non-RESP bytes.
  std::string read_reply();
  /// Reads whatever arrives until the peer closes, up to `timeout`; true when it closed (EOF or reset).
  /// Bytes still buffered and those read meanwhile are appended to `*rest` when given (else dropped).
  bool wait_closed(std::chrono::milliseconds timeout, std::string* rest = nullptr);
  void set_timeout(std::chrono::milliseconds timeout);
  void close();
  bool is_open() const { return fd_ >= 0; }
  int fd() const { return fd_; }

 private:
  int fd_ = -1;
  std::string buffer_;  // received bytes not yet returned
};

}  // namespace corral::testing
