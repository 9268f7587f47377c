// corral configuration: one TOML file -> validated, immutable plain structs.
//
//   corral.toml --(toml++)--> load_config() --validate--> Config (or ConfigError "file:line: key ...")
//
// config/ depends on nothing else of corral; pool/ and proxy/ read these structs.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace corral::config {

enum class Protocol { Redis, Mysql };
enum class LogLevel { Trace, Debug, Info, Warn, Error };
enum class LogFormat { Text, Json };
/// How worker loops wait for sockets and issue reads and writes (docs/ARCHITECTURE.md, "I/O backends").
enum class IoBackend { Epoll, IoUring };

/// How a listener authenticates its clients.
enum class AuthMode {
  None,     // no authentication (Redis only): clients start authenticated, as on a server without requirepass
  Users,    // against [[users]] in this file
  Backend,  // the backend checks the client's own credentials (Redis AUTH, MySQL login), which join the pool key
};

std::string_view to_string(Protocol p);
std::string_view to_string(LogLevel l);
std::string_view to_string(LogFormat f);
std::string_view to_string(AuthMode m);
std::string_view to_string(IoBackend b);

/// host:port as given in a listener or admin address; IPv6 as [addr]:port.
struct Endpoint {
  std::string host;
  uint16_t port = 0;
  std::string to_string() const;
};

/// Parses "host:port" (IPv6 as "[addr]:port", port 1..65535, a host name is kept for resolution at
/// start-up); on failure returns a message describing what is wrong.
std::variant<Endpoint, std::string> parse_endpoint(std::string_view text);

/// TLS toward a MySQL backend, named and meant as the mysql CLI's --ssl-mode values.
enum class MysqlSslMode {
  Disabled,        // plain TCP (corral's default)
  Preferred,       // TLS when the server offers it, else plain; the certificate is not checked
  Required,        // TLS or no connection; the certificate is not checked
  VerifyCa,        // TLS, the certificate chains to ssl-ca (or the system's CAs)
  VerifyIdentity,  // VerifyCa, and the certificate names the URL's host
};
std::string_view to_string(MysqlSslMode m);  // "DISABLED", "PREFERRED", ... as in the URL

/// One server of a redis-shards:// backend, as twemproxy's `servers:` entry "host:port:weight name".
struct Shard {
  Endpoint endpoint;
  uint32_t weight = 1;        // share of the keys, relative to the other shards' weights
  std::string name;           // what the ketama ring hashes: ?names=, else "host:port" as written
};

/// A backend as a URL: redis://[user[:pass]@]host[:port][/db][?protocol=2|3]   (port 6379 when absent)
///                    rediss://...same...[&ca=/path/to/ca.pem]                  (Redis over TLS)
///                    mysql://user[:pass]@host[:port][/schema][?charset=NAME][&replicas=host[:port],...]
///                          [&ssl-mode=MODE][&ssl-ca=FILE]
///                    (port 3306 when absent; replicas: read-only copies that take reads, see MysqlOptions)
///                    redis-cluster://[user[:pass]@]host[:port][,host[:port]...][?protocol=2|3]
///                    rediss-cluster://...same...[&ca=...]       (a Redis Cluster given by seed nodes)
///                    redis-shards://[user[:pass]@]host:port[:weight],host:port[:weight]...[/db]
///                          [?protocol=2|3][&names=a,b...][&hash_tag=XY][&hash=fnv1a_64][&distribution=ketama]
///                    rediss-shards://...same...[&ca=...]  (independent servers, keys placed as twemproxy's ketama)
/// Percent-encoding (%XX) is decoded in user, password and schema.
struct BackendUrl {
  Protocol protocol = Protocol::Redis;
  std::string user;           // empty: none (Redis default user)
  std::string password;       // empty: none
  std::string host;           // IPv4/IPv6 literal or a name resolved at start-up
  uint16_t port = 0;
  int redis_db = 0;           // Redis: database index, 0 when absent
  int redis_protocol = 2;     // Redis: RESP version the backend connections speak (2 or 3)
  std::string mysql_schema;   // MySQL: default schema, empty when absent
  std::string mysql_charset;  // MySQL: connection charset, empty = server default
  std::vector<Endpoint> mysql_replicas;  // MySQL ?replicas=: replicas of `host` that may serve reads
  bool tls = false;           // rediss://: TLS, the server certificate verified for `host`
  std::string tls_ca_file;    // rediss ?ca= / mysql ?ssl-ca=: CAs to verify the server with; empty: the system's
  MysqlSslMode mysql_ssl_mode = MysqlSslMode::Disabled;  // MySQL ?ssl-mode=
  bool cluster = false;       // redis-cluster://: a Redis Cluster; host and port are its first seed
  std::vector<Endpoint> cluster_seeds;  // redis-cluster://: every seed node, the first included
  bool shards = false;        // redis-shards://: keys spread over `shard_list`; host and port are the first shard's
  std::vector<Shard> shard_list;        // redis-shards://: every server, in the URL's order (the ring depends on it)
  std::string hash_tag = "{}";          // redis-shards ?hash_tag=: the two characters around a hash tag; "" for none

  /// True when connections to this backend may use TLS (rediss://, or a mysql ssl-mode other than DISABLED).
  bool may_use_tls() const { return tls || mysql_ssl_mode != MysqlSslMode::Disabled; }

  /// The URL with the password replaced by "***": safe for logs and client-visible errors.
  std::string redacted() const;
  /// Every address corral dials at start: the cluster's seeds, the shards, else host:port alone.
  std::vector<Endpoint> endpoints() const;
  /// "redis", "rediss", "redis-cluster", "rediss-cluster", "redis-shards", "rediss-shards" or "mysql".
  std::string_view scheme() const;
  /// host:port, with IPv6 literals bracketed: what error messages name.
  std::string address() const;
};

/// Parses a backend URL; on failure returns a message describing what is wrong (without the password).
std::variant<BackendUrl, std::string> parse_backend_url(std::string_view url);

/// TLS toward a listener's clients. Paths are resolved against the config file's directory and were
/// readable at load; their contents are checked when the listener starts.
struct ListenerTls {
  std::string cert_file;       // PEM certificate chain
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // empty: client certificates are not asked for
  bool require_client_cert = false;
  bool required = false;       // mysql: clients must switch to TLS (SSLRequest); redis listeners always do
};

struct Listener {
  std::string name;            // unique, used in logs and metrics
  Protocol protocol = Protocol::Redis;
  Endpoint address;
  BackendUrl backend;          // protocol must match the listener's
  AuthMode auth = AuthMode::None;
  std::optional<ListenerTls> tls;  // absent: plain TCP
};

struct User {
  std::string name;
  std::string password;                 // what clients present to corral
  std::optional<std::string> backend_user;      // credentials corral uses on the backend for this user;
  std::optional<std::string> backend_password;  // absent: the listener's backend URL credentials
};

struct PoolLimits {
  uint32_t max_connections = 4;                        // per pool key per worker (Redis: shared pipelined ones)
  uint32_t max_pinned = 64;                            // per pool key per worker, pinned/lent-out ones
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds queue_timeout{2000};       // wait for a free connection before failing
  std::chrono::milliseconds idle_timeout{60000};       // close idle backend connections after this
  std::chrono::milliseconds operation_timeout{10000};  // one non-blocking backend request
  std::chrono::milliseconds reconnect_backoff_min{50};
  std::chrono::milliseconds reconnect_backoff_max{500};
};

struct ClientLimits {
  uint32_t max_connections = 10000;            // per corral process; beyond: refused with an error
  uint64_t output_buffer_limit = 64ull << 20;  // bytes of replies queued for one slow client before closing it
  std::chrono::milliseconds idle_timeout{0};   // 0: never
};

struct RedisLimits {
  uint64_t max_bulk_length = 512ull << 20;  // redis-server proto-max-bulk-len
  uint64_t max_array_length = 1024 * 1024;  // elements per request array
  uint32_t max_nesting_depth = 64;          // reply nesting
  uint64_t max_inline_length = 64 * 1024;   // redis-server PROTO_INLINE_MAX_SIZE
};

struct MysqlOptions {
  uint32_t max_packet_size = 64u << 20;        // max_allowed_packet toward clients, bytes
  bool local_infile = false;                   // LOAD DATA LOCAL INFILE relayed only when true
  std::string server_version;                  // announced in the handshake; empty: the backend's own
  uint32_t max_prepared_per_connection = 256;  // backend statements kept per backend connection (LRU)
  std::chrono::milliseconds statement_timeout{0};  // silence allowed in a client statement's response; 0: none
  // Replicas (a backend URL's ?replicas=): health checks and read routing.
  std::chrono::milliseconds max_replication_lag{5000};     // Seconds_Behind_Master above it ejects a replica
  std::chrono::milliseconds read_your_writes{1000};        // after a client's write its reads go to the primary
  std::chrono::milliseconds replica_check_interval{1000};  // how often each replica is checked
  bool causal_reads = false;  // within read_your_writes: a replica that applied the client's last GTID may read
  // Clients' PREPAREs of one text share one backend statement per connection (false: each client
  // statement is its own backend statement, as direct; docs/CONFIGURATION.md).
  bool share_prepared_statements = true;
};

struct Server {
  uint32_t workers = 0;                                    // 0: number of CPUs
  LogLevel log_level = LogLevel::Info;
  LogFormat log_format = LogFormat::Text;                  // one line per event as text or as JSON
  std::chrono::milliseconds shutdown_grace{5000};          // drain time after SIGTERM/SIGINT
  std::chrono::milliseconds slow_request{0};               // log requests that take at least this; 0: none
  std::optional<Endpoint> admin;                           // admin/metrics endpoint; absent: off
};

struct Runtime {
  IoBackend io = IoBackend::Epoll;  // epoll | io_uring (falls back to epoll where the kernel refuses a ring)
};

struct Config {
  std::string source;                // file the config was read from
  Server server;
  Runtime runtime;
  std::vector<Listener> listeners;
  std::vector<User> users;
  PoolLimits pool;
  ClientLimits client;
  RedisLimits redis;
  MysqlOptions mysql;

  const User* find_user(std::string_view name) const;
};

/// A config error: "corral.toml:12: pool.max_connections must be > 0 (got -3)".
struct ConfigError {
  std::string file;
  uint32_t line = 0;   // 0 when no line applies (file unreadable)
  std::string message;
  std::string to_string() const;
};

/// Reads and validates a config file. Unknown keys are errors.
std::variant<Config, ConfigError> load_config(const std::string& path);
/// The same for TOML text; `source_name` stands for the file name in errors.
std::variant<Config, ConfigError> parse_config(std::string_view toml_text, const std::string& source_name);

}  // namespace corral::config
