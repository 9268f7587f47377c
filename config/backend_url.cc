// Backend URLs and host:port endpoints.
//
//   "redis://user:pw@[::1]:6379/2?protocol=3"
//      scheme | userinfo (up to the LAST '@') | host[:port] | /path | ?query
//   "redis-cluster://user:pw@10.0.0.1:7000,10.0.0.2:7000?protocol=3"
//      the same with a comma-separated list of seed nodes and no /path (a cluster has only db 0)
//   "redis-shards://10.0.0.1:6379:2,10.0.0.2:6379:1/3?names=a,b&hash_tag={}"
//      independent servers host:port[:weight] (twemproxy's `servers:` entries), a db, ring options
//
// Userinfo is cut off first and never appears in a message, so a password reaches no log even when
// it holds unescaped '/', '?' or '@'.

#include <arpa/inet.h>

#include <fmt/format.h>

#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "config/config.h"

namespace corral::config {
namespace {

constexpr uint16_t kDefaultRedisPort = 6379;
constexpr uint16_t kDefaultMysqlPort = 3306;
constexpr size_t kMaxHostLength = 253;   // RFC 1035 name length in text form
constexpr size_t kMaxLabelLength = 63;
constexpr size_t kMaxSchemaLength = 64;  // MySQL identifier limit
constexpr size_t kMaxReplicas = 64;      // more is a typo or a list meant for something else
constexpr size_t kMaxShards = 1024;      // twemproxy pools are far smaller; bounds the ring (160 points each)
constexpr uint32_t kMaxShardWeight = 1'000'000;  // keeps the ring's point count far from overflow
constexpr size_t kMaxShardName = 255;
// ssl-mode values in the order of MysqlSslMode, spelt as the mysql CLI's --ssl-mode.
constexpr std::string_view kSslModeNames[] = {"DISABLED", "PREFERRED", "REQUIRED", "VERIFY_CA", "VERIFY_IDENTITY"};

bool is_digit(char c) { return c >= '0' && c <= '9'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

bool all_digits(std::string_view s) {
  for (char c : s) {
    if (!is_digit(c)) return false;
  }
  return !s.empty();
}

int hex_value(char c) {
  if (is_digit(c)) return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// Decodes %XX escapes; nullopt on a malformed escape or a decoded NUL (names end at NUL on the wire).
std::optional<std::string> percent_decode(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return std::nullopt;
    const int hi = hex_value(in[i + 1]);
    const int lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    const char c = static_cast<char>(hi * 16 + lo);
    if (c == '\0') return std::nullopt;
    out += c;
    i += 2;
  }
  return out;
}

std::string percent_encode(std::string_view in) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : in) {
    if (is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += c;
    } else {
      const auto b = static_cast<unsigned char>(c);
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
    }
  }
  return out;
}

/// Checks a host without brackets: an IPv4 literal, or a DNS-style name ('_' allowed for container
/// names). IPv6 literals come here already unbracketed and checked by the caller.
std::optional<std::string> check_host_name(std::string_view host) {
  if (host.empty()) return "host is empty";
  bool numeric = true;
  for (char c : host) {
    if (!is_digit(c) && c != '.') numeric = false;
  }
  if (numeric) {
    in_addr addr{};
    if (inet_pton(AF_INET, std::string(host).c_str(), &addr) != 1) {
      return fmt::format("invalid IPv4 address '{}'", host);
    }
    return std::nullopt;
  }
  const auto bad_name = [&] { return fmt::format("invalid host name '{}'", host); };
  if (host.size() > kMaxHostLength) return bad_name();
  size_t label = 0;
  for (size_t i = 0; i < host.size(); ++i) {
    const char c = host[i];
    if (c == '.') {
      if (label == 0 || host[i - 1] == '-') return bad_name();
      label = 0;
      continue;
    }
    if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_') return bad_name();
    if (c == '-' && label == 0) return bad_name();
    if (++label > kMaxLabelLength) return bad_name();
  }
  if (label == 0 || host.back() == '-') return bad_name();
  return std::nullopt;
}

struct HostPort {
  std::string host;  // IPv6 without brackets
  std::optional<uint16_t> port;
};

/// Splits and checks "host", "host:port", "[v6]" or "[v6]:port".
std::variant<HostPort, std::string> parse_host_port(std::string_view text) {
  HostPort out;
  std::optional<std::string_view> port_text;
  if (!text.empty() && text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return fmt::format("missing ']' in '{}'", text);
    const std::string inner(text.substr(1, close - 1));
    in6_addr addr{};
    if (inner.empty() || inet_pton(AF_INET6, inner.c_str(), &addr) != 1) {
      return fmt::format("invalid IPv6 address '{}'", inner);
    }
    out.host = inner;
    const std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return fmt::format("expected ':' after ']' in '{}'", text);
      port_text = rest.substr(1);
    }
  } else {
    const size_t colon = text.find(':');
    if (colon != std::string_view::npos && text.find(':', colon + 1) != std::string_view::npos) {
      return fmt::format("IPv6 addresses must be in brackets, as in [::1]:6379 (got '{}')", text);
    }
    const std::string_view host = text.substr(0, colon);
    if (auto err = check_host_name(host)) return std::move(*err);
    out.host = std::string(host);
    if (colon != std::string_view::npos) port_text = text.substr(colon + 1);
  }
  if (port_text) {
    // At most 5 digits keeps the conversion below free of overflow.
    if (!all_digits(*port_text) || port_text->size() > 5) {
      return fmt::format("port must be 1..65535 (got '{}')", *port_text);
    }
    uint32_t port = 0;
    for (char c : *port_text) port = port * 10 + static_cast<uint32_t>(c - '0');
    if (port < 1 || port > 65535) return fmt::format("port must be 1..65535 (got '{}')", *port_text);
    out.port = static_cast<uint16_t>(port);
  }
  return out;
}

std::string bracketed(const std::string& host, uint16_t port) {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

/// Applies the redis path "/N" (database index).
std::optional<std::string> parse_redis_path(std::string_view path, BackendUrl& url) {
  if (path.empty() || path == "/") return std::nullopt;
  const std::string_view db = path.substr(1);
  constexpr int64_t kMaxDb = std::numeric_limits<int32_t>::max();
  bool ok = all_digits(db) && db.size() <= 10;
  int64_t value = 0;
  if (ok) {
    for (char c : db) value = value * 10 + (c - '0');
    ok = value <= kMaxDb;
  }
  if (!ok) return fmt::format("database must be an integer 0..{} (got '{}')", kMaxDb, db);
  url.redis_db = static_cast<int>(value);
  return std::nullopt;
}

/// Applies the mysql path "/schema" (percent-decoded).
std::optional<std::string> parse_mysql_path(std::string_view path, BackendUrl& url) {
  if (path.empty() || path == "/") return std::nullopt;
  auto schema = percent_decode(path.substr(1));
  if (!schema) return "invalid percent-encoding in schema name";
  if (schema->size() > kMaxSchemaLength) {
    return fmt::format("schema name must be at most {} characters (got '{}')", kMaxSchemaLength, *schema);
  }
  url.mysql_schema = std::move(*schema);
  return std::nullopt;
}

bool same_host_port(const std::string& host_a, uint16_t port_a, const std::string& host_b, uint16_t port_b) {
  if (port_a != port_b || host_a.size() != host_b.size()) return false;
  for (size_t i = 0; i < host_a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    if (lower(host_a[i]) != lower(host_b[i])) return false;
  }
  return true;
}

/// Applies the mysql query parameter "replicas=host[:port],..." (port 3306 when absent). Called after
/// the URL's own host is known, so a replica that is the primary itself is refused.
std::optional<std::string> parse_replicas(std::string_view value, BackendUrl& url) {
  if (value.empty()) return "replicas must list host[:port] entries separated by ','";
  while (true) {
    const size_t comma = value.find(',');
    const std::string_view item = value.substr(0, comma);
    if (item.empty()) return "replicas: empty entry (expected host[:port],host[:port]...)";
    auto host_port = parse_host_port(item);
    if (auto* err = std::get_if<std::string>(&host_port)) return fmt::format("replicas: {}", *err);
    auto& hp = std::get<HostPort>(host_port);
    Endpoint replica{std::move(hp.host), hp.port.value_or(kDefaultMysqlPort)};
    if (same_host_port(replica.host, replica.port, url.host, url.port)) {
      return fmt::format("replicas: {} is the primary itself", replica.to_string());
    }
    for (const Endpoint& other : url.mysql_replicas) {
      if (same_host_port(replica.host, replica.port, other.host, other.port)) {
        return fmt::format("replicas: {} is listed twice", replica.to_string());
      }
    }
    url.mysql_replicas.push_back(std::move(replica));
    if (url.mysql_replicas.size() > kMaxReplicas) return fmt::format("replicas: at most {} are allowed", kMaxReplicas);
    if (comma == std::string_view::npos) return std::nullopt;
    value = value.substr(comma + 1);
  }
}

/// An ssl-mode value, any letter case (the mysql CLI takes `--ssl-mode=required` too).
std::optional<MysqlSslMode> parse_ssl_mode(std::string_view value) {
  for (size_t i = 0; i < std::size(kSslModeNames); ++i) {
    const std::string_view name = kSslModeNames[i];
    bool same = name.size() == value.size();
    for (size_t j = 0; same && j < name.size(); ++j) {
      same = name[j] == (value[j] >= 'a' && value[j] <= 'z' ? static_cast<char>(value[j] - 'a' + 'A') : value[j]);
    }
    if (same) return static_cast<MysqlSslMode>(i);
  }
  return std::nullopt;
}

/// twemproxy's name for a server without one: "host:port", the host alone when the port is 11211
/// (kept from libmemcached, whose rings it reproduces).
std::string default_shard_name(const Shard& shard) {
  if (shard.endpoint.port != 11211) return shard.endpoint.to_string();
  const std::string& host = shard.endpoint.host;
  return host.find(':') != std::string::npos ? "[" + host + "]" : host;
}

/// "host:port[:weight]" or "[v6]:port[:weight]", one server of a redis-shards URL. The port is
/// required: it is part of the name the ring hashes, as twemproxy writes it.
std::variant<Shard, std::string> parse_shard(std::string_view text) {
  const size_t host_end = !text.empty() && text.front() == '[' ? text.find(']') : 0;
  if (host_end == std::string_view::npos) return fmt::format("missing ']' in '{}'", text);
  const size_t port_colon = text.find(':', host_end);
  if (port_colon == std::string_view::npos) return fmt::format("shard '{}' needs a port (host:port[:weight])", text);
  const size_t weight_colon = text.find(':', port_colon + 1);
  const std::string_view address = text.substr(0, weight_colon);
  auto host_port = parse_host_port(address);
  if (auto* err = std::get_if<std::string>(&host_port)) return std::move(*err);
  auto& hp = std::get<HostPort>(host_port);
  Shard shard{Endpoint{std::move(hp.host), hp.port.value_or(kDefaultRedisPort)}, 1, {}};
  if (weight_colon != std::string_view::npos) {
    const std::string_view weight = text.substr(weight_colon + 1);
    uint64_t value = 0;
    bool ok = all_digits(weight) && weight.size() <= 7;
    for (char c : ok ? weight : std::string_view{}) value = value * 10 + static_cast<uint64_t>(c - '0');
    if (!ok || value < 1 || value > kMaxShardWeight) {
      return fmt::format("shard weight must be 1..{} (got '{}')", kMaxShardWeight, weight);
    }
    shard.weight = static_cast<uint32_t>(value);
  }
  shard.name = default_shard_name(shard);
  return shard;
}

/// Applies a redis-shards authority: "host:port[:weight],..." in ring order.
std::optional<std::string> parse_shard_list(std::string_view authority, BackendUrl& url) {
  while (true) {
    const size_t comma = authority.find(',');
    const std::string_view item = authority.substr(0, comma);
    if (item.empty()) return std::string("empty shard in the list (expected host:port[:weight],host:port[:weight]...)");
    auto parsed = parse_shard(item);
    if (auto* err = std::get_if<std::string>(&parsed)) return std::move(*err);
    Shard& shard = std::get<Shard>(parsed);
    for (const Shard& known : url.shard_list) {
      if (same_host_port(known.endpoint.host, known.endpoint.port, shard.endpoint.host, shard.endpoint.port)) {
        return fmt::format("shard {} is given twice", shard.endpoint.to_string());
      }
    }
    url.shard_list.push_back(std::move(shard));
    if (url.shard_list.size() > kMaxShards) return fmt::format("at most {} shards are allowed", kMaxShards);
    if (comma == std::string_view::npos) break;
    authority = authority.substr(comma + 1);
  }
  url.host = url.shard_list.front().endpoint.host;
  url.port = url.shard_list.front().endpoint.port;
  return std::nullopt;
}

/// Applies ?names=a,b,...: one ring name per shard, in the URL's order (twemproxy's "host:port:weight name").
std::optional<std::string> parse_shard_names(std::string_view value, BackendUrl& url) {
  std::vector<std::string> names;
  while (true) {
    const size_t comma = value.find(',');
    auto name = percent_decode(value.substr(0, comma));
    if (!name || name->empty() || name->size() > kMaxShardName) {
      return fmt::format("names: each name must be 1..{} characters (percent-encoded where needed)", kMaxShardName);
    }
    names.push_back(std::move(*name));
    if (comma == std::string_view::npos) break;
    value = value.substr(comma + 1);
  }
  if (names.size() != url.shard_list.size()) {
    return fmt::format("names: {} names for {} shards (one per shard, in the same order)", names.size(),
                       url.shard_list.size());
  }
  for (size_t i = 0; i < names.size(); ++i) url.shard_list[i].name = std::move(names[i]);
  return std::nullopt;
}

std::optional<std::string> parse_query(std::string_view query, BackendUrl& url) {
  bool seen_protocol = false;
  bool seen_charset = false;
  bool seen_replicas = false;
  bool seen_ca = false;
  bool seen_ssl_mode = false;
  bool seen_names = false;
  bool seen_hash_tag = false;
  bool seen_hash = false;
  bool seen_distribution = false;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    const size_t eq = param.find('=');
    if (eq == std::string_view::npos) {
      return fmt::format("query parameter '{}' needs a value (name=value)", param);
    }
    const std::string_view name = param.substr(0, eq);
    const std::string_view value = param.substr(eq + 1);
    if (url.protocol == Protocol::Redis && name == "protocol") {
      if (seen_protocol) return "query parameter 'protocol' is given twice";
      seen_protocol = true;
      if (value != "2" && value != "3") return fmt::format("protocol must be 2 or 3 (got '{}')", value);
      url.redis_protocol = value[0] - '0';
    } else if (url.protocol == Protocol::Mysql && name == "charset") {
      if (seen_charset) return "query parameter 'charset' is given twice";
      seen_charset = true;
      bool ok = !value.empty();
      for (char c : value) ok = ok && (is_alpha(c) || is_digit(c) || c == '_');
      if (!ok) {
        return fmt::format("charset must be letters, digits and '_' (got '{}')", value);
      }
      url.mysql_charset = std::string(value);
    } else if (url.protocol == Protocol::Mysql && name == "replicas") {
      if (seen_replicas) return "query parameter 'replicas' is given twice";
      seen_replicas = true;
      if (auto err = parse_replicas(value, url)) return err;
    } else if (url.protocol == Protocol::Mysql && name == "ssl-mode") {
      if (seen_ssl_mode) return "query parameter 'ssl-mode' is given twice";
      seen_ssl_mode = true;
      const auto mode = parse_ssl_mode(value);
      if (!mode) {
        return fmt::format("ssl-mode must be DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY (got '{}')",
                           value);
      }
      url.mysql_ssl_mode = *mode;
    } else if (url.shards && name == "names") {
      if (seen_names) return "query parameter 'names' is given twice";
      seen_names = true;
      if (auto err = parse_shard_names(value, url)) return err;
    } else if (url.shards && name == "hash_tag") {
      if (seen_hash_tag) return "query parameter 'hash_tag' is given twice";
      seen_hash_tag = true;
      auto tag = percent_decode(value);
      if (!tag || (!tag->empty() && tag->size() != 2)) {
        return fmt::format("hash_tag must be two characters, as {{}}, or empty for none (got '{}')", value);
      }
      url.hash_tag = std::move(*tag);
    } else if (url.shards && name == "hash") {
      // Only twemproxy's default is offered: the point of its ring is placing keys where twemproxy did.
      if (seen_hash) return "query parameter 'hash' is given twice";
      seen_hash = true;
      if (value != "fnv1a_64") return fmt::format("hash must be fnv1a_64 (got '{}')", value);
    } else if (url.shards && name == "distribution") {
      if (seen_distribution) return "query parameter 'distribution' is given twice";
      seen_distribution = true;
      if (value != "ketama") return fmt::format("distribution must be ketama (got '{}')", value);
    } else if ((url.tls && name == "ca") || (url.protocol == Protocol::Mysql && name == "ssl-ca")) {
      if (seen_ca) return fmt::format("query parameter '{}' is given twice", name);
      seen_ca = true;
      auto path = percent_decode(value);
      if (!path || path->empty()) return fmt::format("{} must be the path of a PEM file of CA certificates", name);
      url.tls_ca_file = std::move(*path);
    } else {
      const char* accepted = url.protocol == Protocol::Mysql ? "charset, replicas, ssl-mode, ssl-ca"
                             : url.shards ? (url.tls ? "protocol, names, hash_tag, hash, distribution, ca"
                                                     : "protocol, names, hash_tag, hash, distribution")
                             : url.tls    ? "protocol, ca"
                                          : "protocol";
      return fmt::format("unknown query parameter '{}' ({} URLs accept: {})", name, url.scheme(), accepted);
    }
  }
  // A CA is only read to verify the server: with a mode that does not verify, it would look like a
  // check that is not made.
  const bool verifies = url.mysql_ssl_mode == MysqlSslMode::VerifyCa || url.mysql_ssl_mode == MysqlSslMode::VerifyIdentity;
  if (url.protocol == Protocol::Mysql && seen_ca && !verifies) {
    return fmt::format("ssl-ca needs ssl-mode=VERIFY_CA or ssl-mode=VERIFY_IDENTITY (ssl-mode={} does not verify "
                       "the server's certificate)",
                       kSslModeNames[static_cast<size_t>(url.mysql_ssl_mode)]);
  }
  return std::nullopt;
}

/// Applies a redis-cluster authority: "host[:port],host[:port]..." (the seed nodes, port 6379 when
/// absent). A cluster has only database 0, so a /path is refused rather than ignored.
std::optional<std::string> parse_cluster_seeds(std::string_view authority, std::string_view path, BackendUrl& url) {
  if (!path.empty() && path != "/") return std::string("a redis-cluster URL has no database (Redis Cluster has only db 0)");
  while (true) {
    const size_t comma = authority.find(',');
    const std::string_view seed = authority.substr(0, comma);
    if (seed.empty()) return std::string("empty seed node in the list (expected host:port,host:port...)");
    auto host_port = parse_host_port(seed);
    if (auto* err = std::get_if<std::string>(&host_port)) return std::move(*err);
    auto& hp = std::get<HostPort>(host_port);
    Endpoint endpoint{std::move(hp.host), hp.port.value_or(kDefaultRedisPort)};
    for (const Endpoint& known : url.cluster_seeds) {
      if (known.host == endpoint.host && known.port == endpoint.port) {
        return fmt::format("seed node {} is given twice", endpoint.to_string());
      }
    }
    url.cluster_seeds.push_back(std::move(endpoint));
    if (comma == std::string_view::npos) break;
    authority = authority.substr(comma + 1);
  }
  url.host = url.cluster_seeds.front().host;
  url.port = url.cluster_seeds.front().port;
  return std::nullopt;
}

}  // namespace

std::variant<BackendUrl, std::string> parse_backend_url(std::string_view text) {
  BackendUrl url;
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) {
    return std::string(
        "missing scheme (expected redis://..., rediss://..., redis-cluster://..., redis-shards://... or mysql://...)");
  }
  const std::string_view scheme = text.substr(0, scheme_end);
  if (scheme == "redis" || scheme == "rediss") {
    url.protocol = Protocol::Redis;
    url.tls = scheme == "rediss";
  } else if (scheme == "redis-cluster" || scheme == "rediss-cluster") {
    url.protocol = Protocol::Redis;
    url.tls = scheme == "rediss-cluster";
    url.cluster = true;
  } else if (scheme == "redis-shards" || scheme == "rediss-shards") {
    url.protocol = Protocol::Redis;
    url.tls = scheme == "rediss-shards";
    url.shards = true;
  } else if (scheme == "mysql") {
    url.protocol = Protocol::Mysql;
  } else {
    // Echo the scheme only when it looks like one: a malformed URL may have a password in front.
    bool plain = true;
    for (char c : scheme) plain = plain && (is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.');
    constexpr std::string_view kSchemes = "redis, rediss, redis-cluster, rediss-cluster, redis-shards, rediss-shards or mysql";
    if (!plain) return fmt::format("invalid scheme (expected {})", kSchemes);
    return fmt::format("unsupported scheme '{}' (expected {})", scheme, kSchemes);
  }

  std::string_view rest = text.substr(scheme_end + 3);
  const size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = userinfo.find(':');
    auto user = percent_decode(userinfo.substr(0, colon));
    if (!user) return std::string("invalid percent-encoding in user name");
    url.user = std::move(*user);
    if (colon != std::string_view::npos) {
      auto password = percent_decode(userinfo.substr(colon + 1));
      if (!password) return std::string("invalid percent-encoding in password");
      url.password = std::move(*password);
    }
  }
  if (url.protocol == Protocol::Mysql && url.user.empty()) {
    return std::string("a mysql URL needs a user name (mysql://user:password@host:port)");
  }

  if (rest.find('#') != std::string_view::npos) return std::string("a fragment ('#...') is not allowed");
  const size_t query_start = rest.find('?');
  const std::string_view query =
      query_start == std::string_view::npos ? std::string_view{} : rest.substr(query_start + 1);
  rest = rest.substr(0, query_start);
  const size_t path_start = rest.find('/');
  const std::string_view path = path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
  const std::string_view authority = rest.substr(0, path_start);

  if (authority.empty()) return std::string("host is missing");
  if (url.cluster) {
    if (auto err = parse_cluster_seeds(authority, path, url)) return std::move(*err);
    if (auto err = parse_query(query, url)) return std::move(*err);
    return url;
  }
  if (url.shards) {
    if (auto err = parse_shard_list(authority, url)) return std::move(*err);
    if (auto err = parse_redis_path(path, url)) return std::move(*err);
    if (auto err = parse_query(query, url)) return std::move(*err);
    return url;
  }
  auto host_port = parse_host_port(authority);
  if (auto* err = std::get_if<std::string>(&host_port)) return std::move(*err);
  auto& hp = std::get<HostPort>(host_port);
  url.host = std::move(hp.host);
  url.port = hp.port.value_or(url.protocol == Protocol::Redis ? kDefaultRedisPort : kDefaultMysqlPort);

  auto path_err = url.protocol == Protocol::Redis ? parse_redis_path(path, url) : parse_mysql_path(path, url);
  if (path_err) return std::move(*path_err);
  if (auto err = parse_query(query, url)) return std::move(*err);
  return url;
}

std::string BackendUrl::redacted() const {
  std::string out = fmt::format("{}://", scheme());
  if (!user.empty() || !password.empty()) {
    out += percent_encode(user);
    if (!password.empty()) out += ":***";
    out += '@';
  }
  if (cluster) {
    for (size_t i = 0; i < cluster_seeds.size(); ++i) out += (i == 0 ? "" : ",") + cluster_seeds[i].to_string();
  } else if (shards) {
    for (size_t i = 0; i < shard_list.size(); ++i) {
      out += (i == 0 ? "" : ",") + shard_list[i].endpoint.to_string();
      if (shard_list[i].weight != 1) out += fmt::format(":{}", shard_list[i].weight);
    }
  } else {
    out += address();
  }
  if (protocol == Protocol::Redis) {
    if (redis_db != 0) out += fmt::format("/{}", redis_db);
    std::string query;
    if (redis_protocol != 2) query += fmt::format("&protocol={}", redis_protocol);
    if (shards) {
      std::string names;
      bool default_names = true;
      for (const Shard& shard : shard_list) {
        names += (names.empty() ? "" : ",") + percent_encode(shard.name);
        default_names = default_names && shard.name == default_shard_name(shard);
      }
      if (!default_names) query += "&names=" + names;
      if (hash_tag != "{}") query += "&hash_tag=" + percent_encode(hash_tag);
    }
    if (!tls_ca_file.empty()) query += "&ca=" + percent_encode(tls_ca_file);
    if (!query.empty()) out += "?" + query.substr(1);
  } else {
    if (!mysql_schema.empty()) out += "/" + percent_encode(mysql_schema);
    std::string query;
    if (!mysql_charset.empty()) query += "&charset=" + mysql_charset;
    for (size_t i = 0; i < mysql_replicas.size(); ++i) {
      query += (i == 0 ? "&replicas=" : ",") + mysql_replicas[i].to_string();
    }
    if (mysql_ssl_mode != MysqlSslMode::Disabled) query += "&ssl-mode=" + std::string(to_string(mysql_ssl_mode));
    if (!tls_ca_file.empty()) query += "&ssl-ca=" + percent_encode(tls_ca_file);
    if (!query.empty()) out += "?" + query.substr(1);
  }
  return out;
}

std::string_view to_string(MysqlSslMode m) { return kSslModeNames[static_cast<size_t>(m)]; }

std::string_view BackendUrl::scheme() const {
  if (protocol == Protocol::Mysql) return "mysql";
  if (cluster) return tls ? "rediss-cluster" : "redis-cluster";
  if (shards) return tls ? "rediss-shards" : "redis-shards";
  return tls ? "rediss" : "redis";
}

std::vector<Endpoint> BackendUrl::endpoints() const {
  if (cluster) return cluster_seeds;
  std::vector<Endpoint> out;
  for (const Shard& shard : shard_list) out.push_back(shard.endpoint);
  if (out.empty()) out.push_back(Endpoint{host, port});
  return out;
}

std::string BackendUrl::address() const { return bracketed(host, port); }

std::string Endpoint::to_string() const { return bracketed(host, port); }

std::variant<Endpoint, std::string> parse_endpoint(std::string_view text) {
  if (text.empty()) return std::string("address is empty (expected host:port)");
  auto host_port = parse_host_port(text);
  if (auto* err = std::get_if<std::string>(&host_port)) return std::move(*err);
  auto& hp = std::get<HostPort>(host_port);
  if (!hp.port) return fmt::format("missing port in '{}' (expected host:port)", text);
  return Endpoint{std::move(hp.host), *hp.port};
}

}  // namespace corral::config
