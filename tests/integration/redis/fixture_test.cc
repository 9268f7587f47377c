// The fixture's own checks: a sanitizer report in corral's log must be found, or the ASan+UBSan run
// of this suite would pass over memory errors in the daemon.
#include <gtest/gtest.h>

#include "redis_path.h"

namespace corral::testing::redis_it {
namespace {

TEST(SanitizerReport, FindsAddressAndUndefinedBehaviourReports) {
  EXPECT_EQ(sanitizer_report("INFO serving\nINFO draining\n"), "");
  const std::string asan = "INFO serving\n==123==ERROR: AddressSanitizer: heap-use-after-free on address 0x1\n#0 f\n";
  EXPECT_EQ(sanitizer_report(asan), asan.substr(13));
  EXPECT_NE(sanitizer_report("x.cc:12:5: runtime error: signed integer overflow\n"), "");
  EXPECT_NE(sanitizer_report("==1==ERROR: LeakSanitizer: detected memory leaks\n"), "");
}

}  // namespace
}  // namespace corral::testing::redis_it
