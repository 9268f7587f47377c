// ServerInfoCache: one entry per backend address, shared by every pool of that address, at a stable
// place (pools keep a reference to it).
#include "pool/server_info_cache.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace corral::pool {
namespace {

struct Info {
  int databases = -1;  // -1: not known yet
  std::string version;
};

rt::SocketAddress address(uint16_t port) { return *rt::SocketAddress::parse("127.0.0.1", port); }

TEST(ServerInfoCache, StartsUnknown) {
  ServerInfoCache<Info> cache;
  EXPECT_EQ(cache.of(address(6379)).databases, -1);
}

TEST(ServerInfoCache, PoolsOfOneAddressShareWhatOneOfThemLearned) {
  ServerInfoCache<Info> cache;
  Info& first_pool = cache.of(address(6379));
  first_pool.databases = 16;
  first_pool.version = "7.2.4";
  const Info& second_pool = cache.of(address(6379));
  EXPECT_EQ(&second_pool, &first_pool);
  EXPECT_EQ(second_pool.version, "7.2.4");
}

TEST(ServerInfoCache, AddressesAreKeptApart) {
  ServerInfoCache<Info> cache;
  cache.of(address(6379)).databases = 16;
  EXPECT_EQ(cache.of(address(6380)).databases, -1);
  EXPECT_EQ(cache.of(*rt::SocketAddress::parse("::1", 6379)).databases, -1);
}

TEST(ServerInfoCache, EntriesStayWhereTheyAreWhileTheCacheGrows) {
  ServerInfoCache<Info> cache;
  Info& kept = cache.of(address(1));
  kept.databases = 4;
  for (uint16_t port = 2; port < 2000; ++port) cache.of(address(port));
  EXPECT_EQ(&cache.of(address(1)), &kept);
  EXPECT_EQ(kept.databases, 4);
}

}  // namespace
}  // namespace corral::pool
