// Runtime tests that touch sockets or the loop run once per I/O backend (epoll, io_uring).
//
//   class Tcp : public OnEachBackend {};  TEST_P(Tcp, X) { EventLoop loop(GetParam()); ... }
//   CORRAL_ON_EACH_BACKEND(Tcp);
//
// Where the kernel refuses io_uring (seccomp, as in Docker's default profile; io_uring_disabled), the
// io_uring instances are skipped with that reason, never silently run on the epoll fallback.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "runtime/event_loop.h"

namespace corral::rt {

class OnEachBackend : public ::testing::TestWithParam<IoBackend> {
 protected:
  void SetUp() override {
    if (GetParam() == IoBackend::IoUring && EventLoop(IoBackend::IoUring).backend() != IoBackend::IoUring) {
      GTEST_SKIP() << "io_uring is not available on this machine (the loop fell back to epoll)";
    }
  }
};

inline std::string backend_test_name(const ::testing::TestParamInfo<IoBackend>& info) {
  return info.param == IoBackend::IoUring ? "IoUring" : "Epoll";
}

}  // namespace corral::rt

#define CORRAL_ON_EACH_BACKEND(suite)                                                                    \
  INSTANTIATE_TEST_SUITE_P(Io, suite, ::testing::Values(::corral::rt::IoBackend::Epoll,                  \
                                                        ::corral::rt::IoBackend::IoUring),               \
                           ::corral::rt::backend_test_name)
