#include "server_start.h"

#include <utility>

#include "harness_error.h"
#include "ports.h"
#include "server_child.h"
#include "temp_dir.h"
#include "wait.h"

namespace corral::testing {

StartLog::StartLog(std::filesystem::path path) : path_(std::move(path)) {
  std::error_code ec;
  offset_ = std::filesystem::exists(path_, ec) ? std::filesystem::file_size(path_, ec) : 0;
}

std::string StartLog::text() const {
  const std::string text = read_file(path_);
  return offset_ < text.size() ? text.substr(offset_) : std::string();
}

bool wait_for_start(ChildProcess& process, const StartLog& log, const StartWait& wait) {
  bool exited = false;
  const bool ended = poll_until(
      [&] {
        exited = !process.running();
        return exited || wait.ready();
      },
      wait.timeout, wait.interval);
  if (!ended) {
    process.kill();
    throw HarnessError(wait.who + " did not " + wait.ready_what + " within " + std::to_string(wait.timeout.count()) +
                       " ms; " + wait.log_label + ":\n" + log.text());
  }
  if (!exited) return true;
  const std::string log_text = log.text();
  if (wait.retry(log_text)) return false;
  throw HarnessError(wait.who + " " + describe_wait_status(*process.wait_status()) + " during start-up; " +
                     wait.exit_details() + wait.log_label + ":\n" + log_text);
}

void ServerChild::start(bool may_change_port, std::chrono::milliseconds timeout) {
  constexpr int kStartAttempts = 5;
  for (int attempt = 1;; ++attempt) {
    if (may_change_port) port_ = pick_free_port();
    const StartLog log(log_path());  // the log is appended to across restarts: only this start's part counts
    process_ = ChildProcess::spawn(command_line(), log_path());
    const bool ready = wait_for_start(
        process_, log,
        {.who = kind_.name + " on port " + std::to_string(port_),
         .ready_what = kind_.ready_what,
         .timeout = timeout,
         .interval = kind_.poll_interval,
         .ready = [&] { return answers(log); },
         .retry =
             [&](const std::string& log_text) {
               return may_change_port && attempt < kStartAttempts && lost_port(log_text);
             }});
    if (ready) return;  // else retry on a new port
  }
}

}  // namespace corral::testing
