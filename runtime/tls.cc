#include "runtime/tls.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstring>
#include <optional>

#include "runtime/tcp.h"

namespace corral::rt {

namespace {

class TlsCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int value) const override {
    const char* reason = ERR_reason_error_string(static_cast<unsigned long>(value));
    return reason ? reason : "TLS error " + std::to_string(value);
  }
};

class TlsVerifyCategory final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls-verify"; }
  std::string message(int value) const override {
    return std::string("certificate verify failed: ") + X509_verify_cert_error_string(value);
  }
};

/// The last error of OpenSSL's queue as an error_code (packed codes fit in 31 bits).
std::error_code last_tls_error() noexcept {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  if (code == 0) return make_error_code(Errc::PeerClosed);
  return {static_cast<int>(code & 0x7fffffffUL), tls_category()};
}

std::string reason_text() {
  const unsigned long code = ERR_peek_last_error();
  ERR_clear_error();
  const char* reason = code ? ERR_reason_error_string(code) : nullptr;
  return reason ? reason : "unknown OpenSSL error";
}

/// Settles an SSL call that returned `ret` <= 0 for an operation waiting in the reader slot
/// (`in_writer_slot` false) or the writer slot. Returns nullopt when it must wait for an edge
/// (the direction OpenSSL asked for is marked drained and, if it is not the slot's own, flagged so
/// the other edge retries it), else the error.
std::optional<std::error_code> settle(IoHandle& io, int ret, bool in_writer_slot) {
  const int saved_errno = errno;
  switch (SSL_get_error(io.tls, ret)) {
    case SSL_ERROR_WANT_READ:
      io.readable = false;
      if (in_writer_slot) io.writer_wants_read = true;
      return std::nullopt;
    case SSL_ERROR_WANT_WRITE:
      io.writable = false;
      if (!in_writer_slot) io.reader_wants_write = true;
      return std::nullopt;
    case SSL_ERROR_ZERO_RETURN: ERR_clear_error(); return make_error_code(Errc::PeerClosed);
    case SSL_ERROR_SYSCALL:
      if (ERR_peek_last_error() != 0) return last_tls_error();
      return saved_errno != 0 ? errno_code(saved_errno) : make_error_code(Errc::PeerClosed);
    default: {
      const long verify = SSL_get_verify_result(io.tls);
      if (verify != X509_V_OK) {
        ERR_clear_error();
        return std::error_code(static_cast<int>(verify), tls_verify_category());
      }
      return last_tls_error();
    }
  }
}

/// Starts an operation in the reader (writer) slot: clears the other-direction flag of that slot.
void begin(IoHandle& io, bool in_writer_slot) noexcept {
  (in_writer_slot ? io.writer_wants_read : io.reader_wants_write) = false;
  ERR_clear_error();
  errno = 0;  // SSL_ERROR_SYSCALL with errno 0 means the peer closed
}

/// Sends from `iov` (advanced in place) until it is empty (nullopt, *blocked false), OpenSSL waits for
/// an edge (nullopt, *blocked true) or an error. Small buffers are gathered into one TLS record: a
/// record per iovec would cost a MAC and a header each. A retry after WANT_WRITE gathers the same
/// prefix again (the iovecs only grow at the back), which is what SSL_write's retry rule needs.
std::optional<std::error_code> send_iov(IoHandle& io, std::span<iovec>& iov, bool* blocked) {
  constexpr std::size_t kRecord = 16 * 1024;
  thread_local char gather[kRecord];
  *blocked = false;
  while (!iov.empty()) {
    const char* data = static_cast<const char*>(iov.front().iov_base);
    std::size_t size = iov.front().iov_len;
    if (size < kRecord && iov.size() > 1) {
      size = 0;
      for (const iovec& part : iov) {
        const std::size_t take = std::min(part.iov_len, kRecord - size);
        std::memcpy(gather + size, part.iov_base, take);
        size += take;
        if (size == kRecord) break;
      }
      data = gather;
    }
    begin(io, true);
    const int n = SSL_write(io.tls, data, static_cast<int>(std::min<std::size_t>(size, INT_MAX)));
    if (n > 0) {
      detail::advance_iov(iov, static_cast<std::size_t>(n));
      continue;
    }
    auto error = settle(io, n, true);
    if (error) return error;
    *blocked = true;
    return std::nullopt;
  }
  return std::nullopt;
}

bool is_ip_address(const std::string& name) {
  unsigned char buffer[sizeof(in6_addr)];
  return ::inet_pton(AF_INET, name.c_str(), buffer) == 1 || ::inet_pton(AF_INET6, name.c_str(), buffer) == 1;
}

/// Settings shared by both sides: TLS 1.2+, no renegotiation (so a write never needs to read), partial
/// writes with a buffer that may move between retries (the awaitables resend from their span), and
/// a peer closing without close_notify reads as end of stream like a plain close.
SSL_CTX* new_context(const SSL_METHOD* method) {
  // OpenSSL's socket BIO writes with write(), not send(MSG_NOSIGNAL): a peer gone must not kill us.
  std::signal(SIGPIPE, SIG_IGN);
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (ctx == nullptr) return nullptr;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

/// Loads a certificate chain and its key; an error text names the file.
std::string load_identity(SSL_CTX* ctx, const TlsOptions& options) {
  if (SSL_CTX_use_certificate_chain_file(ctx, options.cert_file.c_str()) != 1) {
    return "cannot load the certificate chain " + options.cert_file + ": " + reason_text();
  }
  const std::string mismatch =
      "the private key " + options.key_file + " does not match the certificate " + options.cert_file;
  if (SSL_CTX_use_PrivateKey_file(ctx, options.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return mismatch;
    }
    return "cannot load the private key " + options.key_file + ": " + reason_text();
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    ERR_clear_error();
    return mismatch;
  }
  return {};
}

std::string load_ca(SSL_CTX* ctx, const std::string& ca_file) {
  if (SSL_CTX_load_verify_locations(ctx, ca_file.c_str(), nullptr) != 1) {
    return "cannot load the CA file " + ca_file + ": " + reason_text();
  }
  return {};
}

}  // namespace

const std::error_category& tls_category() noexcept {
  static const TlsCategory category;
  return category;
}

const std::error_category& tls_verify_category() noexcept {
  static const TlsVerifyCategory category;
  return category;
}

// ---- TlsContext ---------------------------------------------------------------------------------

void TlsContext::Free::operator()(ssl_ctx_st* ctx) const noexcept { SSL_CTX_free(ctx); }

TlsContext::~TlsContext() = default;

Result<TlsContext, std::string> TlsContext::server(const TlsOptions& options) {
  if (options.require_peer_cert && options.ca_file.empty()) {
    return std::string("requiring client certificates needs a client CA file");
  }
  SSL_CTX* raw = new_context(TLS_server_method());
  if (raw == nullptr) return "cannot create a TLS context: " + reason_text();
  TlsContext context(raw, !options.ca_file.empty());
  if (auto error = load_identity(raw, options); !error.empty()) return error;
  if (!options.ca_file.empty()) {
    if (auto error = load_ca(raw, options.ca_file); !error.empty()) return error;
    // Tell clients which CAs we accept (some pick their certificate by it).
    SSL_CTX_set_client_CA_list(raw, SSL_load_client_CA_file(options.ca_file.c_str()));
    const int mode = SSL_VERIFY_PEER | (options.require_peer_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
    SSL_CTX_set_verify(raw, mode, nullptr);
  }
  return context;
}

Result<TlsContext, std::string> TlsContext::client(const TlsOptions& options) {
  SSL_CTX* raw = new_context(TLS_client_method());
  if (raw == nullptr) return "cannot create a TLS context: " + reason_text();
  TlsContext context(raw, options.verify_peer, options.verify_host);
  if (!options.cert_file.empty()) {
    if (auto error = load_identity(raw, options); !error.empty()) return error;
  }
  if (!options.ca_file.empty()) {
    if (auto error = load_ca(raw, options.ca_file); !error.empty()) return error;
  } else if (options.verify_peer && SSL_CTX_set_default_verify_paths(raw) != 1) {
    return "cannot load the system's CA certificates: " + reason_text();
  }
  SSL_CTX_set_verify(raw, options.verify_peer ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, nullptr);
  return context;
}

// ---- TcpStream over TLS -------------------------------------------------------------------------

namespace {

/// Attaches a new OpenSSL session to `io`; the error when that fails.
std::error_code attach_session(IoHandle* io, const TlsContext& context) {
  if (io == nullptr) return std::make_error_code(std::errc::bad_file_descriptor);
  if (io->tls != nullptr) return std::make_error_code(std::errc::already_connected);
  ERR_clear_error();
  SSL* ssl = SSL_new(context.native());
  if (ssl == nullptr) return last_tls_error();
  io->tls = ssl;  // owned from here: freed with the stream
  if (SSL_set_fd(ssl, io->fd) != 1) return last_tls_error();
  // The socket may have been read before; the handshake starts with a try, not a wait for an edge.
  io->readable = true;
  return {};
}

}  // namespace

TlsHandshakeAwaitable TcpStream::start_tls_server(const TlsContext& context, Deadline deadline,
                                                  CancelSource* cancel) {
  std::error_code error = attach_session(io_.get(), context);
  if (!error) SSL_set_accept_state(io_->tls);
  return TlsHandshakeAwaitable(io_.get(), error, deadline, cancel);
}

TlsHandshakeAwaitable TcpStream::start_tls_client(const TlsContext& context, const std::string& server_name,
                                                  Deadline deadline, CancelSource* cancel) {
  std::error_code error = attach_session(io_.get(), context);
  if (!error) {
    SSL* ssl = io_->tls;
    SSL_set_connect_state(ssl);
    const bool ip = is_ip_address(server_name);
    // SNI carries host names only (RFC 6066).
    if (!server_name.empty() && !ip) SSL_set_tlsext_host_name(ssl, server_name.c_str());
    if (context.verifies_host() && !server_name.empty()) {
      const int set = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str())
                         : SSL_set1_host(ssl, server_name.c_str());
      if (set != 1) error = last_tls_error();
    }
  }
  return TlsHandshakeAwaitable(io_.get(), error, deadline, cancel);
}

TlsHandshakeAwaitable::TlsHandshakeAwaitable(IoHandle* io, std::error_code start_error, Deadline deadline,
                                             CancelSource* cancel)
    : SocketOp(io, false, deadline, cancel) {
  if (start_error) finish(start_error);
}

bool TlsHandshakeAwaitable::attempt() {
  begin(*io_, false);
  const int ret = SSL_do_handshake(io_->tls);
  if (ret == 1) {
    finish(Result<void>{});
    return true;
  }
  auto error = settle(*io_, ret, false);
  if (!error) return false;
  finish(*error);
  return true;
}

Result<void> TlsHandshakeAwaitable::await_resume() {
  Result<void> outcome = SocketOp::await_resume();
  if (io_ != nullptr && io_->tls_handshakes != nullptr) {
    (outcome ? io_->tls_handshakes->ok : io_->tls_handshakes->failed).fetch_add(1, std::memory_order_relaxed);
  }
  return outcome;
}

bool TcpStream::tls_has_pending() const noexcept { return io_ && io_->tls != nullptr && SSL_has_pending(io_->tls) == 1; }

bool ReadAwaitable::attempt_tls() {
  begin(*io_, false);
  const int n = SSL_read(io_->tls, buffer_.data(), static_cast<int>(std::min<std::size_t>(buffer_.size(), INT_MAX)));
  if (n > 0) {
    // Unlike a plain short read this says nothing about the socket: OpenSSL reads record by record.
    finish(static_cast<std::size_t>(n));
    return true;
  }
  auto error = settle(*io_, n, false);
  if (!error) return false;
  if (*error == Errc::PeerClosed) {
    finish(std::size_t{0});  // close_notify or a plain close: end of stream
  } else {
    finish(*error);
  }
  return true;
}

bool WriteAwaitable::attempt_tls() {
  while (!data_.empty()) {
    begin(*io_, true);
    const int n = SSL_write(io_->tls, data_.data(), static_cast<int>(std::min<std::size_t>(data_.size(), INT_MAX)));
    if (n > 0) {
      data_ = data_.subspan(static_cast<std::size_t>(n));
      continue;
    }
    auto error = settle(*io_, n, true);
    if (!error) return false;
    finish(*error);
    return true;
  }
  finish(Result<void>{});
  return true;
}

bool WritevAwaitable::attempt_tls() {
  bool blocked = false;
  auto error = send_iov(*io_, iov_, &blocked);
  if (blocked) return false;
  finish(error ? Result<void>{*error} : Result<void>{});
  return true;
}

Result<void> TcpStream::try_writev_tls(std::span<iovec>& iov) {
  bool blocked = false;
  auto error = send_iov(*io_, iov, &blocked);
  if (error) return *error;
  return Result<void>{};
}

}  // namespace corral::rt
