#include "protocols/redis/request.h"

#include <algorithm>

namespace corral::redis {

namespace {

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view Request::arg(std::size_t i) const {
  const Span& s = span(i);
  const char* base = decoded_ ? arena_.data() : bytes_.data();
  return {base + s.offset, s.length};
}

void Request::clear() {
  bytes_ = {};
  heap_.clear();  // keeps capacity: a reused Request stops allocating after warm-up
  arena_.clear();
  count_ = 0;
  spilled_ = false;
  inline_ = false;
  decoded_ = false;
}

void Request::set_local(std::string_view bytes, std::size_t count) {
  // heap_ and arena_ are left as they are: neither is read unless spilled_ or decoded_ is set.
  bytes_ = bytes;
  count_ = count;
  spilled_ = false;
  inline_ = false;
  decoded_ = false;
}

void Request::push(Span s) {
  if (!spilled_) {
    if (count_ < kInlineArgs) {
      local_[count_++] = s;
      return;
    }
    heap_.assign(local_.begin(), local_.end());
    spilled_ = true;
  }
  heap_.push_back(s);
  ++count_;
}

void Request::reserve(std::size_t count) {
  // The count comes from the wire: reserve at most 1024 slots, like redis-server does, so a
  // "*1048576" header alone cannot make us allocate megabytes.
  if (count > kInlineArgs) heap_.reserve(std::min<std::size_t>(count, 1024));
}

}  // namespace corral::redis
