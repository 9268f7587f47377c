// usable_cpus(): the affinity count lowered to a cgroup v2 or v1 CPU quota, over a fake cgroup tree.
#include "runtime/cpu_quota.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace corral::rt {
namespace {

class FakeCgroupTree {
 public:
  // One directory per test: ctest runs the tests of this file as parallel processes.
  FakeCgroupTree()
      : root_(std::filesystem::path(::testing::TempDir()) /
              ("corral-cgroup-" + std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()) +
               "-" + std::to_string(::getpid()))) {
    std::filesystem::remove_all(root_);
  }
  ~FakeCgroupTree() {
    std::error_code ignored;
    std::filesystem::remove_all(root_, ignored);
  }
  void write(const std::string& relative, const std::string& text) const {
    const std::filesystem::path path = root_ / relative;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path) << text;
  }
  std::string root() const { return root_.string(); }

 private:
  std::filesystem::path root_;
};

TEST(CpuQuota, ParsesCpuMax) {
  EXPECT_EQ(parse_cpu_max("150000 100000\n"), 1.5);
  EXPECT_EQ(parse_cpu_max("200000 100000"), 2.0);
  EXPECT_FALSE(parse_cpu_max("max 100000\n").has_value());
  EXPECT_FALSE(parse_cpu_max("").has_value());
  EXPECT_FALSE(parse_cpu_max("12x 100000").has_value());
}

TEST(CpuQuota, CgroupV2QuotaRoundsUpAndCapsTheAffinity) {
  FakeCgroupTree tree;
  tree.write("kubepods/pod1/cpu.max", "150000 100000\n");
  EXPECT_EQ(usable_cpus(tree.root(), "0::/kubepods/pod1\n", 8), 2u);
  // A quota above the affinity count does not raise it.
  tree.write("kubepods/pod1/cpu.max", "1600000 100000\n");
  EXPECT_EQ(usable_cpus(tree.root(), "0::/kubepods/pod1\n", 8), 8u);
  tree.write("kubepods/pod1/cpu.max", "max 100000\n");
  EXPECT_EQ(usable_cpus(tree.root(), "0::/kubepods/pod1\n", 8), 8u);
}

TEST(CpuQuota, CgroupV1QuotaOfTheCpuController) {
  FakeCgroupTree tree;
  tree.write("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "50000\n");
  tree.write("cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n");
  const char* proc = "12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n0::/\n";
  EXPECT_EQ(usable_cpus(tree.root(), proc, 16), 1u);
  tree.write("cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "-1\n");  // no quota
  EXPECT_EQ(usable_cpus(tree.root(), proc, 16), 16u);
}

TEST(CpuQuota, NoCgroupInformationMeansTheAffinityCount) {
  FakeCgroupTree tree;
  EXPECT_EQ(usable_cpus(tree.root(), "", 3), 3u);
  EXPECT_EQ(usable_cpus(tree.root(), "0::/\n", 0), 1u);
}

TEST(CpuQuota, ThisProcessHasAtLeastOne) { EXPECT_GE(usable_cpus(), 1u); }

}  // namespace
}  // namespace corral::rt
