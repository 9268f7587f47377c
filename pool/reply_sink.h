// ReplySink: where the replies of one client session go, in the order its requests were sent.
//
//   session ──expect()──► backend FIFO entry ──reply arrives──► deliver(bytes) ──► out_ ──► session writes
//
// A session sends one run of requests to one backend connection at a time, so replies arrive in
// request order and are appended to out_ as they come: no reordering, one copy per reply.
// The sink is shared by the session and the FIFO entries of backend connections, each holding a
// ReplySinkRef (a count inside the sink: no atomic, no allocation per request). A session that ends
// with replies still in flight abandons its sink; late replies are dropped, and the last reference
// frees it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

#include "runtime/counted_ref.h"
#include "runtime/notify.h"

namespace corral::pool {

class ReplySink;
/// A counted reference to a ReplySink, move-only: the session holds one, each backend FIFO entry
/// another. The last one to go frees the sink. Not thread-safe: one loop.
using ReplySinkRef = rt::CountedRef<ReplySink>;

/// Not thread-safe: one loop. Lifetime: made by make_reply_sink(), freed with its last reference.
class ReplySink {
 public:
  ReplySink(const ReplySink&) = delete;
  ReplySink& operator=(const ReplySink&) = delete;

  /// One more reply will be delivered (the caller queued a request): the returned reference is the
  /// one it is delivered through.
  ReplySinkRef expect() noexcept;

  /// Delivers one complete reply for an expected request.
  void deliver(std::string_view reply) {
    append(reply);
    --outstanding_;
    wake_if_due();
  }

  /// Delivers bytes that answer no request of the FIFO (subscribe messages, MONITOR lines, RESP3 push).
  void deliver_unsolicited(std::string_view bytes) {
    append(bytes);
    wake_if_due_unsolicited();
  }

  /// Appends a reply corral produces itself (local commands), in order with forwarded ones.
  void append_local(std::string_view reply) { append(reply); }

  std::size_t outstanding() const noexcept { return outstanding_; }
  bool overflowed() const noexcept { return overflowed_; }
  bool has_output() const noexcept { return !out_.empty(); }

  /// Moves the waiting reply bytes into `into` (cleared first): the session writes them from there
  /// while new replies keep arriving in out_.
  void take_output(std::string& into) {
    into.clear();
    out_.swap(into);
  }

  /// Suspends the session until replies are due (all outstanding arrived, or enough bytes to flush).
  rt::Notify::WaitAwaitable wait(rt::Deadline deadline, rt::CancelSource* cancel) noexcept {
    return wake_.wait(deadline, cancel);
  }
  rt::Notify& wake() noexcept { return wake_; }

  /// Cancels `cancel` when the sink overflows: ends a write stuck on a client that stopped reading.
  void cancel_on_overflow(rt::CancelSource* cancel) noexcept { overflow_cancel_ = cancel; }

  /// The session is gone: drop pending output and any reply still to come.
  void abandon() noexcept {
    abandoned_ = true;
    overflow_cancel_ = nullptr;
    std::string().swap(out_);
  }

 private:
  friend class rt::CountedRef<ReplySink>;
  friend ReplySinkRef make_reply_sink(std::size_t flush_threshold, std::size_t limit);

  ReplySink(std::size_t flush_threshold, std::size_t limit) : flush_threshold_(flush_threshold), limit_(limit) {}
  ~ReplySink() = default;

  void counted_ref_acquire() noexcept { ++refs_; }
  void counted_ref_release() noexcept {
    if (--refs_ == 0) delete this;
  }

  void append(std::string_view bytes) {
    if (abandoned_) return;
    out_.append(bytes);
    if (out_.size() > limit_ && !overflowed_) {
      overflowed_ = true;
      if (overflow_cancel_) overflow_cancel_->cancel();
    }
  }
  void wake_if_due() {
    if (outstanding_ == 0 || out_.size() >= flush_threshold_ || overflowed_) wake_.notify();
  }
  void wake_if_due_unsolicited() { wake_.notify(); }

  std::string out_;             // reply bytes not yet handed to the session's writer
  std::size_t outstanding_ = 0;  // replies expected but not delivered
  std::size_t flush_threshold_;
  std::size_t limit_;
  uint32_t refs_ = 0;           // ReplySinkRefs: the session's, plus one per outstanding reply
  bool abandoned_ = false;
  bool overflowed_ = false;
  rt::CancelSource* overflow_cancel_ = nullptr;
  rt::Notify wake_;
};

/// A new sink and its first reference. `flush_threshold`: wake the session once this many reply bytes
/// are waiting, even with replies still outstanding, so big replies stream. `limit`: more unsent reply
/// bytes than this mark the sink overflowed (the client reads too slowly; the session closes it).
inline ReplySinkRef make_reply_sink(std::size_t flush_threshold, std::size_t limit) {
  return ReplySinkRef(*new ReplySink(flush_threshold, limit));
}

inline ReplySinkRef ReplySink::expect() noexcept {
  ++outstanding_;
  return ReplySinkRef(*this);
}

}  // namespace corral::pool
