// The event loop and its one suspension primitive.
//
//   epoll_wait (or io_uring_enter) ──► fd events ──► Waiter::on_ready (retries the syscall) ──┐
//   timer heap ──► expired deadlines ──► Timeout ─────────────────────────┼─► disarm all ─► ready queue ─► resume
//   CancelSource::cancel() ──► Cancelled ─────────────────────────────────┘
//   post() from any thread ──► eventfd ──► run the posted functions
//
// Every wait of a coroutine (an fd becoming readable/writable, a deadline, a cancellation) goes through
// one Waiter. Whatever ends the wait first disarms the other two (fd slot cleared, timer removed,
// cancellation link removed) *before* the coroutine resumes, so a timed-out or cancelled operation is
// really gone and cannot complete later behind the coroutine's back.
//
// Coroutines are resumed only from the ready queue, never from inside epoll dispatch: while a batch of
// epoll events is processed no user code runs, so no event of the batch can refer to an fd that user
// code already closed.
//
// Two I/O backends (IoBackend, config `[runtime] io`): epoll, where every socket read and write is its
// own syscall; and io_uring (runtime/io_ring.h), where readiness comes from a multishot poll per fd and
// the reads and writes of plain sockets are queued on the ring (Waiter::queue_op) and issued together
// by the one io_uring_enter that also waits: one syscall per loop iteration instead of one per
// operation. Both keep the same readiness hints and the same Waiter rules.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string_view>
#include <vector>

struct ssl_st;        // OpenSSL's SSL, for IoHandle::tls
struct io_uring_sqe;  // liburing's, for Waiter::queue_op

namespace corral::rt {

namespace detail {
class IoRing;
}

/// How a loop learns that sockets are ready and where their reads and writes go.
enum class IoBackend : uint8_t {
  Epoll,    // epoll_wait; each read and write is a syscall of its own
  IoUring,  // io_uring: multishot poll readiness; plain sockets' reads and writes batched on the ring
};
std::string_view to_string(IoBackend backend) noexcept;

using Clock = std::chrono::steady_clock;

/// A point in time after which an operation fails with std::errc::timed_out.
struct Deadline {
  Clock::time_point at = Clock::time_point::max();

  static Deadline never() noexcept { return {}; }
  static Deadline after(Clock::duration d) noexcept { return {Clock::now() + d}; }
  bool is_never() const noexcept { return at == Clock::time_point::max(); }
};

enum class WakeReason : uint8_t { Ready, Timeout, Cancelled };

class EventLoop;
class CancelSource;
struct IoHandle;
struct TlsHandshakeCounters;

/// One pending wait of one coroutine. Lives in the awaiting coroutine's frame (inside an awaitable).
/// Not thread-safe: armed, completed and destroyed on its loop's thread.
class Waiter {
 public:
  using ReadyFn = bool (*)(void* context);
  /// Gets an io_uring operation's result (CQE res: bytes, or -errno); returns true when the wait is over.
  using ResultFn = bool (*)(void* context, int result);

  Waiter() = default;
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;
  ~Waiter();

  /// Registers this wait. `io` (optional) with `for_write` chooses the fd slot; `on_ready(context)` is
  /// called on each readiness edge and returns true when the operation completed (false: keep waiting).
  /// Returns false when `cancel` is already cancelled (nothing armed; the caller completes at once).
  bool arm(EventLoop& loop, std::coroutine_handle<> handle, IoHandle* io, bool for_write,
           Deadline deadline, CancelSource* cancel, ReadyFn on_ready, void* context);

  WakeReason reason() const noexcept { return reason_; }
  bool armed() const noexcept { return loop_ != nullptr; }

  /// Ends the wait with `reason`: disarms fd slot, timer and cancellation, then queues the coroutine.
  void complete(WakeReason reason);
  /// Like complete(), but the coroutine runs after everything else that is ready in this loop
  /// iteration (EventLoop::schedule_last).
  void complete_last(WakeReason reason);

  /// io_uring backend, armed waiter only: queues one operation for this wait on the loop's ring and
  /// returns its SQE for the caller to prepare (io_uring_prep_*; user_data is the loop's, leave it).
  /// The operation must not block in the kernel (sockets: MSG_DONTWAIT; runtime/io_ring.h says why).
  /// It is issued with the iteration's others; then `on_result(context, res)` runs from the loop's
  /// dispatch, and returning true completes the wait (Ready). Disarming the waiter first (timeout,
  /// cancellation, close) turns the operation into a no-op if the kernel has not taken it yet.
  io_uring_sqe* queue_op(ResultFn on_result);
  bool op_queued() const noexcept { return op_slot_ != kNoOp; }

 private:
  friend class EventLoop;
  friend class CancelSource;

  void disarm();

  EventLoop* loop_ = nullptr;
  std::coroutine_handle<> handle_;
  WakeReason reason_ = WakeReason::Ready;
  IoHandle* io_ = nullptr;
  bool for_write_ = false;
  ReadyFn on_ready_ = nullptr;
  void* context_ = nullptr;
  Clock::time_point deadline_{};
  std::size_t heap_index_ = kNotInHeap;
  CancelSource* cancel_ = nullptr;
  Waiter* cancel_prev_ = nullptr;
  Waiter* cancel_next_ = nullptr;
  ResultFn on_result_ = nullptr;
  uint32_t op_slot_ = kNoOp;  // the ring slot of the queued operation

  static constexpr std::size_t kNotInHeap = static_cast<std::size_t>(-1);
  static constexpr uint32_t kNoOp = ~uint32_t{0};
};

/// Cancels every wait registered with it, now and later. Not thread-safe: one loop.
/// A source may have a parent: cancelling the parent cancels it too (a session's own source under
/// its worker's, say), so one wait can be ended by either.
/// Lifetime: must outlive every Waiter that uses it (a scope's source outlives its tasks).
class CancelSource {
 public:
  CancelSource() = default;
  explicit CancelSource(CancelSource* parent);
  CancelSource(const CancelSource&) = delete;
  CancelSource& operator=(const CancelSource&) = delete;
  ~CancelSource();

  /// Every registered wait completes with WakeReason::Cancelled; later waits complete at once.
  void cancel();
  bool cancelled() const noexcept { return cancelled_; }

 private:
  friend class Waiter;
  void link(Waiter& w);
  void unlink(Waiter& w);

  Waiter* head_ = nullptr;
  CancelSource* parent_ = nullptr;
  CancelSource* first_child_ = nullptr;
  CancelSource* prev_sibling_ = nullptr;
  CancelSource* next_sibling_ = nullptr;
  bool cancelled_ = false;
};

/// An fd registered with a loop's epoll (or its ring's multishot poll), edge-triggered for both
/// directions, with at most one reading and one writing waiter. `readable`/`writable` remember the last edge so a read after a drained socket
/// goes straight to waiting instead of spending a syscall on EAGAIN.
///
/// TLS (runtime/tls.h): `tls` is the stream's OpenSSL session once a handshake started, else null. A TLS
/// read may need the socket writable (and a write readable) to make progress; the operation then sets
/// `reader_wants_write` (`writer_wants_read`) and the edge of the other direction retries it too.
struct IoHandle {
  EventLoop* loop = nullptr;
  int fd = -1;
  Waiter* reader = nullptr;
  Waiter* writer = nullptr;
  ::ssl_st* tls = nullptr;  // owned: freed by the stream's close
  TlsHandshakeCounters* tls_handshakes = nullptr;  // not owned: where a handshake's outcome is counted
  bool readable = true;
  bool writable = true;
  bool read_closed = false;  // EPOLLRDHUP/EPOLLHUP seen: a short read no longer means "drained"
  bool reader_wants_write = false;
  bool writer_wants_read = false;
  uint32_t poll_slot = ~uint32_t{0};  // io_uring: the ring slot of its multishot poll
};

/// One loop per worker thread. Everything but post() must be called on the loop's thread.
class EventLoop {
 public:
  /// A loop on `backend`. IoUring falls back to Epoll, with one log line per process, when the kernel
  /// refuses a ring (older than 6.1, io_uring disabled by sysctl or seccomp, as in Docker's default
  /// profile): backend() says which one runs.
  explicit EventLoop(IoBackend backend = IoBackend::Epoll);
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  ~EventLoop();

  /// The loop running on this thread (set by run()), or nullptr.
  static EventLoop* current() noexcept;

  /// Runs until stop(). Sets current() for this thread while running.
  void run();
  /// Makes run() return after the current iteration. Thread-safe.
  void stop();
  /// Runs `fn` on the loop's thread soon. Thread-safe; the only cross-thread entry point.
  void post(std::function<void()> fn);

  /// Registers `io.fd` with epoll; `io` must stay at a stable address until unregister().
  void register_io(IoHandle& io);
  /// Removes `io` from epoll and completes its waiters with Cancelled.
  void unregister_io(IoHandle& io);

  /// Queues a coroutine to be resumed by the loop (after the current batch of events).
  void schedule(std::coroutine_handle<> handle) { ready_.push_back(handle); }
  /// Queues `handle` to run once the ready coroutines of this iteration have run: a writer woken
  /// this way sends in one syscall what every coroutine of the iteration queued for it.
  void schedule_last(std::coroutine_handle<> handle) { last_.push_back(handle); }

  /// The loop's notion of now, refreshed once per iteration.
  Clock::time_point now() const noexcept { return now_; }

  IoBackend backend() const noexcept { return ring_ ? IoBackend::IoUring : IoBackend::Epoll; }

 private:
  friend class Waiter;

  void run_epoll();
  void run_ring();
  /// A free SQE of the ring; when the SQ is full, issues what is queued and reaps first.
  io_uring_sqe* ring_sqe();
  void arm_poll(IoHandle& io, io_uring_sqe* sqe);
  /// Delivers every completion in the CQ: poll edges to dispatch_io, results to their waiters.
  void reap_ring();
  void on_poll_cqe(uint32_t slot, int result, bool more);
  void on_op_cqe(uint32_t slot, int result);
  void on_wakeup();

  void add_timer(Waiter& w);
  void remove_timer(Waiter& w);
  void sift_up(std::size_t i);
  void sift_down(std::size_t i);
  void swap_timers(std::size_t a, std::size_t b);

  int next_timeout_ms() const;
  void dispatch_io(IoHandle& io, uint32_t events);
  void expire_timers();
  void run_posted();
  void run_ready();
  void run_round(std::vector<std::coroutine_handle<>>& queue);

  std::unique_ptr<detail::IoRing> ring_;  // io_uring backend; null: epoll
  int epoll_fd_ = -1;                      // epoll backend
  IoHandle wakeup_;  // eventfd for post()
  std::vector<Waiter*> timers_;  // binary min-heap on deadline
  std::vector<std::coroutine_handle<>> ready_;
  std::vector<std::coroutine_handle<>> running_;
  std::vector<std::coroutine_handle<>> last_;  // see schedule_last()
  Clock::time_point now_;
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  bool stop_requested_ = false;  // guarded by posted_mutex_ when set from another thread
};

/// Suspends the calling coroutine for `duration` on the current loop.
/// Returns false when `cancel` fired first. Cancellation: the timer is removed before resuming.
struct SleepAwaitable {
  Clock::duration duration;
  CancelSource* cancel = nullptr;
  Waiter waiter;

  bool await_ready() const noexcept { return duration <= Clock::duration::zero() && !cancelled(); }
  bool await_suspend(std::coroutine_handle<> handle);
  bool await_resume() const noexcept { return !cancelled() && waiter.reason() != WakeReason::Cancelled; }

 private:
  bool cancelled() const noexcept { return cancel && cancel->cancelled(); }
};

inline SleepAwaitable sleep_for(Clock::duration duration, CancelSource* cancel = nullptr) {
  return SleepAwaitable{duration, cancel, {}};
}

}  // namespace corral::rt
