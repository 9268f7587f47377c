// Backend URLs and host:port endpoints: parse_backend_url, BackendUrl::redacted/address, parse_endpoint.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <variant>

#include "config/config.h"

namespace corral::config {
namespace {

BackendUrl parse_ok(std::string_view text) {
  auto r = parse_backend_url(text);
  if (auto* err = std::get_if<std::string>(&r)) {
    ADD_FAILURE() << text << ": " << *err;
    return {};
  }
  return std::get<BackendUrl>(r);
}

std::string parse_error(std::string_view text) {
  auto r = parse_backend_url(text);
  if (auto* err = std::get_if<std::string>(&r)) return *err;
  return "<parsed>";
}

TEST(ConfigBackendUrl, RedisMinimalGetsDefaults) {
  const BackendUrl u = parse_ok("redis://127.0.0.1:6379");
  EXPECT_EQ(u.protocol, Protocol::Redis);
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 6379);
  EXPECT_EQ(u.user, "");
  EXPECT_EQ(u.password, "");
  EXPECT_EQ(u.redis_db, 0);
  EXPECT_EQ(u.redis_protocol, 2);
}

TEST(ConfigBackendUrl, DefaultPorts) {
  EXPECT_EQ(parse_ok("redis://cache").port, 6379);
  EXPECT_EQ(parse_ok("mysql://u@db").port, 3306);
  EXPECT_EQ(parse_ok("redis://[::1]").port, 6379);
  EXPECT_EQ(parse_ok("mysql://u@[::1]/app").port, 3306);
}

TEST(ConfigBackendUrl, RedisFull) {
  const BackendUrl u = parse_ok("redis://app:s3cret@redis.internal:7000/5?protocol=3");
  EXPECT_EQ(u.user, "app");
  EXPECT_EQ(u.password, "s3cret");
  EXPECT_EQ(u.host, "redis.internal");
  EXPECT_EQ(u.port, 7000);
  EXPECT_EQ(u.redis_db, 5);
  EXPECT_EQ(u.redis_protocol, 3);
}

TEST(ConfigBackendUrl, RedisPasswordWithoutUser) {
  const BackendUrl u = parse_ok("redis://:pw@h:1");
  EXPECT_EQ(u.user, "");
  EXPECT_EQ(u.password, "pw");
}

TEST(ConfigBackendUrl, RedisTrailingSlashAndExplicitProtocol2) {
  const BackendUrl u = parse_ok("redis://h/?protocol=2");
  EXPECT_EQ(u.redis_db, 0);
  EXPECT_EQ(u.redis_protocol, 2);
}

TEST(ConfigBackendUrl, RedisLargestDatabase) { EXPECT_EQ(parse_ok("redis://h/2147483647").redis_db, 2147483647); }

TEST(ConfigBackendUrl, MysqlFull) {
  const BackendUrl u = parse_ok("mysql://corral:corral@127.0.0.1:3306/shop?charset=utf8mb4");
  EXPECT_EQ(u.protocol, Protocol::Mysql);
  EXPECT_EQ(u.user, "corral");
  EXPECT_EQ(u.password, "corral");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, 3306);
  EXPECT_EQ(u.mysql_schema, "shop");
  EXPECT_EQ(u.mysql_charset, "utf8mb4");
}

TEST(ConfigBackendUrl, MysqlReplicasWithDefaultPortsAndIpv6) {
  const BackendUrl u = parse_ok("mysql://corral:pw@10.0.0.1:3306/shop?charset=utf8mb4&replicas=10.0.0.2,db-3:3307,[::1]:3308");
  EXPECT_EQ(u.address(), "10.0.0.1:3306");
  ASSERT_EQ(u.mysql_replicas.size(), 3u);
  EXPECT_EQ(u.mysql_replicas[0].to_string(), "10.0.0.2:3306");
  EXPECT_EQ(u.mysql_replicas[1].to_string(), "db-3:3307");
  EXPECT_EQ(u.mysql_replicas[2].to_string(), "[::1]:3308");
  EXPECT_EQ(u.mysql_charset, "utf8mb4");
  // redacted() keeps the replicas and parses back to the same list.
  EXPECT_EQ(u.redacted(), "mysql://corral:***@10.0.0.1:3306/shop?charset=utf8mb4&replicas=10.0.0.2:3306,db-3:3307,[::1]:3308");
  EXPECT_EQ(parse_ok("mysql://u@h?replicas=r1").mysql_replicas.size(), 1u);
  EXPECT_TRUE(parse_ok("mysql://u@h").mysql_replicas.empty());
}

TEST(ConfigBackendUrl, MysqlReplicaErrors) {
  EXPECT_EQ(parse_error("mysql://u@h?replicas="), "replicas must list host[:port] entries separated by ','");
  EXPECT_EQ(parse_error("mysql://u@h?replicas=a,,b"), "replicas: empty entry (expected host[:port],host[:port]...)");
  EXPECT_EQ(parse_error("mysql://u@h?replicas=a,"), "replicas: empty entry (expected host[:port],host[:port]...)");
  EXPECT_EQ(parse_error("mysql://u@h?replicas=a:0"), "replicas: port must be 1..65535 (got '0')");
  EXPECT_EQ(parse_error("mysql://u@h?replicas=a b"), "replicas: invalid host name 'a b'");
  EXPECT_EQ(parse_error("mysql://u@h:3306?replicas=H"), "replicas: H:3306 is the primary itself");
  EXPECT_EQ(parse_error("mysql://u@h?replicas=a:1,A:1"), "replicas: A:1 is listed twice");
  EXPECT_EQ(parse_error("mysql://u@h?replicas=a&replicas=b"), "query parameter 'replicas' is given twice");
  EXPECT_EQ(parse_error("redis://h?replicas=a"), "unknown query parameter 'replicas' (redis URLs accept: protocol)");
  std::string many = "mysql://u@h?replicas=r0";
  for (int i = 1; i <= 64; ++i) many += ",r" + std::to_string(i);
  EXPECT_EQ(parse_error(many), "replicas: at most 64 are allowed");
}

TEST(ConfigBackendUrl, MysqlUserWithoutPassword) {
  const BackendUrl u = parse_ok("mysql://reader@db");
  EXPECT_EQ(u.user, "reader");
  EXPECT_EQ(u.password, "");
  EXPECT_EQ(u.mysql_schema, "");
  EXPECT_EQ(u.mysql_charset, "");
}

TEST(ConfigBackendUrl, Ipv6Literal) {
  const BackendUrl u = parse_ok("redis://[::1]:6380");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 6380);
  EXPECT_EQ(u.address(), "[::1]:6380");
  EXPECT_EQ(parse_ok("mysql://u@[2001:db8::42]:3306").host, "2001:db8::42");
}

TEST(ConfigBackendUrl, PercentDecodingInUserPasswordAndSchema) {
  const BackendUrl u = parse_ok("mysql://us%40er:p%3Aw%2F%3F%23%25d@h/my%20db");
  EXPECT_EQ(u.user, "us@er");
  EXPECT_EQ(u.password, "p:w/?#%d");
  EXPECT_EQ(u.mysql_schema, "my db");
}

TEST(ConfigBackendUrl, UnescapedAtAndSlashInPasswordStayInThePassword) {
  // Userinfo ends at the last '@', so a password with raw '@' or '/' still parses.
  const BackendUrl u = parse_ok("redis://u:p@ss/w0rd@h:6379/1");
  EXPECT_EQ(u.password, "p@ss/w0rd");
  EXPECT_EQ(u.host, "h");
  EXPECT_EQ(u.redis_db, 1);
}

TEST(ConfigBackendUrl, AddressOfIpv4AndName) {
  EXPECT_EQ(parse_ok("redis://10.0.0.1:7").address(), "10.0.0.1:7");
  EXPECT_EQ(parse_ok("redis://cache_1.local").address(), "cache_1.local:6379");
}

TEST(ConfigBackendUrl, RedactedHidesPassword) {
  EXPECT_EQ(parse_ok("redis://app:s3cret@h:6379/2?protocol=3").redacted(), "redis://app:***@h:6379/2?protocol=3");
  EXPECT_EQ(parse_ok("redis://:s3cret@h").redacted(), "redis://:***@h:6379");
  EXPECT_EQ(parse_ok("mysql://corral:corral@127.0.0.1:3306/shop?charset=utf8mb4").redacted(),
            "mysql://corral:***@127.0.0.1:3306/shop?charset=utf8mb4");
  EXPECT_EQ(parse_ok("mysql://us%40er:x@[::1]/my%20db").redacted(), "mysql://us%40er:***@[::1]:3306/my%20db");
}

TEST(ConfigBackendUrl, RedactedWithoutPasswordKeepsUrl) {
  EXPECT_EQ(parse_ok("redis://127.0.0.1:6379").redacted(), "redis://127.0.0.1:6379");
  EXPECT_EQ(parse_ok("mysql://reader@db").redacted(), "mysql://reader@db:3306");
  EXPECT_EQ(parse_ok("redis://user@h").redacted(), "redis://user@h:6379");
}

TEST(ConfigBackendUrl, RedactedParsesBackToTheSameFields) {
  const BackendUrl u = parse_ok("redis://a%20b@[::1]:1/3?protocol=3");
  const BackendUrl again = parse_ok(u.redacted());
  EXPECT_EQ(again.user, "a b");
  EXPECT_EQ(again.host, "::1");
  EXPECT_EQ(again.port, 1);
  EXPECT_EQ(again.redis_db, 3);
  EXPECT_EQ(again.redis_protocol, 3);
}

TEST(ConfigBackendUrl, BadPorts) {
  EXPECT_EQ(parse_error("redis://h:0"), "port must be 1..65535 (got '0')");
  EXPECT_EQ(parse_error("redis://h:65536"), "port must be 1..65535 (got '65536')");
  EXPECT_EQ(parse_error("redis://h:abc"), "port must be 1..65535 (got 'abc')");
  EXPECT_EQ(parse_error("redis://h:"), "port must be 1..65535 (got '')");
  EXPECT_EQ(parse_error("redis://h:-1"), "port must be 1..65535 (got '-1')");
  EXPECT_EQ(parse_error("redis://h:0006379"), "port must be 1..65535 (got '0006379')");
  EXPECT_EQ(parse_error("mysql://u@[::1]:99999"), "port must be 1..65535 (got '99999')");
}

TEST(ConfigBackendUrl, LargestPort) { EXPECT_EQ(parse_ok("redis://h:65535").port, 65535); }

TEST(ConfigBackendUrl, SchemeErrors) {
  EXPECT_EQ(parse_error("127.0.0.1:6379"),
            "missing scheme (expected redis://..., rediss://..., redis-cluster://..., redis-shards://... or mysql://...)");
  EXPECT_EQ(parse_error("REDIS://h"),
            "unsupported scheme 'REDIS' (expected redis, rediss, redis-cluster, rediss-cluster, redis-shards, rediss-shards or mysql)");
  EXPECT_EQ(parse_error("mysqls://u@h"),
            "unsupported scheme 'mysqls' (expected redis, rediss, redis-cluster, rediss-cluster, redis-shards, rediss-shards or mysql)");
  EXPECT_EQ(parse_error("postgres://u:pw@h"),
            "unsupported scheme 'postgres' (expected redis, rediss, redis-cluster, rediss-cluster, redis-shards, rediss-shards or mysql)");
  EXPECT_EQ(parse_error("redis+cluster://h"),
            "unsupported scheme 'redis+cluster' (expected redis, rediss, redis-cluster, rediss-cluster, redis-shards, rediss-shards or mysql)");
}

TEST(ConfigBackendUrl, RedisClusterSeeds) {
  const BackendUrl u = parse_ok("redis-cluster://app:s3cret@10.0.0.1:7000,10.0.0.2,[::1]:7002?protocol=3");
  EXPECT_EQ(u.protocol, Protocol::Redis);
  EXPECT_TRUE(u.cluster);
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.user, "app");
  EXPECT_EQ(u.password, "s3cret");
  EXPECT_EQ(u.redis_protocol, 3);
  ASSERT_EQ(u.cluster_seeds.size(), 3u);
  EXPECT_EQ(u.cluster_seeds[0].to_string(), "10.0.0.1:7000");
  EXPECT_EQ(u.cluster_seeds[1].to_string(), "10.0.0.2:6379");
  EXPECT_EQ(u.cluster_seeds[2].to_string(), "[::1]:7002");
  // The first seed is the URL's host and port: start-up resolves it and /ready probes it.
  EXPECT_EQ(u.address(), "10.0.0.1:7000");
  EXPECT_EQ(u.scheme(), "redis-cluster");
  EXPECT_EQ(u.redacted(), "redis-cluster://app:***@10.0.0.1:7000,10.0.0.2:6379,[::1]:7002?protocol=3");
}

TEST(ConfigBackendUrl, RedisClusterOneSeedAndTls) {
  const BackendUrl one = parse_ok("redis-cluster://node");
  EXPECT_TRUE(one.cluster);
  ASSERT_EQ(one.cluster_seeds.size(), 1u);
  EXPECT_EQ(one.port, 6379);
  const BackendUrl tls = parse_ok("rediss-cluster://h:1,h:2?ca=/etc/ca.pem");
  EXPECT_TRUE(tls.cluster);
  EXPECT_TRUE(tls.tls);
  EXPECT_EQ(tls.tls_ca_file, "/etc/ca.pem");
  EXPECT_EQ(tls.scheme(), "rediss-cluster");
}

TEST(ConfigBackendUrl, RedisClusterErrors) {
  EXPECT_EQ(parse_error("redis-cluster://h:1/2"), "a redis-cluster URL has no database (Redis Cluster has only db 0)");
  EXPECT_EQ(parse_error("redis-cluster://h:1,,h:2"), "empty seed node in the list (expected host:port,host:port...)");
  EXPECT_EQ(parse_error("redis-cluster://h:1,"), "empty seed node in the list (expected host:port,host:port...)");
  EXPECT_EQ(parse_error("redis-cluster://h:1,h:1"), "seed node h:1 is given twice");
  EXPECT_EQ(parse_error("redis-cluster://h:1,h:99999"), "port must be 1..65535 (got '99999')");
  EXPECT_EQ(parse_error("redis-cluster://h:1?charset=x"),
            "unknown query parameter 'charset' (redis-cluster URLs accept: protocol)");
  EXPECT_EQ(parse_error("redis-cluster://u:pw@h:1,bad_host!"), "invalid host name 'bad_host!'");
}

TEST(ConfigBackendUrl, RedisShards) {
  const BackendUrl u = parse_ok("redis-shards://app:s3cret@10.0.0.1:6379,cache-b:6380:3,[::1]:6381/2?protocol=3");
  EXPECT_EQ(u.protocol, Protocol::Redis);
  EXPECT_TRUE(u.shards);
  EXPECT_FALSE(u.cluster);
  EXPECT_EQ(u.user, "app");
  EXPECT_EQ(u.redis_db, 2);
  EXPECT_EQ(u.redis_protocol, 3);
  ASSERT_EQ(u.shard_list.size(), 3u);
  EXPECT_EQ(u.shard_list[0].endpoint.to_string(), "10.0.0.1:6379");
  EXPECT_EQ(u.shard_list[0].weight, 1u);
  EXPECT_EQ(u.shard_list[0].name, "10.0.0.1:6379");  // twemproxy's default name: host:port
  EXPECT_EQ(u.shard_list[1].endpoint.to_string(), "cache-b:6380");
  EXPECT_EQ(u.shard_list[1].weight, 3u);
  EXPECT_EQ(u.shard_list[1].name, "cache-b:6380");
  EXPECT_EQ(u.shard_list[2].endpoint.to_string(), "[::1]:6381");
  EXPECT_EQ(u.hash_tag, "{}");
  EXPECT_EQ(u.address(), "10.0.0.1:6379");  // the first shard: what start-up resolves first and /ready probes
  EXPECT_EQ(u.endpoints().size(), 3u);
  EXPECT_EQ(u.scheme(), "redis-shards");
  EXPECT_EQ(u.redacted(), "redis-shards://app:***@10.0.0.1:6379,cache-b:6380:3,[::1]:6381/2?protocol=3");
}

TEST(ConfigBackendUrl, RedisShardsNamesTagsAndTls) {
  const BackendUrl u = parse_ok("rediss-shards://h1:6379,h2:6379?names=alpha,be%20ta&hash_tag=%7B%7D&hash=fnv1a_64"
                                "&distribution=ketama&ca=/etc/ca.pem");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.scheme(), "rediss-shards");
  EXPECT_EQ(u.shard_list[0].name, "alpha");
  EXPECT_EQ(u.shard_list[1].name, "be ta");
  EXPECT_EQ(u.tls_ca_file, "/etc/ca.pem");
  EXPECT_EQ(u.redacted(), "rediss-shards://h1:6379,h2:6379?names=alpha,be%20ta&ca=%2Fetc%2Fca.pem");
  EXPECT_EQ(parse_ok("redis-shards://h:1,h:2?hash_tag=").hash_tag, "");
  EXPECT_EQ(parse_ok("redis-shards://h:1,h:2?hash_tag=::").hash_tag, "::");
  // Port 11211 is left out of the default name, as twemproxy (after libmemcached) does.
  EXPECT_EQ(parse_ok("redis-shards://h:11211,h:6379").shard_list[0].name, "h");
}

TEST(ConfigBackendUrl, RedisShardsErrors) {
  EXPECT_EQ(parse_error("redis-shards://h,h:2"), "shard 'h' needs a port (host:port[:weight])");
  EXPECT_EQ(parse_error("redis-shards://h:1,,h:2"),
            "empty shard in the list (expected host:port[:weight],host:port[:weight]...)");
  EXPECT_EQ(parse_error("redis-shards://h:1,h:1:2"), "shard h:1 is given twice");
  EXPECT_EQ(parse_error("redis-shards://h:1:0"), "shard weight must be 1..1000000 (got '0')");
  EXPECT_EQ(parse_error("redis-shards://h:1:x"), "shard weight must be 1..1000000 (got 'x')");
  EXPECT_EQ(parse_error("redis-shards://h:1:2000000"), "shard weight must be 1..1000000 (got '2000000')");
  EXPECT_EQ(parse_error("redis-shards://h:1,h:2?names=a"), "names: 1 names for 2 shards (one per shard, in the same order)");
  EXPECT_EQ(parse_error("redis-shards://h:1,h:2?names=a,"),
            "names: each name must be 1..255 characters (percent-encoded where needed)");
  EXPECT_EQ(parse_error("redis-shards://h:1?hash_tag=%7B"), "hash_tag must be two characters, as {}, or empty for none (got '%7B')");
  EXPECT_EQ(parse_error("redis-shards://h:1?hash=murmur"), "hash must be fnv1a_64 (got 'murmur')");
  EXPECT_EQ(parse_error("redis-shards://h:1?distribution=modula"), "distribution must be ketama (got 'modula')");
  EXPECT_EQ(parse_error("redis-shards://h:1?charset=x"),
            "unknown query parameter 'charset' (redis-shards URLs accept: protocol, names, hash_tag, hash, distribution)");
  EXPECT_EQ(parse_error("redis-shards://h:1/x"), "database must be an integer 0..2147483647 (got 'x')");
  EXPECT_EQ(parse_error("redis-shards://h:1?names=a&names=b"), "query parameter 'names' is given twice");
}

TEST(ConfigBackendUrl, HostErrors) {
  EXPECT_EQ(parse_error("redis://"), "host is missing");
  EXPECT_EQ(parse_error("redis://u:pw@"), "host is missing");
  EXPECT_EQ(parse_error("redis://u:pw@/1"), "host is missing");
  EXPECT_EQ(parse_error("redis://:6379"), "host is empty");
  EXPECT_EQ(parse_error("redis://::1:6379"), "IPv6 addresses must be in brackets, as in [::1]:6379 (got '::1:6379')");
  EXPECT_EQ(parse_error("redis://[::1:6379"), "missing ']' in '[::1:6379'");
  EXPECT_EQ(parse_error("redis://[::g]:6379"), "invalid IPv6 address '::g'");
  EXPECT_EQ(parse_error("redis://[]:6379"), "invalid IPv6 address ''");
  EXPECT_EQ(parse_error("redis://[::1]6379"), "expected ':' after ']' in '[::1]6379'");
  EXPECT_EQ(parse_error("redis://256.0.0.1"), "invalid IPv4 address '256.0.0.1'");
  EXPECT_EQ(parse_error("redis://bad host"), "invalid host name 'bad host'");
  EXPECT_EQ(parse_error("redis://-lead.example"), "invalid host name '-lead.example'");
  EXPECT_EQ(parse_error("redis://a..b"), "invalid host name 'a..b'");
}

TEST(ConfigBackendUrl, RedisDatabaseErrors) {
  EXPECT_EQ(parse_error("redis://h/abc"), "database must be an integer 0..2147483647 (got 'abc')");
  EXPECT_EQ(parse_error("redis://h/-1"), "database must be an integer 0..2147483647 (got '-1')");
  EXPECT_EQ(parse_error("redis://h/2147483648"), "database must be an integer 0..2147483647 (got '2147483648')");
  EXPECT_EQ(parse_error("redis://h/1/2"), "database must be an integer 0..2147483647 (got '1/2')");
}

TEST(ConfigBackendUrl, QueryErrors) {
  EXPECT_EQ(parse_error("redis://h?protocol=4"), "protocol must be 2 or 3 (got '4')");
  EXPECT_EQ(parse_error("redis://h?protocol="), "protocol must be 2 or 3 (got '')");
  EXPECT_EQ(parse_error("redis://h?protocol=3&protocol=3"), "query parameter 'protocol' is given twice");
  EXPECT_EQ(parse_error("redis://h?timeout=5"), "unknown query parameter 'timeout' (redis URLs accept: protocol)");
  EXPECT_EQ(parse_error("redis://h?charset=utf8"), "unknown query parameter 'charset' (redis URLs accept: protocol)");
  EXPECT_EQ(parse_error("mysql://u@h?protocol=3"), "unknown query parameter 'protocol' (mysql URLs accept: charset, replicas, ssl-mode, ssl-ca)");
  EXPECT_EQ(parse_error("mysql://u@h?charset=utf-8"), "charset must be letters, digits and '_' (got 'utf-8')");
  EXPECT_EQ(parse_error("mysql://u@h?charset="), "charset must be letters, digits and '_' (got '')");
  EXPECT_EQ(parse_error("redis://h?protocol"), "query parameter 'protocol' needs a value (name=value)");
  EXPECT_EQ(parse_error("redis://h#frag"), "a fragment ('#...') is not allowed");
}

TEST(ConfigBackendUrl, MysqlSslModeAndCaAsTheMysqlCliNamesThem) {
  EXPECT_EQ(parse_ok("mysql://u@h").mysql_ssl_mode, MysqlSslMode::Disabled);
  EXPECT_FALSE(parse_ok("mysql://u@h").may_use_tls());
  EXPECT_EQ(parse_ok("mysql://u@h?ssl-mode=DISABLED").mysql_ssl_mode, MysqlSslMode::Disabled);
  EXPECT_EQ(parse_ok("mysql://u@h?ssl-mode=PREFERRED").mysql_ssl_mode, MysqlSslMode::Preferred);
  EXPECT_EQ(parse_ok("mysql://u@h?ssl-mode=required").mysql_ssl_mode, MysqlSslMode::Required);
  EXPECT_EQ(parse_ok("mysql://u@h?ssl-mode=Verify_CA").mysql_ssl_mode, MysqlSslMode::VerifyCa);
  EXPECT_TRUE(parse_ok("mysql://u@h?ssl-mode=REQUIRED").may_use_tls());
  EXPECT_FALSE(parse_ok("mysql://u@h?ssl-mode=REQUIRED").tls) << "tls means rediss://";
  const BackendUrl url = parse_ok("mysql://u:pw@db.example/shop?charset=utf8mb4&ssl-mode=VERIFY_IDENTITY&ssl-ca=/etc/ca%20dir/ca.pem");
  EXPECT_EQ(url.mysql_ssl_mode, MysqlSslMode::VerifyIdentity);
  EXPECT_EQ(url.tls_ca_file, "/etc/ca dir/ca.pem");
  EXPECT_EQ(url.mysql_charset, "utf8mb4");
  EXPECT_EQ(url.redacted(),
            "mysql://u:***@db.example:3306/shop?charset=utf8mb4&ssl-mode=VERIFY_IDENTITY&ssl-ca=%2Fetc%2Fca%20dir%2Fca.pem");
  EXPECT_EQ(parse_ok("mysql://u@h?ssl-mode=preferred").redacted(), "mysql://u@h:3306?ssl-mode=PREFERRED");
  EXPECT_EQ(parse_ok("mysql://u@h?ssl-mode=VERIFY_CA&ssl-ca=/ca.pem").tls_ca_file, "/ca.pem");
  EXPECT_EQ(to_string(MysqlSslMode::VerifyCa), "VERIFY_CA");
}

TEST(ConfigBackendUrl, MysqlSslErrors) {
  EXPECT_EQ(parse_error("mysql://u@h?ssl-mode=ON"),
            "ssl-mode must be DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY (got 'ON')");
  EXPECT_EQ(parse_error("mysql://u@h?ssl-mode="),
            "ssl-mode must be DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY (got '')");
  EXPECT_EQ(parse_error("mysql://u@h?ssl-mode=REQUIRED&ssl-mode=REQUIRED"), "query parameter 'ssl-mode' is given twice");
  EXPECT_EQ(parse_error("mysql://u@h?ssl-mode=VERIFY_CA&ssl-ca=/a&ssl-ca=/b"), "query parameter 'ssl-ca' is given twice");
  EXPECT_EQ(parse_error("mysql://u@h?ssl-mode=VERIFY_CA&ssl-ca="), "ssl-ca must be the path of a PEM file of CA certificates");
  EXPECT_EQ(parse_error("mysql://u@h?ssl-ca=/ca.pem"),
            "ssl-ca needs ssl-mode=VERIFY_CA or ssl-mode=VERIFY_IDENTITY (ssl-mode=DISABLED does not verify the "
            "server's certificate)");
  EXPECT_EQ(parse_error("mysql://u@h?ssl-mode=REQUIRED&ssl-ca=/ca.pem"),
            "ssl-ca needs ssl-mode=VERIFY_CA or ssl-mode=VERIFY_IDENTITY (ssl-mode=REQUIRED does not verify the "
            "server's certificate)");
  EXPECT_EQ(parse_error("mysql://u@h?ca=/ca.pem"), "unknown query parameter 'ca' (mysql URLs accept: charset, replicas, ssl-mode, ssl-ca)");
  EXPECT_EQ(parse_error("redis://h?ssl-mode=REQUIRED"), "unknown query parameter 'ssl-mode' (redis URLs accept: protocol)");
  EXPECT_EQ(parse_error("rediss://h?ssl-ca=/ca.pem"), "unknown query parameter 'ssl-ca' (rediss URLs accept: protocol, ca)");
}

TEST(ConfigBackendUrl, RedissIsRedisOverTlsWithAnOptionalCa) {
  const BackendUrl plain = parse_ok("redis://h");
  EXPECT_FALSE(plain.tls);
  const BackendUrl url = parse_ok("rediss://u:pw@cache.example:6380/2?protocol=3&ca=/etc/corral/ca%20dir/ca.pem");
  EXPECT_TRUE(url.tls);
  EXPECT_EQ(url.protocol, Protocol::Redis);
  EXPECT_EQ(url.host, "cache.example");
  EXPECT_EQ(url.port, 6380);
  EXPECT_EQ(url.redis_db, 2);
  EXPECT_EQ(url.redis_protocol, 3);
  EXPECT_EQ(url.tls_ca_file, "/etc/corral/ca dir/ca.pem");
  EXPECT_EQ(url.scheme(), "rediss");
  EXPECT_EQ(url.redacted(), "rediss://u:***@cache.example:6380/2?protocol=3&ca=%2Fetc%2Fcorral%2Fca%20dir%2Fca.pem");
  const BackendUrl again = parse_ok(url.redacted());
  EXPECT_EQ(again.tls_ca_file, url.tls_ca_file);
  EXPECT_EQ(parse_ok("rediss://h").port, 6379);
  EXPECT_EQ(parse_ok("rediss://h").redacted(), "rediss://h:6379");
  EXPECT_EQ(parse_ok("rediss://h?ca=/x.pem").redacted(), "rediss://h:6379?ca=%2Fx.pem");
}

TEST(ConfigBackendUrl, RedissQueryErrors) {
  EXPECT_EQ(parse_error("redis://h?ca=/x.pem"), "unknown query parameter 'ca' (redis URLs accept: protocol)");
  EXPECT_EQ(parse_error("rediss://h?ca="), "ca must be the path of a PEM file of CA certificates");
  EXPECT_EQ(parse_error("rediss://h?ca=%zz"), "ca must be the path of a PEM file of CA certificates");
  EXPECT_EQ(parse_error("rediss://h?ca=/a&ca=/b"), "query parameter 'ca' is given twice");
  EXPECT_EQ(parse_error("rediss://h?verify=no"), "unknown query parameter 'verify' (rediss URLs accept: protocol, ca)");
}

TEST(ConfigBackendUrl, MysqlNeedsUser) {
  EXPECT_EQ(parse_error("mysql://h:3306"), "a mysql URL needs a user name (mysql://user:password@host:port)");
  EXPECT_EQ(parse_error("mysql://:pw@h:3306"), "a mysql URL needs a user name (mysql://user:password@host:port)");
}

TEST(ConfigBackendUrl, MysqlSchemaErrors) {
  EXPECT_EQ(parse_error("mysql://u@h/bad%zz"), "invalid percent-encoding in schema name");
  EXPECT_EQ(parse_error("mysql://u@h/" + std::string(65, 's')),
            "schema name must be at most 64 characters (got '" + std::string(65, 's') + "')");
  EXPECT_EQ(parse_ok("mysql://u@h/" + std::string(64, 's')).mysql_schema, std::string(64, 's'));
}

TEST(ConfigBackendUrl, PercentEncodingErrors) {
  EXPECT_EQ(parse_error("redis://u%g1:pw@h"), "invalid percent-encoding in user name");
  EXPECT_EQ(parse_error("redis://u:pw%2@h"), "invalid percent-encoding in password");
  EXPECT_EQ(parse_error("redis://u:pw%@h"), "invalid percent-encoding in password");
  EXPECT_EQ(parse_error("redis://u:p%00w@h"), "invalid percent-encoding in password");
}

TEST(ConfigBackendUrl, PasswordNeverInErrorText) {
  // Each URL is broken somewhere after the password; the message must not quote it.
  const std::string secret = "Sup3rS3cret";
  for (const std::string& url : {
           "redis://app:" + secret + "@h:0",
           "redis://app:" + secret + "@h:abc",
           "redis://:" + secret + "@h/x",
           "redis://app:" + secret + "@h?protocol=4",
           "redis://app:" + secret + "%zz@h",
           "redis://app:" + secret + "@bad host",
           "redis://app:" + secret + "@",
           "mysql://u:" + secret + "@h/db?x=1",
           "mysql://:" + secret + "@h",
           "rediss://u:" + secret + "@h?ca=",
           "rediss://u:" + secret + "@h?verify=no",
           "redis:/u:" + secret + "@h",
           "u:" + secret + "@h:6379",
           "red is://u:" + secret + "@h",
       }) {
    const std::string err = parse_error(url);
    EXPECT_NE(err, "<parsed>") << url;
    EXPECT_EQ(err.find(secret), std::string::npos) << err;
  }
}

TEST(ConfigBackendUrl, InvalidSchemeTextIsNotEchoed) {
  EXPECT_EQ(parse_error("u:pw@h://x"), "invalid scheme (expected redis, rediss, redis-cluster, rediss-cluster, redis-shards, rediss-shards or mysql)");
}

TEST(ConfigEndpoint, Parses) {
  auto r = parse_endpoint("127.0.0.1:6380");
  ASSERT_TRUE(std::holds_alternative<Endpoint>(r));
  EXPECT_EQ(std::get<Endpoint>(r).host, "127.0.0.1");
  EXPECT_EQ(std::get<Endpoint>(r).port, 6380);
  EXPECT_EQ(std::get<Endpoint>(r).to_string(), "127.0.0.1:6380");
}

TEST(ConfigEndpoint, Ipv6AndNames) {
  auto v6 = parse_endpoint("[::]:3307");
  ASSERT_TRUE(std::holds_alternative<Endpoint>(v6));
  EXPECT_EQ(std::get<Endpoint>(v6).host, "::");
  EXPECT_EQ(std::get<Endpoint>(v6).to_string(), "[::]:3307");
  auto name = parse_endpoint("localhost:1");
  ASSERT_TRUE(std::holds_alternative<Endpoint>(name));
  EXPECT_EQ(std::get<Endpoint>(name).to_string(), "localhost:1");
}

TEST(ConfigEndpoint, Errors) {
  const auto error = [](std::string_view text) {
    auto r = parse_endpoint(text);
    return std::holds_alternative<std::string>(r) ? std::get<std::string>(r) : std::string("<parsed>");
  };
  EXPECT_EQ(error(""), "address is empty (expected host:port)");
  EXPECT_EQ(error("127.0.0.1"), "missing port in '127.0.0.1' (expected host:port)");
  EXPECT_EQ(error("[::1]"), "missing port in '[::1]' (expected host:port)");
  EXPECT_EQ(error("127.0.0.1:0"), "port must be 1..65535 (got '0')");
  EXPECT_EQ(error("127.0.0.1:65536"), "port must be 1..65535 (got '65536')");
  EXPECT_EQ(error(":6380"), "host is empty");
  EXPECT_EQ(error("::1:6380"), "IPv6 addresses must be in brackets, as in [::1]:6379 (got '::1:6380')");
}

TEST(ConfigEnums, ToString) {
  EXPECT_EQ(to_string(Protocol::Redis), "redis");
  EXPECT_EQ(to_string(Protocol::Mysql), "mysql");
  EXPECT_EQ(to_string(LogLevel::Trace), "trace");
  EXPECT_EQ(to_string(LogLevel::Debug), "debug");
  EXPECT_EQ(to_string(LogLevel::Info), "info");
  EXPECT_EQ(to_string(LogLevel::Warn), "warn");
  EXPECT_EQ(to_string(LogLevel::Error), "error");
  EXPECT_EQ(to_string(AuthMode::None), "none");
  EXPECT_EQ(to_string(AuthMode::Users), "users");
  EXPECT_EQ(to_string(AuthMode::Backend), "backend");
}

}  // namespace
}  // namespace corral::config
