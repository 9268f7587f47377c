#include "pool/mysql_connection.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <utility>

#include "pool/backoff.h"
#include "pool/mysql_own_threads.h"
#include "runtime/log.h"

namespace corral::pool {

namespace {

constexpr std::size_t kReadChunk = 16 * 1024;

/// One per worker thread: zlib's deflate state is ~256 KiB, too much for every compressed connection.
mysql::PacketCompressor& compressor() {
  thread_local mysql::PacketCompressor instance;
  return instance;
}
/// Login exchanges take at most: switch, more data (0x04), key request, encrypted password, OK.
constexpr int kMaxAuthRoundTrips = 8;
/// A command buffer bigger than this is not kept for the next command.
constexpr std::size_t kKeepBufferBytes = 64 * 1024;

/// What corral always asks a backend for (Capabilities Flags). No CLIENT_SSL (the key's ssl-mode asks
/// for it) and no CLIENT_COMPRESS (only a compressed client's key asks for it). CLIENT_MYSQL (bit 0)
/// is kept only when the server sets it: a MariaDB server clears it and then reads the extended bits.
constexpr mysql::CapabilityFlags kCorralCapabilities =
    mysql::CLIENT_MYSQL | mysql::CLIENT_LONG_FLAG | mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_TRANSACTIONS |
    mysql::CLIENT_SECURE_CONNECTION | mysql::CLIENT_PLUGIN_AUTH | mysql::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA |
    mysql::CLIENT_CONNECT_ATTRS | mysql::CLIENT_SESSION_TRACK;

/// The server must speak these for corral's packets to make sense.
constexpr mysql::CapabilityFlags kRequiredServerCapabilities =
    mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_SECURE_CONNECTION;

/// Session state tracking, as MariaDB 10.11 and MySQL 5.7+ both name it (Session State Tracking;
/// MariaDB KB "session_track_*"). MariaDB has no session_track_gtids (MySQL's GTID tracker) and does
/// not need it; 'CHARACTERISTICS' also reports the transaction state (SESSION_TRACK_TRANSACTION_STATE).
/// The server neither serves from nor stores into its query cache for a session that tracks
/// transaction info, so a session whose query cache is on (query_cache_type) does without it.
constexpr std::string_view kSessionTrackSql =
    "SET SESSION session_track_schema=ON, session_track_state_change=ON, "
    "session_track_system_variables='*', "
    "session_track_transaction_info=IF(@@session.query_cache_type='OFF','CHARACTERISTICS','OFF')";
/// The same for a server without a query cache (MySQL 8.0 removed it, and query_cache_type with it).
constexpr std::string_view kSessionTrackSqlWithoutQueryCache =
    "SET SESSION session_track_schema=ON, session_track_state_change=ON, "
    "session_track_system_variables='*', session_track_transaction_info='CHARACTERISTICS'";
constexpr std::string_view kTrackTransactionInfo = "SET SESSION session_track_transaction_info='CHARACTERISTICS'";
constexpr std::string_view kUntrackTransactionInfo = "SET SESSION session_track_transaction_info='OFF'";

/// MariaDB and MySQL before 8.0 have a query cache ("5.5.5-10.11.6-MariaDB", "5.7.44-log", "8.0.36").
bool has_query_cache(const MysqlServerInfo& server) noexcept {
  const std::string_view version = server.server_version;
  if (version.find("MariaDB") != std::string_view::npos) return true;
  return version.size() > 1 && version[0] >= '1' && version[0] < '8' && version[1] == '.';
}

bool identifier_word(std::string_view name) noexcept {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

/// What follows SET NAMES: a charset, or `charset COLLATE collation` (a session's non-default
/// collation), each an identifier of [A-Za-z0-9_]; anything else is refused rather than quoted.
bool valid_charset_name(std::string_view name) noexcept {
  constexpr std::string_view kCollate = " COLLATE ";
  const std::size_t at = name.find(kCollate);
  if (at == std::string_view::npos) return identifier_word(name);
  return identifier_word(name.substr(0, at)) && identifier_word(name.substr(at + kCollate.size()));
}

bool is_charset_variable(std::string_view name) noexcept {
  return name == "character_set_client" || name == "character_set_connection" ||
         name == "character_set_results" || name == "collation_connection";
}

bool supported_plugin(std::string_view plugin) noexcept {
  return plugin == mysql::kMysqlNativePassword || plugin == mysql::kCachingSha2Password;
}

}  // namespace

std::string_view to_string(MysqlBackendErrc e) noexcept {
  switch (e) {
    case MysqlBackendErrc::ServerError: return "backend answered with an error";
    case MysqlBackendErrc::Unavailable: return "backend unavailable";
    case MysqlBackendErrc::Protocol: return "backend protocol error";
    case MysqlBackendErrc::Unsupported: return "backend asks for something corral does not support";
    case MysqlBackendErrc::Lost: return "backend connection lost";
    case MysqlBackendErrc::PoolExhausted: return "backend pool exhausted";
    case MysqlBackendErrc::NotIdle: return "backend connection used out of order";
  }
  return "unknown mysql backend error";
}

const std::error_category& mysql_backend_category() noexcept {
  static const rt::EnumCategory<MysqlBackendErrc> category("mysql-backend");
  return category;
}

std::string_view MysqlConnection::to_string(State state) noexcept {
  switch (state) {
    case State::New: return "New";
    case State::Opening: return "Opening";
    case State::Idle: return "Idle";
    case State::Busy: return "Busy";
    case State::AwaitingClient: return "AwaitingClient";
    case State::Closed: return "Closed";
  }
  return "Unknown";
}

MysqlConnection::MysqlConnection(const config::PoolLimits& limits, const mysql::Limits& codec_limits)
    : limits_(limits),
      codec_limits_(codec_limits),
      scanner_(mysql::Command::COM_SLEEP, 0, codec_limits),
      operation_timeout_(limits.operation_timeout) {}

MysqlConnection::~MysqlConnection() { close(); }

// ---- failures ------------------------------------------------------------------------------------

void MysqlConnection::say_quit() noexcept {
  // COM_QUIT (sequence id 0, payload 0x01), sent only if the socket takes it at once; through the
  // stream, so that over TLS it is a record, not plain bytes the server would take for an attack.
  static char kQuit[] = {1, 0, 0, 0, static_cast<char>(mysql::Command::COM_QUIT)};
  // The same inside a compressed packet (sequence id 0, stored: too short to deflate).
  static char kCompressedQuit[] = {5, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, static_cast<char>(mysql::Command::COM_QUIT)};
  if (!stream_.is_open()) return;
  iovec quit = compressed_ ? iovec{kCompressedQuit, sizeof kCompressedQuit} : iovec{kQuit, sizeof kQuit};
  std::span<iovec> unsent(&quit, 1);
  (void)stream_.try_writev(unsent);
}

void MysqlConnection::close(MysqlError reason) {
  if (state_ == State::Closed) return;
  if (state_ == State::Idle) say_quit();
  state_ = State::Closed;
  if (error_.empty()) {
    error_ = reason.empty() ? MysqlError{kErrBackendLost.code, std::string(kErrBackendLost.sql_state),
                                         "corral: connection to backend " + describe_ + " closed"}
                            : std::move(reason);
  }
  stream_.close();
  if (connection_id_ != 0) MysqlOwnThreads::of_process().remove(server_address_, connection_id_);
  returned_bytes_ = 0;
  in_.consume(in_.size());
  in_.release_if_empty();
  compressed_in_.consume(compressed_in_.size());
  compressed_in_.release_if_empty();
}

std::error_code MysqlConnection::fail(std::error_code code, MysqlError error) {
  close(std::move(error));
  return code;
}

std::error_code MysqlConnection::fail_io(std::error_code io, std::string_view during) {
  const bool opening = state_ == State::Opening;
  std::string what = io == std::errc::timed_out
                         ? "timed out after " + milliseconds_text(opening ? rt::Clock::duration(limits_.connect_timeout)
                                                                            : operation_timeout_)
                         : io.message();
  const mysql::ErrorSpec& spec = opening ? kErrBackendUnavailable : kErrBackendLost;
  std::string message = opening ? "corral: backend " + describe_ + " unavailable: " + std::string(during) + ": " + what
                                : "corral: lost connection to backend " + describe_ + " " + std::string(during) +
                                      ": " + what;
  if (io != std::errc::operation_canceled) {
    count_error(io == std::errc::timed_out ? BackendError::Timeout : BackendError::BackendClosed);
  }
  // A cancelled operation is the caller's doing, not the backend's: the pool does not back off for it.
  const std::error_code code = io == std::errc::operation_canceled ? io
                               : opening ? make_error_code(MysqlBackendErrc::Unavailable)
                                         : make_error_code(MysqlBackendErrc::Lost);
  return fail(code, MysqlError{spec.code, std::string(spec.sql_state), std::move(message)});
}

std::error_code MysqlConnection::fail_protocol(mysql::Errc errc, std::string_view during) {
  count_error(BackendError::ProtocolError);
  std::string message = "corral: backend " + describe_ + " sent a malformed or unexpected packet during " +
                        std::string(during) + " (" + std::string(mysql::to_string(errc)) + ")";
  return fail(make_error_code(MysqlBackendErrc::Protocol),
              MysqlError{kErrBackendProtocol.code, std::string(kErrBackendProtocol.sql_state), std::move(message)});
}

std::error_code MysqlConnection::fail_server(std::string_view payload, std::string_view during) {
  auto err = mysql::decode_err_packet(payload, mysql::CLIENT_PROTOCOL_41);
  if (!err) return fail_protocol(err.error(), during);
  // The server's own text reaches the client unchanged (ERR 1045 "Access denied for user ...").
  MysqlError error{err->error_code, err->sql_state.empty() ? "HY000" : std::string(err->sql_state),
                   std::string(err->error_message)};
  rt::log::debug("mysql backend {}: {} refused: {} ({})", describe_, during, error.message, error.code);
  return fail(make_error_code(MysqlBackendErrc::ServerError), std::move(error));
}

// ---- socket helpers ------------------------------------------------------------------------------

rt::ReadAwaitable MysqlConnection::read_into_buffer(std::size_t needed, rt::Deadline deadline,
                                                   rt::CancelSource* cancel) {
  if (compressed_) {
    // The rest of the compressed packet at the front, whatever `needed` says of the packets in it.
    const auto header = mysql::decode_compressed_header(compressed_in_.readable());
    const std::size_t whole = header ? header->wire_size() : 0;
    const std::size_t have = compressed_in_.size();
    return stream_.read_some(compressed_in_.writable(std::max(kReadChunk, whole > have ? whole - have : 0)), deadline,
                             cancel);
  }
  const std::size_t want = std::max(kReadChunk, needed > in_.size() ? needed - in_.size() : 0);
  return stream_.read_some(in_.writable(want), deadline, cancel);
}

rt::Result<void> MysqlConnection::after_read(const rt::Result<std::size_t>& n) {
  const std::string_view during = state_ == State::Opening ? "during login" : "reading a response";
  if (!n) return fail_io(n.error(), during);
  if (*n == 0) return fail_io(rt::make_error_code(rt::Errc::PeerClosed), during);
  if (!compressed_) {
    in_.commit(*n);
    return {};
  }
  compressed_in_.commit(*n);
  if (!inflate_buffered()) return fail_protocol(mysql::Errc::BadValue, "a compressed packet");
  return {};
}

void MysqlConnection::start_compression() {
  compressed_ = true;
  in_.move_readable_to(compressed_in_);  // anything after the login's OK is compressed already
}

bool MysqlConnection::inflate_buffered() {
  for (;;) {
    const std::string_view buffered = compressed_in_.readable();
    const auto header = mysql::decode_compressed_header(buffered);
    if (!header || header->wire_size() > buffered.size()) return true;
    const std::size_t size = header->content_size();
    const auto inflated = compressor().decompress(buffered, *header, in_.writable(size).first(size));
    if (!inflated) return false;
    in_.commit(size);
    compressed_in_.consume(header->wire_size());
    // What corral sends next in this exchange (LOCAL INFILE data) counts on from here.
    compressed_sequence_ = static_cast<std::uint8_t>(header->sequence_id + 1);
  }
}

std::string_view MysqlConnection::outgoing(std::string_view data) {
  if (!compressed_) return data;
  compressed_out_.clear();
  const std::array<std::string_view, 1> pieces{data};
  compressed_sequence_ = compressor().compress(compressed_out_, pieces, compressed_sequence_);
  return compressed_out_;
}

rt::Result<void> MysqlConnection::after_write(const rt::Result<void>& written) {
  if (!written) return fail_io(written.error(), state_ == State::Opening ? "during login" : "writing a command");
  return {};
}

rt::Task<rt::Result<void>> MysqlConnection::fill(std::size_t needed, rt::Deadline deadline, rt::CancelSource* cancel) {
  const auto n = co_await read_into_buffer(needed, deadline, cancel);
  co_return after_read(n);
}

rt::Task<rt::Result<void>> MysqlConnection::write_bytes(std::string_view data, rt::Deadline deadline,
                                                        rt::CancelSource* cancel) {
  const auto written = co_await stream_.write_all(outgoing(data), deadline, cancel);
  co_return after_write(written);
}

rt::Task<rt::Result<MysqlConnection::AuthPacket>> MysqlConnection::read_logical(rt::Deadline deadline,
                                                                                rt::CancelSource* cancel) {
  for (;;) {
    const mysql::LogicalPacket packet = mysql::read_logical_packet(in_.readable(), codec_limits_, scratch_);
    if (packet.status == mysql::FrameStatus::Packet) {
      AuthPacket out{std::string(packet.payload), packet.last_sequence_id};
      in_.consume(packet.consumed);
      co_return out;
    }
    if (packet.status == mysql::FrameStatus::Error) co_return fail_protocol(packet.error, "login");
    auto filled = co_await fill(0, deadline, cancel);
    if (!filled) co_return filled.error();
  }
}

// ---- login (Connection Phase) --------------------------------------------------------------------

rt::Task<rt::Result<void>> MysqlConnection::open(const MysqlKey& key, rt::SocketAddress address,
                                                 rt::CancelSource* cancel) {
  co_return co_await open_with(&key, nullptr, address, cancel);
}

rt::Task<rt::Result<void>> MysqlConnection::open_relayed(MysqlLoginRelay& relay, rt::SocketAddress address,
                                                         rt::CancelSource* cancel) {
  co_return co_await open_with(nullptr, &relay, address, cancel);
}

rt::Task<rt::Result<void>> MysqlConnection::open_with(const MysqlKey* key, MysqlLoginRelay* relay,
                                                      rt::SocketAddress address, rt::CancelSource* cancel) {
  if (state_ != State::New) co_return make_error_code(MysqlBackendErrc::NotIdle);
  state_ = State::Opening;
  opened_at_ = rt::Clock::now();
  if (key != nullptr) {
    auto checked = adopt_key(*key);
    if (!checked) co_return checked.error();
  } else {
    describe_ = "(login) " + address.to_string();
  }
  // One deadline for connect, greeting, authentication and session setup; a relayed login gets a new
  // one after each answer of its client (who may take its time).
  rt::Deadline deadline = rt::Deadline::after(limits_.connect_timeout);
  auto connected = co_await rt::TcpStream::connect(*rt::EventLoop::current(), address, deadline, cancel);
  if (!connected) co_return fail_io(connected.error(), "connect");
  if (state_ == State::Closed) co_return make_error_code(MysqlBackendErrc::Lost);  // closed meanwhile
  stream_ = std::move(*connected);
  stream_.count_tls_handshakes(counters_ != nullptr ? &counters_->tls : nullptr);
  server_address_ = address.to_string();
  auto authenticated = co_await authenticate(key, relay, deadline, cancel);
  if (!authenticated) co_return authenticated.error();
  key = *authenticated;
  scanner_ = mysql::ResponseScanner(mysql::Command::COM_SLEEP, capabilities_, codec_limits_);
  scanner_.check_sequence_ids(!compressed_);
  const rt::Clock::duration saved_timeout = operation_timeout_;
  operation_timeout_ = std::max<rt::Clock::duration>(deadline.at - rt::Clock::now(), rt::Clock::duration(1));
  state_ = State::Idle;
  auto set_up = co_await setup_session(*key, cancel);
  operation_timeout_ = saved_timeout;
  if (!set_up) co_return set_up.error();
  opened_autocommit_ = autocommit();
  trim();
  co_return rt::Result<void>{};
}

rt::Result<void> MysqlConnection::adopt_key(const MysqlKey& key) {
  describe_ = key.describe();
  schema_ = key.schema;
  charset_ = key.charset;
  if (!key.charset.empty() && !valid_charset_name(key.charset)) {
    return fail(make_error_code(MysqlBackendErrc::Unsupported),
                MysqlError{kErrBackendUnavailable.code, std::string(kErrBackendUnavailable.sql_state),
                           "corral: backend " + describe_ + ": invalid charset name '" + key.charset + "'"});
  }
  return {};
}

rt::Task<rt::Result<const MysqlKey*>> MysqlConnection::authenticate(const MysqlKey* key, MysqlLoginRelay* relay,
                                                                    rt::Deadline& deadline,
                                                                    rt::CancelSource* cancel) {
  auto greeting = co_await read_logical(deadline, cancel);
  if (!greeting) co_return greeting.error();
  // A server that refuses the connection outright (too many connections, host blocked) sends ERR first.
  if (mysql::is_err_packet(greeting->payload)) co_return fail_server(greeting->payload, "connection");
  auto handshake = mysql::decode_handshake_v10(greeting->payload);
  if (!handshake) {
    if (handshake.error() != mysql::Errc::BadProtocolVersion) co_return fail_protocol(handshake.error(), "greeting");
    co_return fail(make_error_code(MysqlBackendErrc::Unsupported),
                   MysqlError{kErrBackendAuthMode.code, std::string(kErrBackendAuthMode.sql_state),
                              "corral: backend " + describe_ + " speaks a protocol version other than 10"});
  }
  if ((handshake->capabilities & kRequiredServerCapabilities) != kRequiredServerCapabilities) {
    co_return fail(make_error_code(MysqlBackendErrc::Unsupported),
                   MysqlError{kErrBackendAuthMode.code, std::string(kErrBackendAuthMode.sql_state),
                              "corral: backend " + describe_ + " does not speak protocol 4.1"});
  }
  server_ = MysqlServerInfo{true, handshake->server_version, handshake->capabilities, handshake->character_set};
  connection_id_ = handshake->connection_id;
  // Corral's from the greeting on: a KILL corral hands the server never names it (mysql_own_threads.h).
  MysqlOwnThreads::of_process().add(server_address_, connection_id_);
  scramble_ = handshake->auth_plugin_data;

  std::string plugin;
  std::string token;
  // The server's own default collation: SET NAMES follows when the key names a charset.
  std::uint8_t collation = handshake->character_set != 0 ? handshake->character_set : mysql::kCollationUtf8mb4GeneralCi;
  if (relay != nullptr) {
    // The client answers the server's greeting (corral's carries the server's scramble); it says who
    // logs in, so the key comes from it.
    auto answer = co_await relay->greeted(*handshake);
    if (!answer) co_return fail_relay(answer.error());
    key = answer->key;
    auto checked = adopt_key(*key);
    if (!checked) co_return checked.error();
    plugin = std::move(answer->plugin);
    token = std::move(answer->auth_response);
    // The client's collation, as the server would get it direct: it refuses the ones its parser
    // cannot take (ucs2, utf16, utf32: ERR 1231) in its own words.
    if (answer->collation != 0) collation = answer->collation;
    deadline = rt::Deadline::after(limits_.connect_timeout);
  } else {
    // Answer in the server's default plugin when corral speaks it; otherwise offer a native token and
    // let the server switch (Authentication Method Mismatch). Holding only SHA1(password), corral
    // speaks only mysql_native_password.
    plugin = handshake->auth_plugin_name.empty() ? std::string(mysql::kMysqlNativePassword)
                                                 : handshake->auth_plugin_name;
    if (!supported_plugin(plugin) || !key->password_sha1.empty()) plugin = mysql::kMysqlNativePassword;
    // Holding an old password hash, corral answers in that plugin at once (the server takes the token
    // when the account has it, and switches otherwise).
    if (!key->old_password_hash.empty()) plugin = mysql::kMysqlOldPassword;
    auto made = auth_token(plugin, *key);
    if (!made) co_return made.error();
    token = std::move(*made);
  }

  mysql::CapabilityFlags wanted = kCorralCapabilities | key->format_capabilities();
  if (!key->schema.empty()) wanted |= mysql::CLIENT_CONNECT_WITH_DB;
  capabilities_ = wanted & handshake->capabilities;

  mysql::HandshakeResponse41 response;
  response.capabilities = capabilities_;
  response.max_packet_size = static_cast<std::uint32_t>(
      std::min<std::size_t>(codec_limits_.max_packet_size, std::size_t{0xffffffff}));
  response.character_set = collation;
  auto response_sequence = static_cast<std::uint8_t>(greeting->sequence_id + 1);
  auto secured = co_await start_tls(*key, response, handshake->capabilities, response_sequence, deadline, cancel);
  if (!secured) co_return secured.error();
  response.capabilities = capabilities_;
  response.username = key->user;
  response.auth_response = std::move(token);
  response.database = key->schema;
  response.auth_plugin_name = plugin;
  response.connect_attrs = {{"_client_name", "corral"}};
  out_.clear();
  const std::size_t at = mysql::begin_packet(out_);
  mysql::encode_handshake_response41(out_, response, handshake->capabilities);
  mysql::finish_packet(out_, at, response_sequence);
  auto sent = co_await write_bytes(out_, deadline, cancel);
  if (!sent) co_return sent.error();

  for (int round = 0; round < kMaxAuthRoundTrips; ++round) {
    auto reply = co_await read_logical(deadline, cancel);
    if (!reply) co_return reply.error();
    const auto next_sequence = static_cast<std::uint8_t>(reply->sequence_id + 1);
    switch (mysql::classify_auth_packet(reply->payload)) {
      case mysql::AuthPacketKind::Ok: {
        auto ok = mysql::decode_ok_packet(reply->payload, capabilities_);
        if (!ok) co_return fail_protocol(ok.error(), "login");
        status_flags_ = ok->status_flags;
        auth_plugin_ = plugin;
        // The OK itself came uncompressed; everything after it is compressed.
        if ((capabilities_ & mysql::CLIENT_COMPRESS) != 0) start_compression();
        co_return key;
      }
      case mysql::AuthPacketKind::Err:
        co_return fail_server(reply->payload, "login");
      case mysql::AuthPacketKind::AuthSwitchRequest: {
        // Protocol::AuthSwitchRequest: answer with the named plugin's token over the new scramble.
        auto request = mysql::decode_auth_switch_request(reply->payload);
        if (!request) co_return fail_protocol(request.error(), "auth switch");
        plugin = request->plugin_name;
        // A lone 0xFE (old password switch) carries no scramble: the greeting's one goes on.
        if (!request->plugin_data.empty()) scramble_ = std::string(mysql::scramble_from_plugin_data(request->plugin_data));
        if (relay != nullptr) {
          auto relayed = co_await relay_auth_packet(*relay, reply->payload, true, next_sequence, deadline, cancel);
          if (!relayed) co_return relayed.error();
          break;
        }
        auto switched = auth_token(plugin, *key);
        if (!switched) co_return switched.error();
        auto answered = co_await send_auth_data(*switched, next_sequence, deadline, cancel);
        if (!answered) co_return answered.error();
        break;
      }
      case mysql::AuthPacketKind::AuthMoreData: {
        auto data = mysql::decode_auth_more_data(reply->payload);
        if (!data || plugin != mysql::kCachingSha2Password) {
          co_return fail_protocol(data ? mysql::Errc::UnexpectedPacket : data.error(), "login");
        }
        if (relay != nullptr) {
          const bool full_auth =
              data->size() == 1 && static_cast<std::uint8_t>((*data)[0]) == mysql::kCachingSha2PerformFullAuth;
          if (full_auth && relay->client_on_tls() && !stream_.is_tls()) {
            // The client would answer with its password in clear, fit for its TLS link but not for
            // this plain one: refused before the client is asked.
            co_return fail(make_error_code(MysqlBackendErrc::Unsupported),
                           MysqlError{kErrBackendAuthMode.code, std::string(kErrBackendAuthMode.sql_state),
                                      "corral: backend " + describe_ +
                                          " asks for the full caching_sha2_password authentication, which would "
                                          "send the client's password in clear over corral's unencrypted "
                                          "connection to it (set ssl-mode=REQUIRED or stricter on the backend URL)"});
          }
          // Only "fast path accepted" (0x03) is not answered: the OK follows it.
          const bool answered_by_client =
              !(data->size() == 1 && static_cast<std::uint8_t>((*data)[0]) == mysql::kCachingSha2FastAuthSuccess);
          auto relayed = co_await relay_auth_packet(*relay, reply->payload, answered_by_client, next_sequence,
                                                    deadline, cancel);
          if (!relayed) co_return relayed.error();
          break;
        }
        auto answered = co_await answer_auth_more_data(*data, key->password, next_sequence, deadline, cancel);
        if (!answered) co_return answered.error();
        break;
      }
      case mysql::AuthPacketKind::Unknown:
        co_return fail_protocol(mysql::Errc::UnexpectedPacket, "login");
    }
  }
  co_return fail_protocol(mysql::Errc::LimitExceeded, "login");
}

rt::Task<rt::Result<void>> MysqlConnection::start_tls(const MysqlKey& key, const mysql::HandshakeResponse41& response,
                                                      mysql::CapabilityFlags server_capabilities,
                                                      std::uint8_t& sequence_id, rt::Deadline deadline,
                                                      rt::CancelSource* cancel) {
  if (key.ssl_mode == config::MysqlSslMode::Disabled) co_return rt::Result<void>{};
  const std::string mode = "ssl-mode=" + std::string(config::to_string(key.ssl_mode));
  if ((server_capabilities & mysql::CLIENT_SSL) == 0) {
    if (key.ssl_mode == config::MysqlSslMode::Preferred) co_return rt::Result<void>{};
    co_return fail(make_error_code(MysqlBackendErrc::Unavailable),
                   MysqlError{kErrBackendUnavailable.code, std::string(kErrBackendUnavailable.sql_state),
                              "corral: backend " + describe_ + " unavailable: " + mode +
                                  ", but the server does not offer TLS (give it ssl_cert and ssl_key)"});
  }
  if (key.tls == nullptr) {
    co_return fail(make_error_code(MysqlBackendErrc::Unsupported),
                   MysqlError{kErrBackendUnavailable.code, std::string(kErrBackendUnavailable.sql_state),
                              "corral: backend " + describe_ + ": " + mode + " without a TLS context"});
  }
  // The greeting is all a server sends before the client speaks: anything more is out of step, and
  // would be lost to OpenSSL, which reads the socket itself.
  if (!in_.empty()) co_return fail_protocol(mysql::Errc::UnexpectedPacket, "greeting");
  // SSLRequest (Protocol::SSLRequest): the response's first 32 bytes with CLIENT_SSL, then the TLS
  // handshake; the full response follows inside TLS with the next sequence id.
  capabilities_ |= mysql::CLIENT_SSL;
  mysql::HandshakeResponse41 request = response;
  request.capabilities = capabilities_;
  out_.clear();
  const std::size_t at = mysql::begin_packet(out_);
  mysql::encode_ssl_request(out_, request, server_capabilities);
  mysql::finish_packet(out_, at, sequence_id);
  auto sent = co_await write_bytes(out_, deadline, cancel);
  if (!sent) co_return sent.error();
  const auto shaken = co_await stream_.start_tls_client(*key.tls, key.host, deadline, cancel);
  if (!shaken) co_return fail_io(shaken.error(), "TLS handshake (" + mode + ")");
  ++sequence_id;
  co_return rt::Result<void>{};
}

rt::Task<rt::Result<void>> MysqlConnection::relay_auth_packet(MysqlLoginRelay& relay, std::string_view payload,
                                                              bool answered, std::uint8_t sequence_id,
                                                              rt::Deadline& deadline, rt::CancelSource* cancel) {
  auto reply = co_await relay.exchange(payload, answered);
  if (!reply) co_return fail_relay(reply.error());
  if (!answered) co_return rt::Result<void>{};
  deadline = rt::Deadline::after(limits_.connect_timeout);
  co_return co_await send_auth_data(*reply, sequence_id, deadline, cancel);
}

std::error_code MysqlConnection::fail_relay(std::error_code code) {
  return fail(code, MysqlError{kErrBackendUnavailable.code, std::string(kErrBackendUnavailable.sql_state),
                               "corral: the client left during its login to backend " + describe_});
}

rt::Result<std::string> MysqlConnection::auth_token(std::string_view plugin, const MysqlKey& key) {
  if (plugin == mysql::kMysqlOldPassword && key.password_sha1.empty()) {
    // mysql_old_password (pre-4.1): 8 bytes and the NUL servers expect after them; an empty password
    // answers with nothing.
    const std::string stored =
        !key.old_password_hash.empty() ? key.old_password_hash
                                       : (key.password.empty() ? std::string() : mysql::old_password_hash(key.password));
    if (stored.empty()) return std::string();
    return mysql::old_password_token_from_hash(stored, scramble_) + '\0';
  }
  if (!key.old_password_hash.empty()) {
    return fail(make_error_code(MysqlBackendErrc::Unsupported),
                MysqlError{kErrBackendAuthMode.code, std::string(kErrBackendAuthMode.sql_state),
                           "corral: backend " + describe_ + " asks for authentication plugin '" + std::string(plugin) +
                               "' on a new connection, but corral holds only a mysql_old_password equivalent of "
                               "this user's password"});
  }
  if (!key.password_sha1.empty()) {
    if (plugin == mysql::kMysqlNativePassword) return mysql::native_password_token_from_sha1(key.password_sha1, scramble_);
    // SHA1(password) proves nothing to another plugin; the client's own login did (auth = "backend").
    return fail(make_error_code(MysqlBackendErrc::Unsupported),
                MysqlError{kErrBackendAuthMode.code, std::string(kErrBackendAuthMode.sql_state),
                           "corral: backend " + describe_ + " asks for authentication plugin '" + std::string(plugin) +
                               "' on a new connection, but corral holds only a mysql_native_password equivalent of "
                               "this user's password"});
  }
  if (plugin == mysql::kMysqlNativePassword) return mysql::native_password_token(key.password, scramble_);
  if (plugin == mysql::kCachingSha2Password) return mysql::caching_sha2_token(key.password, scramble_);
  // mysql_clear_password, dialog, client_ed25519, sha256_password: not spoken (and no clear text on the wire).
  return fail(make_error_code(MysqlBackendErrc::Unsupported),
              MysqlError{kErrBackendAuthMode.code, std::string(kErrBackendAuthMode.sql_state),
                         "corral: backend " + describe_ + " asks for authentication plugin '" + std::string(plugin) +
                             "', which corral does not support (use mysql_native_password or "
                             "caching_sha2_password)"});
}

rt::Task<rt::Result<void>> MysqlConnection::send_auth_data(std::string_view data, std::uint8_t sequence_id,
                                                           rt::Deadline deadline, rt::CancelSource* cancel) {
  out_.clear();
  mysql::append_packet(out_, sequence_id, data);
  co_return co_await write_bytes(out_, deadline, cancel);
}

rt::Task<rt::Result<void>> MysqlConnection::answer_auth_more_data(std::string_view data, std::string_view password,
                                                                  std::uint8_t sequence_id, rt::Deadline deadline,
                                                                  rt::CancelSource* cancel) {
  // caching_sha2_password (Caching_sha2_password information): 0x03 = fast path accepted, an OK
  // follows; 0x04 = full authentication: over TLS send the password, without TLS ask for the server's
  // RSA public key (0x02), then send RSA_PKCS1_OAEP((password + NUL) XOR scramble).
  if (data.size() == 1 && static_cast<std::uint8_t>(data[0]) == mysql::kCachingSha2FastAuthSuccess) {
    co_return rt::Result<void>{};
  }
  if (data.size() == 1 && static_cast<std::uint8_t>(data[0]) == mysql::kCachingSha2PerformFullAuth) {
    if (stream_.is_tls()) {
      // Over TLS the password itself, NUL-terminated, as the protocol allows: no key exchange.
      std::string clear(password);
      clear.push_back('\0');
      co_return co_await send_auth_data(clear, sequence_id, deadline, cancel);
    }
    const char request = static_cast<char>(mysql::kCachingSha2RequestPublicKey);
    co_return co_await send_auth_data(std::string_view(&request, 1), sequence_id, deadline, cancel);
  }
  auto key = mysql::RsaKey::from_public_pem(data);
  if (!key) co_return fail_protocol(key.error(), "caching_sha2_password public key");
  auto encrypted = mysql::encrypt_password_rsa(*key, password, scramble_);
  if (!encrypted) co_return fail_protocol(encrypted.error(), "caching_sha2_password encryption");
  co_return co_await send_auth_data(*encrypted, sequence_id, deadline, cancel);
}

rt::Task<rt::Result<void>> MysqlConnection::setup_session(const MysqlKey& key, rt::CancelSource* cancel) {
  // One statement, one round trip: tracking on, then the charset.
  std::string sql;
  if (session_tracking()) sql = has_query_cache(server_) ? kSessionTrackSql : kSessionTrackSqlWithoutQueryCache;
  if (!key.charset.empty()) sql.append(sql.empty() ? "SET NAMES " : ", NAMES ").append(key.charset);
  if (sql.empty()) co_return rt::Result<void>{};
  auto outcome = co_await query(sql, cancel);
  if (!outcome) co_return outcome.error();
  if (outcome->error) {
    MysqlError error = std::move(*outcome->error);
    error.message = "corral: session setup on backend " + describe_ + " failed: " + error.message;
    co_return fail(make_error_code(MysqlBackendErrc::ServerError), std::move(error));
  }
  charset_ = key.charset;
  charset_changed_ = false;
  // The tracker reported the transaction-info setting the IF() chose, and the IF() read the cache.
  query_cache_on_ = session_tracking() && !tracks_transaction_characteristics_;
  co_return rt::Result<void>{};
}

std::optional<std::string_view> MysqlConnection::tracking_to_match_query_cache() const noexcept {
  if (!session_tracking() || tracking_refused_ || query_cache_on_ != tracks_transaction_characteristics_) {
    return std::nullopt;
  }
  return query_cache_on_ ? kUntrackTransactionInfo : kTrackTransactionInfo;
}

// ---- commands and responses (Command Phase) ------------------------------------------------------

namespace {

/// True for a COM_STMT_EXECUTE whose flags ask for a cursor (COM_STMT_EXECUTE: int<1> command,
/// int<4> statement_id, int<1> flags). `payload` may be a multi-packet command's first wire payload.
bool cursor_requested(std::string_view payload) noexcept {
  constexpr std::size_t kFlagsAt = 5;
  return payload.size() > kFlagsAt &&
         static_cast<mysql::Command>(payload[0]) == mysql::Command::COM_STMT_EXECUTE &&
         (static_cast<std::uint8_t>(payload[kFlagsAt]) & mysql::CURSOR_TYPE_READ_ONLY) != 0;
}

}  // namespace

void MysqlConnection::consume_returned_packet() noexcept {
  in_.consume(returned_bytes_);
  returned_bytes_ = 0;
}

rt::Result<void> MysqlConnection::ready_for_command() {
  consume_returned_packet();
  if (state_ == State::Closed) return make_error_code(MysqlBackendErrc::Lost);
  if (state_ != State::Idle) return make_error_code(MysqlBackendErrc::NotIdle);
  // An idle server sends nothing; bytes here mean it closed the session (ERR before disconnect) or
  // the stream is out of step. Either way nothing after them can be trusted.
  if (!in_.empty() || !compressed_in_.empty()) return fail_protocol(mysql::Errc::UnexpectedPacket, "idle time");
  compressed_sequence_ = 0;  // a command starts a new exchange
  return {};
}

rt::Result<void> MysqlConnection::begin_command(mysql::Command command, std::uint8_t first_response_sequence,
                                                bool cursor_requested) {
  auto ready = ready_for_command();
  if (!ready) return ready;
  if (command == mysql::Command::COM_CHANGE_USER || command == mysql::Command::COM_RESET_CONNECTION) {
    state_unknown_ = true;
  }
  scanner_.reset(command, first_response_sequence, cursor_requested);
  session_changes_ = {};
  state_ = mysql::expects_response(command) ? State::Busy : State::Idle;
  if (counters_ != nullptr) command_started_ = rt::EventLoop::current()->now();
  return {};
}

rt::Task<rt::Result<void>> MysqlConnection::send_command(std::string_view payload, rt::CancelSource* cancel) {
  if (payload.empty()) co_return make_error_code(MysqlBackendErrc::NotIdle);
  out_.clear();
  const std::uint8_t next = mysql::append_packet(out_, 0, payload);
  auto begun = begin_command(static_cast<mysql::Command>(payload[0]), next, cursor_requested(payload));
  if (!begun) co_return begun.error();
  co_return co_await write_bytes(out_, io_deadline(), cancel);
}

rt::Task<rt::Result<void>> MysqlConnection::send_silent_commands(std::string_view packets, rt::CancelSource* cancel) {
  if (packets.size() <= mysql::kPacketHeaderSize) co_return make_error_code(MysqlBackendErrc::Protocol);
  const auto command = static_cast<mysql::Command>(packets[mysql::kPacketHeaderSize]);
  if (mysql::expects_response(command)) co_return make_error_code(MysqlBackendErrc::Protocol);
  auto ready = ready_for_command();
  if (!ready) co_return ready.error();
  co_return co_await write_bytes(packets, io_deadline(), cancel);
}

rt::Task<rt::Result<void>> MysqlConnection::send_command_wire(std::string_view wire, rt::CancelSource* cancel) {
  // Check the client's bytes are exactly one logical packet before anything reaches the backend.
  mysql::PacketFramer framer(codec_limits_);
  std::size_t offset = 0;
  std::uint8_t last_sequence = 0;
  bool ended = false;
  while (!ended && offset < wire.size()) {
    const mysql::FrameResult frame = framer.next(wire.substr(offset));
    if (frame.status != mysql::FrameStatus::Packet) break;
    last_sequence = frame.packet.sequence_id;
    ended = !frame.packet.continues();
    offset += frame.packet.size();
  }
  if (!ended || offset != wire.size() || wire.size() <= mysql::kPacketHeaderSize) {
    co_return make_error_code(MysqlBackendErrc::Protocol);  // the caller's bytes; the connection is untouched
  }
  const auto command = static_cast<mysql::Command>(wire[mysql::kPacketHeaderSize]);
  auto begun = begin_command(command, static_cast<std::uint8_t>(last_sequence + 1),
                             cursor_requested(wire.substr(mysql::kPacketHeaderSize)));
  if (!begun) co_return begun.error();
  const auto written = co_await stream_.write_all(outgoing(wire), io_deadline(), cancel);
  co_return after_write(written);
}

rt::Task<rt::Result<void>> MysqlConnection::send_wire(std::string_view wire, rt::CancelSource* cancel) {
  if (state_ != State::AwaitingClient) {
    co_return make_error_code(state_ == State::Closed ? MysqlBackendErrc::Lost : MysqlBackendErrc::NotIdle);
  }
  co_return co_await write_bytes(wire, io_deadline(), cancel);
}

void MysqlConnection::resume(std::uint8_t next_sequence_id) noexcept {
  if (state_ != State::AwaitingClient) return;
  scanner_.resume(next_sequence_id);
  state_ = State::Busy;
}

rt::Result<std::optional<ResponsePacket>> MysqlConnection::poll_response_packet() {
  consume_returned_packet();
  if (state_ == State::Closed) return make_error_code(MysqlBackendErrc::Lost);
  if (state_ != State::Busy) return make_error_code(MysqlBackendErrc::NotIdle);
  mysql::ResponseScanner::ScanResult scan = scanner_.scan(in_.readable());
  if (scan.status == mysql::FrameStatus::NeedMore) {
    response_needed_ = scan.needed;
    return std::optional<ResponsePacket>{};
  }
  if (scan.status == mysql::FrameStatus::Error) return fail_protocol(scan.error, "a response");
  returned_bytes_ = scan.packet.size();
  if (scanner_.complete()) {
    on_response_complete();
  } else if (scanner_.awaiting_client()) {
    state_ = State::AwaitingClient;
  }
  return std::optional<ResponsePacket>(ResponsePacket{scan.packet, *scan.event});
}

rt::Result<RelayRun> MysqlConnection::poll_response_run() {
  consume_returned_packet();
  if (state_ == State::Closed) return make_error_code(MysqlBackendErrc::Lost);
  if (state_ != State::Busy) return make_error_code(MysqlBackendErrc::NotIdle);
  const std::string_view buffered = in_.readable();
  if (buffered.empty()) {
    // Right after the command is sent: nothing to scan yet.
    response_needed_ = mysql::kPacketHeaderSize;
    return RelayRun{};
  }
  const mysql::ScannedRun scanned = scanner_.scan_run(buffered);
  if (scanned.status == mysql::FrameStatus::NeedMore) {
    response_needed_ = scanned.needed;
    return RelayRun{};
  }
  if (scanned.status == mysql::FrameStatus::Error) return fail_protocol(scanned.error, "a response");
  returned_bytes_ = scanned.size;
  RelayRun run;
  run.wire = buffered.substr(0, scanned.size);
  run.last_packet = scanned.last_packet;
  if (!scanned.has_event) return run;
  run.event = &scanner_.event();
  if (scanner_.complete()) {
    on_response_complete();
  } else if (scanner_.awaiting_client()) {
    state_ = State::AwaitingClient;
  }
  return run;
}

rt::Task<rt::Result<void>> MysqlConnection::read_response_bytes(rt::CancelSource* cancel) {
  consume_returned_packet();
  if (state_ == State::Closed) co_return make_error_code(MysqlBackendErrc::Lost);
  if (state_ != State::Busy) co_return make_error_code(MysqlBackendErrc::NotIdle);
  // The deadline bounds silence, not the whole response: a long result set keeps streaming.
  const auto n = co_await read_into_buffer(response_needed_, io_deadline(), cancel);
  co_return after_read(n);
}

rt::Task<rt::Result<ResponsePacket>> MysqlConnection::next_response_packet(rt::CancelSource* cancel) {
  for (;;) {
    auto polled = poll_response_packet();
    if (!polled) co_return polled.error();
    if (polled->has_value()) co_return std::move(**polled);
    auto filled = co_await read_response_bytes(cancel);
    if (!filled) co_return filled.error();
  }
}

void MysqlConnection::on_response_complete() {
  state_ = State::Idle;
  const mysql::ResponseSummary& summary = scanner_.summary();
  if (counters_ != nullptr) {
    // The loop's time (one iteration's resolution), as the client-seen request statistics use.
    counters_->figures.latency.observe(rt::EventLoop::current()->now() - command_started_);
    if (summary.failed) counters_->error(BackendError::ServerError);
  }
  if (summary.has_status) status_flags_ = summary.status_flags;
  follow_session_changes();
}

void MysqlConnection::follow_session_changes() {
  const std::string& block = scanner_.summary().session_state_info;
  if (block.empty()) return;
  auto changes = mysql::decode_session_state(block);
  if (!changes) {
    // The response itself was relayed; what it did to the session is unknown, so never lend this again.
    rt::log::warn("mysql backend {}: undecodable session state block ({})", describe_,
                  mysql::to_string(changes.error()));
    state_unknown_ = true;
    return;
  }
  session_changes_ = std::move(*changes);
  if (session_changes_.schema) schema_ = *session_changes_.schema;
  for (const auto& [name, value] : session_changes_.system_variables) {
    if (is_charset_variable(name)) charset_changed_ = true;
    if (name == "query_cache_type") query_cache_on_ = value != "OFF";
    if (name == "session_track_transaction_info") tracks_transaction_characteristics_ = value != "OFF";
  }
}

rt::Task<rt::Result<QueryOutcome>> MysqlConnection::query(std::string_view sql, rt::CancelSource* cancel) {
  std::string payload;
  mysql::encode_com_query(payload, sql, capabilities_);
  co_return co_await run(std::move(payload), cancel);
}

rt::Task<rt::Result<QueryOutcome>> MysqlConnection::run(std::string payload, rt::CancelSource* cancel) {
  auto sent = co_await send_command(payload, cancel);
  if (!sent) co_return sent.error();
  QueryOutcome outcome;
  std::vector<mysql::TextValue> values;
  std::uint64_t columns = 0;
  while (state_ == State::Busy) {
    auto packet = co_await next_response_packet(cancel);
    if (!packet) co_return packet.error();
    const std::string_view payload_view = packet->packet.payload();
    switch (packet->event.phase) {
      case mysql::ResponsePhase::ColumnCount:
        columns = packet->event.column_count;
        outcome.columns.clear();
        break;
      case mysql::ResponsePhase::ColumnDefinition: {
        auto column = mysql::decode_column_definition(payload_view, capabilities_);
        if (!column) co_return fail_protocol(column.error(), "a column definition");
        outcome.columns.emplace_back(column->name);
        break;
      }
      case mysql::ResponsePhase::Row: {
        if (packet->packet.continues()) co_return fail_protocol(mysql::Errc::PacketTooLarge, "a row of corral's query");
        const mysql::Errc decoded = mysql::decode_text_row(payload_view, static_cast<std::size_t>(columns), values);
        if (decoded != mysql::Errc::Ok) co_return fail_protocol(decoded, "a row");
        auto& row = outcome.rows.emplace_back();
        row.reserve(values.size());
        for (const mysql::TextValue& value : values) {
          row.push_back(value ? std::optional<std::string>(std::string(*value)) : std::nullopt);
        }
        break;
      }
      case mysql::ResponsePhase::LocalInfileRequest:
        // corral never sends LOAD DATA LOCAL itself; a server asking is out of step.
        co_return fail_protocol(mysql::Errc::UnexpectedPacket, "corral's own statement");
      default:
        break;
    }
  }
  if (state_ != State::Idle) co_return fail_protocol(mysql::Errc::UnexpectedPacket, "corral's own statement");
  const mysql::ResponseSummary& summary = scanner_.summary();
  if (summary.failed) {
    outcome.error = MysqlError{summary.error_code, summary.sql_state.empty() ? "HY000" : summary.sql_state,
                               summary.error_message};
  }
  outcome.affected_rows = summary.affected_rows;
  outcome.last_insert_id = summary.last_insert_id;
  outcome.warnings = summary.warnings;
  outcome.status_flags = status_flags_;
  outcome.result_sets = summary.result_sets;
  co_return outcome;
}

// ---- schema and charset --------------------------------------------------------------------------

bool MysqlConnection::conforms_to(const MysqlKey& key) const noexcept {
  return schema_ == key.schema && charset_ == key.charset && !charset_changed_;
}

bool MysqlConnection::can_conform_to(const MysqlKey& key) const noexcept {
  if (state_ != State::Idle || state_unknown_) return false;
  const bool schema_ok = schema_ == key.schema || !key.schema.empty();  // COM_INIT_DB cannot unselect
  const bool charset_ok = (charset_ == key.charset && !charset_changed_) ||
                          (!key.charset.empty() && valid_charset_name(key.charset));  // no way back to "default"
  return schema_ok && charset_ok;
}

rt::Task<rt::Result<QueryOutcome>> MysqlConnection::conform_to(const MysqlKey& key, rt::CancelSource* cancel) {
  if (!can_conform_to(key)) {
    co_return make_error_code(state_ == State::Closed ? MysqlBackendErrc::Lost : MysqlBackendErrc::NotIdle);
  }
  QueryOutcome outcome;
  if (schema_ != key.schema) {
    std::string payload;
    mysql::encode_com_init_db(payload, key.schema);
    auto changed = co_await run(std::move(payload), cancel);
    if (!changed) co_return changed.error();
    if (changed->error) co_return std::move(*changed);
    schema_ = key.schema;  // session tracking says so too; this also covers servers without it
    outcome = std::move(*changed);
  }
  if (charset_ != key.charset || charset_changed_) {
    auto named = co_await query("SET NAMES " + key.charset, cancel);
    if (!named) co_return named.error();
    if (named->error) co_return std::move(*named);
    charset_ = key.charset;
    charset_changed_ = false;
    outcome = std::move(*named);
  }
  describe_ = key.describe();
  co_return outcome;
}

// ---- idle care -----------------------------------------------------------------------------------

bool MysqlConnection::idle_healthy() noexcept {
  if (state_ != State::Idle || state_unknown_) return false;
  if (in_.size() > returned_bytes_ || !compressed_in_.empty()) return false;  // the server spoke while nobody asked
  rt::IoHandle* io = stream_.io();
  if (io == nullptr) return false;
  // No readiness edge since the last drained read: nothing arrived, no FIN. Otherwise look.
  if (!io->readable) return true;
  char byte = 0;
  const ssize_t n = ::recv(io->fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
    io->readable = false;
    return true;
  }
  return false;  // EOF, an unsolicited packet (an ERR before the server hung up) or a socket error
}

void MysqlConnection::trim() noexcept {
  consume_returned_packet();
  in_.release_if_empty();
  compressed_in_.release_if_empty();
  if (out_.capacity() > kKeepBufferBytes) std::string().swap(out_);
  if (compressed_out_.capacity() > kKeepBufferBytes) std::string().swap(compressed_out_);
  if (scratch_.capacity() > kKeepBufferBytes) std::string().swap(scratch_);
}

}  // namespace corral::pool
