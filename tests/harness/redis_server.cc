#include "redis_server.h"

#include <utility>

#include "harness_error.h"
#include "ports.h"
#include "server_start.h"

namespace corral::testing {

namespace {

std::string password_from_args(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--requirepass") return args[i + 1];
  }
  return {};
}

}  // namespace

RedisServer::RedisServer(RedisServerOptions options)
    : ServerChild({.dir_prefix = "corral-redis-",
                   .log_name = "redis.log",
                   .name = "redis-server",
                   .ready_what = "answer PING",
                   .poll_interval = std::chrono::milliseconds(10)}),
      options_(std::move(options)),
      binary_(find_executable("redis-server")) {
  if (options_.password.empty()) options_.password = password_from_args(options_.extra_args);
  start(/*may_change_port=*/true, options_.start_timeout);
}

std::string RedisServer::url() const { return "redis://" + host_ + ":" + std::to_string(port_); }

std::vector<std::string> RedisServer::command_line() const {
  std::vector<std::string> argv = {binary_.string(), "--port", std::to_string(port_), "--bind", host_,
                                   "--save", "", "--appendonly", "no", "--daemonize", "no",
                                   "--dir", dir_.path().string(), "--logfile", ""};
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  return argv;
}

bool RedisServer::answers(const StartLog& log) {
  if (log.text().find("Ready to accept connections") == std::string::npos) return false;
  try {
    RedisClient client = RedisClient::connect(host_, port_, std::chrono::seconds(2));
    const std::string reply = client.command({"PING"});
    // -NOAUTH also proves the server answers; -LOADING does not happen without persistence.
    return reply.rfind("+PONG", 0) == 0 || reply.rfind("-NOAUTH", 0) == 0;
  } catch (const HarnessError&) {
    return false;  // not answering yet: keep waiting
  }
}

bool RedisServer::lost_port(const std::string& log) const {
  return log.find("Address already in use") != std::string::npos;
}

int RedisServer::stop() { return exit_code(process_.terminate()); }

void RedisServer::restart() {
  if (process_.running()) stop();
  start(/*may_change_port=*/false, options_.start_timeout);
}

void RedisServer::restart(RedisServerOptions options) {
  if (process_.running()) stop();
  options_ = std::move(options);
  start(/*may_change_port=*/false, options_.start_timeout);
}

std::string RedisServer::command(const std::vector<std::string>& args) {
  RedisClient client = connect();
  std::string request;
  if (!options_.password.empty()) request += encode_command({"AUTH", options_.password});
  request += encode_command({"CLIENT", "SETNAME", "corral-harness"});
  request += encode_command(args);
  client.send(request);
  if (!options_.password.empty()) {
    const std::string auth = client.read_reply();
    if (auth != "+OK\r\n") throw HarnessError("redis-server on port " + std::to_string(port_) + " refused AUTH: " + auth);
  }
  client.read_reply();  // CLIENT SETNAME: a restricted ACL user may be refused; that does not matter
  return client.read_reply();
}

std::string RedisServer::command(std::initializer_list<std::string_view> args) {
  return command(std::vector<std::string>(args.begin(), args.end()));
}

RedisClient RedisServer::connect() const { return RedisClient::connect(host_, port_, std::chrono::seconds(10)); }

}  // namespace corral::testing
