// corral_bench_idle_clients: opens many idle client connections from one thread and holds them, for
// the idle-connection probe of bench/run.sh (issue 5: corral's RSS per idle client, backend
// connection counts).
//
//   corral_bench_idle_clients redis --port P --clients N [--host H] [--select DB]
//   corral_bench_idle_clients mysql --port P --clients N [--host H] --user U --password PW [--database D]
//       [--concurrency C] [--timeout SECONDS]
//
//   start C connections ─► each: connect ─► one request (Redis: SELECT DB + GET; MySQL: login with
//   the schema + SELECT 1) ─► reply checked ─► idle, next one starts ─► all N idle: "ready N" on stdout
//   ─► hold until SIGTERM/SIGINT ─► exit 0 (the kernel closes every socket)
//
// Any failure prints "failed: client #i: reason" on stdout and exits 1 at once, so the script can
// report it. Redis clients speak RESP on plain non-blocking sockets; MySQL clients use MariaDB
// Connector/C's non-blocking API (mysql_real_connect_start/_cont), all driven by one epoll loop.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mariadb/mysql.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
  std::string protocol;             // "redis" or "mysql"
  std::string host = "127.0.0.1";   // IPv4 address of the target
  int port = 0;                     // target port
  int clients = 0;                  // connections to open and hold
  int concurrency = 200;            // connections being opened at once (bounded: listen backlogs)
  int timeout_seconds = 120;        // all clients must be idle by then
  std::optional<int> select_db;     // Redis: SELECT this db before the GET
  std::string user;                 // MySQL login
  std::string password;             // MySQL login
  std::string database;             // MySQL default schema (sent in the handshake, like USE)
};

[[noreturn]] void fail(const std::string& reason) {
  std::printf("failed: %s\n", reason.c_str());
  std::fflush(stdout);
  std::exit(1);
}

[[noreturn]] void usage(const std::string& problem) {
  std::fprintf(stderr,
               "%s\nusage: corral_bench_idle_clients redis|mysql --port P --clients N [--host H]\n"
               "       [--select DB] [--user U --password PW --database D] [--concurrency C] [--timeout S]\n",
               problem.c_str());
  std::exit(64);
}

int parse_int(std::string_view flag, const char* text) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < 0 || value > 1'000'000) {
    usage(std::string(flag) + " needs a number from 0 to 1000000 (got '" + text + "')");
  }
  return static_cast<int>(value);
}

Options parse_options(int argc, char** argv) {
  if (argc < 2) usage("missing protocol");
  Options options;
  options.protocol = argv[1];
  if (options.protocol != "redis" && options.protocol != "mysql") usage("protocol must be redis or mysql");
  for (int i = 2; i < argc; i += 2) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage(std::string(flag) + " needs a value");
    const char* value = argv[i + 1];
    if (flag == "--port") options.port = parse_int(flag, value);
    else if (flag == "--clients") options.clients = parse_int(flag, value);
    else if (flag == "--concurrency") options.concurrency = parse_int(flag, value);
    else if (flag == "--timeout") options.timeout_seconds = parse_int(flag, value);
    else if (flag == "--select") options.select_db = parse_int(flag, value);
    else if (flag == "--host") options.host = value;
    else if (flag == "--user") options.user = value;
    else if (flag == "--password") options.password = value;
    else if (flag == "--database") options.database = value;
    else usage("unknown option " + std::string(flag));
  }
  if (options.port <= 0 || options.port > 65535) usage("--port must be 1..65535");
  if (options.clients <= 0) usage("--clients must be > 0");
  if (options.concurrency <= 0) usage("--concurrency must be > 0");
  if (options.protocol == "mysql" && options.user.empty()) usage("mysql needs --user");
  return options;
}

std::string errno_text(std::string_view what, int error) { return std::string(what) + ": " + std::strerror(error); }

/// Printable form of bytes a server sent, for a failure message.
std::string printable(std::string_view bytes) {
  std::string out;
  for (const char c : bytes.substr(0, 120)) {
    if (c == '\r') out += "\\r";
    else if (c == '\n') out += "\\n";
    else out += (c >= 32 && c < 127) ? c : '?';
  }
  return out;
}

/// One epoll instance; every registration carries the client's index.
class Poller {
 public:
  Poller() : fd_(epoll_create1(EPOLL_CLOEXEC)) {
    if (fd_ < 0) fail(errno_text("epoll_create1", errno));
  }
  ~Poller() { close(fd_); }
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  void watch(int fd, uint32_t events, std::size_t index, bool first_time) {
    epoll_event event{};
    event.events = events;
    event.data.u64 = index;
    if (epoll_ctl(fd_, first_time ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, fd, &event) != 0) {
      fail(errno_text("epoll_ctl", errno));
    }
  }

  void forget(int fd) { epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr); }

  /// Suspends until something is ready or 100 ms pass; returns the ready events.
  std::vector<epoll_event> wait() {
    std::vector<epoll_event> events(256);
    const int n = epoll_wait(fd_, events.data(), static_cast<int>(events.size()), 100);
    if (n < 0 && errno != EINTR) fail(errno_text("epoll_wait", errno));
    events.resize(n > 0 ? static_cast<std::size_t>(n) : 0);
    return events;
  }

 private:
  int fd_;  // the epoll descriptor
};

/// Opens clients while at most `concurrency` are in progress; `step(index, events)` advances one
/// client (events == 0: start it) and returns true when it is idle.
template <typename Step>
void open_all(const Options& options, Poller& poller, Step step) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(options.timeout_seconds);
  int started = 0;
  int idle = 0;
  int in_progress = 0;
  while (idle < options.clients) {
    while (in_progress < options.concurrency && started < options.clients) {
      ++in_progress;
      if (step(static_cast<std::size_t>(started++), 0u)) {
        --in_progress;
        ++idle;
      }
    }
    for (const epoll_event& event : poller.wait()) {
      if (step(event.data.u64, event.events)) {
        --in_progress;
        ++idle;
      }
    }
    if (std::chrono::steady_clock::now() > deadline) {
      fail(std::to_string(idle) + " of " + std::to_string(options.clients) + " clients idle after " +
           std::to_string(options.timeout_seconds) + " s");
    }
  }
}

// --- Redis ----------------------------------------------------------------------------------------

std::string resp_command(const std::vector<std::string>& words) {
  std::string out = "*" + std::to_string(words.size()) + "\r\n";
  for (const auto& word : words) out += "$" + std::to_string(word.size()) + "\r\n" + word + "\r\n";
  return out;
}

struct RedisClient {
  int fd = -1;             // the connection, non-blocking
  bool connected = false;  // connect() completed
  std::size_t sent = 0;    // bytes of the request written
  std::string received;    // reply bytes so far
};

class RedisOpener {
 public:
  RedisOpener(const Options& options, Poller& poller)
      : poller_(poller), clients_(static_cast<std::size_t>(options.clients)) {
    address_.sin_family = AF_INET;
    address_.sin_port = htons(static_cast<uint16_t>(options.port));
    if (inet_pton(AF_INET, options.host.c_str(), &address_.sin_addr) != 1) usage("--host must be an IPv4 address");
    // A key no benchmark writes, so GET answers nil and the reply is known exactly.
    if (options.select_db) {
      request_ += resp_command({"SELECT", std::to_string(*options.select_db)});
      expected_ += "+OK\r\n";
    }
    request_ += resp_command({"GET", "corral-bench:idle-probe"});
    expected_ += "$-1\r\n";
  }

  /// Advances client `index`; true once its reply has arrived and it is idle.
  bool step(std::size_t index, uint32_t events) {
    RedisClient& client = clients_[index];
    if (client.fd < 0) return start(index);
    if (!client.connected) {
      int error = 0;
      socklen_t length = sizeof error;
      getsockopt(client.fd, SOL_SOCKET, SO_ERROR, &error, &length);
      if (error != 0) fail(who(index) + errno_text("connect", error));
      if ((events & EPOLLOUT) == 0) return false;
      client.connected = true;
    }
    if (client.sent < request_.size()) return write_request(index);
    return read_reply(index);
  }

 private:
  std::string who(std::size_t index) const { return "client #" + std::to_string(index) + ": "; }

  bool start(std::size_t index) {
    RedisClient& client = clients_[index];
    client.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (client.fd < 0) fail(who(index) + errno_text("socket", errno));
    const int rc = connect(client.fd, reinterpret_cast<const sockaddr*>(&address_), sizeof address_);
    if (rc != 0 && errno != EINPROGRESS) fail(who(index) + errno_text("connect", errno));
    poller_.watch(client.fd, EPOLLOUT, index, true);
    if (rc != 0) return false;
    client.connected = true;
    return write_request(index);
  }

  bool write_request(std::size_t index) {
    RedisClient& client = clients_[index];
    const ssize_t n = send(client.fd, request_.data() + client.sent, request_.size() - client.sent, MSG_NOSIGNAL);
    if (n < 0 && errno != EAGAIN) fail(who(index) + errno_text("send", errno));
    if (n > 0) client.sent += static_cast<std::size_t>(n);
    poller_.watch(client.fd, client.sent < request_.size() ? EPOLLOUT : EPOLLIN, index, false);
    return false;
  }

  bool read_reply(std::size_t index) {
    RedisClient& client = clients_[index];
    char buffer[512];
    for (;;) {
      const ssize_t n = recv(client.fd, buffer, sizeof buffer, 0);
      if (n < 0 && errno == EAGAIN) return false;
      if (n < 0) fail(who(index) + errno_text("recv", errno));
      if (n == 0) fail(who(index) + "server closed the connection after '" + printable(client.received) + "'");
      client.received.append(buffer, static_cast<std::size_t>(n));
      const std::size_t compared = std::min(client.received.size(), expected_.size());
      if (client.received.compare(0, compared, expected_, 0, compared) != 0 ||
          client.received.size() > expected_.size()) {
        fail(who(index) + "unexpected reply '" + printable(client.received) + "'");
      }
      if (client.received.size() == expected_.size()) {
        poller_.forget(client.fd);
        std::string().swap(client.received);
        return true;
      }
    }
  }

  Poller& poller_;                    // the one epoll loop
  std::vector<RedisClient> clients_;  // one per connection, by index
  sockaddr_in address_{};             // the target
  std::string request_;               // SELECT (optional) + GET, pipelined in one write
  std::string expected_;              // the exact replies
};

// --- MySQL ----------------------------------------------------------------------------------------

struct MysqlClient {
  enum class Phase { NotStarted, Connecting, Querying, Storing, Idle };
  MYSQL* mysql = nullptr;          // the Connector/C handle
  Phase phase = Phase::NotStarted; // what the pending non-blocking call is
  bool watched = false;            // its socket is registered with the poller
};

uint32_t epoll_events_for(int status) {
  uint32_t events = 0;
  if ((status & MYSQL_WAIT_READ) != 0) events |= EPOLLIN;
  if ((status & MYSQL_WAIT_WRITE) != 0) events |= EPOLLOUT;
  if ((status & MYSQL_WAIT_EXCEPT) != 0) events |= EPOLLPRI;
  return events;
}

int mysql_status_for(uint32_t events) {
  int status = 0;
  if ((events & (EPOLLIN | EPOLLERR | EPOLLHUP)) != 0) status |= MYSQL_WAIT_READ;
  if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) != 0) status |= MYSQL_WAIT_WRITE;
  if ((events & EPOLLPRI) != 0) status |= MYSQL_WAIT_EXCEPT;
  return status;
}

class MysqlOpener {
 public:
  MysqlOpener(const Options& options, Poller& poller)
      : options_(options), poller_(poller), clients_(static_cast<std::size_t>(options.clients)) {}

  /// Advances client `index` through connect, SELECT 1 and reading its result; true once idle.
  bool step(std::size_t index, uint32_t events) {
    MysqlClient& client = clients_[index];
    int status = 0;
    switch (client.phase) {
      case MysqlClient::Phase::NotStarted:
        status = start(index);
        break;
      case MysqlClient::Phase::Connecting: {
        MYSQL* connected = nullptr;
        status = mysql_real_connect_cont(&connected, client.mysql, mysql_status_for(events));
        if (status == 0 && connected == nullptr) fail(who(index) + "login: " + mysql_error(client.mysql));
        break;
      }
      case MysqlClient::Phase::Querying: {
        int error = 0;
        status = mysql_real_query_cont(&error, client.mysql, mysql_status_for(events));
        if (status == 0 && error != 0) fail(who(index) + "SELECT 1: " + mysql_error(client.mysql));
        break;
      }
      case MysqlClient::Phase::Storing: {
        MYSQL_RES* result = nullptr;
        status = mysql_store_result_cont(&result, client.mysql, mysql_status_for(events));
        if (status == 0) check_result(index, result);
        break;
      }
      case MysqlClient::Phase::Idle:
        return false;  // an idle connection's socket is no longer watched
    }
    return settle(index, status);
  }

 private:
  std::string who(std::size_t index) const { return "client #" + std::to_string(index) + ": "; }

  int start(std::size_t index) {
    MysqlClient& client = clients_[index];
    client.mysql = mysql_init(nullptr);
    if (client.mysql == nullptr) fail(who(index) + "mysql_init: out of memory");
    mysql_options(client.mysql, MYSQL_OPT_NONBLOCK, nullptr);
    client.phase = MysqlClient::Phase::Connecting;
    MYSQL* connected = nullptr;
    const char* database = options_.database.empty() ? nullptr : options_.database.c_str();
    const int status = mysql_real_connect_start(&connected, client.mysql, options_.host.c_str(), options_.user.c_str(),
                                                options_.password.c_str(), database,
                                                static_cast<unsigned>(options_.port), nullptr, 0);
    if (status == 0 && connected == nullptr) fail(who(index) + "login: " + mysql_error(client.mysql));
    return status;
  }

  void check_result(std::size_t index, MYSQL_RES* result) {
    MysqlClient& client = clients_[index];
    if (result == nullptr) fail(who(index) + "SELECT 1 gave no result: " + mysql_error(client.mysql));
    MYSQL_ROW row = mysql_fetch_row(result);  // stored: no I/O
    const bool one = row != nullptr && row[0] != nullptr && std::string_view(row[0]) == "1";
    mysql_free_result(result);
    if (!one) fail(who(index) + "SELECT 1 did not return 1");
  }

  /// Finishes a step: watches the socket while the call waits, else starts the next phase.
  bool settle(std::size_t index, int status) {
    MysqlClient& client = clients_[index];
    while (status == 0) {
      switch (client.phase) {
        case MysqlClient::Phase::Connecting: {
          client.phase = MysqlClient::Phase::Querying;
          int error = 0;
          status = mysql_real_query_start(&error, client.mysql, "SELECT 1", 8);
          if (status == 0 && error != 0) fail(who(index) + "SELECT 1: " + mysql_error(client.mysql));
          break;
        }
        case MysqlClient::Phase::Querying: {
          client.phase = MysqlClient::Phase::Storing;
          MYSQL_RES* result = nullptr;
          status = mysql_store_result_start(&result, client.mysql);
          if (status == 0) check_result(index, result);
          break;
        }
        case MysqlClient::Phase::Storing:
          client.phase = MysqlClient::Phase::Idle;
          if (client.watched) poller_.forget(mysql_get_socket(client.mysql));
          return true;
        case MysqlClient::Phase::NotStarted:
        case MysqlClient::Phase::Idle:
          return false;
      }
    }
    // Connector/C asks for a timeout only when one is configured; none is, so READ/WRITE decide.
    poller_.watch(mysql_get_socket(client.mysql), epoll_events_for(status), index, !client.watched);
    client.watched = true;
    return false;
  }

  const Options& options_;            // what to open
  Poller& poller_;                    // the one epoll loop
  std::vector<MysqlClient> clients_;  // one per connection, by index
};

/// Blocks until SIGTERM or SIGINT; they are blocked from the start so none is lost before this.
void hold_until_signalled(const sigset_t& signals) {
  int signal = 0;
  sigwait(&signals, &signal);
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigprocmask(SIG_BLOCK, &signals, nullptr);

  Poller poller;
  std::unique_ptr<RedisOpener> redis;
  std::unique_ptr<MysqlOpener> mysql;
  if (options.protocol == "redis") {
    redis = std::make_unique<RedisOpener>(options, poller);
    open_all(options, poller, [&](std::size_t index, uint32_t events) { return redis->step(index, events); });
  } else {
    if (mysql_library_init(0, nullptr, nullptr) != 0) fail("mysql_library_init failed");
    mysql = std::make_unique<MysqlOpener>(options, poller);
    open_all(options, poller, [&](std::size_t index, uint32_t events) { return mysql->step(index, events); });
  }
  std::printf("ready %d\n", options.clients);
  std::fflush(stdout);
  hold_until_signalled(signals);
  // Exiting closes every socket at once; closing them one by one (COM_QUIT for MySQL) would only be slower.
  return 0;
}
