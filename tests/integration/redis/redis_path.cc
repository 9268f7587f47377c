#include "redis_path.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace corral::testing::redis_it {

namespace {

timeval to_timeval(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  return tv;
}

}  // namespace

// ---- RedisPathTest ------------------------------------------------------------------------------

RedisServer& RedisPathTest::start_backend(RedisServerOptions options) {
  backend_ = std::make_unique<RedisServer>(std::move(options));
  return *backend_;
}

CorralProcess& RedisPathTest::start_proxy(ProxySetup setup) {
  if (setup.backend.empty()) {
    if (backend_ == nullptr) start_backend();
    setup.backend = backend_->url();
  }
  std::string toml = "[server]\nworkers = " + std::to_string(setup.workers) + "\nshutdown_grace_ms = 2000\n" +
                     setup.server_toml + "\n[pool]\n" + setup.pool_toml + "\n[client]\n" + setup.client_toml +
                     "\n" + setup.more_toml + "\n";
  proxy_ = std::make_unique<CorralProcess>(CorralOptions{
      .listeners = {{.name = "redis", .protocol = "redis", .backend = setup.backend, .auth = setup.auth}},
      .extra_toml = std::move(toml)});
  return *proxy_;
}

RedisClient RedisPathTest::connect(std::chrono::milliseconds timeout) const {
  return RedisClient::connect("127.0.0.1", proxy_port(), timeout);
}

RedisClient RedisPathTest::connect_direct(std::chrono::milliseconds timeout) const {
  return RedisClient::connect("127.0.0.1", backend_->port(), timeout);
}

std::vector<std::string> run_script(RedisClient& client, const std::vector<std::vector<std::string>>& commands) {
  std::vector<std::string> replies;
  replies.reserve(commands.size());
  for (const auto& command : commands) replies.push_back(client.command(command));
  return replies;
}

// ---- Hiredis ------------------------------------------------------------------------------------

Hiredis Hiredis::connect(uint16_t port, std::chrono::milliseconds timeout) {
  Hiredis out;
  out.context_ = redisConnectWithTimeout("127.0.0.1", port, to_timeval(timeout));
  if (out.context_ == nullptr) throw HarnessError("hiredis: out of memory");
  if (out.context_->err != 0) {
    throw HarnessError("hiredis: cannot connect to 127.0.0.1:" + std::to_string(port) + ": " + out.context_->errstr);
  }
  redisSetTimeout(out.context_, to_timeval(timeout));
  return out;
}

Hiredis::Hiredis(Hiredis&& other) noexcept : context_(std::exchange(other.context_, nullptr)) {}

Hiredis& Hiredis::operator=(Hiredis&& other) noexcept {
  if (this != &other) {
    if (context_ != nullptr) redisFree(context_);
    context_ = std::exchange(other.context_, nullptr);
  }
  return *this;
}

Hiredis::~Hiredis() {
  if (context_ != nullptr) redisFree(context_);
}

void Hiredis::append(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  if (redisAppendCommandArgv(context_, static_cast<int>(args.size()), argv.data(), lengths.data()) != REDIS_OK) {
    throw HarnessError(std::string("hiredis: append failed: ") + context_->errstr);
  }
}

std::string Hiredis::get_reply() {
  void* raw = nullptr;
  if (redisGetReply(context_, &raw) != REDIS_OK || raw == nullptr) return std::string("!") + context_->errstr;
  auto* reply = static_cast<redisReply*>(raw);
  std::string text = render(reply);
  freeReplyObject(reply);
  return text;
}

std::string Hiredis::command(const std::vector<std::string>& args) {
  append(args);
  return get_reply();
}

std::string render(const redisReply* reply) {
  switch (reply->type) {
    case REDIS_REPLY_STATUS: return "+" + std::string(reply->str, reply->len);
    case REDIS_REPLY_ERROR: return "-" + std::string(reply->str, reply->len);
    case REDIS_REPLY_INTEGER: return ":" + std::to_string(reply->integer);
    case REDIS_REPLY_STRING: return "$" + std::string(reply->str, reply->len);
    case REDIS_REPLY_NIL: return "$(nil)";
    case REDIS_REPLY_ARRAY: {
      std::string out = "*" + std::to_string(reply->elements) + "[";
      for (std::size_t i = 0; i < reply->elements; ++i) {
        if (i > 0) out += ",";
        out += render(reply->element[i]);
      }
      return out + "]";
    }
    default: return "?" + std::to_string(reply->type);
  }
}

// ---- ConnectionSwarm ----------------------------------------------------------------------------

ConnectionSwarm::ConnectionSwarm(uint16_t port, std::size_t count) {
  fds_.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const int fd = connect_tcp("127.0.0.1", port, 10s);
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    fds_.push_back(fd);
  }
  inbound_.resize(count);
}

ConnectionSwarm::~ConnectionSwarm() {
  for (const int fd : fds_) ::close(fd);
}

std::vector<std::vector<std::string>> ConnectionSwarm::round(const std::vector<std::string>& requests,
                                                             const std::vector<std::size_t>& replies,
                                                             std::chrono::milliseconds timeout) {
  const std::size_t n = fds_.size();
  std::vector<std::size_t> sent(n, 0);
  std::vector<std::vector<std::string>> out(n);
  std::size_t done = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (replies[i] == 0 && requests[i].empty()) ++done;
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::vector<pollfd> polls(n);
  char chunk[16384];
  while (done < n) {
    for (std::size_t i = 0; i < n; ++i) {
      const bool writing = sent[i] < requests[i].size();
      const bool reading = out[i].size() < replies[i];
      polls[i] = pollfd{(writing || reading) ? fds_[i] : -1,
                        static_cast<short>((writing ? POLLOUT : 0) | (reading ? POLLIN : 0)), 0};
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      std::size_t waiting = 0;
      for (std::size_t i = 0; i < n; ++i) waiting += out[i].size() < replies[i] ? 1 : 0;
      throw HarnessError("ConnectionSwarm: " + std::to_string(waiting) + " connections still wait for replies after " +
                         std::to_string(timeout.count()) + " ms");
    }
    const int ready = ::poll(polls.data(), polls.size(), static_cast<int>(std::min<long long>(left.count(), 1000)));
    if (ready < 0 && errno != EINTR) throw HarnessError(std::string("poll: ") + std::strerror(errno));
    for (std::size_t i = 0; i < n && ready > 0; ++i) {
      if (polls[i].revents == 0) continue;
      const bool was_done = out[i].size() >= replies[i] && sent[i] >= requests[i].size();
      if ((polls[i].revents & POLLOUT) != 0 && sent[i] < requests[i].size()) {
        const ssize_t w = ::send(fds_[i], requests[i].data() + sent[i], requests[i].size() - sent[i], MSG_NOSIGNAL);
        if (w > 0) sent[i] += static_cast<std::size_t>(w);
        if (w < 0 && errno != EAGAIN && errno != EINTR) {
          throw HarnessError("ConnectionSwarm: send on connection " + std::to_string(i) + ": " + std::strerror(errno));
        }
      }
      if ((polls[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0 && out[i].size() < replies[i]) {
        const ssize_t r = ::recv(fds_[i], chunk, sizeof chunk, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          throw HarnessError("ConnectionSwarm: connection " + std::to_string(i) + " closed; got " +
                             std::to_string(out[i].size()) + " replies, buffered: " + inbound_[i]);
        }
        if (r > 0) inbound_[i].append(chunk, static_cast<std::size_t>(r));
        while (out[i].size() < replies[i]) {
          const auto length = resp_reply_length(inbound_[i]);
          if (!length) break;
          out[i].push_back(inbound_[i].substr(0, *length));
          inbound_[i].erase(0, *length);
        }
      }
      const bool now_done = out[i].size() >= replies[i] && sent[i] >= requests[i].size();
      if (now_done && !was_done) ++done;
    }
  }
  return out;
}

// ---- CLIENT LIST --------------------------------------------------------------------------------

std::vector<ClientFields> client_list(RedisServer& server) {
  const std::string text = bulk_payload(server.command({"CLIENT", "LIST"}));
  std::vector<ClientFields> clients;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    ClientFields fields;
    std::istringstream words(line);
    std::string word;
    while (words >> word) {
      const std::size_t eq = word.find('=');
      if (eq != std::string::npos) fields[word.substr(0, eq)] = word.substr(eq + 1);
    }
    if (fields["name"] == "corral-harness") continue;
    clients.push_back(std::move(fields));
  }
  return clients;
}

std::size_t count_named(const std::vector<ClientFields>& clients, std::string_view name) {
  std::size_t n = 0;
  for (const auto& c : clients) {
    const auto found = c.find("name");
    if (found != c.end() && found->second == name) ++n;
  }
  return n;
}

std::string bulk_payload(std::string_view reply) {
  if (reply.empty() || reply.front() != '$') throw HarnessError("not a bulk string reply: " + std::string(reply));
  const std::size_t eol = reply.find("\r\n");
  if (eol == std::string_view::npos || reply.size() < eol + 4) throw HarnessError("truncated bulk: " + std::string(reply));
  return std::string(reply.substr(eol + 2, reply.size() - eol - 4));
}

double elapsed_ms(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

uint64_t rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  throw HarnessError("no VmRSS for pid " + std::to_string(pid));
}

}  // namespace corral::testing::redis_it
