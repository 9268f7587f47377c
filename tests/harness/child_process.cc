#include "child_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "harness_error.h"
#include "temp_dir.h"

extern char** environ;

namespace corral::testing {

namespace {

constexpr std::string_view kFallbackDirs = "/usr/local/sbin:/usr/sbin:/sbin";
constexpr auto kPollInterval = std::chrono::milliseconds(5);

bool is_executable_file(const std::filesystem::path& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

std::optional<std::filesystem::path> search(std::string_view name, std::string_view dirs) {
  while (true) {
    const std::size_t colon = dirs.find(':');
    const std::string_view dir = dirs.substr(0, colon);
    if (!dir.empty()) {
      std::filesystem::path candidate = std::filesystem::path(dir) / name;
      if (is_executable_file(candidate)) return candidate;
    }
    if (colon == std::string_view::npos) return std::nullopt;
    dirs.remove_prefix(colon + 1);
  }
}

// Everything the child needs, prepared before fork() so the child only makes async-signal-safe calls.
struct ExecPlan {
  std::vector<std::string> argv_storage;
  std::vector<std::string> env_storage;
  std::vector<char*> argv;
  std::vector<char*> envp;
};

ExecPlan make_plan(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env) {
  ExecPlan plan;
  plan.argv_storage = argv;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const std::string_view key = entry.substr(0, entry.find('='));
    bool overridden = false;
    for (const auto& extra : extra_env) {
      if (std::string_view(extra).substr(0, extra.find('=')) == key) overridden = true;
    }
    if (!overridden) plan.env_storage.emplace_back(entry);
  }
  plan.env_storage.insert(plan.env_storage.end(), extra_env.begin(), extra_env.end());
  for (auto& s : plan.argv_storage) plan.argv.push_back(s.data());
  plan.argv.push_back(nullptr);
  for (auto& s : plan.env_storage) plan.envp.push_back(s.data());
  plan.envp.push_back(nullptr);
  return plan;
}

[[noreturn]] void child_fail(int report_fd, int err) {
  // Best effort: the parent reads errno from the pipe; nothing else is safe to do here.
  [[maybe_unused]] const auto n = ::write(report_fd, &err, sizeof err);
  ::_exit(127);
}

// Runs in the forked child: only async-signal-safe calls from here on.
[[noreturn]] void exec_child(const ExecPlan& plan, pid_t parent, int log_fd, int null_fd, int report_fd) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) child_fail(report_fd, errno);
  if (::getppid() != parent) ::_exit(127);  // the parent died before prctl took effect
  // Signal dispositions set to "ignore" and the blocked mask survive exec; servers must see SIGTERM.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  ::sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  if (::dup2(null_fd, 0) < 0 || ::dup2(log_fd, 1) < 0 || ::dup2(log_fd, 2) < 0) child_fail(report_fd, errno);
  if (report_fd != 3) {
    if (::dup2(report_fd, 3) < 0) child_fail(report_fd, errno);
    report_fd = 3;
    ::fcntl(report_fd, F_SETFD, FD_CLOEXEC);
  }
  // Close everything else the test process has open (sockets of other servers, listeners...).
  if (::syscall(SYS_close_range, 4U, ~0U, 0U) != 0) {
    for (int fd = 4; fd < 4096; ++fd) ::close(fd);
  }
  ::execve(plan.argv[0], plan.argv.data(), plan.envp.data());
  child_fail(report_fd, errno);
}

}  // namespace

std::string missing_binary_message(std::string_view name) {
  return std::string(name) + " not found in PATH; run scripts/install-deps.sh";
}

std::filesystem::path find_executable(std::string_view name, std::string_view search_path) {
  if (auto found = search(name, search_path)) return *found;
  throw HarnessError(missing_binary_message(name) + " (searched " + std::string(search_path) + ")");
}

std::filesystem::path find_executable(std::string_view name) {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "";
  dirs += ":";
  dirs += kFallbackDirs;
  return find_executable(name, dirs);
}

int exit_code(int wait_status) {
  if (WIFEXITED(wait_status)) return WEXITSTATUS(wait_status);
  if (WIFSIGNALED(wait_status)) return 128 + WTERMSIG(wait_status);
  return -1;
}

std::string describe_wait_status(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    const char* name = ::strsignal(sig);
    return "killed by signal " + std::to_string(sig) + " (" + (name != nullptr ? name : "?") + ")";
  }
  return "wait status " + std::to_string(wait_status);
}

ChildProcess ChildProcess::spawn(const std::vector<std::string>& argv, const std::filesystem::path& log_path,
                                 const std::vector<std::string>& extra_env) {
  if (argv.empty()) throw HarnessError("spawn: empty argv");
  const ExecPlan plan = make_plan(argv, extra_env);
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw HarnessError("cannot open log " + log_path.string() + ": " + std::strerror(errno));
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  int report[2];
  if (null_fd < 0 || ::pipe2(report, O_CLOEXEC) != 0) {
    const int saved = errno;
    ::close(log_fd);
    if (null_fd >= 0) ::close(null_fd);
    throw HarnessError(std::string("spawn: ") + std::strerror(saved));
  }
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) exec_child(plan, parent, log_fd, null_fd, report[1]);
  const int fork_errno = errno;
  ::close(report[1]);
  ::close(log_fd);
  ::close(null_fd);
  if (pid < 0) {
    ::close(report[0]);
    throw HarnessError("fork " + argv[0] + ": " + std::strerror(fork_errno));
  }
  ChildProcess child;
  child.pid_ = pid;
  int child_errno = 0;
  ssize_t n;
  do {
    n = ::read(report[0], &child_errno, sizeof child_errno);
  } while (n < 0 && errno == EINTR);
  ::close(report[0]);
  if (n > 0) {
    child.kill();
    throw HarnessError("cannot execute " + argv[0] + ": " + std::strerror(child_errno));
  }
  return child;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) kill();
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_), status_(other.status_) {
  other.pid_ = -1;
  other.status_.reset();
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0) kill();
    pid_ = other.pid_;
    status_ = other.status_;
    other.pid_ = -1;
    other.status_.reset();
  }
  return *this;
}

bool ChildProcess::running() {
  if (pid_ <= 0 || status_) return false;
  int status = 0;
  const pid_t r = ::waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    status_ = status;
    return false;
  }
  return r == 0;
}

void ChildProcess::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> ChildProcess::wait_for(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(kPollInterval);
  }
  return status_;
}

int ChildProcess::terminate(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return 0;
  signal(SIGCONT);  // a frozen child cannot act on SIGTERM
  signal(SIGTERM);
  if (auto status = wait_for(grace)) return *status;
  return kill();
}

int ChildProcess::kill() {
  if (pid_ <= 0) return 0;
  if (!status_) {
    ::kill(pid_, SIGKILL);
    int status = 0;
    pid_t r;
    do {
      r = ::waitpid(pid_, &status, 0);
    } while (r < 0 && errno == EINTR);
    status_ = r == pid_ ? status : 0;
  }
  return *status_;
}

CommandResult run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout,
                          const std::filesystem::path& log_path, const std::vector<std::string>& extra_env) {
  std::optional<TempDir> scratch;
  std::filesystem::path log = log_path;
  if (log.empty()) {
    scratch.emplace("corral-cmd-");
    log = scratch->file("output.log");
  }
  ChildProcess child = ChildProcess::spawn(argv, log, extra_env);
  const auto status = child.wait_for(timeout);
  if (!status) {
    child.kill();
    throw HarnessError(argv[0] + " did not finish within " + std::to_string(timeout.count()) +
                       " ms; output:\n" + tail_file(log));
  }
  return CommandResult{*status, read_file(log)};
}

namespace {

/// True when every thread of `pid` is in state T (stopped) or t (traced stop).
bool all_threads_stopped(pid_t pid) {
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const std::size_t close = line.rfind(')');  // the command name may hold spaces and parentheses
    if (close == std::string::npos || close + 2 >= line.size()) return false;
    const char state = line[close + 2];
    if (state != 'T' && state != 't') return false;
  }
  return !ec;
}

}  // namespace

void ChildProcess::suspend() {
  signal(SIGSTOP);
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!all_threads_stopped(pid_)) {
    if (std::chrono::steady_clock::now() > give_up) throw HarnessError("child " + std::to_string(pid_) + " did not stop");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

}  // namespace corral::testing
