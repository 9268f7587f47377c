// TOML text -> validated Config.
//
//   toml::parse ──► per table: reject unknown keys ──► read each key (type, bounds) ──► cross-checks
//        │                                                                             (auth vs users,
//        └─ syntax error: file:line + toml++'s description                              duplicates)
//
// The first problem ends the load: it is thrown as a ConfigError inside this file and returned by
// parse_config(), so every check is one line and nothing throws past the public functions.

// toml++ is compiled header-only into this translation unit, the only one that includes it: the
// binaries need no libtomlplusplus at run time. pkg-config asks for the shared library
// (TOML_HEADER_ONLY=0, TOML_SHARED_LIB=1), hence the overrides. Exceptions are off in toml++, so a
// syntax error comes back as a parse_result, never as a throw.
#undef TOML_SHARED_LIB
#define TOML_SHARED_LIB 0
#undef TOML_HEADER_ONLY
#define TOML_HEADER_ONLY 1
#undef TOML_EXCEPTIONS
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cstdint>
#include <exception>
#include <limits>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "config/config.h"

namespace corral::config {
namespace {

// The spellings in the file, in the order of the enums' values: to_string() and the parser share them.
constexpr std::string_view kProtocolNames[] = {"redis", "mysql"};
constexpr std::string_view kLogLevelNames[] = {"trace", "debug", "info", "warn", "error"};
constexpr std::string_view kAuthModeNames[] = {"none", "users", "backend"};
constexpr std::string_view kLogFormatNames[] = {"text", "json"};
constexpr std::string_view kIoBackendNames[] = {"epoll", "io_uring"};

}  // namespace

std::string_view to_string(Protocol p) { return kProtocolNames[static_cast<size_t>(p)]; }
std::string_view to_string(LogLevel l) { return kLogLevelNames[static_cast<size_t>(l)]; }
std::string_view to_string(AuthMode m) { return kAuthModeNames[static_cast<size_t>(m)]; }
std::string_view to_string(LogFormat f) { return kLogFormatNames[static_cast<size_t>(f)]; }
std::string_view to_string(IoBackend b) { return kIoBackendNames[static_cast<size_t>(b)]; }

const User* Config::find_user(std::string_view name) const {
  for (const User& u : users) {
    if (u.name == name) return &u;
  }
  return nullptr;
}

std::string ConfigError::to_string() const {
  if (line == 0) return fmt::format("{}: {}", file, message);
  return fmt::format("{}:{}: {}", file, line, message);
}

namespace {

constexpr int64_t kMaxDurationMs = 24LL * 60 * 60 * 1000;  // one day: larger values are unit mistakes
constexpr int64_t kKiB = 1024;
constexpr int64_t kMiB = 1024 * kKiB;
constexpr int64_t kGiB = 1024 * kMiB;
constexpr int64_t kTiB = 1024 * kGiB;
constexpr size_t kMaxListenerNameLength = 64;
constexpr size_t kMaxServerVersionLength = 100;

using Keys = std::span<const std::string_view>;

constexpr std::string_view kRootKeys[] = {"server", "runtime", "listeners", "users", "pool", "client", "redis", "mysql"};
constexpr std::string_view kRuntimeKeys[] = {"io"};
constexpr std::string_view kServerKeys[] = {"workers",           "log_level", "log_format", "shutdown_grace_ms",
                                            "slow_request_ms", "admin"};
constexpr std::string_view kListenerKeys[] = {"name",          "protocol",     "address",
                                              "backend",       "backend_password_file", "auth",
                                              "tls_cert",      "tls_key",      "tls_client_ca",
                                              "tls_require_client_cert", "tls_required"};
constexpr std::string_view kUserKeys[] = {"name",         "password",         "password_file",
                                          "backend_user", "backend_password", "backend_password_file"};
constexpr std::string_view kPoolKeys[] = {"max_connections",          "max_pinned",
                                          "connect_timeout_ms",       "queue_timeout_ms",
                                          "idle_timeout_ms",          "operation_timeout_ms",
                                          "reconnect_backoff_min_ms", "reconnect_backoff_max_ms"};
constexpr std::string_view kClientKeys[] = {"max_connections", "output_buffer_limit", "idle_timeout_ms"};
constexpr std::string_view kRedisKeys[] = {"max_bulk_length", "max_array_length", "max_nesting_depth",
                                           "max_inline_length"};
constexpr std::string_view kMysqlKeys[] = {"max_packet_size",        "local_infile",
                                           "server_version",         "max_prepared_per_connection",
                                           "statement_timeout_ms",   "max_replication_lag_ms",
                                           "read_your_writes_ms",    "replica_check_interval_ms",
                                           "causal_reads",           "share_prepared_statements"};

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::table: return "table";
    case toml::node_type::array: return "array";
    case toml::node_type::string: return "string";
    case toml::node_type::integer: return "integer";
    case toml::node_type::floating_point: return "float";
    case toml::node_type::boolean: return "boolean";
    case toml::node_type::date: return "date";
    case toml::node_type::time: return "time";
    case toml::node_type::date_time: return "date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

bool is_array_of_tables(const toml::node& n) {
  const toml::array* a = n.as_array();
  return a != nullptr && !a->empty() && a->is_array_of_tables();
}

/// Optimal string alignment distance (Levenshtein plus adjacent transpositions): "conections" and
/// "connetcions" are both one typo away from "connections".
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::string join(std::string_view table_path, std::string_view key) {
  if (table_path.empty()) return std::string(key);
  return fmt::format("{}.{}", table_path, key);
}

std::string quoted_list(Keys names) {
  std::string out;
  for (std::string_view n : names) {
    if (!out.empty()) out += ", ";
    out += fmt::format("'{}'", n);
  }
  return out;
}

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

/// A whole file's contents, or why it could not be read ("cannot open: No such file or directory").
struct FileText {
  std::string text;
  std::string error;  // empty: text is the file
};

FileText read_whole_file(const std::string& path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) return {{}, fmt::format("cannot open: {}", std::strerror(errno))};
  FileText out;
  char buf[16 * 1024];
  for (;;) {
    const size_t n = std::fread(buf, 1, sizeof buf, file.get());
    out.text.append(buf, n);
    if (n < sizeof buf) break;
  }
  if (std::ferror(file.get()) != 0) return {{}, fmt::format("cannot read: {}", std::strerror(errno))};
  return out;
}

class Builder {
 public:
  explicit Builder(std::string source) : source_(std::move(source)) {}

  Config build(const toml::table& root) {
    Config c;
    c.source = source_;
    check_keys(root, "", kRootKeys);
    if (const toml::table* t = table_at(root, "", "server")) read_server(*t, c.server);
    if (const toml::table* t = table_at(root, "", "runtime")) read_runtime(*t, c.runtime);
    if (const toml::table* t = table_at(root, "", "pool")) read_pool(*t, c.pool);
    if (const toml::table* t = table_at(root, "", "client")) read_client(*t, c.client);
    if (const toml::table* t = table_at(root, "", "redis")) read_redis(*t, c.redis);
    if (const toml::table* t = table_at(root, "", "mysql")) read_mysql(*t, c.mysql);
    read_users(root, c.users);
    read_listeners(root, c);
    return c;
  }

 private:
  [[noreturn]] void fail(uint32_t line, std::string message) const {
    throw ConfigError{source_, line, std::move(message)};
  }
  [[noreturn]] void fail(const toml::node& at, std::string message) const {
    fail(at.source().begin.line, std::move(message));
  }

  /// Rejects keys outside `allowed`, naming the first one in the file and the nearest allowed key.
  void check_keys(const toml::table& t, std::string_view path, Keys allowed) const {
    const toml::key* unknown = nullptr;
    const toml::node* unknown_value = nullptr;
    for (auto&& [key, value] : t) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
      if (unknown == nullptr || key.source().begin.line < unknown->source().begin.line) {
        unknown = &key;
        unknown_value = &value;
      }
    }
    if (unknown == nullptr) return;
    const bool is_table = unknown_value->is_table() || is_array_of_tables(*unknown_value);
    std::string message =
        fmt::format("unknown {} '{}'", is_table ? "table" : "key", join(path, unknown->str()));
    size_t best = 3;
    for (std::string_view candidate : allowed) {
      const size_t d = edit_distance(unknown->str(), candidate);
      if (d < best) {
        best = d;
        message = fmt::format("unknown {} '{}' (did you mean '{}'?)", is_table ? "table" : "key",
                              join(path, unknown->str()), join(path, candidate));
      }
    }
    fail(unknown->source().begin.line, std::move(message));
  }

  /// The sub-table `key` of `parent`, checked for type; nullptr when absent.
  const toml::table* table_at(const toml::table& parent, std::string_view parent_path, std::string_view key) const {
    const toml::node* n = parent.get(key);
    if (n == nullptr) return nullptr;
    if (!n->is_table()) fail(*n, fmt::format("{} must be a table (got {})", join(parent_path, key), type_name(*n)));
    return n->as_table();
  }

  /// The items of the array of tables `key` of the root table; empty when absent.
  std::vector<const toml::table*> tables_at(const toml::table& root, std::string_view key) const {
    std::vector<const toml::table*> out;
    const toml::node* n = root.get(key);
    if (n == nullptr) return out;
    const toml::array* a = n->as_array();
    if (a == nullptr) {
      fail(*n, fmt::format("{} must be an array of tables, written [[{}]] (got {})", key, key, type_name(*n)));
    }
    for (size_t i = 0; i < a->size(); ++i) {
      const toml::node& item = *a->get(i);
      if (!item.is_table()) fail(item, fmt::format("{}[{}] must be a table (got {})", key, i, type_name(item)));
      out.push_back(item.as_table());
    }
    return out;
  }

  /// Reads an integer within [lo, hi]; leaves `out` alone when the key is absent.
  template <class T>
  void read_int(const toml::table& t, std::string_view path, std::string_view key, int64_t lo, int64_t hi,
                T& out) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    const std::string name = join(path, key);
    const auto* v = n->as_integer();
    if (v == nullptr) fail(*n, fmt::format("{} must be an integer (got {})", name, type_name(*n)));
    const int64_t x = v->get();
    if (x < lo) {
      const std::string bound = lo == 1 ? "> 0" : fmt::format(">= {}", lo);
      fail(*n, fmt::format("{} must be {} (got {})", name, bound, x));
    }
    if (x > hi) fail(*n, fmt::format("{} must be <= {} (got {})", name, hi, x));
    out = static_cast<T>(x);
  }

  /// Reads a duration in milliseconds (key ends in _ms), at least `lo`, at most one day.
  void read_ms(const toml::table& t, std::string_view path, std::string_view key, int64_t lo,
               std::chrono::milliseconds& out) const {
    int64_t ms = out.count();
    read_int(t, path, key, lo, kMaxDurationMs, ms);
    out = std::chrono::milliseconds(ms);
  }

  void read_bool(const toml::table& t, std::string_view path, std::string_view key, bool& out) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return;
    const auto* v = n->as_boolean();
    if (v == nullptr) fail(*n, fmt::format("{} must be a boolean (got {})", join(path, key), type_name(*n)));
    out = v->get();
  }

  /// The string at `key`, or nullptr when absent. The value is never echoed: it may be a password.
  const toml::value<std::string>* string_at(const toml::table& t, std::string_view path,
                                            std::string_view key) const {
    const toml::node* n = t.get(key);
    if (n == nullptr) return nullptr;
    const auto* v = n->as_string();
    if (v == nullptr) fail(*n, fmt::format("{} must be a string (got {})", join(path, key), type_name(*n)));
    return v;
  }

  const toml::value<std::string>& required_string(const toml::table& t, std::string_view path,
                                                  std::string_view key) const {
    const auto* v = string_at(t, path, key);
    if (v == nullptr) fail(t, fmt::format("{} is required", join(path, key)));
    return *v;
  }

  /// A value that may hold secrets: each "${NAME}" becomes the environment variable NAME ("$${" is a
  /// literal "${"). Errors name the variable, never a value.
  std::string expand_env(const toml::value<std::string>& v, const std::string& name) const {
    const std::string& text = v.get();
    std::string out;
    for (size_t i = 0; i < text.size();) {
      if (text.compare(i, 3, "$${") == 0) {
        out += "${";
        i += 3;
      } else if (text.compare(i, 2, "${") == 0) {
        const size_t end = text.find('}', i + 2);
        if (end == std::string::npos) fail(v, fmt::format("{}: '${{' without a closing '}}'", name));
        const std::string variable = text.substr(i + 2, end - i - 2);
        const char* value = variable.empty() ? nullptr : std::getenv(variable.c_str());
        if (value == nullptr) fail(v, fmt::format("{}: environment variable '{}' is not set", name, variable));
        out += value;
        i = end + 1;
      } else {
        out += text[i++];
      }
    }
    return out;
  }

  /// The contents of the file named at `file_key` (relative to the config file's directory), without
  /// one trailing line break: how secrets are mounted (Docker/Kubernetes secrets, systemd credentials).
  std::string read_secret_file(const toml::value<std::string>& file, const std::string& name) const {
    const std::string path = beside_config(file.get());
    FileText read = read_whole_file(path);
    if (!read.error.empty()) fail(file, fmt::format("{}: {}: {}", name, path, read.error));
    if (read.text.ends_with('\n')) read.text.pop_back();
    if (read.text.ends_with('\r')) read.text.pop_back();
    return std::move(read.text);
  }

  /// `path` as given, or relative to the config file's directory when it is relative.
  std::string beside_config(const std::string& path) const {
    const size_t slash = source_.rfind('/');
    if (!path.empty() && path.front() != '/' && slash != std::string::npos) return source_.substr(0, slash + 1) + path;
    return path;
  }

  /// A TLS file (certificate, key, CA) named at `v`: resolved like a secret file and checked to be a
  /// readable PEM file now, so a typo fails the load, not the first client.
  std::string read_tls_file(const toml::node& v, const std::string& given, const std::string& name) const {
    const std::string path = beside_config(given);
    FileText read = read_whole_file(path);
    if (!read.error.empty()) fail(v, fmt::format("{}: {}: {}", name, path, read.error));
    if (read.text.find("-----BEGIN ") == std::string::npos) {
      fail(v, fmt::format("{}: {}: not a PEM file (no '-----BEGIN ' line)", name, path));
    }
    return path;
  }

  /// tls_cert, tls_key, tls_client_ca, tls_require_client_cert and tls_required of a listener.
  std::optional<ListenerTls> read_listener_tls(const toml::table& t, const std::string& path,
                                               Protocol protocol) const {
    const auto* cert = string_at(t, path, "tls_cert");
    const auto* key = string_at(t, path, "tls_key");
    const auto* client_ca = string_at(t, path, "tls_client_ca");
    const toml::node* require = t.get("tls_require_client_cert");
    const toml::node* required = t.get("tls_required");
    if (required != nullptr && protocol == Protocol::Redis) {
      fail(*required, fmt::format("{}.tls_required is for mysql listeners (a redis listener with tls_cert accepts "
                                  "TLS clients only)", path));
    }
    if (cert == nullptr && key == nullptr) {
      if (client_ca != nullptr) fail(*client_ca, fmt::format("{}.tls_client_ca needs {}.tls_cert and {}.tls_key", path, path, path));
      if (require != nullptr) fail(*require, fmt::format("{}.tls_require_client_cert needs {}.tls_cert and {}.tls_key", path, path, path));
      if (required != nullptr) fail(*required, fmt::format("{}.tls_required needs {}.tls_cert and {}.tls_key", path, path, path));
      return std::nullopt;
    }
    if (cert == nullptr || key == nullptr) {
      fail(cert != nullptr ? static_cast<const toml::node&>(*cert) : *key,
           fmt::format("{}.tls_cert and {}.tls_key go together (only {} is set)", path, path,
                       cert != nullptr ? "tls_cert" : "tls_key"));
    }
    ListenerTls tls;
    tls.cert_file = read_tls_file(*cert, cert->get(), path + ".tls_cert");
    tls.key_file = read_tls_file(*key, key->get(), path + ".tls_key");
    if (client_ca != nullptr) tls.client_ca_file = read_tls_file(*client_ca, client_ca->get(), path + ".tls_client_ca");
    read_bool(t, path, "tls_require_client_cert", tls.require_client_cert);
    if (tls.require_client_cert && client_ca == nullptr) {
      fail(*require, fmt::format("{}.tls_require_client_cert needs {}.tls_client_ca", path, path));
    }
    read_bool(t, path, "tls_required", tls.required);
    return tls;
  }

  /// A secret given either inline at `key` (with ${ENV} references) or as a file at `key`_file;
  /// nullopt when neither is present.
  std::optional<std::string> read_secret(const toml::table& t, std::string_view path, std::string_view key) const {
    const std::string file_key = std::string(key) + "_file";
    const auto* inline_value = string_at(t, path, key);
    const auto* file = string_at(t, path, file_key);
    if (inline_value != nullptr && file != nullptr) {
      fail(*file, fmt::format("{} and {} exclude each other", join(path, file_key), join(path, key)));
    }
    if (inline_value != nullptr) return expand_env(*inline_value, join(path, key));
    if (file != nullptr) return read_secret_file(*file, join(path, file_key));
    return std::nullopt;
  }

  /// Maps a string to one of `names` (same order as the enum's values).
  template <class E>
  E read_enum(const toml::value<std::string>& v, const std::string& name, Keys names) const {
    const auto it = std::find(names.begin(), names.end(), v.get());
    if (it == names.end()) {
      fail(v, fmt::format("{} must be one of {} (got '{}')", name, quoted_list(names), v.get()));
    }
    return static_cast<E>(it - names.begin());
  }

  Endpoint read_endpoint(const toml::value<std::string>& v, const std::string& name) const {
    auto parsed = parse_endpoint(v.get());
    if (auto* err = std::get_if<std::string>(&parsed)) fail(v, fmt::format("{}: {}", name, *err));
    return std::get<Endpoint>(std::move(parsed));
  }

  void read_server(const toml::table& t, Server& s) const {
    check_keys(t, "server", kServerKeys);
    read_int(t, "server", "workers", 0, 256, s.workers);
    if (const auto* v = string_at(t, "server", "log_level")) {
      s.log_level = read_enum<LogLevel>(*v, "server.log_level", kLogLevelNames);
    }
    if (const auto* v = string_at(t, "server", "log_format")) {
      s.log_format = read_enum<LogFormat>(*v, "server.log_format", kLogFormatNames);
    }
    read_ms(t, "server", "shutdown_grace_ms", 0, s.shutdown_grace);
    read_ms(t, "server", "slow_request_ms", 0, s.slow_request);
    if (const auto* v = string_at(t, "server", "admin")) {
      s.admin = read_endpoint(*v, "server.admin");
    }
  }

  void read_runtime(const toml::table& t, Runtime& r) const {
    check_keys(t, "runtime", kRuntimeKeys);
    if (const auto* v = string_at(t, "runtime", "io")) r.io = read_enum<IoBackend>(*v, "runtime.io", kIoBackendNames);
  }

  void read_pool(const toml::table& t, PoolLimits& p) const {
    check_keys(t, "pool", kPoolKeys);
    read_int(t, "pool", "max_connections", 1, 1024, p.max_connections);
    read_int(t, "pool", "max_pinned", 1, 65536, p.max_pinned);
    read_ms(t, "pool", "connect_timeout_ms", 1, p.connect_timeout);
    read_ms(t, "pool", "queue_timeout_ms", 1, p.queue_timeout);
    read_ms(t, "pool", "idle_timeout_ms", 0, p.idle_timeout);
    read_ms(t, "pool", "operation_timeout_ms", 1, p.operation_timeout);
    read_ms(t, "pool", "reconnect_backoff_min_ms", 1, p.reconnect_backoff_min);
    read_ms(t, "pool", "reconnect_backoff_max_ms", 1, p.reconnect_backoff_max);
    if (p.reconnect_backoff_max < p.reconnect_backoff_min) {
      // Point at max when the file sets it, else at min (the defaults are ordered, so one is set).
      const toml::node* max_node = t.get("reconnect_backoff_max_ms");
      const toml::node* at = max_node != nullptr ? max_node : t.get("reconnect_backoff_min_ms");
      fail(*at, fmt::format("pool.reconnect_backoff_max_ms must be >= pool.reconnect_backoff_min_ms ({}) (got {})",
                            p.reconnect_backoff_min.count(), p.reconnect_backoff_max.count()));
    }
  }

  void read_client(const toml::table& t, ClientLimits& c) const {
    check_keys(t, "client", kClientKeys);
    read_int(t, "client", "max_connections", 1, 1'000'000, c.max_connections);
    read_int(t, "client", "output_buffer_limit", kKiB, kTiB, c.output_buffer_limit);
    read_ms(t, "client", "idle_timeout_ms", 0, c.idle_timeout);
  }

  void read_redis(const toml::table& t, RedisLimits& r) const {
    check_keys(t, "redis", kRedisKeys);
    read_int(t, "redis", "max_bulk_length", 1, 4 * kGiB - 1, r.max_bulk_length);
    read_int(t, "redis", "max_array_length", 1, std::numeric_limits<int32_t>::max(), r.max_array_length);
    read_int(t, "redis", "max_nesting_depth", 1, 1024, r.max_nesting_depth);
    read_int(t, "redis", "max_inline_length", 1, kGiB, r.max_inline_length);
  }

  void read_mysql(const toml::table& t, MysqlOptions& m) const {
    check_keys(t, "mysql", kMysqlKeys);
    read_int(t, "mysql", "max_packet_size", kKiB, kGiB, m.max_packet_size);
    read_bool(t, "mysql", "local_infile", m.local_infile);
    read_int(t, "mysql", "max_prepared_per_connection", 1, 65536, m.max_prepared_per_connection);
    read_ms(t, "mysql", "statement_timeout_ms", 0, m.statement_timeout);
    // Seconds_Behind_Master counts whole seconds: a bound under one second would eject on any lag.
    read_ms(t, "mysql", "max_replication_lag_ms", 1000, m.max_replication_lag);
    read_ms(t, "mysql", "read_your_writes_ms", 0, m.read_your_writes);
    read_ms(t, "mysql", "replica_check_interval_ms", 100, m.replica_check_interval);
    read_bool(t, "mysql", "causal_reads", m.causal_reads);
    read_bool(t, "mysql", "share_prepared_statements", m.share_prepared_statements);
    if (const auto* v = string_at(t, "mysql", "server_version")) {
      const std::string& s = v->get();
      // Sent NUL-terminated in the handshake and parsed by client libraries: printable ASCII only.
      const bool printable = std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
      if (s.empty() || s.size() > kMaxServerVersionLength || !printable) {
        fail(*v, fmt::format("mysql.server_version must be 1..{} printable ASCII characters (got '{}')",
                             kMaxServerVersionLength, printable ? s : "<non-printable>"));
      }
      m.server_version = s;
    }
  }

  void read_users(const toml::table& root, std::vector<User>& users) const {
    const std::vector<const toml::table*> tables = tables_at(root, "users");
    for (size_t i = 0; i < tables.size(); ++i) {
      const toml::table& t = *tables[i];
      const std::string path = fmt::format("users[{}]", i);
      check_keys(t, path, kUserKeys);
      User u;
      const auto& name = required_string(t, path, "name");
      if (name.get().empty()) fail(name, fmt::format("{}.name must not be empty", path));
      for (size_t j = 0; j < users.size(); ++j) {
        if (users[j].name == name.get()) {
          fail(name, fmt::format("{}.name '{}' is already used by users[{}]", path, name.get(), j));
        }
      }
      u.name = name.get();
      std::optional<std::string> password = read_secret(t, path, "password");
      if (!password) fail(t, fmt::format("{}.password (or {}.password_file) is required", path, path));
      u.password = std::move(*password);
      if (const auto* v = string_at(t, path, "backend_user")) {
        if (v->get().empty()) fail(*v, fmt::format("{}.backend_user must not be empty", path));
        u.backend_user = v->get();
      }
      if (std::optional<std::string> backend_password = read_secret(t, path, "backend_password")) {
        if (!u.backend_user) {
          const toml::node* at = t.get("backend_password") != nullptr ? t.get("backend_password")
                                                                      : t.get("backend_password_file");
          fail(*at, fmt::format("{}.backend_password is only allowed together with {}.backend_user", path, path));
        }
        u.backend_password = std::move(*backend_password);
      }
      users.push_back(std::move(u));
    }
  }

  void read_listeners(const toml::table& root, Config& c) const {
    const std::vector<const toml::table*> tables = tables_at(root, "listeners");
    if (tables.empty()) {
      const toml::node* n = root.get("listeners");
      const uint32_t line = n != nullptr ? n->source().begin.line : 0;
      fail(line, "at least one [[listeners]] table is required");
    }
    for (size_t i = 0; i < tables.size(); ++i) {
      const toml::table& t = *tables[i];
      const std::string path = fmt::format("listeners[{}]", i);
      check_keys(t, path, kListenerKeys);
      Listener l;

      const auto& name = required_string(t, path, "name");
      check_listener_name(name, path);
      l.name = name.get();

      const auto& protocol = required_string(t, path, "protocol");
      l.protocol = read_enum<Protocol>(protocol, path + ".protocol", kProtocolNames);

      const auto& address = required_string(t, path, "address");
      l.address = read_endpoint(address, path + ".address");

      const auto& backend = required_string(t, path, "backend");
      auto url = parse_backend_url(expand_env(backend, path + ".backend"));
      if (auto* err = std::get_if<std::string>(&url)) fail(backend, fmt::format("{}.backend: {}", path, *err));
      l.backend = std::get<BackendUrl>(std::move(url));
      if (l.backend.protocol != l.protocol) {
        fail(backend, fmt::format("{}.backend is a {} URL but {}.protocol is '{}'", path,
                                  to_string(l.backend.protocol), path, to_string(l.protocol)));
      }
      if (const auto* file = string_at(t, path, "backend_password_file")) {
        if (!l.backend.password.empty()) {
          fail(*file, fmt::format("{}.backend_password_file and a password in {}.backend exclude each other", path, path));
        }
        l.backend.password = read_secret_file(*file, path + ".backend_password_file");
      }
      if (!l.backend.tls_ca_file.empty()) {
        l.backend.tls_ca_file = read_tls_file(backend, l.backend.tls_ca_file,
                                              path + (l.backend.tls ? ".backend ca" : ".backend ssl-ca"));
      }
      l.tls = read_listener_tls(t, path, l.protocol);

      const auto* auth = string_at(t, path, "auth");
      if (auth != nullptr) {
        l.auth = read_enum<AuthMode>(*auth, path + ".auth", kAuthModeNames);
      } else {
        l.auth = c.users.empty() ? AuthMode::None : AuthMode::Users;
      }
      check_auth(l, t, auth, path, c.users.empty());

      for (size_t j = 0; j < c.listeners.size(); ++j) {
        if (c.listeners[j].name == l.name) {
          fail(name, fmt::format("{}.name '{}' is already used by listeners[{}]", path, l.name, j));
        }
        if (same_endpoint(c.listeners[j].address, l.address)) {
          fail(address, fmt::format("{}.address '{}' is already used by listeners[{}]", path,
                                    l.address.to_string(), j));
        }
      }
      if (c.server.admin && same_endpoint(*c.server.admin, l.address)) {
        fail(address, fmt::format("{}.address '{}' is already used by server.admin", path, l.address.to_string()));
      }
      c.listeners.push_back(std::move(l));
    }
  }

  void check_listener_name(const toml::value<std::string>& v, const std::string& path) const {
    const std::string& s = v.get();
    const bool ok = !s.empty() && s.size() <= kMaxListenerNameLength &&
                    std::all_of(s.begin(), s.end(), [](char c) {
                      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                             c == '_' || c == '-' || c == '.';
                    });
    if (!ok) {
      // Names become log fields and metric labels, hence the small alphabet.
      fail(v, fmt::format("{}.name must be 1..{} letters, digits, '_', '-' or '.' (got '{}')", path,
                          kMaxListenerNameLength, s));
    }
  }

  /// `auth` is the listener's auth value, nullptr when the default applied.
  void check_auth(const Listener& l, const toml::table& t, const toml::node* auth, const std::string& path,
                  bool no_users) const {
    if (l.protocol == Protocol::Mysql && l.auth == AuthMode::None) {
      // A MySQL client always logs in: someone must check its credentials, corral or the backend.
      if (auth == nullptr) {
        fail(t, fmt::format("{}: a mysql listener authenticates against [[users]], but there are none "
                            "(or set auth = 'backend')",
                            path));
      }
      fail(*auth, fmt::format("{}.auth must be 'users' or 'backend' for a mysql listener (got 'none')", path));
    }
    if (l.auth == AuthMode::Users && no_users) {
      // Only an explicit value gets here: the default is 'users' only when users exist.
      fail(auth != nullptr ? auth->source().begin.line : t.source().begin.line,
           fmt::format("{}.auth is 'users' but there are no [[users]]", path));
    }
  }

  static bool same_endpoint(const Endpoint& a, const Endpoint& b) {
    if (a.port != b.port || a.host.size() != b.host.size()) return false;
    return std::equal(a.host.begin(), a.host.end(), b.host.begin(), [](char x, char y) {
      const auto lower = [](char ch) { return ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch; };
      return lower(x) == lower(y);
    });
  }

  std::string source_;
};

}  // namespace

std::variant<Config, ConfigError> parse_config(std::string_view toml_text, const std::string& source_name) {
  try {
    toml::parse_result result = toml::parse(toml_text, std::string_view(source_name));
    if (!result) {
      const toml::parse_error& e = result.error();
      return ConfigError{source_name, e.source().begin.line, fmt::format("invalid TOML: {}", e.description())};
    }
    return Builder(source_name).build(result.table());
  } catch (ConfigError& e) {
    return std::move(e);
  } catch (const std::bad_alloc&) {
    return ConfigError{source_name, 0, "out of memory while reading the configuration"};
  } catch (const std::exception& e) {
    // Not expected (toml++ is built without exceptions, the checks throw only ConfigError); kept so
    // that load_config() keeps its no-throw promise.
    return ConfigError{source_name, 0, fmt::format("internal error: {}", e.what())};
  }
}

std::variant<Config, ConfigError> load_config(const std::string& path) {
  FileText file = read_whole_file(path);
  if (!file.error.empty()) return ConfigError{path, 0, std::move(file.error)};
  return parse_config(file.text, path);
}

}  // namespace corral::config
