// The fixture base of the path integration tests of both protocols: one backend server and one
// corral per test; TearDown stops corral gracefully and fails the test when it does not exit 0 or its
// log holds a sanitizer report (the ASan+UBSan build runs the daemon instrumented, so memory errors in
// corral surface here).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

#include "harness.h"

namespace corral::testing {

/// `Backend` is RedisServer or MariaDbServer.
template <class Backend>
class ProxyPathTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (proxy_ == nullptr) return;
    const std::string problem = stop_and_check(*proxy_);
    EXPECT_TRUE(problem.empty()) << problem;
  }

  Backend& backend() { return *backend_; }
  CorralProcess& proxy() { return *proxy_; }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<CorralProcess> proxy_;
};

}  // namespace corral::testing
