// CountedRef<T>: a move-only reference to an object that counts its own users and decides itself what
// its last user leaving means (free itself, tell an owner that may collect it).
//
//   CountedRef<T> ref(t) ──► t.counted_ref_acquire()
//   ref.reset() / ~ref   ──► t.counted_ref_release()     (T decides what the count reaching 0 does)
//
// T declares `friend class rt::CountedRef<T>` and keeps both members private. No atomics: the object
// and its references live on one loop. Used by pool::RedisPoolRef and pool::ReplySinkRef.
#pragma once

#include <utility>

namespace corral::rt {

template <class T>
class CountedRef {
 public:
  CountedRef() noexcept = default;
  explicit CountedRef(T& target) noexcept : target_(&target) { target.counted_ref_acquire(); }
  CountedRef(CountedRef&& other) noexcept : target_(std::exchange(other.target_, nullptr)) {}
  CountedRef& operator=(CountedRef&& other) noexcept {
    if (this != &other) {
      reset();
      target_ = std::exchange(other.target_, nullptr);
    }
    return *this;
  }
  CountedRef(const CountedRef&) = delete;
  CountedRef& operator=(const CountedRef&) = delete;
  ~CountedRef() { reset(); }

  /// Drops the reference (the object may be gone right after); the reference is empty afterwards.
  void reset() noexcept {
    if (T* target = std::exchange(target_, nullptr)) target->counted_ref_release();
  }

  T* get() const noexcept { return target_; }
  T* operator->() const noexcept { return target_; }
  T& operator*() const noexcept { return *target_; }
  explicit operator bool() const noexcept { return target_ != nullptr; }

 private:
  T* target_ = nullptr;
};

}  // namespace corral::rt
