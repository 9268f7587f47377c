#pragma once

#include <cstddef>
#include <cstdint>

namespace corral::redis {

/// Caps on every length read from the wire, so a hostile or broken peer cannot make a scanner
/// buffer or recurse without bound. Defaults follow redis-server (proto-max-bulk-len 512 MiB,
/// PROTO_INLINE_MAX_SIZE 64 KiB); every field is configurable.
struct Limits {
  std::size_t max_bulk_length = 512u * 1024 * 1024;  ///< bytes of one bulk/blob string
  std::size_t max_array_length = 1024u * 1024;       ///< elements of one array (pairs of one map)
  std::size_t max_nesting_depth = 64;                ///< open aggregates at once
  std::size_t max_inline_length = 64u * 1024;        ///< bytes of a line with no length prefix:
                                                     ///< inline requests, simple strings, errors,
                                                     ///< numbers and length headers

  /// Defaults for the request side (what clients may send): the redis-server defaults above.
  static constexpr Limits requests() { return Limits{}; }

  /// Defaults for the reply side: a backend legitimately returns huge aggregates (KEYS *,
  /// LRANGE 0 -1) and deeply nested ones (a script's reply, e.g. a Lua table that contains itself,
  /// is nested until Lua's stack runs out), and corral must relay what the server says. So the
  /// element count and the depth are not capped; the depth costs one small stack entry per
  /// aggregate header (at least 4 bytes of the reply), so it grows only with the reply itself.
  static constexpr Limits replies() {
    Limits limits;
    limits.max_array_length = std::size_t{1} << 32;
    limits.max_nesting_depth = SIZE_MAX;
    return limits;
  }
};

}  // namespace corral::redis
