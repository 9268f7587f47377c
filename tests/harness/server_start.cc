#include "server_start.h"

#include <utility>

#include "harness_error.h"
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

}  // namespace corral::testing
