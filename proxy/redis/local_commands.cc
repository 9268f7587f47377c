#include "proxy/redis/local_commands.h"

#include <charconv>

#include "proxy/redis/client_table.h"

namespace corral::proxy {

namespace {

using redis::RespVersion;

constexpr std::string_view kNoAuth = "-NOAUTH Authentication required.\r\n";
constexpr std::string_view kWrongPass = "-WRONGPASS invalid username-password pair or user is disabled.\r\n";
constexpr std::string_view kOk = "+OK\r\n";

std::optional<long long> parse_integer(std::string_view text) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

/// redis-server accepts client and library names made of printable ASCII without spaces ('!'..'~').
bool valid_client_name(std::string_view name) {
  for (const char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

void append_bulk_or_null(std::string& out, std::string_view value, bool null, RespVersion resp) {
  if (null) {
    redis::append_null(out, resp);
  } else {
    redis::append_bulk(out, value);
  }
}

}  // namespace

void RedisLocalCommands::init(RedisContext& context) const {
  context.authenticated = listener_.auth == config::AuthMode::None;
  // A URL with a password says its user needs one: clients must then AUTH themselves.
  context.implicit_login = listener_.auth == config::AuthMode::Backend && listener_.backend.password.empty();
  context.user = "default";
  context.backend_user = listener_.backend.user;
  context.backend_password = listener_.backend.password;
  context.db = listener_.backend.redis_db;
}

void RedisLocalCommands::log_in_implicitly(RedisContext& context) const {
  context.implicit_login = false;
  context.authenticated = true;
  context.user = listener_.backend.user.empty() ? std::string("default") : listener_.backend.user;
  if (metrics_ != nullptr) record_login(*metrics_, listener_.name);
}

pool::RedisKey RedisLocalCommands::pool_key(const RedisContext& context) const {
  pool::RedisKey key;
  key.host = listener_.backend.host;
  key.port = listener_.backend.port;
  key.db = context.db;
  key.resp = static_cast<int>(context.resp);
  set_credentials(key, context.backend_user, context.backend_password);
  key.tls = backend_tls_;
  return key;
}

void RedisLocalCommands::set_credentials(pool::RedisKey& key, std::string_view user, std::string_view password) const {
  key.user = user == "default" ? std::string() : std::string(user);
  key.password = std::string(password);
  const std::string_view url_user = listener_.backend.user == "default" ? std::string_view() : listener_.backend.user;
  // A user other than the URL's may lack +select; the URL's identity enters the db for it if need
  // be, as the client (direct) keeps its db across AUTH. The user's own SELECT is therefore checked
  // when the client sends one (RedisSession::select_refusal).
  key.select_first = !key.password.empty() && (key.user != url_user || key.password != listener_.backend.password);
  if (key.select_first) {
    key.select_user = std::string(url_user);
    key.select_password = listener_.backend.password;
  }
}

LocalOutcome RedisLocalCommands::answer(const redis::Request& request, const redis::Route& route,
                                        RedisContext& context, const pool::RedisServerInfo& info, std::string& out,
                                        BackendQuestion& question, const std::string* backend_auth_error) const {
  if (!context.authenticated && !route.has(redis::kAllowedBeforeAuth)) {
    out.append(kNoAuth);
    return LocalOutcome::Answered;
  }
  if (route.command != nullptr && !route.arity_ok) {
    redis::append_arity_error(out, *route.command);
    return LocalOutcome::Answered;
  }
  context.last_command = route.command;
  using redis::LocalCommand;
  switch (route.local()) {
    case LocalCommand::Auth: return auth(request, context, out, question, backend_auth_error);
    case LocalCommand::Hello: return hello(request, context, info, out, question, backend_auth_error);
    case LocalCommand::Select: return select(request, context, info, out, question, backend_auth_error);
    case LocalCommand::ClientId:
      redis::append_integer(out, static_cast<std::int64_t>(context.id));
      return LocalOutcome::Answered;
    case LocalCommand::ClientGetname:
      append_bulk_or_null(out, context.name, context.name.empty(), context.resp);
      return LocalOutcome::Answered;
    case LocalCommand::ClientSetname:
      client_setname(request, context, out);
      return LocalOutcome::Answered;
    case LocalCommand::ClientSetinfo:
      client_setinfo(request, context, out);
      return LocalOutcome::Answered;
    case LocalCommand::ClientInfo:
      append_client_info(request, context, out);
      return LocalOutcome::Answered;
    case LocalCommand::ClientReply:
      client_reply(request, context, out);
      return LocalOutcome::Answered;
    case LocalCommand::ClientNoEvict:
      // corral never evicts a client for its memory: the flag is kept and shown (flags=e), nothing more.
      if (redis::iequals(request.arg(2), "on") || redis::iequals(request.arg(2), "off")) {
        context.no_evict = redis::iequals(request.arg(2), "on");
        out.append(kOk);
      } else {
        out.append("-ERR syntax error\r\n");
      }
      return LocalOutcome::Answered;
    case LocalCommand::AclWhoami:
      // The user this client authenticated as, not the backend connection's (redis-server: c->user).
      redis::append_bulk(out, context.user);
      return LocalOutcome::Answered;
    case LocalCommand::Echo:
      redis::append_bulk(out, request.arg(1));
      return LocalOutcome::Answered;
    case LocalCommand::Quit:
      out.append(kOk);
      return LocalOutcome::Close;
    case LocalCommand::Reset:
      reset(context);
      out.append("+RESET\r\n");
      return LocalOutcome::Answered;
    case LocalCommand::ClientList:
    case LocalCommand::ClientKill:
    case LocalCommand::ClientUnblock:
    case LocalCommand::None:
      break;
  }
  // The command table names a handler for every Local command; anything else is a table bug.
  out.append("-ERR corral: command has no local handler\r\n");
  return LocalOutcome::Answered;
}

void RedisLocalCommands::reset(RedisContext& context) const {
  const uint64_t id = context.id;
  const std::string peer = context.peer;
  const std::string local = context.local;
  const auto created = context.created;
  // The library behind the connection is still the same one (redis-server keeps both too).
  std::string lib_name = std::move(context.lib_name);
  std::string lib_ver = std::move(context.lib_ver);
  context = RedisContext{};
  context.id = id;
  context.peer = peer;
  context.local = local;
  context.created = created;
  context.lib_name = std::move(lib_name);
  context.lib_ver = std::move(lib_ver);
  init(context);
}

void RedisLocalCommands::failed_login(std::string_view user, const RedisContext& context,
                                      const std::string& reason) const {
  if (metrics_ != nullptr) record_failed_login(*metrics_, listener_.name, user, context.peer, reason);
}

std::string RedisLocalCommands::check_user(std::string_view user, std::string_view password,
                                           RedisContext& context) const {
  const config::User* found = config_.find_user(user);
  if (found == nullptr || found->password != password) {
    failed_login(user, context, found == nullptr ? "no such user in [[users]]" : "wrong password");
    return std::string(kWrongPass);
  }
  context.backend_user = found->backend_user.value_or(listener_.backend.user);
  context.backend_password = found->backend_user ? found->backend_password.value_or("") : listener_.backend.password;
  return {};
}

std::string RedisLocalCommands::authenticate(std::string_view user, std::string_view password, RedisContext& context,
                                             BackendQuestion& question, const std::string* backend_auth_error,
                                             bool& needs_backend) const {
  needs_backend = false;
  switch (listener_.auth) {
    case config::AuthMode::None:
      // As redis-server whose default user needs no password: AUTH default <anything> succeeds
      // and goes back to the URL's credentials; any other user is the backend's to check.
      if (user == "default") {
        context.backend_user = listener_.backend.user;
        context.backend_password = listener_.backend.password;
        break;
      }
      [[fallthrough]];
    case config::AuthMode::Backend:
      if (backend_auth_error == nullptr) {
        question.check_credentials = true;
        question.user = std::string(user);
        question.password = std::string(password);
        needs_backend = true;
        return {};
      }
      if (!backend_auth_error->empty()) {
        const std::string_view line = *backend_auth_error;
        failed_login(user, context, "the backend refused it: " + std::string(line.substr(1, line.find('\r') - 1)));
        return *backend_auth_error;
      }
      context.backend_user = user == "default" ? std::string() : std::string(user);
      context.backend_password = std::string(password);
      break;
    case config::AuthMode::Users: {
      std::string error = check_user(user, password, context);
      if (!error.empty()) return error;
      break;
    }
  }
  context.implicit_login = false;
  context.authenticated = true;
  context.user = std::string(user);
  if (metrics_ != nullptr) record_login(*metrics_, listener_.name);
  return {};
}

LocalOutcome RedisLocalCommands::auth(const redis::Request& request, RedisContext& context, std::string& out,
                                      BackendQuestion& question, const std::string* backend_auth_error) const {
  if (request.arg_count() > 3) {
    out.append("-ERR syntax error\r\n");
    return LocalOutcome::Answered;
  }
  const bool with_user = request.arg_count() == 3;
  if (!with_user && listener_.auth == config::AuthMode::None) {
    out.append(
        "-ERR AUTH <password> called without any password configured for the default user. Are you sure your "
        "configuration is correct?\r\n");
    return LocalOutcome::Answered;
  }
  const std::string_view user = with_user ? request.arg(1) : std::string_view("default");
  const std::string_view password = request.arg(with_user ? 2 : 1);
  bool needs_backend = false;
  const std::string error = authenticate(user, password, context, question, backend_auth_error, needs_backend);
  if (needs_backend) return LocalOutcome::NeedsBackend;
  out.append(error.empty() ? kOk : std::string_view(error));
  return LocalOutcome::Answered;
}

LocalOutcome RedisLocalCommands::hello(const redis::Request& request, RedisContext& context,
                                       const pool::RedisServerInfo& info, std::string& out,
                                       BackendQuestion& question, const std::string* backend_auth_error) const {
  RespVersion resp = context.resp;
  std::string_view auth_user;
  std::string_view auth_password;
  std::string_view setname;
  bool has_auth = false;
  bool has_setname = false;
  if (request.arg_count() >= 2) {
    const auto version = parse_integer(request.arg(1));
    if (!version) {
      out.append("-ERR Protocol version is not an integer or out of range\r\n");
      return LocalOutcome::Answered;
    }
    if (*version != 2 && *version != 3) {
      out.append("-NOPROTO unsupported protocol version\r\n");
      return LocalOutcome::Answered;
    }
    resp = *version == 3 ? RespVersion::Resp3 : RespVersion::Resp2;
    for (std::size_t i = 2; i < request.arg_count(); ++i) {
      const std::size_t left = request.arg_count() - i - 1;
      if (redis::iequals(request.arg(i), "auth") && left >= 2) {
        has_auth = true;
        auth_user = request.arg(i + 1);
        auth_password = request.arg(i + 2);
        i += 2;
      } else if (redis::iequals(request.arg(i), "setname") && left >= 1) {
        has_setname = true;
        setname = request.arg(i + 1);
        i += 1;
      } else {
        out.append("-ERR Syntax error in HELLO option '").append(request.arg(i)).append("'\r\n");
        return LocalOutcome::Answered;
      }
    }
  }
  if (!has_auth && !context.authenticated) {
    out.append(
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH "
        "<user> <pass> option can be used to authenticate the client and select the RESP protocol version at the "
        "same time\r\n");
    return LocalOutcome::Answered;
  }
  // Credentials first, as redis-server checks them: a client that cannot log in as it is yet learns
  // the server's version through the pool of the credentials it brings.
  RedisContext trial = context;
  if (has_auth) {
    bool needs_backend = false;
    const std::string error = authenticate(auth_user, auth_password, trial, question, backend_auth_error, needs_backend);
    if (needs_backend) return LocalOutcome::NeedsBackend;
    if (!error.empty()) {
      out.append(error);
      return LocalOutcome::Answered;
    }
  }
  if (info.version.empty()) {
    question.server_info = true;
    return LocalOutcome::NeedsBackend;
  }
  if (has_setname && !valid_client_name(setname)) {
    out.append("-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
    return LocalOutcome::Answered;
  }
  context = std::move(trial);
  if (has_setname) context.name = std::string(setname);
  context.resp = resp;
  append_hello_reply(context, info, out);
  return LocalOutcome::Answered;
}

void RedisLocalCommands::append_hello_reply(const RedisContext& context, const pool::RedisServerInfo& info,
                                            std::string& out) const {
  // The map redis-server's helloCommand builds, in its order; keys are bulk strings in RESP3 too.
  redis::append_map_header(out, 7, context.resp);
  redis::append_bulk(out, "server");
  redis::append_bulk(out, "redis");
  redis::append_bulk(out, "version");
  redis::append_bulk(out, info.version);
  redis::append_bulk(out, "proto");
  redis::append_integer(out, static_cast<int>(context.resp));
  redis::append_bulk(out, "id");
  redis::append_integer(out, static_cast<std::int64_t>(context.id));
  redis::append_bulk(out, "mode");
  redis::append_bulk(out, info.mode.empty() ? std::string_view("standalone") : std::string_view(info.mode));
  redis::append_bulk(out, "role");
  redis::append_bulk(out, info.role.empty() ? std::string_view("master") : std::string_view(info.role));
  redis::append_bulk(out, "modules");
  redis::append_array_header(out, 0);
}

LocalOutcome RedisLocalCommands::select(const redis::Request& request, RedisContext& context,
                                        const pool::RedisServerInfo& info, std::string& out,
                                        BackendQuestion& question, const std::string* verdict) const {
  // The two errors of redis-server's getIntFromObjectOrReply: not a long long, then not an int.
  const auto db = parse_integer(request.arg(1));
  if (!db) {
    out.append("-ERR value is not an integer or out of range\r\n");
    return LocalOutcome::Answered;
  }
  if (*db > INT32_MAX || *db < INT32_MIN) {
    out.append("-ERR value is out of range, value must between -2147483648 and 2147483647\r\n");
    return LocalOutcome::Answered;
  }
  if (info.databases < 0) {
    question.server_info = true;
    return LocalOutcome::NeedsBackend;
  }
  if (*db < 0 || *db >= info.databases) {
    out.append("-ERR DB index is out of range\r\n");
    return LocalOutcome::Answered;
  }
  // The handshake of this user's connections SELECTs as the URL's identity: whether the user
  // itself may SELECT (its ACL) is asked now, when the client runs it, as redis-server checks it.
  if (pool_key(context).select_first) {
    if (verdict == nullptr) {
      question.check_select = true;
      return LocalOutcome::NeedsBackend;
    }
    if (!verdict->empty()) {
      out.append(*verdict);
      return LocalOutcome::Answered;
    }
  }
  context.db = static_cast<int>(*db);
  out.append(kOk);
  return LocalOutcome::Answered;
}

void RedisLocalCommands::client_setname(const redis::Request& request, RedisContext& context, std::string& out) {
  if (!valid_client_name(request.arg(2))) {
    out.append("-ERR Client names cannot contain spaces, newlines or special characters.\r\n");
    return;
  }
  context.name = std::string(request.arg(2));
  out.append(kOk);
}

void RedisLocalCommands::client_setinfo(const redis::Request& request, RedisContext& context, std::string& out) {
  const std::string_view attribute = request.arg(2);
  const std::string_view value = request.arg(3);
  const bool is_name = redis::iequals(attribute, "lib-name");
  if (!is_name && !redis::iequals(attribute, "lib-ver")) {
    out.append("-ERR Unrecognized option '").append(attribute).append("'\r\n");
  } else if (!valid_client_name(value)) {
    out.append("-ERR ").append(is_name ? "lib-name" : "lib-ver")
        .append(" cannot contain spaces, newlines or special characters.\r\n");
  } else {
    (is_name ? context.lib_name : context.lib_ver) = std::string(value);
    out.append(kOk);
  }
}

void RedisLocalCommands::client_reply(const redis::Request& request, RedisContext& context, std::string& out) {
  // redis-server's CLIENT REPLY: ON answers +OK; OFF and SKIP answer nothing (the session drops the
  // replies they silence); SKIP while OFF changes nothing.
  const std::string_view mode = request.arg(2);
  if (redis::iequals(mode, "on")) {
    context.reply_off = false;
    context.skip_next_reply = false;
    out.append(kOk);
  } else if (redis::iequals(mode, "off")) {
    context.reply_off = true;
  } else if (redis::iequals(mode, "skip")) {
    if (!context.reply_off) context.skip_next_reply = true;
  } else {
    out.append("-ERR syntax error\r\n");
  }
}

void RedisLocalCommands::append_client_info(const redis::Request& request, const RedisContext& context,
                                            std::string& out) const {
  // redis-server replies with a verbatim string ("txt"), which RESP2 sees as a bulk string.
  redis::append_verbatim(out, "txt", client_line(context, std::chrono::steady_clock::now(), request.size()),
                         context.resp);
}

}  // namespace corral::proxy
