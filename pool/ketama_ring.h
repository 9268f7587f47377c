// Where a key lives among independent Redis servers (a redis-shards:// backend): twemproxy's ketama
// ring with its default hash, so corral places every key on the server twemproxy placed it on when
// both are given the same server list (`distribution: ketama`, `hash: fnv1a_64`).
//
//   servers (name, weight) ──► points: MD5("name-i") gives 4 points of 32 bits each; 160 points per
//                              server when the weights are equal, in proportion to the weight otherwise
//   key ──hash tag──► twemproxy's fnv1a_64 (32 bits wide) ──► first point >= hash, wrapping ──► server
//
// libketama's published algorithm, in the arithmetic twemproxy's nc_ketama.c uses (single-precision
// point counts, names cut at 85 bytes), so that rounding cannot move a key either.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace corral::pool {

/// Immutable once built; safe to read from any thread.
class KetamaRing {
 public:
  struct Server {
    std::string name;  // what the points are hashed from (twemproxy: "host:port" or the given name)
    std::uint32_t weight = 1;
  };

  /// `servers` in configuration order (twemproxy's `servers:` list); `hash_tag`: two characters, or
  /// "" to hash whole keys.
  KetamaRing(const std::vector<Server>& servers, std::string hash_tag);

  /// The index in `servers` of the server holding `key`.
  std::size_t server_of(std::string_view key) const;
  /// The part of `key` that is hashed: what lies between the tag's first character and the next
  /// second character after it when that is not empty, else the whole key (twemproxy's hash_tag).
  std::string_view hashed_part(std::string_view key) const;
  std::size_t point_count() const noexcept { return points_.size(); }

  /// twemproxy's hash_fnv1a_64: FNV-1a with the 64-bit offset basis and prime cut to 32 bits, each
  /// byte widened as a signed char. An empty key hashes to 0 (twemproxy skips hashing it).
  static std::uint32_t fnv1a_64(std::string_view key);

 private:
  struct Point {
    std::uint32_t value;
    std::uint32_t server;
  };
  std::vector<Point> points_;  // sorted by value
  std::string hash_tag_;
  std::size_t servers_ = 0;
};

}  // namespace corral::pool
