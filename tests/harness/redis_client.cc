#include "redis_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>

#include "harness_error.h"
#include "ports.h"

namespace corral::testing {

namespace {

constexpr int kMaxDepth = 64;

std::string append_bulk(std::string out, std::string_view arg) {
  out += '$';
  out += std::to_string(arg.size());
  out += "\r\n";
  out += arg;
  out += "\r\n";
  return out;
}

// Parses the reply starting at `pos`; returns the offset just past it or nullopt when incomplete.
std::optional<std::size_t> scan(std::string_view buf, std::size_t pos, int depth) {
  if (depth > kMaxDepth) throw HarnessError("RESP reply nested too deeply");
  if (pos >= buf.size()) return std::nullopt;
  const std::size_t eol = buf.find("\r\n", pos);
  if (eol == std::string_view::npos) return std::nullopt;
  const char type = buf[pos];
  const std::string_view line = buf.substr(pos + 1, eol - pos - 1);
  const std::size_t after_line = eol + 2;
  auto parse_count = [&]() -> long long {
    long long n = 0;
    const auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), n);
    if (ec != std::errc() || ptr != line.data() + line.size()) {
      throw HarnessError("bad RESP length line: " + std::string(1, type) + std::string(line));
    }
    return n;
  };
  switch (type) {
    case '+': case '-': case ':': case '_': case ',': case '#': case '(':
      return after_line;
    case '$': case '!': case '=': {
      const long long n = parse_count();
      if (n < 0) return after_line;  // RESP2 null bulk string
      const std::size_t end = after_line + static_cast<std::size_t>(n) + 2;
      if (buf.size() < end) return std::nullopt;
      if (buf.substr(end - 2, 2) != "\r\n") throw HarnessError("RESP bulk string not terminated by CRLF");
      return end;
    }
    case '*': case '~': case '>': case '%': case '|': {
      long long n = parse_count();
      if (n < 0) return after_line;  // RESP2 null array
      if (type == '%' || type == '|') n *= 2;
      std::size_t at = after_line;
      for (long long i = 0; i < n; ++i) {
        const auto next = scan(buf, at, depth + 1);
        if (!next) return std::nullopt;
        at = *next;
      }
      if (type == '|') return scan(buf, at, depth + 1);  // attributes precede the reply they describe
      return at;
    }
    default:
      throw HarnessError("not a RESP reply: " + std::string(buf.substr(pos, std::min<std::size_t>(40, buf.size() - pos))));
  }
}

}  // namespace

std::string encode_command(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out = append_bulk(std::move(out), a);
  return out;
}

std::string encode_command(std::initializer_list<std::string_view> args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto a : args) out = append_bulk(std::move(out), a);
  return out;
}

std::optional<std::size_t> resp_reply_length(std::string_view buffer) { return scan(buffer, 0, 0); }

RedisClient RedisClient::connect(std::string_view host, uint16_t port, std::chrono::milliseconds timeout) {
  RedisClient client;
  client.fd_ = connect_tcp(host, port, timeout);
  client.set_timeout(timeout);
  return client;
}

RedisClient::~RedisClient() { close(); }

RedisClient::RedisClient(RedisClient&& other) noexcept : fd_(other.fd_), buffer_(std::move(other.buffer_)) {
  other.fd_ = -1;
}

RedisClient& RedisClient::operator=(RedisClient&& other) noexcept {
  if (this != &other) {
    close();
    fd_ = other.fd_;
    buffer_ = std::move(other.buffer_);
    other.fd_ = -1;
  }
  return *this;
}

void RedisClient::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  buffer_.clear();
}

void RedisClient::set_timeout(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void RedisClient::send(std::string_view bytes) {
  if (fd_ < 0) throw HarnessError("RedisClient: not connected");
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw HarnessError(std::string("RedisClient: send failed: ") + std::strerror(errno));
    bytes.remove_prefix(static_cast<std::size_t>(n));
  }
}

std::string RedisClient::read_reply() {
  if (fd_ < 0) throw HarnessError("RedisClient: not connected");
  while (true) {
    if (const auto length = resp_reply_length(buffer_)) {
      std::string reply = buffer_.substr(0, *length);
      buffer_.erase(0, *length);
      return reply;
    }
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n == 0) throw HarnessError("RedisClient: connection closed by peer; partial reply: " + buffer_);
    if (n < 0) {
      const bool timeout = errno == EAGAIN || errno == EWOULDBLOCK;
      throw HarnessError(std::string("RedisClient: ") + (timeout ? "timed out waiting for a reply" : std::strerror(errno)) +
                         "; partial reply: " + buffer_);
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
  }
}

std::string RedisClient::command(std::initializer_list<std::string_view> args) {
  send(encode_command(args));
  return read_reply();
}

std::string RedisClient::command(const std::vector<std::string>& args) {
  send(encode_command(args));
  return read_reply();
}

bool RedisClient::wait_closed(std::chrono::milliseconds timeout, std::string* rest) {
  if (rest != nullptr) rest->append(buffer_);
  buffer_.clear();
  if (fd_ < 0) return true;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd pfd{fd_, POLLIN, 0};
    const int r = ::poll(&pfd, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char chunk[16384];
    const ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return true;  // EOF or reset
    if (rest != nullptr) rest->append(chunk, static_cast<std::size_t>(n));
  }
}

}  // namespace corral::testing
