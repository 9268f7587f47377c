#include "pool/ketama_ring.h"

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace corral::pool {

namespace {

/// libketama: 40 hashes of 4 points for each server of average weight.
constexpr std::uint32_t kPointsPerServer = 160;
constexpr std::uint32_t kPointsPerHash = 4;
/// twemproxy formats "name-index" into an 86-byte buffer: longer names are cut to 85 bytes.
constexpr std::size_t kMaxPointName = 85;

std::array<unsigned char, 16> md5(std::string_view bytes) {
  std::array<unsigned char, 16> digest{};
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_md5(), nullptr) != 1 || size != digest.size()) {
    throw std::runtime_error("MD5 is not available from OpenSSL");
  }
  return digest;
}

/// The points of one server: twemproxy's count for its share of `total_weight` among `servers`.
std::uint32_t points_of(std::uint32_t weight, std::uint32_t total_weight, std::size_t servers) {
  // The very expression of nc_ketama.c, in float: a rounding difference would move keys.
  const float share = static_cast<float>(weight) / static_cast<float>(total_weight);
  const float scaled = share * static_cast<float>(kPointsPerServer) / 4.0F * static_cast<float>(servers);
  const float hashes = std::floor(static_cast<float>(static_cast<double>(scaled) + 0.0000000001));
  return static_cast<std::uint32_t>(hashes * 4.0F);
}

}  // namespace

KetamaRing::KetamaRing(const std::vector<Server>& servers, std::string hash_tag)
    : hash_tag_(std::move(hash_tag)), servers_(servers.size()) {
  std::uint32_t total_weight = 0;
  for (const Server& server : servers) total_weight += server.weight;
  for (std::size_t index = 0; index < servers.size(); ++index) {
    const std::uint32_t points = points_of(servers[index].weight, total_weight, servers.size());
    for (std::uint32_t hash = 0; hash < points / kPointsPerHash; ++hash) {
      std::string name = servers[index].name + "-" + std::to_string(hash);
      if (name.size() > kMaxPointName) name.resize(kMaxPointName);
      const std::array<unsigned char, 16> digest = md5(name);
      for (std::size_t k = 0; k < kPointsPerHash; ++k) {
        const std::uint32_t value = static_cast<std::uint32_t>(digest[4 * k + 3]) << 24 |
                                    static_cast<std::uint32_t>(digest[4 * k + 2]) << 16 |
                                    static_cast<std::uint32_t>(digest[4 * k + 1]) << 8 | digest[4 * k];
        points_.push_back(Point{value, static_cast<std::uint32_t>(index)});
      }
    }
  }
  // Equal values (a 32-bit collision) are left in qsort's order by twemproxy; here the earlier server wins.
  std::sort(points_.begin(), points_.end(),
            [](const Point& a, const Point& b) { return a.value != b.value ? a.value < b.value : a.server < b.server; });
}

std::string_view KetamaRing::hashed_part(std::string_view key) const {
  if (hash_tag_.size() != 2) return key;
  const std::size_t open = key.find(hash_tag_[0]);
  if (open == std::string_view::npos) return key;
  const std::size_t close = key.find(hash_tag_[1], open + 1);
  if (close == std::string_view::npos || close == open + 1) return key;
  return key.substr(open + 1, close - open - 1);
}

std::uint32_t KetamaRing::fnv1a_64(std::string_view key) {
  if (key.empty()) return 0;
  std::uint32_t hash = static_cast<std::uint32_t>(0xcbf29ce484222325ULL);
  constexpr auto kPrime = static_cast<std::uint32_t>(0x100000001b3ULL);
  for (const char c : key) {
    // twemproxy reads the key through a (signed) char: bytes from 0x80 widen with ones.
    hash ^= static_cast<std::uint32_t>(static_cast<std::int32_t>(static_cast<signed char>(c)));
    hash *= kPrime;
  }
  return hash;
}

std::size_t KetamaRing::server_of(std::string_view key) const {
  if (servers_ <= 1 || points_.empty()) return 0;
  const std::uint32_t hash = fnv1a_64(hashed_part(key));
  auto at = std::lower_bound(points_.begin(), points_.end(), hash,
                             [](const Point& point, std::uint32_t value) { return point.value < value; });
  if (at == points_.end()) at = points_.begin();
  return at->server;
}

}  // namespace corral::pool
