#include "runtime/event_loop.h"

#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <string>
#include <system_error>
#include <utility>

#include "runtime/io_ring.h"
#include "runtime/log.h"

namespace corral::rt {

namespace {
thread_local EventLoop* tls_current_loop = nullptr;
constexpr int kMaxEventsPerWait = 256;
/// Rounds of ready coroutines run per loop iteration (see run_ready()).
constexpr int kMaxReadyRounds = 4;
/// What a registered fd is polled for: the epoll registration's events, as poll(2) bits.
constexpr unsigned kPollEvents = POLLIN | POLLOUT | POLLRDHUP;
/// A refused ring is logged once per process, not once per worker.
std::atomic<bool> ring_refusal_logged{false};
}  // namespace

std::string_view to_string(IoBackend backend) noexcept {
  return backend == IoBackend::IoUring ? "io_uring" : "epoll";
}

// ---- Waiter -------------------------------------------------------------------------------------

Waiter::~Waiter() {
  if (armed()) disarm();
}

bool Waiter::arm(EventLoop& loop, std::coroutine_handle<> handle, IoHandle* io, bool for_write,
                 Deadline deadline, CancelSource* cancel, ReadyFn on_ready, void* context) {
  if (cancel && cancel->cancelled()) {
    reason_ = WakeReason::Cancelled;
    return false;
  }
  loop_ = &loop;
  handle_ = handle;
  reason_ = WakeReason::Ready;
  on_ready_ = on_ready;
  context_ = context;
  io_ = io;
  for_write_ = for_write;
  if (io) (for_write ? io->writer : io->reader) = this;
  if (!deadline.is_never()) {
    deadline_ = deadline.at;
    loop.add_timer(*this);
  }
  if (cancel) cancel->link(*this);
  return true;
}

void Waiter::disarm() {
  if (op_slot_ != kNoOp) {
    // The operation never ran (the kernel has not taken it): the readiness the hint showed before
    // queueing cleared it still holds, so the next operation tries instead of waiting for an edge.
    loop_->ring_->forget(op_slot_);
    op_slot_ = kNoOp;
    if (io_) (for_write_ ? io_->writable : io_->readable) = true;
  }
  if (io_) {
    (for_write_ ? io_->writer : io_->reader) = nullptr;
    io_ = nullptr;
  }
  if (heap_index_ != kNotInHeap) loop_->remove_timer(*this);
  if (cancel_) cancel_->unlink(*this);
  loop_ = nullptr;
}

void Waiter::complete(WakeReason reason) {
  EventLoop* loop = loop_;
  reason_ = reason;
  disarm();
  loop->schedule(handle_);
}

void Waiter::complete_last(WakeReason reason) {
  EventLoop* loop = loop_;
  reason_ = reason;
  disarm();
  loop->schedule_last(handle_);
}

io_uring_sqe* Waiter::queue_op(ResultFn on_result) {
  io_uring_sqe* sqe = loop_->ring_sqe();
  on_result_ = on_result;
  op_slot_ = loop_->ring_->attach(sqe, detail::IoRing::Kind::Op, this);
  return sqe;
}

// ---- CancelSource -------------------------------------------------------------------------------

CancelSource::CancelSource(CancelSource* parent) : parent_(parent) {
  if (parent == nullptr) return;
  if (parent->cancelled_) {
    cancelled_ = true;
    parent_ = nullptr;
    return;
  }
  next_sibling_ = parent->first_child_;
  if (next_sibling_) next_sibling_->prev_sibling_ = this;
  parent->first_child_ = this;
}

CancelSource::~CancelSource() {
  while (head_) unlink(*head_);
  while (first_child_) {
    CancelSource* child = first_child_;
    first_child_ = child->next_sibling_;
    child->parent_ = child->prev_sibling_ = child->next_sibling_ = nullptr;
  }
  if (parent_) {
    if (prev_sibling_) prev_sibling_->next_sibling_ = next_sibling_; else parent_->first_child_ = next_sibling_;
    if (next_sibling_) next_sibling_->prev_sibling_ = prev_sibling_;
  }
}

void CancelSource::cancel() {
  if (cancelled_) return;
  cancelled_ = true;
  while (head_) head_->complete(WakeReason::Cancelled);
  for (CancelSource* child = first_child_; child != nullptr; child = child->next_sibling_) child->cancel();
}

void CancelSource::link(Waiter& w) {
  w.cancel_ = this;
  w.cancel_prev_ = nullptr;
  w.cancel_next_ = head_;
  if (head_) head_->cancel_prev_ = &w;
  head_ = &w;
}

void CancelSource::unlink(Waiter& w) {
  if (w.cancel_prev_) {
    w.cancel_prev_->cancel_next_ = w.cancel_next_;
  } else {
    head_ = w.cancel_next_;
  }
  if (w.cancel_next_) w.cancel_next_->cancel_prev_ = w.cancel_prev_;
  w.cancel_ = nullptr;
  w.cancel_prev_ = w.cancel_next_ = nullptr;
}

// ---- EventLoop ----------------------------------------------------------------------------------

EventLoop::EventLoop(IoBackend backend) : now_(Clock::now()) {
  if (backend == IoBackend::IoUring) {
    std::string refused;
    ring_ = detail::IoRing::create(refused);
    if (!ring_ && !ring_refusal_logged.exchange(true)) {
      log::warn("io_uring unavailable ({}): the workers use epoll", refused);
    }
  }
  if (!ring_) {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd_ < 0) throw std::system_error(errno, std::system_category(), "epoll_create1");
  }
  const int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) throw std::system_error(errno, std::system_category(), "eventfd");
  wakeup_.fd = efd;
  register_io(wakeup_);
}

EventLoop::~EventLoop() {
  ring_.reset();  // ends every poll before the fds close
  ::close(wakeup_.fd);
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

EventLoop* EventLoop::current() noexcept { return tls_current_loop; }

void EventLoop::register_io(IoHandle& io) {
  io.loop = this;
  if (ring_) {
    io_uring_sqe* sqe = ring_sqe();
    io.poll_slot = ring_->attach(sqe, detail::IoRing::Kind::Poll, &io);
    io_uring_prep_poll_multishot(sqe, io.fd, kPollEvents);
    return;
  }
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = &io;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, io.fd, &ev) != 0) {
    throw std::system_error(errno, std::system_category(), "epoll_ctl(ADD)");
  }
}

void EventLoop::unregister_io(IoHandle& io) {
  if (ring_) {
    // Issued with the iteration's other SQEs. Until then the poll keeps its reference to the socket,
    // so a close() alone would not reach the peer yet: close_io() (runtime/tcp.cc) shuts it down.
    const bool issued = ring_->slot(io.poll_slot).unsubmitted == nullptr;
    const uint64_t poll_data = ring_->user_data_of(io.poll_slot);
    ring_->forget(io.poll_slot);
    if (issued) {
      io_uring_sqe* sqe = ring_sqe();
      io_uring_prep_poll_remove(sqe, poll_data);
      ring_->ignore(sqe);
    }
  } else {
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, io.fd, nullptr);
  }
  if (io.reader) io.reader->complete(WakeReason::Cancelled);
  if (io.writer) io.writer->complete(WakeReason::Cancelled);
}

void EventLoop::stop() {
  {
    std::lock_guard lock(posted_mutex_);
    stop_requested_ = true;
  }
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wakeup_.fd, &one, sizeof one);
}

void EventLoop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t n = ::write(wakeup_.fd, &one, sizeof one);
}

void EventLoop::run() {
  EventLoop* const previous = std::exchange(tls_current_loop, this);
  if (ring_) {
    run_ring();
  } else {
    run_epoll();
  }
  tls_current_loop = previous;
}

void EventLoop::run_epoll() {
  std::array<epoll_event, kMaxEventsPerWait> events{};
  for (;;) {
    {
      std::lock_guard lock(posted_mutex_);
      if (stop_requested_) {
        stop_requested_ = false;
        break;
      }
    }
    const int n = ::epoll_wait(epoll_fd_, events.data(), kMaxEventsPerWait, next_timeout_ms());
    if (n < 0 && errno != EINTR) throw std::system_error(errno, std::system_category(), "epoll_wait");
    now_ = Clock::now();
    for (int i = 0; i < n; ++i) {
      auto* io = static_cast<IoHandle*>(events[static_cast<std::size_t>(i)].data.ptr);
      if (io == &wakeup_) {
        on_wakeup();
      } else {
        dispatch_io(*io, events[static_cast<std::size_t>(i)].events);
      }
    }
    expire_timers();
    run_ready();
  }
}

void EventLoop::run_ring() {
  ring_->enable_on_this_thread();
  for (;;) {
    {
      std::lock_guard lock(posted_mutex_);
      if (stop_requested_) {
        stop_requested_ = false;
        break;
      }
    }
    // One io_uring_enter: issues everything the last iteration queued, and sleeps only when nothing
    // is ready to run.
    const int timeout = next_timeout_ms();
    if (timeout == 0) {
      ring_->submit();
    } else {
      ring_->submit_and_wait(timeout);
    }
    now_ = Clock::now();
    reap_ring();
    expire_timers();
    run_ready();
  }
}

void EventLoop::on_wakeup() {
  uint64_t count = 0;
  [[maybe_unused]] const ssize_t r = ::read(wakeup_.fd, &count, sizeof count);
  run_posted();
}

// ---- io_uring backend ---------------------------------------------------------------------------

io_uring_sqe* EventLoop::ring_sqe() {
  io_uring_sqe* sqe = ring_->get_sqe();
  if (sqe != nullptr) return sqe;
  // The SQ is full: issue it now. Reaping right away keeps the rule that every issued operation's
  // result reaches its waiter before any coroutine runs (a cancellation could otherwise drop data
  // a recv already took from the socket).
  ring_->submit();
  reap_ring();
  sqe = ring_->get_sqe();
  if (sqe == nullptr) throw std::system_error(EBUSY, std::system_category(), "io_uring SQ full after submit");
  return sqe;
}

void EventLoop::reap_ring() {
  io_uring* ring = ring_->ring();
  io_uring_cqe* cqe = nullptr;
  // One CQE at a time, marked seen before it is handled: handling may queue an operation on a full
  // SQ, which submits and reaps in turn (ring_sqe()). peek also brings back overflowed CQEs.
  while (io_uring_peek_cqe(ring, &cqe) == 0 && cqe != nullptr) {
    const uint64_t user_data = cqe->user_data;
    const int result = cqe->res;
    const bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
    io_uring_cqe_seen(ring, cqe);
    detail::IoRing::Slot* slot = ring_->slot_of(user_data);
    if (slot == nullptr) continue;
    const uint32_t index = ring_->index_of(*slot);
    if (slot->kind == detail::IoRing::Kind::Poll) {
      on_poll_cqe(index, result, more);
    } else {
      on_op_cqe(index, result);
    }
  }
}

void EventLoop::on_poll_cqe(uint32_t slot, int result, bool more) {
  auto* io = static_cast<IoHandle*>(ring_->slot(slot).target);
  if (io == nullptr) {
    if (!more) ring_->release(slot);  // removed (or never issued): the kernel holds nothing of it
    return;
  }
  if (result < 0) {
    // The kernel refused to poll this fd: wake both directions, whose syscalls report the error.
    dispatch_io(*io, EPOLLERR);
    return;
  }
  // Still wanted but ended by the kernel (it may end a multishot poll at any time): arm it again.
  if (!more) arm_poll(*io, ring_sqe());
  if (io == &wakeup_) {
    on_wakeup();
    return;
  }
  dispatch_io(*io, static_cast<uint32_t>(result));
}

void EventLoop::arm_poll(IoHandle& io, io_uring_sqe* sqe) {
  ring_->reattach(sqe, io.poll_slot);
  io_uring_prep_poll_multishot(sqe, io.fd, kPollEvents);
}

void EventLoop::on_op_cqe(uint32_t slot, int result) {
  auto* waiter = static_cast<Waiter*>(ring_->slot(slot).target);
  ring_->release(slot);
  if (waiter == nullptr) return;  // its wait ended first (timeout, cancellation, close)
  waiter->op_slot_ = Waiter::kNoOp;
  if (waiter->on_result_(waiter->context_, result)) waiter->complete(WakeReason::Ready);
}

int EventLoop::next_timeout_ms() const {
  if (!ready_.empty() || !last_.empty()) return 0;
  if (timers_.empty()) return -1;
  const auto wait = timers_.front()->deadline_ - Clock::now();
  if (wait <= Clock::duration::zero()) return 0;
  // Round up: waking a little late is fine, waking early costs a useless iteration.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(wait).count();
  return ms > 60'000 ? 60'000 : static_cast<int>(ms);
}

void EventLoop::dispatch_io(IoHandle& io, uint32_t events) {
  // Errors and hang-ups wake both directions: the retried syscall reports what happened.
  const bool failed = (events & (EPOLLERR | EPOLLHUP)) != 0;
  if (failed || (events & (EPOLLIN | EPOLLRDHUP))) {
    io.readable = true;
    if (events & (EPOLLRDHUP | EPOLLHUP)) io.read_closed = true;
    if (io.reader && io.reader->on_ready_(io.reader->context_)) io.reader->complete(WakeReason::Ready);
    if (io.writer_wants_read && io.writer && io.writer->on_ready_(io.writer->context_)) {
      io.writer->complete(WakeReason::Ready);
    }
  }
  if (failed || (events & EPOLLOUT)) {
    io.writable = true;
    if (io.writer && io.writer->on_ready_(io.writer->context_)) io.writer->complete(WakeReason::Ready);
    if (io.reader_wants_write && io.reader && io.reader->on_ready_(io.reader->context_)) {
      io.reader->complete(WakeReason::Ready);
    }
  }
}

void EventLoop::expire_timers() {
  while (!timers_.empty() && timers_.front()->deadline_ <= now_) {
    timers_.front()->complete(WakeReason::Timeout);
  }
}

void EventLoop::run_posted() {
  std::vector<std::function<void()>> batch;
  {
    std::lock_guard lock(posted_mutex_);
    batch.swap(posted_);
  }
  for (auto& fn : batch) fn();
}

void EventLoop::run_ready() {
  // What the coroutines resumed here queue runs in further rounds of this same iteration, up to
  // kMaxReadyRounds: the hops of one request (session -> backend writer, backend reader -> session)
  // then cost no epoll_wait(0) each, and what one round queues still runs after everything queued
  // before it (sessions of one round are coalesced into one backend write). The bound keeps a chain
  // of wake-ups from starving I/O.
  // Coroutines queued with schedule_last() run after the rounds, at least once per iteration.
  for (int pass = 0; pass < 2; ++pass) {
    for (int round = 0; round < kMaxReadyRounds && !ready_.empty(); ++round) run_round(ready_);
    if (last_.empty()) return;
    run_round(last_);
  }
}

void EventLoop::run_round(std::vector<std::coroutine_handle<>>& queue) {
  running_.swap(queue);
  for (std::size_t i = 0; i < running_.size(); ++i) running_[i].resume();
  running_.clear();
}

// ---- timer heap ---------------------------------------------------------------------------------

void EventLoop::add_timer(Waiter& w) {
  w.heap_index_ = timers_.size();
  timers_.push_back(&w);
  sift_up(w.heap_index_);
}

void EventLoop::remove_timer(Waiter& w) {
  const std::size_t i = w.heap_index_;
  const std::size_t last = timers_.size() - 1;
  if (i != last) swap_timers(i, last);
  timers_.pop_back();
  w.heap_index_ = Waiter::kNotInHeap;
  if (i < timers_.size()) {
    sift_up(i);
    sift_down(i);
  }
}

void EventLoop::swap_timers(std::size_t a, std::size_t b) {
  std::swap(timers_[a], timers_[b]);
  timers_[a]->heap_index_ = a;
  timers_[b]->heap_index_ = b;
}

void EventLoop::sift_up(std::size_t i) {
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (timers_[parent]->deadline_ <= timers_[i]->deadline_) break;
    swap_timers(i, parent);
    i = parent;
  }
}

void EventLoop::sift_down(std::size_t i) {
  for (;;) {
    std::size_t smallest = i;
    const std::size_t left = 2 * i + 1;
    const std::size_t right = left + 1;
    if (left < timers_.size() && timers_[left]->deadline_ < timers_[smallest]->deadline_) smallest = left;
    if (right < timers_.size() && timers_[right]->deadline_ < timers_[smallest]->deadline_) smallest = right;
    if (smallest == i) return;
    swap_timers(i, smallest);
    i = smallest;
  }
}

// ---- sleep --------------------------------------------------------------------------------------

bool SleepAwaitable::await_suspend(std::coroutine_handle<> handle) {
  EventLoop* loop = EventLoop::current();
  return waiter.arm(*loop, handle, nullptr, false, Deadline::after(duration), cancel, nullptr, nullptr);
}

}  // namespace corral::rt
