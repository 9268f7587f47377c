// How many worker threads `workers = 0` means: the CPUs this process may really use. In a container the
// CPU count the kernel reports is the host's, while a cgroup quota (docker --cpus, a Kubernetes CPU
// limit) allows fewer; threads beyond the quota only add context switches and throttling.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace corral::rt {

/// The CPUs in this process's affinity mask, lowered to the cgroup CPU quota rounded up; at least 1.
std::size_t usable_cpus();

/// The same from given parts (tests): `cgroup_root` where the cgroup file systems are mounted
/// (/sys/fs/cgroup), `proc_self_cgroup` the text of /proc/self/cgroup, `affinity_cpus` the mask's count.
std::size_t usable_cpus(const std::string& cgroup_root, std::string_view proc_self_cgroup, std::size_t affinity_cpus);

/// The quota in CPUs of cgroup v2's cpu.max ("150000 100000" is 1.5); nullopt for "max ..." or bad text.
std::optional<double> parse_cpu_max(std::string_view text);

}  // namespace corral::rt
