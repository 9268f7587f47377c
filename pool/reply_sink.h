// ReplySink: where the replies of one client session go, in the order its requests were sent.
//
//   session ──expect()──► backend FIFO entry ──reply arrives──► deliver(bytes) ──► out_ ──► session writes
//
// A session sends one run of requests to one backend connection at a time, so replies arrive in
// request order and are appended to out_ as they come: no reordering, one copy per reply. A big
// reply streams: its bytes are appended as they arrive (deliver_part()), and the backend connection
// reads on only while the client takes them (over_window(), wait_drained()); a client that takes
// nothing for a while no longer holds the connection back, and its replies then queue up to the
// limit (client.output_buffer_limit), where it is closed, as redis-server closes a client over its
// client-output-buffer-limit.
// The sink is shared by the session and the FIFO entries of backend connections, each holding a
// ReplySinkRef (a count inside the sink: no atomic, no allocation per request). A session that ends
// with replies still in flight abandons its sink; late replies are dropped, and the last reference
// frees it.
#pragma once

#include <algorithm>
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

  /// Delivers the first bytes of a reply still arriving (a big reply streams); deliver() brings
  /// the rest.
  void deliver_part(std::string_view bytes) {
    append(bytes);
    if (out_.size() >= flush_threshold_ || overflowed_) wake_.notify();
  }

  /// Delivers bytes that answer no request of the FIFO (subscribe messages, MONITOR lines, RESP3 push).
  void deliver_unsolicited(std::string_view bytes) {
    append(bytes);
    wake_if_due_unsolicited();
  }

  /// Appends a reply corral produces itself (local commands), in order with forwarded ones.
  void append_local(std::string_view reply) { append(reply); }

  std::size_t outstanding() const noexcept { return outstanding_; }
  /// Reply bytes the client has not taken yet: waiting here, plus taken by the session and not
  /// yet written. This is what client.output_buffer_limit bounds.
  std::size_t queued() const noexcept { return out_.size() + taken_; }
  bool overflowed() const noexcept { return overflowed_; }
  bool has_output() const noexcept { return !out_.empty(); }

  /// Moves the waiting reply bytes into `into` (cleared first): the session writes them from there
  /// while new replies keep arriving in out_.
  void take_output(std::string& into) {
    into.clear();
    out_.swap(into);
    taken_ += into.size();
  }
  /// The session wrote `n` of the bytes it took to the client.
  void wrote(std::size_t n) noexcept {
    taken_ -= n;
    if (queued() < window_) {
      window_lifted_ = false;  // reading again: the window holds once more
      drained_.notify();
    }
  }

  /// Backpressure: true while a window's worth of bytes waits for the client, which has not been
  /// given up on (lift_window()). The backend connection whose next reply bytes are this sink's
  /// then stops reading until wait_drained() ends.
  bool over_window() const noexcept { return !abandoned_ && !overflowed_ && !window_lifted_ && queued() >= window_; }
  /// Suspends a backend connection's reader until the client took bytes, the sink overflowed or
  /// was abandoned. Lifetime: the waiter holds a ReplySinkRef.
  rt::Notify::WaitAwaitable wait_drained(rt::Deadline deadline, rt::CancelSource* cancel) noexcept {
    return drained_.wait(deadline, cancel);
  }
  /// The client took nothing while the connection waited: stop holding it back. Its replies now
  /// queue up to the limit, until the client reads again.
  void lift_window() noexcept { window_lifted_ = true; }

  /// Suspends the session until replies are due (all outstanding arrived, or enough bytes to flush).
  rt::Notify::WaitAwaitable wait(rt::Deadline deadline, rt::CancelSource* cancel) noexcept {
    return wake_.wait(deadline, cancel);
  }
  rt::Notify& wake() noexcept { return wake_; }

  /// The backend connection failed in the middle of a reply already partly delivered: the client
  /// cannot be told in band (an error line would land inside the reply), so it is closed like an
  /// overflowed one.
  void cut_mid_reply() noexcept {
    cut_mid_reply_ = true;
    overflow();
  }
  bool cut() const noexcept { return cut_mid_reply_; }

  /// Cancels `cancel` when the sink overflows: ends a write stuck on a client that stopped reading.
  void cancel_on_overflow(rt::CancelSource* cancel) noexcept { overflow_cancel_ = cancel; }

  /// The session is gone: drop pending output and any reply still to come.
  void abandon() noexcept {
    abandoned_ = true;
    overflow_cancel_ = nullptr;
    std::string().swap(out_);
    taken_ = 0;
    drained_.notify();
  }

 private:
  friend class rt::CountedRef<ReplySink>;
  friend ReplySinkRef make_reply_sink(std::size_t flush_threshold, std::size_t limit);

  ReplySink(std::size_t flush_threshold, std::size_t limit)
      : flush_threshold_(flush_threshold), limit_(limit), window_(std::min(kStreamWindow, limit / 2)) {}
  ~ReplySink() = default;

  void counted_ref_acquire() noexcept { ++refs_; }
  void counted_ref_release() noexcept {
    if (--refs_ == 0) delete this;
  }

  void append(std::string_view bytes) {
    if (abandoned_ || overflowed_) return;  // an overflowed client is closed: its replies go nowhere
    out_.append(bytes);
    if (queued() > limit_) overflow();
  }
  void overflow() noexcept {
    overflowed_ = true;
    if (overflow_cancel_) overflow_cancel_->cancel();
    drained_.notify();
    wake_.notify();
  }
  void wake_if_due() {
    if (outstanding_ == 0 || out_.size() >= flush_threshold_ || overflowed_) wake_.notify();
  }
  void wake_if_due_unsolicited() { wake_.notify(); }

  /// Unsent bytes of one client at which a backend connection stops reading for it (see over_window()).
  static constexpr std::size_t kStreamWindow = 1024 * 1024;

  std::string out_;             // reply bytes not yet handed to the session's writer
  std::size_t taken_ = 0;       // handed to the session's writer, not yet written
  std::size_t outstanding_ = 0;  // replies expected but not delivered
  std::size_t flush_threshold_;
  std::size_t limit_;
  std::size_t window_;          // kStreamWindow, or half the limit when that is smaller
  bool window_lifted_ = false;  // see lift_window()
  bool cut_mid_reply_ = false;  // see cut_mid_reply()
  uint32_t refs_ = 0;           // ReplySinkRefs: the session's, plus one per outstanding reply
  bool abandoned_ = false;
  bool overflowed_ = false;
  rt::CancelSource* overflow_cancel_ = nullptr;
  rt::Notify wake_;
  rt::Notify drained_;          // the backend connection's reader, waiting for the client (backpressure)
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
