#include "runtime/cpu_quota.h"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>

namespace corral::rt {

namespace {

std::optional<std::string> read_text(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<long long> parse_integer(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

/// The cgroup path of this process for `controller` in /proc/self/cgroup's text: the line
/// "0::/path" (v2) when `controller` is empty, else the v1 line naming it ("4:cpu,cpuacct:/path").
std::optional<std::string> cgroup_of(std::string_view proc_self_cgroup, std::string_view controller) {
  std::istringstream lines{std::string(proc_self_cgroup)};
  std::string line;
  while (std::getline(lines, line)) {
    const std::size_t first = line.find(':');
    const std::size_t second = first == std::string::npos ? first : line.find(':', first + 1);
    if (second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const bool match = controller.empty() ? controllers.empty()
                                          : ("," + controllers + ",").find("," + std::string(controller) + ",") !=
                                                std::string::npos;
    if (match) return line.substr(second + 1);
  }
  return std::nullopt;
}

/// The quota of cgroup v2 (cpu.max of this process's cgroup), else of v1 (cfs_quota_us / cfs_period_us).
std::optional<double> quota_cpus(const std::string& root, std::string_view proc_self_cgroup) {
  if (const auto v2 = cgroup_of(proc_self_cgroup, "")) {
    if (const auto text = read_text(root + *v2 + "/cpu.max")) return parse_cpu_max(*text);
  }
  if (const auto v1 = cgroup_of(proc_self_cgroup, "cpu")) {
    for (const char* mount : {"/cpu,cpuacct", "/cpu"}) {
      const std::string dir = root + mount + *v1;
      const auto quota = read_text(dir + "/cpu.cfs_quota_us");
      const auto period = read_text(dir + "/cpu.cfs_period_us");
      if (!quota || !period) continue;
      const auto q = parse_integer(*quota);
      const auto p = parse_integer(*period);
      if (!q || !p || *q <= 0 || *p <= 0) return std::nullopt;  // -1: no quota
      return static_cast<double>(*q) / static_cast<double>(*p);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<double> parse_cpu_max(std::string_view text) {
  const std::size_t space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const auto quota = parse_integer(text.substr(0, space));
  const auto period = parse_integer(text.substr(space + 1));
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

std::size_t usable_cpus(const std::string& cgroup_root, std::string_view proc_self_cgroup, std::size_t affinity_cpus) {
  std::size_t cpus = std::max<std::size_t>(1, affinity_cpus);
  if (const auto quota = quota_cpus(cgroup_root, proc_self_cgroup)) {
    cpus = std::min(cpus, static_cast<std::size_t>(std::max(1.0, std::ceil(*quota))));
  }
  return cpus;
}

std::size_t usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  const std::size_t affinity = sched_getaffinity(0, sizeof set, &set) == 0 ? static_cast<std::size_t>(CPU_COUNT(&set)) : 1;
  return usable_cpus("/sys/fs/cgroup", read_text("/proc/self/cgroup").value_or(""), affinity);
}

}  // namespace corral::rt
