// parse_config / load_config: every validation rule with its exact message and line.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <string_view>
#include <variant>

#include "config/config.h"
#include "temp_dir.h"

namespace corral::config {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Lines 1-5 of most documents below; tests add their sections after it (from line 6 on) or before it.
constexpr std::string_view kRedisListener = R"([[listeners]]
name = "r"
protocol = "redis"
address = "127.0.0.1:6380"
backend = "redis://127.0.0.1:6379"
)";

/// The full error text, or "<ok>" when the document is valid.
std::string error_of(std::string_view text) {
  auto r = parse_config(text, "corral.toml");
  if (auto* e = std::get_if<ConfigError>(&r)) return e->to_string();
  return "<ok>";
}

Config parse_ok(std::string_view text) {
  auto r = parse_config(text, "corral.toml");
  if (auto* e = std::get_if<ConfigError>(&r)) {
    ADD_FAILURE() << e->to_string();
    return {};
  }
  return std::get<Config>(std::move(r));
}

std::string with_listener(std::string_view before) { return std::string(before) + std::string(kRedisListener); }

// ---------------------------------------------------------------------------------------------------
// Defaults and a complete document

TEST(ConfigParse, MinimalDocumentGetsDefaults) {
  const Config c = parse_ok(kRedisListener);
  const Config defaults;
  EXPECT_EQ(c.source, "corral.toml");
  EXPECT_EQ(c.server.workers, 0u);
  EXPECT_EQ(c.server.log_level, LogLevel::Info);
  EXPECT_EQ(c.server.shutdown_grace, std::chrono::milliseconds(5000));
  EXPECT_FALSE(c.server.admin.has_value());
  EXPECT_EQ(c.pool.max_connections, defaults.pool.max_connections);
  EXPECT_EQ(c.pool.max_pinned, defaults.pool.max_pinned);
  EXPECT_EQ(c.pool.connect_timeout, defaults.pool.connect_timeout);
  EXPECT_EQ(c.pool.queue_timeout, defaults.pool.queue_timeout);
  EXPECT_EQ(c.pool.idle_timeout, defaults.pool.idle_timeout);
  EXPECT_EQ(c.pool.operation_timeout, defaults.pool.operation_timeout);
  EXPECT_EQ(c.pool.reconnect_backoff_min, defaults.pool.reconnect_backoff_min);
  EXPECT_EQ(c.pool.reconnect_backoff_max, defaults.pool.reconnect_backoff_max);
  EXPECT_EQ(c.client.max_connections, 10000u);
  EXPECT_EQ(c.client.output_buffer_limit, 64ull << 20);
  EXPECT_EQ(c.client.idle_timeout, std::chrono::milliseconds(0));
  EXPECT_EQ(c.redis.max_bulk_length, 512ull << 20);
  EXPECT_EQ(c.redis.max_array_length, 1024u * 1024u);
  EXPECT_EQ(c.redis.max_nesting_depth, 64u);
  EXPECT_EQ(c.redis.max_inline_length, 64u * 1024u);
  EXPECT_EQ(c.mysql.max_packet_size, 64u << 20);
  EXPECT_FALSE(c.mysql.local_infile);
  EXPECT_EQ(c.mysql.server_version, "");  // the backend's own
  EXPECT_EQ(c.mysql.max_prepared_per_connection, 256u);
  EXPECT_EQ(c.mysql.statement_timeout, std::chrono::milliseconds(0));
  EXPECT_EQ(c.mysql.max_replication_lag, std::chrono::milliseconds(5000));
  EXPECT_EQ(c.mysql.read_your_writes, std::chrono::milliseconds(1000));
  EXPECT_EQ(c.mysql.replica_check_interval, std::chrono::milliseconds(1000));
  EXPECT_FALSE(c.mysql.causal_reads);
  ASSERT_EQ(c.listeners.size(), 1u);
  const Listener& l = c.listeners[0];
  EXPECT_EQ(l.name, "r");
  EXPECT_EQ(l.protocol, Protocol::Redis);
  EXPECT_EQ(l.address.host, "127.0.0.1");
  EXPECT_EQ(l.address.port, 6380);
  EXPECT_EQ(l.backend.address(), "127.0.0.1:6379");
  EXPECT_EQ(l.auth, AuthMode::None);
  EXPECT_TRUE(c.users.empty());
}

TEST(ConfigParse, EveryKeySet) {
  const Config c = parse_ok(R"(
[server]
workers = 8
log_level = "debug"
shutdown_grace_ms = 0
admin = "[::1]:9180"

[[listeners]]
name = "cache-1.eu"
protocol = "redis"
address = "0.0.0.0:6380"
backend = "redis://app:pw@10.0.0.5:6379/3?protocol=3"
auth = "backend"

[[listeners]]
name = "db"
protocol = "mysql"
address = "[::]:3307"
backend = "mysql://corral:corral@db.internal/shop?charset=utf8mb4&replicas=db-r1.internal,db-r2.internal:3307"
auth = "users"

[[users]]
name = "app"
password = ""
backend_user = "app_rw"
backend_password = "x"

[[users]]
name = "reader"
password = "r"
backend_user = "ro"

[pool]
max_connections = 1024
max_pinned = 1
connect_timeout_ms = 1
queue_timeout_ms = 86_400_000
idle_timeout_ms = 0
operation_timeout_ms = 500
reconnect_backoff_min_ms = 100
reconnect_backoff_max_ms = 100

[client]
max_connections = 1
output_buffer_limit = 1024
idle_timeout_ms = 30000

[redis]
max_bulk_length = 4294967295
max_array_length = 2147483647
max_nesting_depth = 1024
max_inline_length = 1

[mysql]
max_packet_size = 1073741824
local_infile = true
server_version = "8.0.36-proxy"
max_prepared_per_connection = 65536
statement_timeout_ms = 3600000
max_replication_lag_ms = 30000
read_your_writes_ms = 0
replica_check_interval_ms = 250
causal_reads = true
share_prepared_statements = false
)");
  EXPECT_EQ(c.server.workers, 8u);
  EXPECT_EQ(c.server.log_level, LogLevel::Debug);
  EXPECT_EQ(c.server.shutdown_grace, std::chrono::milliseconds(0));
  ASSERT_TRUE(c.server.admin.has_value());
  EXPECT_EQ(c.server.admin->to_string(), "[::1]:9180");
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].name, "cache-1.eu");
  EXPECT_EQ(c.listeners[0].auth, AuthMode::Backend);
  EXPECT_EQ(c.listeners[0].backend.redis_db, 3);
  EXPECT_EQ(c.listeners[0].backend.redis_protocol, 3);
  EXPECT_EQ(c.listeners[1].protocol, Protocol::Mysql);
  EXPECT_EQ(c.listeners[1].address.to_string(), "[::]:3307");
  EXPECT_EQ(c.listeners[1].backend.mysql_schema, "shop");
  EXPECT_EQ(c.listeners[1].auth, AuthMode::Users);
  ASSERT_EQ(c.users.size(), 2u);
  EXPECT_EQ(c.users[0].password, "");
  EXPECT_EQ(c.users[0].backend_user, "app_rw");
  EXPECT_EQ(c.users[0].backend_password, "x");
  EXPECT_EQ(c.users[1].backend_user, "ro");
  EXPECT_FALSE(c.users[1].backend_password.has_value());
  EXPECT_EQ(c.pool.max_connections, 1024u);
  EXPECT_EQ(c.pool.max_pinned, 1u);
  EXPECT_EQ(c.pool.connect_timeout, std::chrono::milliseconds(1));
  EXPECT_EQ(c.pool.queue_timeout, std::chrono::milliseconds(86'400'000));
  EXPECT_EQ(c.pool.idle_timeout, std::chrono::milliseconds(0));
  EXPECT_EQ(c.pool.operation_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(c.pool.reconnect_backoff_min, std::chrono::milliseconds(100));
  EXPECT_EQ(c.pool.reconnect_backoff_max, std::chrono::milliseconds(100));
  EXPECT_EQ(c.client.max_connections, 1u);
  EXPECT_EQ(c.client.output_buffer_limit, 1024u);
  EXPECT_EQ(c.client.idle_timeout, std::chrono::milliseconds(30000));
  EXPECT_EQ(c.redis.max_bulk_length, 4294967295u);
  EXPECT_EQ(c.redis.max_array_length, 2147483647u);
  EXPECT_EQ(c.redis.max_nesting_depth, 1024u);
  EXPECT_EQ(c.redis.max_inline_length, 1u);
  EXPECT_EQ(c.mysql.max_packet_size, 1073741824u);
  EXPECT_TRUE(c.mysql.local_infile);
  EXPECT_EQ(c.mysql.server_version, "8.0.36-proxy");
  EXPECT_EQ(c.mysql.max_prepared_per_connection, 65536u);
  EXPECT_EQ(c.mysql.statement_timeout, std::chrono::milliseconds(3600000));
  EXPECT_EQ(c.mysql.max_replication_lag, std::chrono::milliseconds(30000));
  EXPECT_EQ(c.mysql.read_your_writes, std::chrono::milliseconds(0));
  EXPECT_EQ(c.mysql.replica_check_interval, std::chrono::milliseconds(250));
  EXPECT_TRUE(c.mysql.causal_reads);
  EXPECT_FALSE(c.mysql.share_prepared_statements);
  ASSERT_EQ(c.listeners[1].backend.mysql_replicas.size(), 2u);
  EXPECT_EQ(c.listeners[1].backend.mysql_replicas[1].to_string(), "db-r2.internal:3307");
}

TEST(ConfigParse, InlineTablesWork) {
  const Config c = parse_ok(R"(
server = { workers = 2 }
listeners = [ { name = "r", protocol = "redis", address = "127.0.0.1:1", backend = "redis://h" } ]
)");
  EXPECT_EQ(c.server.workers, 2u);
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_EQ(c.listeners[0].backend.port, 6379);
}

TEST(ConfigParse, LogLevels) {
  const std::pair<std::string_view, LogLevel> levels[] = {{"trace", LogLevel::Trace},
                                                          {"debug", LogLevel::Debug},
                                                          {"info", LogLevel::Info},
                                                          {"warn", LogLevel::Warn},
                                                          {"error", LogLevel::Error}};
  for (const auto& [text, level] : levels) {
    const Config c = parse_ok(with_listener("[server]\nlog_level = \"" + std::string(text) + "\"\n"));
    EXPECT_EQ(c.server.log_level, level) << text;
  }
}

TEST(ConfigParse, LogFormats) {
  EXPECT_EQ(parse_ok(kRedisListener).server.log_format, LogFormat::Text);
  EXPECT_EQ(parse_ok(with_listener("[server]\nlog_format = \"json\"\n")).server.log_format, LogFormat::Json);
  EXPECT_EQ(error_of(with_listener("[server]\nlog_format = \"xml\"\n")),
            "corral.toml:2: server.log_format must be one of 'text', 'json' (got 'xml')");
}

TEST(ConfigParse, RuntimeIoBackend) {
  EXPECT_EQ(parse_ok(kRedisListener).runtime.io, IoBackend::Epoll);
  EXPECT_EQ(parse_ok(with_listener("[runtime]\nio = \"io_uring\"\n")).runtime.io, IoBackend::IoUring);
  EXPECT_EQ(parse_ok(with_listener("[runtime]\nio = \"epoll\"\n")).runtime.io, IoBackend::Epoll);
  EXPECT_EQ(error_of(with_listener("[runtime]\nio = \"kqueue\"\n")),
            "corral.toml:2: runtime.io must be one of 'epoll', 'io_uring' (got 'kqueue')");
  EXPECT_EQ(error_of(with_listener("[runtime]\nthreads = 2\n")), "corral.toml:2: unknown key 'runtime.threads'");
}

TEST(ConfigParse, FindUser) {
  const Config c = parse_ok(with_listener("[[users]]\nname = \"a\"\npassword = \"1\"\n"
                                          "[[users]]\nname = \"b\"\npassword = \"2\"\n"));
  ASSERT_NE(c.find_user("b"), nullptr);
  EXPECT_EQ(c.find_user("b")->password, "2");
  EXPECT_EQ(c.find_user("c"), nullptr);
  EXPECT_EQ(c.find_user(""), nullptr);
}

// ---------------------------------------------------------------------------------------------------
// Integer bounds: each bound of each integer key, placed on line 2.

struct BoundCase {
  std::string_view section;
  std::string_view key;
  std::string_view value;
  std::string_view message;  // after "corral.toml:2: "
};

/// Readable test names in ctest: "pool.max_connections = 0" instead of the struct's bytes.
void PrintTo(const BoundCase& b, std::ostream* os) { *os << b.section << "." << b.key << " = " << b.value; }

/// "[section]\nkey = value\n": the value lands on line 2.
std::string section_with(const BoundCase& b) {
  return "[" + std::string(b.section) + "]\n" + std::string(b.key) + " = " + std::string(b.value) + "\n";
}

class ConfigBounds : public ::testing::TestWithParam<BoundCase> {};

TEST_P(ConfigBounds, RejectsWithExactMessage) {
  const BoundCase& b = GetParam();
  const std::string text = with_listener(section_with(b));
  EXPECT_EQ(error_of(text), "corral.toml:2: " + std::string(b.message));
}

INSTANTIATE_TEST_SUITE_P(
    ConfigOutOfRange, ConfigBounds,
    ::testing::Values(
        BoundCase{"server", "workers", "-1", "server.workers must be >= 0 (got -1)"},
        BoundCase{"server", "workers", "257", "server.workers must be <= 256 (got 257)"},
        BoundCase{"server", "shutdown_grace_ms", "-1", "server.shutdown_grace_ms must be >= 0 (got -1)"},
        BoundCase{"server", "shutdown_grace_ms", "86400001",
                  "server.shutdown_grace_ms must be <= 86400000 (got 86400001)"},
        BoundCase{"pool", "max_connections", "-3", "pool.max_connections must be > 0 (got -3)"},
        BoundCase{"pool", "max_connections", "0", "pool.max_connections must be > 0 (got 0)"},
        BoundCase{"pool", "max_connections", "1025", "pool.max_connections must be <= 1024 (got 1025)"},
        BoundCase{"pool", "max_pinned", "0", "pool.max_pinned must be > 0 (got 0)"},
        BoundCase{"pool", "max_pinned", "65537", "pool.max_pinned must be <= 65536 (got 65537)"},
        BoundCase{"pool", "connect_timeout_ms", "0", "pool.connect_timeout_ms must be > 0 (got 0)"},
        BoundCase{"pool", "connect_timeout_ms", "86400001",
                  "pool.connect_timeout_ms must be <= 86400000 (got 86400001)"},
        BoundCase{"pool", "queue_timeout_ms", "0", "pool.queue_timeout_ms must be > 0 (got 0)"},
        BoundCase{"pool", "queue_timeout_ms", "86400001",
                  "pool.queue_timeout_ms must be <= 86400000 (got 86400001)"},
        BoundCase{"pool", "idle_timeout_ms", "-1", "pool.idle_timeout_ms must be >= 0 (got -1)"},
        BoundCase{"pool", "idle_timeout_ms", "86400001",
                  "pool.idle_timeout_ms must be <= 86400000 (got 86400001)"},
        BoundCase{"pool", "operation_timeout_ms", "0", "pool.operation_timeout_ms must be > 0 (got 0)"},
        BoundCase{"pool", "operation_timeout_ms", "86400001",
                  "pool.operation_timeout_ms must be <= 86400000 (got 86400001)"},
        BoundCase{"pool", "reconnect_backoff_min_ms", "0", "pool.reconnect_backoff_min_ms must be > 0 (got 0)"},
        BoundCase{"pool", "reconnect_backoff_min_ms", "86400001",
                  "pool.reconnect_backoff_min_ms must be <= 86400000 (got 86400001)"},
        BoundCase{"pool", "reconnect_backoff_max_ms", "0", "pool.reconnect_backoff_max_ms must be > 0 (got 0)"},
        BoundCase{"pool", "reconnect_backoff_max_ms", "86400001",
                  "pool.reconnect_backoff_max_ms must be <= 86400000 (got 86400001)"},
        BoundCase{"pool", "reconnect_backoff_max_ms", "49",
                  "pool.reconnect_backoff_max_ms must be >= pool.reconnect_backoff_min_ms (50) (got 49)"},
        BoundCase{"pool", "reconnect_backoff_min_ms", "501",
                  "pool.reconnect_backoff_max_ms must be >= pool.reconnect_backoff_min_ms (501) (got 500)"},
        BoundCase{"client", "max_connections", "0", "client.max_connections must be > 0 (got 0)"},
        BoundCase{"client", "max_connections", "1000001",
                  "client.max_connections must be <= 1000000 (got 1000001)"},
        BoundCase{"client", "output_buffer_limit", "1023",
                  "client.output_buffer_limit must be >= 1024 (got 1023)"},
        BoundCase{"client", "output_buffer_limit", "1099511627777",
                  "client.output_buffer_limit must be <= 1099511627776 (got 1099511627777)"},
        BoundCase{"client", "idle_timeout_ms", "-1", "client.idle_timeout_ms must be >= 0 (got -1)"},
        BoundCase{"client", "idle_timeout_ms", "86400001",
                  "client.idle_timeout_ms must be <= 86400000 (got 86400001)"},
        BoundCase{"redis", "max_bulk_length", "0", "redis.max_bulk_length must be > 0 (got 0)"},
        BoundCase{"redis", "max_bulk_length", "4294967296",
                  "redis.max_bulk_length must be <= 4294967295 (got 4294967296)"},
        BoundCase{"redis", "max_array_length", "0", "redis.max_array_length must be > 0 (got 0)"},
        BoundCase{"redis", "max_array_length", "2147483648",
                  "redis.max_array_length must be <= 2147483647 (got 2147483648)"},
        BoundCase{"redis", "max_nesting_depth", "0", "redis.max_nesting_depth must be > 0 (got 0)"},
        BoundCase{"redis", "max_nesting_depth", "1025", "redis.max_nesting_depth must be <= 1024 (got 1025)"},
        BoundCase{"redis", "max_inline_length", "0", "redis.max_inline_length must be > 0 (got 0)"},
        BoundCase{"redis", "max_inline_length", "1073741825",
                  "redis.max_inline_length must be <= 1073741824 (got 1073741825)"},
        BoundCase{"mysql", "max_packet_size", "1023", "mysql.max_packet_size must be >= 1024 (got 1023)"},
        BoundCase{"mysql", "max_packet_size", "1073741825",
                  "mysql.max_packet_size must be <= 1073741824 (got 1073741825)"},
        BoundCase{"mysql", "max_prepared_per_connection", "0",
                  "mysql.max_prepared_per_connection must be > 0 (got 0)"},
        BoundCase{"mysql", "max_prepared_per_connection", "65537",
                  "mysql.max_prepared_per_connection must be <= 65536 (got 65537)"},
        BoundCase{"mysql", "statement_timeout_ms", "-1", "mysql.statement_timeout_ms must be >= 0 (got -1)"},
        BoundCase{"mysql", "statement_timeout_ms", "86400001",
                  "mysql.statement_timeout_ms must be <= 86400000 (got 86400001)"},
        BoundCase{"mysql", "max_replication_lag_ms", "999",
                  "mysql.max_replication_lag_ms must be >= 1000 (got 999)"},
        BoundCase{"mysql", "max_replication_lag_ms", "86400001",
                  "mysql.max_replication_lag_ms must be <= 86400000 (got 86400001)"},
        BoundCase{"mysql", "read_your_writes_ms", "-1", "mysql.read_your_writes_ms must be >= 0 (got -1)"},
        BoundCase{"mysql", "replica_check_interval_ms", "99",
                  "mysql.replica_check_interval_ms must be >= 100 (got 99)"},
        BoundCase{"server", "workers", "-9223372036854775808",
                  "server.workers must be >= 0 (got -9223372036854775808)"}));

// The same keys at their limits are accepted.
TEST(ConfigBoundsAccepted, LimitsAreInclusive) {
  EXPECT_EQ(error_of(with_listener("[server]\nworkers = 256\nshutdown_grace_ms = 86400000\n")), "<ok>");
  EXPECT_EQ(error_of(with_listener("[pool]\nmax_connections = 1\nmax_pinned = 65536\nidle_timeout_ms = 86400000\n"
                                   "reconnect_backoff_min_ms = 1\nreconnect_backoff_max_ms = 86400000\n")),
            "<ok>");
  EXPECT_EQ(error_of(with_listener("[client]\nmax_connections = 1000000\noutput_buffer_limit = 1099511627776\n"
                                   "idle_timeout_ms = 86400000\n")),
            "<ok>");
  EXPECT_EQ(error_of(with_listener("[redis]\nmax_bulk_length = 1\nmax_array_length = 1\nmax_nesting_depth = 1\n"
                                   "max_inline_length = 1073741824\n")),
            "<ok>");
  EXPECT_EQ(error_of(with_listener("[mysql]\nmax_packet_size = 1024\n")), "<ok>");
  EXPECT_EQ(error_of(with_listener("[mysql]\nmax_prepared_per_connection = 1\n")), "<ok>");
  EXPECT_EQ(error_of(with_listener("[server]\nworkers = 0\n")), "<ok>");
}

// ---------------------------------------------------------------------------------------------------
// Types: every key given a value of the wrong type, on line 2.

class ConfigTypeOfKey : public ::testing::TestWithParam<BoundCase> {};

TEST_P(ConfigTypeOfKey, RejectsWithExactMessage) {
  const BoundCase& b = GetParam();
  EXPECT_EQ(error_of(with_listener(section_with(b))), "corral.toml:2: " + std::string(b.message));
}

INSTANTIATE_TEST_SUITE_P(
    ConfigWrongType, ConfigTypeOfKey,
    ::testing::Values(
        BoundCase{"server", "workers", "\"4\"", "server.workers must be an integer (got string)"},
        BoundCase{"server", "workers", "4.0", "server.workers must be an integer (got float)"},
        BoundCase{"server", "workers", "true", "server.workers must be an integer (got boolean)"},
        BoundCase{"server", "workers", "[4]", "server.workers must be an integer (got array)"},
        BoundCase{"server", "workers", "{ n = 4 }", "server.workers must be an integer (got table)"},
        BoundCase{"server", "workers", "1979-05-27", "server.workers must be an integer (got date)"},
        BoundCase{"server", "workers", "07:32:00", "server.workers must be an integer (got time)"},
        BoundCase{"server", "workers", "1979-05-27T07:32:00Z", "server.workers must be an integer (got date-time)"},
        BoundCase{"server", "log_level", "1", "server.log_level must be a string (got integer)"},
        BoundCase{"server", "shutdown_grace_ms", "\"5s\"", "server.shutdown_grace_ms must be an integer (got string)"},
        BoundCase{"server", "admin", "9180", "server.admin must be a string (got integer)"},
        BoundCase{"pool", "max_connections", "\"4\"", "pool.max_connections must be an integer (got string)"},
        BoundCase{"pool", "max_pinned", "1.5", "pool.max_pinned must be an integer (got float)"},
        BoundCase{"pool", "connect_timeout_ms", "\"2s\"", "pool.connect_timeout_ms must be an integer (got string)"},
        BoundCase{"pool", "queue_timeout_ms", "false", "pool.queue_timeout_ms must be an integer (got boolean)"},
        BoundCase{"pool", "idle_timeout_ms", "\"\"", "pool.idle_timeout_ms must be an integer (got string)"},
        BoundCase{"pool", "operation_timeout_ms", "[]", "pool.operation_timeout_ms must be an integer (got array)"},
        BoundCase{"pool", "reconnect_backoff_min_ms", "\"50\"",
                  "pool.reconnect_backoff_min_ms must be an integer (got string)"},
        BoundCase{"pool", "reconnect_backoff_max_ms", "2e3",
                  "pool.reconnect_backoff_max_ms must be an integer (got float)"},
        BoundCase{"client", "max_connections", "\"many\"", "client.max_connections must be an integer (got string)"},
        BoundCase{"client", "output_buffer_limit", "\"64MB\"",
                  "client.output_buffer_limit must be an integer (got string)"},
        BoundCase{"client", "idle_timeout_ms", "true", "client.idle_timeout_ms must be an integer (got boolean)"},
        BoundCase{"redis", "max_bulk_length", "\"512mb\"", "redis.max_bulk_length must be an integer (got string)"},
        BoundCase{"redis", "max_array_length", "1.0", "redis.max_array_length must be an integer (got float)"},
        BoundCase{"redis", "max_nesting_depth", "\"64\"", "redis.max_nesting_depth must be an integer (got string)"},
        BoundCase{"redis", "max_inline_length", "[1]", "redis.max_inline_length must be an integer (got array)"},
        BoundCase{"mysql", "max_packet_size", "\"64M\"", "mysql.max_packet_size must be an integer (got string)"},
        BoundCase{"mysql", "local_infile", "\"yes\"", "mysql.local_infile must be a boolean (got string)"},
        BoundCase{"mysql", "local_infile", "1", "mysql.local_infile must be a boolean (got integer)"},
        BoundCase{"mysql", "server_version", "10", "mysql.server_version must be a string (got integer)"},
        BoundCase{"mysql", "max_prepared_per_connection", "\"256\"",
                  "mysql.max_prepared_per_connection must be an integer (got string)"}));

TEST(ConfigTypes, TablesMustBeTables) {
  EXPECT_EQ(error_of(with_listener("server = 1\n")), "corral.toml:1: server must be a table (got integer)");
  EXPECT_EQ(error_of(with_listener("pool = \"big\"\n")), "corral.toml:1: pool must be a table (got string)");
  EXPECT_EQ(error_of(with_listener("client = []\n")), "corral.toml:1: client must be a table (got array)");
  EXPECT_EQ(error_of(with_listener("redis = true\n")), "corral.toml:1: redis must be a table (got boolean)");
  EXPECT_EQ(error_of(with_listener("mysql = 1.0\n")), "corral.toml:1: mysql must be a table (got float)");
}

TEST(ConfigTypes, ArraysOfTables) {
  EXPECT_EQ(error_of("listeners = 1\n"),
            "corral.toml:1: listeners must be an array of tables, written [[listeners]] (got integer)");
  EXPECT_EQ(error_of("\n[listeners]\nname = \"r\"\n"),
            "corral.toml:2: listeners must be an array of tables, written [[listeners]] (got table)");
  EXPECT_EQ(error_of("listeners = [1]\n"), "corral.toml:1: listeners[0] must be a table (got integer)");
  EXPECT_EQ(error_of(with_listener("users = \"app\"\n")),
            "corral.toml:1: users must be an array of tables, written [[users]] (got string)");
  EXPECT_EQ(error_of(with_listener("users = [{ name = \"a\", password = \"\" }, \"b\"]\n")),
            "corral.toml:1: users[1] must be a table (got string)");
}

TEST(ConfigTypes, ListenerAndUserStrings) {
  EXPECT_EQ(error_of("[[listeners]]\nname = 1\n"), "corral.toml:2: listeners[0].name must be a string (got integer)");
  EXPECT_EQ(error_of("[[listeners]]\nname = \"r\"\nprotocol = 6379\n"),
            "corral.toml:3: listeners[0].protocol must be a string (got integer)");
  EXPECT_EQ(error_of("[[listeners]]\nname = \"r\"\nprotocol = \"redis\"\naddress = 6380\n"),
            "corral.toml:4: listeners[0].address must be a string (got integer)");
  EXPECT_EQ(error_of("[[listeners]]\nname = \"r\"\nprotocol = \"redis\"\naddress = \"h:1\"\nbackend = {}\n"),
            "corral.toml:5: listeners[0].backend must be a string (got table)");
  EXPECT_EQ(error_of(std::string(kRedisListener) + "auth = false\n"),
            "corral.toml:6: listeners[0].auth must be a string (got boolean)");
  EXPECT_EQ(error_of(with_listener("[[users]]\nname = [\"a\"]\n")),
            "corral.toml:2: users[0].name must be a string (got array)");
  EXPECT_EQ(error_of(with_listener("[[users]]\nname = \"a\"\npassword = 1234\n")),
            "corral.toml:3: users[0].password must be a string (got integer)");
  EXPECT_EQ(error_of(with_listener("[[users]]\nname = \"a\"\npassword = \"\"\nbackend_user = 1\n")),
            "corral.toml:4: users[0].backend_user must be a string (got integer)");
  EXPECT_EQ(error_of(with_listener("[[users]]\nname = \"a\"\npassword = \"\"\nbackend_user = \"b\"\n"
                                   "backend_password = 1\n")),
            "corral.toml:5: users[0].backend_password must be a string (got integer)");
}

// ---------------------------------------------------------------------------------------------------
// Unknown keys and tables

TEST(ConfigUnknown, KeyWithSuggestion) {
  EXPECT_EQ(error_of(with_listener("[pool]\nmax_conections = 4\n")),
            "corral.toml:2: unknown key 'pool.max_conections' (did you mean 'pool.max_connections'?)");
}

TEST(ConfigUnknown, TranspositionCountsAsOneEdit) {
  EXPECT_EQ(error_of(with_listener("[server]\nwokrers = 4\n")),
            "corral.toml:2: unknown key 'server.wokrers' (did you mean 'server.workers'?)");
}

TEST(ConfigUnknown, TwoEditsStillSuggested) {
  EXPECT_EQ(error_of(with_listener("[pool]\nmax_conectons = 4\n")),
            "corral.toml:2: unknown key 'pool.max_conectons' (did you mean 'pool.max_connections'?)");
  EXPECT_EQ(error_of(with_listener("[client]\nidle_timeout_s = 5\n")),
            "corral.toml:2: unknown key 'client.idle_timeout_s' (did you mean 'client.idle_timeout_ms'?)");
}

TEST(ConfigUnknown, KeyWithoutSuggestion) {
  EXPECT_EQ(error_of(with_listener("[pool]\nsize = 4\n")), "corral.toml:2: unknown key 'pool.size'");
  // Three edits away: no guess.
  EXPECT_EQ(error_of(with_listener("[client]\nidle_timeout = 5\n")),
            "corral.toml:2: unknown key 'client.idle_timeout'");
}

TEST(ConfigUnknown, FirstUnknownKeyInTheFileIsReported) {
  EXPECT_EQ(error_of(with_listener("[pool]\nzzz = 1\naaa = 2\n")), "corral.toml:2: unknown key 'pool.zzz'");
}

TEST(ConfigUnknown, UnknownKeyBeatsBadValueInTheSameTable) {
  EXPECT_EQ(error_of(with_listener("[pool]\nmax_connections = 0\nmax_pined = 1\n")),
            "corral.toml:3: unknown key 'pool.max_pined' (did you mean 'pool.max_pinned'?)");
}

TEST(ConfigUnknown, RootKey) {
  EXPECT_EQ(error_of(with_listener("workers = 4\n")), "corral.toml:1: unknown key 'workers'");
}

TEST(ConfigUnknown, TableWithSuggestion) {
  EXPECT_EQ(error_of(with_listener("[poll]\nmax_connections = 4\n")),
            "corral.toml:1: unknown table 'poll' (did you mean 'pool'?)");
  EXPECT_EQ(error_of("[[listener]]\nname = \"r\"\n"),
            "corral.toml:1: unknown table 'listener' (did you mean 'listeners'?)");
}

TEST(ConfigUnknown, TableWithoutSuggestion) {
  EXPECT_EQ(error_of(with_listener("[metrics]\nport = 9\n")), "corral.toml:1: unknown table 'metrics'");
}

TEST(ConfigUnknown, NestedTable) {
  EXPECT_EQ(error_of(with_listener("[server.tls]\ncert = \"x\"\n")), "corral.toml:1: unknown table 'server.tls'");
}

TEST(ConfigUnknown, ListenerAndUserKeys) {
  EXPECT_EQ(error_of("[[listeners]]\nname = \"r\"\nadress = \"h:1\"\n"),
            "corral.toml:3: unknown key 'listeners[0].adress' (did you mean 'listeners[0].address'?)");
  EXPECT_EQ(error_of(with_listener("[[users]]\nname = \"a\"\npasword = \"x\"\n")),
            "corral.toml:3: unknown key 'users[0].pasword' (did you mean 'users[0].password'?)");
}

// ---------------------------------------------------------------------------------------------------
// Syntax errors and files

TEST(ConfigSyntax, ErrorNamesFileAndLine) {
  const std::string err = error_of("[server]\nworkers = 4\nlog_level = \n");
  EXPECT_THAT(err, StartsWith("corral.toml:3: invalid TOML: "));
  EXPECT_THAT(err, HasSubstr("expected"));
}

TEST(ConfigSyntax, RedefinedKey) {
  const std::string err = error_of("[pool]\nmax_connections = 1\n\nmax_connections = 2\n");
  EXPECT_THAT(err, StartsWith("corral.toml:4: invalid TOML: "));
  EXPECT_THAT(err, HasSubstr("max_connections"));
}

TEST(ConfigSyntax, IntegerTooLargeForToml) {
  EXPECT_THAT(error_of("[client]\n\noutput_buffer_limit = 99999999999999999999\n"),
              StartsWith("corral.toml:3: invalid TOML: "));
}

TEST(ConfigErrorText, ToStringWithAndWithoutLine) {
  EXPECT_EQ((ConfigError{"corral.toml", 12, "pool.max_connections must be > 0 (got -3)"}.to_string()),
            "corral.toml:12: pool.max_connections must be > 0 (got -3)");
  EXPECT_EQ((ConfigError{"/etc/corral.toml", 0, "cannot open: No such file or directory"}.to_string()),
            "/etc/corral.toml: cannot open: No such file or directory");
}

TEST(ConfigLoad, ShippedDefaultConfigLoads) {
  const std::string path = std::string(CORRAL_SOURCE_DIR) + "/config/corral.toml";
  auto r = load_config(path);
  ASSERT_TRUE(std::holds_alternative<Config>(r)) << std::get<ConfigError>(r).to_string();
  const Config& c = std::get<Config>(r);
  EXPECT_EQ(c.source, path);
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].name, "redis");
  EXPECT_EQ(c.listeners[0].protocol, Protocol::Redis);
  EXPECT_EQ(c.listeners[0].address.to_string(), "127.0.0.1:6380");
  EXPECT_EQ(c.listeners[0].backend.redacted(), "redis://127.0.0.1:6379");
  EXPECT_EQ(c.listeners[0].auth, AuthMode::None);
  EXPECT_EQ(c.listeners[1].name, "mysql");
  EXPECT_EQ(c.listeners[1].protocol, Protocol::Mysql);
  EXPECT_EQ(c.listeners[1].address.to_string(), "127.0.0.1:3307");
  EXPECT_EQ(c.listeners[1].backend.redacted(), "mysql://corral:***@127.0.0.1:3306");
  EXPECT_EQ(c.listeners[1].auth, AuthMode::Users);
  ASSERT_NE(c.find_user("corral"), nullptr);
  EXPECT_EQ(c.find_user("corral")->password, "corral");
  // The file shows the defaults; it must not drift from the structs.
  const Config defaults;
  EXPECT_EQ(c.server.workers, defaults.server.workers);
  EXPECT_EQ(c.server.shutdown_grace, defaults.server.shutdown_grace);
  EXPECT_FALSE(c.server.admin.has_value());
  EXPECT_EQ(c.pool.max_connections, defaults.pool.max_connections);
  EXPECT_EQ(c.pool.max_pinned, defaults.pool.max_pinned);
  EXPECT_EQ(c.pool.connect_timeout, defaults.pool.connect_timeout);
  EXPECT_EQ(c.pool.queue_timeout, defaults.pool.queue_timeout);
  EXPECT_EQ(c.pool.idle_timeout, defaults.pool.idle_timeout);
  EXPECT_EQ(c.pool.operation_timeout, defaults.pool.operation_timeout);
  EXPECT_EQ(c.pool.reconnect_backoff_min, defaults.pool.reconnect_backoff_min);
  EXPECT_EQ(c.pool.reconnect_backoff_max, defaults.pool.reconnect_backoff_max);
  EXPECT_EQ(c.client.max_connections, defaults.client.max_connections);
  EXPECT_EQ(c.client.output_buffer_limit, defaults.client.output_buffer_limit);
  EXPECT_EQ(c.client.idle_timeout, defaults.client.idle_timeout);
  EXPECT_EQ(c.redis.max_bulk_length, defaults.redis.max_bulk_length);
  EXPECT_EQ(c.redis.max_array_length, defaults.redis.max_array_length);
  EXPECT_EQ(c.redis.max_nesting_depth, defaults.redis.max_nesting_depth);
  EXPECT_EQ(c.redis.max_inline_length, defaults.redis.max_inline_length);
  EXPECT_EQ(c.mysql.max_packet_size, defaults.mysql.max_packet_size);
  EXPECT_EQ(c.mysql.local_infile, defaults.mysql.local_infile);
  EXPECT_TRUE(c.mysql.share_prepared_statements);
  EXPECT_EQ(c.mysql.server_version, defaults.mysql.server_version);
  EXPECT_EQ(c.mysql.max_prepared_per_connection, defaults.mysql.max_prepared_per_connection);
}

TEST(ConfigLoad, DocumentedExampleLoads) {
  // docs/CONFIGURATION.md ends with a full example in its one ```toml block; it must stay valid.
  std::ifstream in(std::string(CORRAL_SOURCE_DIR) + "/docs/CONFIGURATION.md");
  ASSERT_TRUE(in.good());
  const std::string doc((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const size_t begin = doc.find("```toml\n");
  ASSERT_NE(begin, std::string::npos);
  const size_t end = doc.find("```", begin + 8);
  ASSERT_NE(end, std::string::npos);
  const Config c = parse_ok(doc.substr(begin + 8, end - begin - 8));
  ASSERT_EQ(c.listeners.size(), 2u);
  EXPECT_EQ(c.listeners[0].auth, AuthMode::Users);
  EXPECT_EQ(c.listeners[1].auth, AuthMode::Users);
  EXPECT_EQ(c.pool.idle_timeout, std::chrono::milliseconds(300'000));
}

TEST(ConfigLoad, MissingFile) {
  auto r = load_config("/nonexistent/corral.toml");
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_EQ(std::get<ConfigError>(r).to_string(), "/nonexistent/corral.toml: cannot open: No such file or directory");
}

TEST(ConfigLoad, DirectoryIsNotAFile) {
  const std::string dir = ::testing::TempDir();
  auto r = load_config(dir);
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_EQ(std::get<ConfigError>(r).line, 0u);
  EXPECT_EQ(std::get<ConfigError>(r).file, dir);
}

TEST(ConfigLoad, ErrorsNameThePathAsGiven) {
  const corral::testing::TempDir scratch("corral-config-bad-");
  const std::string path = scratch.file("corral_config_test_bad.toml").string();
  {
    std::ofstream out(path);
    out << "[pool]\nmax_connections = -3\n" << kRedisListener;
  }
  auto r = load_config(path);
  ASSERT_TRUE(std::holds_alternative<ConfigError>(r));
  EXPECT_EQ(std::get<ConfigError>(r).to_string(), path + ":2: pool.max_connections must be > 0 (got -3)");
}

// ---------------------------------------------------------------------------------------------------
// [server]

TEST(ConfigServer, LogLevelMustBeKnown) {
  EXPECT_EQ(error_of(with_listener("[server]\nlog_level = \"verbose\"\n")),
            "corral.toml:2: server.log_level must be one of 'trace', 'debug', 'info', 'warn', 'error' (got 'verbose')");
  EXPECT_EQ(error_of(with_listener("[server]\nlog_level = \"INFO\"\n")),
            "corral.toml:2: server.log_level must be one of 'trace', 'debug', 'info', 'warn', 'error' (got 'INFO')");
}

TEST(ConfigServer, AdminAddress) {
  EXPECT_EQ(error_of(with_listener("[server]\nadmin = \"localhost\"\n")),
            "corral.toml:2: server.admin: missing port in 'localhost' (expected host:port)");
  EXPECT_EQ(error_of(with_listener("[server]\nadmin = \"127.0.0.1:0\"\n")),
            "corral.toml:2: server.admin: port must be 1..65535 (got '0')");
  const Config c = parse_ok(with_listener("[server]\nadmin = \"127.0.0.1:9180\"\n"));
  ASSERT_TRUE(c.server.admin.has_value());
  EXPECT_EQ(c.server.admin->host, "127.0.0.1");
  EXPECT_EQ(c.server.admin->port, 9180);
}

TEST(ConfigServer, AdminAddressMustNotBeAListenerAddress) {
  EXPECT_EQ(error_of(with_listener("[server]\nadmin = \"127.0.0.1:6380\"\n")),
            "corral.toml:6: listeners[0].address '127.0.0.1:6380' is already used by server.admin");
}

// ---------------------------------------------------------------------------------------------------
// [mysql]

TEST(ConfigMysql, ServerVersion) {
  EXPECT_EQ(error_of(with_listener("[mysql]\nserver_version = \"\"\n")),
            "corral.toml:2: mysql.server_version must be 1..100 printable ASCII characters (got '')");
  EXPECT_EQ(error_of(with_listener("[mysql]\nserver_version = \"10.11\\tx\"\n")),
            "corral.toml:2: mysql.server_version must be 1..100 printable ASCII characters (got '<non-printable>')");
  EXPECT_EQ(error_of(with_listener("[mysql]\nserver_version = \"" + std::string(101, '9') + "\"\n")),
            "corral.toml:2: mysql.server_version must be 1..100 printable ASCII characters (got '" +
                std::string(101, '9') + "')");
  EXPECT_EQ(error_of(with_listener("[mysql]\nserver_version = \"" + std::string(100, '9') + "\"\n")), "<ok>");
}

// ---------------------------------------------------------------------------------------------------
// [[listeners]]

TEST(ConfigListeners, AtLeastOneRequired) {
  EXPECT_EQ(error_of(""), "corral.toml: at least one [[listeners]] table is required");
  EXPECT_EQ(error_of("[server]\nworkers = 1\n"), "corral.toml: at least one [[listeners]] table is required");
  EXPECT_EQ(error_of("\nlisteners = []\n"), "corral.toml:2: at least one [[listeners]] table is required");
}

TEST(ConfigListeners, RequiredKeysNameTheTableLine) {
  EXPECT_EQ(error_of("\n[[listeners]]\nprotocol = \"redis\"\n"), "corral.toml:2: listeners[0].name is required");
  EXPECT_EQ(error_of("[[listeners]]\nname = \"r\"\n"), "corral.toml:1: listeners[0].protocol is required");
  EXPECT_EQ(error_of("[[listeners]]\nname = \"r\"\nprotocol = \"redis\"\n"),
            "corral.toml:1: listeners[0].address is required");
  EXPECT_EQ(error_of("[[listeners]]\nname = \"r\"\nprotocol = \"redis\"\naddress = \"h:1\"\n"),
            "corral.toml:1: listeners[0].backend is required");
  EXPECT_EQ(error_of(std::string(kRedisListener) + "\n[[listeners]]\nname = \"m\"\n"),
            "corral.toml:7: listeners[1].protocol is required");
}

TEST(ConfigListeners, Name) {
  EXPECT_EQ(error_of("[[listeners]]\nname = \"\"\n"),
            "corral.toml:2: listeners[0].name must be 1..64 letters, digits, '_', '-' or '.' (got '')");
  EXPECT_EQ(error_of("[[listeners]]\nname = \"my redis\"\n"),
            "corral.toml:2: listeners[0].name must be 1..64 letters, digits, '_', '-' or '.' (got 'my redis')");
  EXPECT_EQ(error_of("[[listeners]]\nname = \"" + std::string(65, 'n') + "\"\n"),
            "corral.toml:2: listeners[0].name must be 1..64 letters, digits, '_', '-' or '.' (got '" +
                std::string(65, 'n') + "')");
}

TEST(ConfigListeners, Protocol) {
  EXPECT_EQ(error_of("[[listeners]]\nname = \"r\"\nprotocol = \"memcached\"\n"),
            "corral.toml:3: listeners[0].protocol must be one of 'redis', 'mysql' (got 'memcached')");
}

TEST(ConfigListeners, Address) {
  const auto listener = [](std::string_view address) {
    return "[[listeners]]\nname = \"r\"\nprotocol = \"redis\"\naddress = \"" + std::string(address) +
           "\"\nbackend = \"redis://h\"\n";
  };
  EXPECT_EQ(error_of(listener("127.0.0.1:0")), "corral.toml:4: listeners[0].address: port must be 1..65535 (got '0')");
  EXPECT_EQ(error_of(listener("127.0.0.1:65536")),
            "corral.toml:4: listeners[0].address: port must be 1..65535 (got '65536')");
  EXPECT_EQ(error_of(listener("127.0.0.1")),
            "corral.toml:4: listeners[0].address: missing port in '127.0.0.1' (expected host:port)");
  EXPECT_EQ(error_of(listener("::1:6380")),
            "corral.toml:4: listeners[0].address: IPv6 addresses must be in brackets, as in [::1]:6379 (got "
            "'::1:6380')");
  EXPECT_EQ(error_of(listener("")), "corral.toml:4: listeners[0].address: address is empty (expected host:port)");
  EXPECT_EQ(error_of(listener("[::1]:6380")), "<ok>");
}

TEST(ConfigListeners, BackendUrlErrorsKeepTheirLineAndHideThePassword) {
  const auto listener = [](std::string_view backend) {
    return "[[listeners]]\nname = \"r\"\nprotocol = \"redis\"\naddress = \"127.0.0.1:1\"\nbackend = \"" +
           std::string(backend) + "\"\n";
  };
  EXPECT_EQ(error_of(listener("redis://h:0")), "corral.toml:5: listeners[0].backend: port must be 1..65535 (got '0')");
  EXPECT_EQ(error_of(listener("redis://h?protocol=4")),
            "corral.toml:5: listeners[0].backend: protocol must be 2 or 3 (got '4')");
  const std::string err = error_of(listener("redis://u:TopSecret@h:99999"));
  EXPECT_EQ(err, "corral.toml:5: listeners[0].backend: port must be 1..65535 (got '99999')");
  EXPECT_EQ(err.find("TopSecret"), std::string::npos);
}

TEST(ConfigListeners, BackendSchemeMustMatchProtocol) {
  EXPECT_EQ(error_of("[[listeners]]\nname = \"r\"\nprotocol = \"redis\"\naddress = \"127.0.0.1:1\"\n"
                     "backend = \"mysql://u:pw@h\"\n"),
            "corral.toml:5: listeners[0].backend is a mysql URL but listeners[0].protocol is 'redis'");
  EXPECT_EQ(error_of("[[users]]\nname = \"a\"\npassword = \"\"\n"
                     "[[listeners]]\nname = \"m\"\nprotocol = \"mysql\"\naddress = \"127.0.0.1:1\"\n"
                     "backend = \"redis://h\"\n"),
            "corral.toml:8: listeners[0].backend is a redis URL but listeners[0].protocol is 'mysql'");
}

TEST(ConfigListeners, RedisClusterBackend) {
  const Config c = parse_ok(R"([[listeners]]
name = "r"
protocol = "redis"
address = "127.0.0.1:6380"
backend = "redis-cluster://127.0.0.1:7000,127.0.0.1:7001"
)");
  ASSERT_EQ(c.listeners.size(), 1u);
  EXPECT_TRUE(c.listeners[0].backend.cluster);
  EXPECT_EQ(c.listeners[0].backend.cluster_seeds.size(), 2u);
  EXPECT_EQ(error_of(R"([[listeners]]
name = "r"
protocol = "redis"
address = "127.0.0.1:6380"
backend = "redis-cluster://127.0.0.1:7000/3"
)"),
            "corral.toml:5: listeners[0].backend: a redis-cluster URL has no database (Redis Cluster has only db 0)");
  EXPECT_EQ(error_of(R"([[listeners]]
name = "m"
protocol = "mysql"
address = "127.0.0.1:6380"
auth = "backend"
backend = "redis-cluster://127.0.0.1:7000"
)"),
            "corral.toml:6: listeners[0].backend is a redis URL but listeners[0].protocol is 'mysql'");
}

TEST(ConfigListeners, DuplicateName) {
  EXPECT_EQ(error_of(std::string(kRedisListener) +
                     "[[listeners]]\nname = \"r\"\nprotocol = \"redis\"\naddress = \"127.0.0.1:6381\"\n"
                     "backend = \"redis://h\"\n"),
            "corral.toml:7: listeners[1].name 'r' is already used by listeners[0]");
}

TEST(ConfigListeners, DuplicateAddress) {
  EXPECT_EQ(error_of(std::string(kRedisListener) +
                     "[[listeners]]\nname = \"r2\"\nprotocol = \"redis\"\naddress = \"127.0.0.1:6380\"\n"
                     "backend = \"redis://h\"\n"),
            "corral.toml:9: listeners[1].address '127.0.0.1:6380' is already used by listeners[0]");
  // Host names compare without case.
  EXPECT_EQ(error_of("[[listeners]]\nname = \"a\"\nprotocol = \"redis\"\naddress = \"LocalHost:1\"\n"
                     "backend = \"redis://h\"\n"
                     "[[listeners]]\nname = \"b\"\nprotocol = \"redis\"\naddress = \"localhost:1\"\n"
                     "backend = \"redis://h\"\n"),
            "corral.toml:9: listeners[1].address 'localhost:1' is already used by listeners[0]");
  // Same host, other port: fine.
  EXPECT_EQ(error_of(std::string(kRedisListener) +
                     "[[listeners]]\nname = \"r2\"\nprotocol = \"redis\"\naddress = \"127.0.0.1:6381\"\n"
                     "backend = \"redis://h\"\n"),
            "<ok>");
}

TEST(ConfigListeners, AuthValue) {
  EXPECT_EQ(error_of(std::string(kRedisListener) + "auth = \"password\"\n"),
            "corral.toml:6: listeners[0].auth must be one of 'none', 'users', 'backend' (got 'password')");
}

TEST(ConfigListeners, AuthDefaultsToUsersWhenUsersExist) {
  EXPECT_EQ(parse_ok(kRedisListener).listeners[0].auth, AuthMode::None);
  const Config c = parse_ok(with_listener("[[users]]\nname = \"a\"\npassword = \"\"\n"));
  EXPECT_EQ(c.listeners[0].auth, AuthMode::Users);
}

TEST(ConfigListeners, RedisAuthModes) {
  EXPECT_EQ(parse_ok(std::string(kRedisListener) + "auth = \"backend\"\n").listeners[0].auth, AuthMode::Backend);
  EXPECT_EQ(parse_ok("[[users]]\nname = \"a\"\npassword = \"\"\n" + std::string(kRedisListener) + "auth = \"none\"\n")
                .listeners[0]
                .auth,
            AuthMode::None);
}

TEST(ConfigListeners, AuthUsersNeedsUsers) {
  EXPECT_EQ(error_of(std::string(kRedisListener) + "auth = \"users\"\n"),
            "corral.toml:6: listeners[0].auth is 'users' but there are no [[users]]");
  EXPECT_EQ(error_of("[[listeners]]\nname = \"m\"\nprotocol = \"mysql\"\naddress = \"127.0.0.1:1\"\n"
                     "backend = \"mysql://u@h\"\nauth = \"users\"\n"),
            "corral.toml:6: listeners[0].auth is 'users' but there are no [[users]]");
}

TEST(ConfigListeners, MysqlListenerOnlyWithUsers) {
  const std::string users = "[[users]]\nname = \"a\"\npassword = \"\"\n";
  const std::string mysql = "[[listeners]]\nname = \"m\"\nprotocol = \"mysql\"\naddress = \"127.0.0.1:1\"\n"
                            "backend = \"mysql://u@h\"\n";  // lines 4-8 after `users`
  EXPECT_EQ(error_of(users + mysql + "auth = \"none\"\n"),
            "corral.toml:9: listeners[0].auth must be 'users' or 'backend' for a mysql listener (got 'none')");
  EXPECT_EQ(error_of(mysql), "corral.toml:1: listeners[0]: a mysql listener authenticates against [[users]], but "
                             "there are none (or set auth = 'backend')");
  EXPECT_EQ(error_of(mysql + "auth = \"none\"\n"),
            "corral.toml:6: listeners[0].auth must be 'users' or 'backend' for a mysql listener (got 'none')");
  EXPECT_EQ(parse_ok(users + mysql).listeners[0].auth, AuthMode::Users);
}

TEST(ConfigListeners, MysqlListenerWithBackendAuth) {
  const std::string mysql = "[[listeners]]\nname = \"m\"\nprotocol = \"mysql\"\naddress = \"127.0.0.1:1\"\n"
                            "backend = \"mysql://u@h\"\nauth = \"backend\"\n";
  EXPECT_EQ(parse_ok(mysql).listeners[0].auth, AuthMode::Backend);
  EXPECT_EQ(parse_ok("[[users]]\nname = \"a\"\npassword = \"\"\n" + mysql).listeners[0].auth, AuthMode::Backend);
}

// ---------------------------------------------------------------------------------------------------
// [[users]]

TEST(ConfigUsers, RequiredKeys) {
  EXPECT_EQ(error_of(with_listener("[[users]]\npassword = \"x\"\n")), "corral.toml:1: users[0].name is required");
  EXPECT_EQ(error_of(with_listener("[[users]]\nname = \"a\"\n")), "corral.toml:1: users[0].password (or users[0].password_file) is required");
}

TEST(ConfigUsers, NameMustNotBeEmpty) {
  EXPECT_EQ(error_of(with_listener("[[users]]\nname = \"\"\npassword = \"x\"\n")),
            "corral.toml:2: users[0].name must not be empty");
}

TEST(ConfigUsers, EmptyPasswordIsAllowed) {
  const Config c = parse_ok(with_listener("[[users]]\nname = \"a\"\npassword = \"\"\n"));
  ASSERT_EQ(c.users.size(), 1u);
  EXPECT_EQ(c.users[0].password, "");
  EXPECT_FALSE(c.users[0].backend_user.has_value());
}

TEST(ConfigUsers, DuplicateName) {
  EXPECT_EQ(error_of(with_listener("[[users]]\nname = \"a\"\npassword = \"1\"\n"
                                   "[[users]]\nname = \"a\"\npassword = \"2\"\n")),
            "corral.toml:5: users[1].name 'a' is already used by users[0]");
}

TEST(ConfigUsers, BackendPasswordNeedsBackendUser) {
  EXPECT_EQ(error_of(with_listener("[[users]]\nname = \"a\"\npassword = \"1\"\nbackend_password = \"secret\"\n")),
            "corral.toml:4: users[0].backend_password is only allowed together with users[0].backend_user");
}

TEST(ConfigUsers, BackendUserMustNotBeEmpty) {
  EXPECT_EQ(error_of(with_listener("[[users]]\nname = \"a\"\npassword = \"1\"\nbackend_user = \"\"\n")),
            "corral.toml:4: users[0].backend_user must not be empty");
}

TEST(ConfigUsers, PasswordsNeverInMessages) {
  const std::string err =
      error_of(with_listener("[[users]]\nname = \"a\"\npassword = \"Hunter2\"\nbackend_user = \"b\"\n"
                             "backend_password = \"Hunter3\"\nbogus = 1\n"));
  EXPECT_EQ(err, "corral.toml:6: unknown key 'users[0].bogus'");
}

// ---------------------------------------------------------------------------------------------------
// Secrets: ${ENV} references and *_file keys

TEST(ConfigSecrets, EnvironmentReferencesInPasswordsAndBackendUrls) {
  ::setenv("CORRAL_TEST_PW", "s3cret", 1);
  const Config c = parse_ok(R"([[users]]
name = "app"
password = "${CORRAL_TEST_PW}"
backend_user = "svc"
backend_password = "pre-${CORRAL_TEST_PW}-post"

[[listeners]]
name = "r"
protocol = "redis"
address = "127.0.0.1:6380"
backend = "redis://u:${CORRAL_TEST_PW}@127.0.0.1:6379"
)");
  ASSERT_EQ(c.users.size(), 1u);
  EXPECT_EQ(c.users[0].password, "s3cret");
  EXPECT_EQ(c.users[0].backend_password, "pre-s3cret-post");
  EXPECT_EQ(c.listeners[0].backend.password, "s3cret");
}

TEST(ConfigSecrets, DoubleDollarIsALiteralAndPlainDollarsStay) {
  const Config c = parse_ok(R"([[users]]
name = "app"
password = "a$${b}$c"
)" + std::string(kRedisListener));
  EXPECT_EQ(c.users[0].password, "a${b}$c");
}

TEST(ConfigSecrets, UnsetVariableIsAnErrorNamingItNotAValue) {
  ::unsetenv("CORRAL_TEST_UNSET");
  EXPECT_EQ(error_of("[[users]]\nname = \"app\"\npassword = \"x${CORRAL_TEST_UNSET}\"\n" + std::string(kRedisListener)),
            "corral.toml:3: users[0].password: environment variable 'CORRAL_TEST_UNSET' is not set");
  EXPECT_EQ(error_of("[[users]]\nname = \"app\"\npassword = \"x${OPEN\"\n" + std::string(kRedisListener)),
            "corral.toml:3: users[0].password: '${' without a closing '}'");
}

TEST(ConfigSecrets, PasswordFilesAreReadRelativeToTheConfigFile) {
  const corral::testing::TempDir scratch("corral-config-secrets-");
  const std::string dir = scratch.path().string() + "/";
  const std::string config_path = dir + "corral_secrets_test.toml";
  {
    std::ofstream(dir + "corral_secret_user") << "from-file\n";
    std::ofstream(dir + "corral_secret_backend") << "backend-secret\r\n";
    std::ofstream out(config_path);
    out << "[[users]]\nname = \"app\"\npassword_file = \"corral_secret_user\"\n\n"
        << "[[listeners]]\nname = \"m\"\nprotocol = \"mysql\"\naddress = \"127.0.0.1:3307\"\n"
        << "backend = \"mysql://corral@127.0.0.1:3306\"\nbackend_password_file = \"" << dir << "corral_secret_backend\"\n";
  }
  auto r = load_config(config_path);
  ASSERT_TRUE(std::holds_alternative<Config>(r)) << std::get<ConfigError>(r).to_string();
  const Config& c = std::get<Config>(r);
  EXPECT_EQ(c.users[0].password, "from-file");
  EXPECT_EQ(c.listeners[0].backend.password, "backend-secret");
  EXPECT_EQ(c.listeners[0].backend.redacted(), "mysql://corral:***@127.0.0.1:3306");
}

TEST(ConfigSecrets, ConflictingAndMissingSecrets) {
  EXPECT_EQ(error_of("[[users]]\nname = \"app\"\npassword = \"x\"\npassword_file = \"/f\"\n" +
                     std::string(kRedisListener)),
            "corral.toml:4: users[0].password_file and users[0].password exclude each other");
  EXPECT_THAT(error_of("[[users]]\nname = \"app\"\npassword_file = \"/nonexistent/pw\"\n" + std::string(kRedisListener)),
              StartsWith("corral.toml:3: users[0].password_file: /nonexistent/pw: cannot open: "));
  EXPECT_EQ(error_of("[[listeners]]\nname = \"r\"\nprotocol = \"redis\"\naddress = \"127.0.0.1:6380\"\n"
                     "backend = \"redis://:pw@127.0.0.1:6379\"\nbackend_password_file = \"/f\"\n"),
            "corral.toml:6: listeners[0].backend_password_file and a password in listeners[0].backend exclude each other");
}

// ---------------------------------------------------------------------------------------------------
// TLS: listener certificate files and the rediss:// CA, checked at load

/// A private directory with PEM-looking files (contents are checked when a listener starts, not at load).
class ConfigTls : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"corral_tls_cert.pem", "corral_tls_key.pem", "corral_tls_ca.pem"}) {
      std::ofstream(dir_ + name) << "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n";
    }
    std::ofstream(dir_ + "corral_tls_not_pem.txt") << "hello\n";
  }
  /// Loads a redis listener (lines 1-5) followed by `extra` lines, from a file in the temp directory.
  std::variant<Config, ConfigError> load(const std::string& extra, const std::string& backend = "redis://127.0.0.1:6379") {
    std::ofstream(dir_ + "corral_tls_test.toml")
        << "[[listeners]]\nname = \"r\"\nprotocol = \"redis\"\naddress = \"127.0.0.1:6380\"\nbackend = \"" << backend
        << "\"\n" << extra;
    return load_config(dir_ + "corral_tls_test.toml");
  }
  std::string error(const std::string& extra, const std::string& backend = "redis://127.0.0.1:6379") {
    auto r = load(extra, backend);
    if (auto* e = std::get_if<ConfigError>(&r)) return e->to_string();
    return "<ok>";
  }
  std::string file_ = "corral_tls_test.toml";
  // A directory per test: ctest runs the tests of this file as parallel processes.
  corral::testing::TempDir scratch_{"corral-config-tls-"};
  std::string dir_ = scratch_.path().string() + "/";
};

TEST_F(ConfigTls, ListenerTlsFilesAreResolvedBesideTheConfig) {
  auto r = load("tls_cert = \"corral_tls_cert.pem\"\ntls_key = \"" + dir_ + "corral_tls_key.pem\"\n"
                "tls_client_ca = \"corral_tls_ca.pem\"\ntls_require_client_cert = true\n");
  ASSERT_TRUE(std::holds_alternative<Config>(r)) << std::get<ConfigError>(r).to_string();
  const Listener& l = std::get<Config>(r).listeners[0];
  ASSERT_TRUE(l.tls.has_value());
  EXPECT_EQ(l.tls->cert_file, dir_ + "corral_tls_cert.pem");
  EXPECT_EQ(l.tls->key_file, dir_ + "corral_tls_key.pem");
  EXPECT_EQ(l.tls->client_ca_file, dir_ + "corral_tls_ca.pem");
  EXPECT_TRUE(l.tls->require_client_cert);

  auto plain = load("");
  ASSERT_TRUE(std::holds_alternative<Config>(plain));
  EXPECT_FALSE(std::get<Config>(plain).listeners[0].tls.has_value());
}

TEST_F(ConfigTls, ListenerTlsErrors) {
  const std::string f = dir_ + file_;
  EXPECT_EQ(error("tls_cert = \"corral_tls_cert.pem\"\n"),
            f + ":6: listeners[0].tls_cert and listeners[0].tls_key go together (only tls_cert is set)");
  EXPECT_EQ(error("tls_key = \"corral_tls_key.pem\"\n"),
            f + ":6: listeners[0].tls_cert and listeners[0].tls_key go together (only tls_key is set)");
  EXPECT_EQ(error("tls_client_ca = \"corral_tls_ca.pem\"\n"),
            f + ":6: listeners[0].tls_client_ca needs listeners[0].tls_cert and listeners[0].tls_key");
  EXPECT_EQ(error("tls_require_client_cert = true\n"),
            f + ":6: listeners[0].tls_require_client_cert needs listeners[0].tls_cert and listeners[0].tls_key");
  EXPECT_EQ(error("tls_cert = \"corral_tls_cert.pem\"\ntls_key = \"corral_tls_key.pem\"\ntls_require_client_cert = true\n"),
            f + ":8: listeners[0].tls_require_client_cert needs listeners[0].tls_client_ca");
  EXPECT_EQ(error("tls_cert = \"corral_tls_cert.pem\"\ntls_key = \"corral_tls_key.pem\"\ntls_require_client_cert = 1\n"),
            f + ":8: listeners[0].tls_require_client_cert must be a boolean (got integer)");
  EXPECT_EQ(error("tls_cert = \"missing.pem\"\ntls_key = \"corral_tls_key.pem\"\n"),
            f + ":6: listeners[0].tls_cert: " + dir_ + "missing.pem: cannot open: No such file or directory");
  EXPECT_EQ(error("tls_cert = \"corral_tls_cert.pem\"\ntls_key = \"corral_tls_not_pem.txt\"\n"),
            f + ":7: listeners[0].tls_key: " + dir_ + "corral_tls_not_pem.txt: not a PEM file (no '-----BEGIN ' line)");
}

TEST_F(ConfigTls, MysqlListenerTakesTlsAndMayRequireIt) {
  const std::string head =
      "[[users]]\nname = \"app\"\npassword = \"x\"\n[[listeners]]\nname = \"m\"\nprotocol = \"mysql\"\n"
      "address = \"127.0.0.1:3307\"\nbackend = \"mysql://u@127.0.0.1:3306\"\n";
  const auto load_mysql = [&](const std::string& extra) {
    std::ofstream(dir_ + "corral_tls_test.toml") << head << extra;
    return load_config(dir_ + "corral_tls_test.toml");
  };
  auto optional = load_mysql("tls_cert = \"corral_tls_cert.pem\"\ntls_key = \"corral_tls_key.pem\"\n");
  ASSERT_TRUE(std::holds_alternative<Config>(optional)) << std::get<ConfigError>(optional).to_string();
  const Listener& l = std::get<Config>(optional).listeners[0];
  ASSERT_TRUE(l.tls.has_value());
  EXPECT_EQ(l.tls->cert_file, dir_ + "corral_tls_cert.pem");
  EXPECT_FALSE(l.tls->required) << "TLS is offered, plain logins still work";
  auto required = load_mysql("tls_cert = \"corral_tls_cert.pem\"\ntls_key = \"corral_tls_key.pem\"\n"
                             "tls_client_ca = \"corral_tls_ca.pem\"\ntls_require_client_cert = true\ntls_required = true\n");
  ASSERT_TRUE(std::holds_alternative<Config>(required)) << std::get<ConfigError>(required).to_string();
  EXPECT_TRUE(std::get<Config>(required).listeners[0].tls->required);
  EXPECT_TRUE(std::get<Config>(required).listeners[0].tls->require_client_cert);
  auto without_cert = load_mysql("tls_required = true\n");
  ASSERT_TRUE(std::holds_alternative<ConfigError>(without_cert));
  EXPECT_EQ(std::get<ConfigError>(without_cert).to_string(),
            dir_ + file_ + ":9: listeners[0].tls_required needs listeners[0].tls_cert and listeners[0].tls_key");
  auto not_bool = load_mysql("tls_cert = \"corral_tls_cert.pem\"\ntls_key = \"corral_tls_key.pem\"\ntls_required = \"yes\"\n");
  ASSERT_TRUE(std::holds_alternative<ConfigError>(not_bool));
  EXPECT_EQ(std::get<ConfigError>(not_bool).to_string(),
            dir_ + file_ + ":11: listeners[0].tls_required must be a boolean (got string)");
}

TEST_F(ConfigTls, TlsRequiredIsForMysqlListeners) {
  EXPECT_EQ(error("tls_cert = \"corral_tls_cert.pem\"\ntls_key = \"corral_tls_key.pem\"\ntls_required = true\n"),
            dir_ + file_ + ":8: listeners[0].tls_required is for mysql listeners (a redis listener with tls_cert "
                           "accepts TLS clients only)");
}

TEST_F(ConfigTls, MysqlSslCaIsResolvedAndChecked) {
  const std::string head =
      "[[listeners]]\nname = \"m\"\nprotocol = \"mysql\"\naddress = \"127.0.0.1:3307\"\nauth = \"backend\"\n";
  std::ofstream(dir_ + "corral_tls_test.toml")
      << head << "backend = \"mysql://u@db.example?ssl-mode=VERIFY_CA&ssl-ca=corral_tls_ca.pem\"\n";
  auto r = load_config(dir_ + "corral_tls_test.toml");
  ASSERT_TRUE(std::holds_alternative<Config>(r)) << std::get<ConfigError>(r).to_string();
  const BackendUrl& url = std::get<Config>(r).listeners[0].backend;
  EXPECT_EQ(url.mysql_ssl_mode, MysqlSslMode::VerifyCa);
  EXPECT_EQ(url.tls_ca_file, dir_ + "corral_tls_ca.pem");
  std::ofstream(dir_ + "corral_tls_test.toml")
      << head << "backend = \"mysql://u@db.example?ssl-mode=VERIFY_IDENTITY&ssl-ca=/nonexistent/ca.pem\"\n";
  auto missing = load_config(dir_ + "corral_tls_test.toml");
  ASSERT_TRUE(std::holds_alternative<ConfigError>(missing));
  EXPECT_EQ(std::get<ConfigError>(missing).to_string(),
            dir_ + file_ + ":6: listeners[0].backend ssl-ca: /nonexistent/ca.pem: cannot open: No such file or directory");
}

TEST_F(ConfigTls, RedissCaIsResolvedAndChecked) {
  auto r = load("", "rediss://cache.example:6380?ca=corral_tls_ca.pem");
  ASSERT_TRUE(std::holds_alternative<Config>(r)) << std::get<ConfigError>(r).to_string();
  const BackendUrl& url = std::get<Config>(r).listeners[0].backend;
  EXPECT_TRUE(url.tls);
  EXPECT_EQ(url.tls_ca_file, dir_ + "corral_tls_ca.pem");
  EXPECT_EQ(error("", "rediss://cache.example?ca=/nonexistent/ca.pem"),
            dir_ + file_ + ":5: listeners[0].backend ca: /nonexistent/ca.pem: cannot open: No such file or directory");
}

}  // namespace
}  // namespace corral::config
