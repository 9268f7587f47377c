// The ceiling of MySQL pipelining (issue 15), measured on the server before building it into corral:
// THREADS connections to mariadbd, each sending BATCH sysbench point selects back to back
// (mysql_send_query) before reading their results in order, optionally with a SHOW WARNINGS after
// every statement but the last: what corral would have to add to keep each client's warnings when
// other clients' statements follow its own on one connection. Prints statements per second.
//
//   corral_bench_mysql_pipeline_probe HOST PORT USER PASSWORD DATABASE THREADS BATCH CAPTURE(0|1) SECONDS
//
// Needs sysbench's table sbtest1 with at least 10,000 rows (docs/BENCHMARKS.md has the commands).
#include <mysql.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

struct Options {
  const char* host;
  unsigned port;
  const char* user;
  const char* password;
  const char* database;
  int threads;
  int batch;
  bool capture;
  double seconds;
};

[[noreturn]] void fail(MYSQL* mysql, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, mysql_error(mysql));
  std::exit(1);
}

void send(MYSQL* mysql, const std::string& sql) {
  if (mysql_send_query(mysql, sql.data(), sql.size()) != 0) fail(mysql, "send");
}

/// One connection's loop: batches of point selects until `stop`; returns the statements answered.
long run_connection(const Options& options, int seed, const std::atomic<bool>& stop) {
  MYSQL* mysql = mysql_init(nullptr);
  if (mysql_real_connect(mysql, options.host, options.user, options.password, options.database, options.port,
                         nullptr, 0) == nullptr) {
    fail(mysql, "connect");
  }
  std::mt19937 random(static_cast<unsigned>(seed));
  long answered = 0;
  while (!stop.load(std::memory_order_relaxed)) {
    int sent = 0;
    for (int i = 0; i < options.batch; ++i) {
      send(mysql, "SELECT c FROM sbtest1 WHERE id=" + std::to_string(random() % 10000 + 1));
      ++sent;
      if (options.capture && i + 1 < options.batch) {
        send(mysql, "SHOW WARNINGS");
        ++sent;
      }
    }
    for (int i = 0; i < sent; ++i) {
      if (mysql_read_query_result(mysql) != 0) fail(mysql, "read");
      MYSQL_RES* result = mysql_store_result(mysql);
      if (result != nullptr) mysql_free_result(result);
    }
    answered += options.batch;
  }
  mysql_close(mysql);
  return answered;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 10) {
    std::fprintf(stderr, "usage: %s HOST PORT USER PASSWORD DATABASE THREADS BATCH CAPTURE(0|1) SECONDS\n", argv[0]);
    return 64;
  }
  const Options options{argv[1],        static_cast<unsigned>(std::atoi(argv[2])), argv[3], argv[4], argv[5],
                        std::atoi(argv[6]), std::atoi(argv[7]), std::atoi(argv[8]) != 0, std::atof(argv[9])};
  if (options.threads < 1 || options.batch < 1 || options.seconds <= 0) {
    std::fprintf(stderr, "THREADS and BATCH must be >= 1, SECONDS > 0\n");
    return 64;
  }
  std::atomic<bool> stop{false};
  std::atomic<long> answered{0};
  std::vector<std::thread> connections;
  for (int t = 0; t < options.threads; ++t) {
    connections.emplace_back([&, t] { answered += run_connection(options, t, stop); });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(options.seconds));
  stop.store(true);
  for (auto& connection : connections) connection.join();
  std::printf("threads=%d batch=%d capture=%d statements/s=%.0f\n", options.threads, options.batch,
              options.capture ? 1 : 0, static_cast<double>(answered.load()) / options.seconds);
  return 0;
}
