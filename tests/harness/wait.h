// Polled waits: a test that needs the system in some state checks for that state until it holds or a
// deadline passes, instead of sleeping a fixed time and hoping it got there.
//
//   poll_until(condition, timeout) ──► condition() ──true──► true
//                                        │ false
//                                        ├─ deadline passed ──► false
//                                        └─ sleep `interval`, check again
//   wait_until(condition, timeout, what) ── the same; throws HarnessError naming `what` instead of false
#pragma once

#include <chrono>
#include <concepts>
#include <string>
#include <string_view>
#include <thread>

#include "harness_error.h"

namespace corral::testing {

/// How long poll_until() and wait_until() sleep between two checks unless told otherwise.
inline constexpr std::chrono::milliseconds kDefaultPollInterval{10};

/// Calls `condition` until it returns true or `timeout` has passed, sleeping `interval` between calls;
/// returns whether it held. The condition is checked at least once, and once more after the deadline
/// when the last sleep crossed it, so a slow condition never loses to its own duration.
/// The interval is only the pace of the checks: nothing waits on it to "let something happen".
template <std::predicate Condition>
bool poll_until(Condition&& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds interval = kDefaultPollInterval) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(interval);
  }
}

/// "timed out after 2000 ms waiting for <what>": the message wait_until() throws.
std::string wait_timeout_message(std::string_view what, std::chrono::milliseconds timeout);

/// Like poll_until(), but throws HarnessError(wait_timeout_message(what, timeout)) when `condition`
/// does not hold in time. `what` names the awaited state ("the BLPOP to block on the backend").
/// Call it from the test's own thread: an exception escaping another thread ends the process.
template <std::predicate Condition>
void wait_until(Condition&& condition, std::chrono::milliseconds timeout, std::string_view what,
                std::chrono::milliseconds interval = kDefaultPollInterval) {
  if (!poll_until(condition, timeout, interval)) throw HarnessError(wait_timeout_message(what, timeout));
}

}  // namespace corral::testing
