// A stand-in for the corral daemon, used only to test CorralProcess itself: reads `address = "H:P"`
// lines from the --config file, listens on each, accepts and closes connections, exits 0 on SIGTERM.
// FAKE_CORRAL_FAIL=<text> makes it print <text> to stderr and exit 2 instead, as a bad config would.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t g_stop = 0;

void on_term(int) { g_stop = 1; }

int listen_on(const std::string& host, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 64) != 0) {
    std::fprintf(stderr, "fake-corral: cannot listen on %s:%d: %s\n", host.c_str(), port, std::strerror(errno));
    std::exit(1);
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config;
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], "--config") == 0) config = argv[i + 1];
  }
  if (const char* fail = std::getenv("FAKE_CORRAL_FAIL")) {
    std::fprintf(stderr, "%s\n", fail);
    return 2;
  }
  std::ifstream in(config);
  if (!in) {
    std::fprintf(stderr, "fake-corral: cannot read config '%s'\n", config.c_str());
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = on_term;
  ::sigaction(SIGTERM, &sa, nullptr);
  std::vector<pollfd> fds;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("address = \"", 0) != 0) continue;
    const std::string value = line.substr(11, line.size() - 12);
    const auto colon = value.rfind(':');
    fds.push_back({listen_on(value.substr(0, colon), std::atoi(value.c_str() + colon + 1)), POLLIN, 0});
  }
  std::fprintf(stderr, "fake-corral: listening on %zu addresses\n", fds.size());
  while (g_stop == 0) {
    if (::poll(fds.data(), fds.size(), 100) <= 0) continue;
    for (auto& p : fds) {
      if ((p.revents & POLLIN) != 0) {
        const int c = ::accept(p.fd, nullptr, nullptr);
        if (c >= 0) ::close(c);
      }
    }
  }
  std::fprintf(stderr, "fake-corral: SIGTERM, exiting\n");
  return 0;
}
