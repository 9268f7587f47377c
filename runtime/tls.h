// TLS on a TcpStream with OpenSSL, on the same awaitables as plain streams.
//
//   TlsContext (SSL_CTX: certificates, verification) ──► TcpStream::start_tls_server / start_tls_client
//   ──► handshake (SSL_do_handshake, waiting for the direction OpenSSL asks for) ──► IoHandle::tls set
//   ──► read_some / write_all / writev_all / try_writev go through SSL_read / SSL_write
//
// The OpenSSL session reads and writes the socket itself (non-blocking socket BIO); an operation that
// gets SSL_ERROR_WANT_READ/WANT_WRITE waits for that edge, whichever its own direction (IoHandle's
// reader_wants_write / writer_wants_read). A plain stream pays one branch on `io->tls` per operation.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

#include "runtime/result.h"

struct ssl_ctx_st;

namespace corral::rt {

/// Errors from OpenSSL's error queue: the value is the packed ERR code, the message its reason text.
const std::error_category& tls_category() noexcept;
/// A peer certificate refused: the value is the X509_V_ERR code, the message OpenSSL's text for it.
const std::error_category& tls_verify_category() noexcept;

/// Handshakes of the streams that count into it (TcpStream::count_tls_handshakes): a listener's clients,
/// a backend's connections. Relaxed atomics: bumped once per connection, read by the admin endpoint.
struct TlsHandshakeCounters {
  std::atomic<std::uint64_t> ok{0};
  std::atomic<std::uint64_t> failed{0};  // refused, broken, timed out or cancelled
};

/// What a TlsContext is built from. Paths are PEM files.
struct TlsOptions {
  std::string cert_file;    // certificate chain (server: required; client: optional client certificate)
  std::string key_file;     // private key of cert_file
  std::string ca_file;      // CAs to verify the peer with; empty: a client uses the system's default paths
  bool verify_peer = true;  // client: verify the server certificate chain
  bool verify_host = true;  // client, with verify_peer: the certificate must name the host given at start
  bool require_peer_cert = false;  // server: refuse clients without a certificate signed by ca_file
};

/// An SSL_CTX (RAII, move-only), shared by every stream of a listener or a backend pool. Read-only once
/// built, so several workers' loops may use one context.
class TlsContext {
 public:
  /// Builds a server context; the error text names the file and OpenSSL's reason. Start-up only.
  static Result<TlsContext, std::string> server(const TlsOptions& options);
  /// Builds a client context (TLS 1.2 or newer, peer verified unless options.verify_peer is false).
  static Result<TlsContext, std::string> client(const TlsOptions& options);

  TlsContext(TlsContext&&) noexcept = default;
  TlsContext& operator=(TlsContext&&) noexcept = default;
  ~TlsContext();

  ssl_ctx_st* native() const noexcept { return ctx_.get(); }
  bool verifies_peer() const noexcept { return verify_peer_; }
  /// True when a client handshake also checks that the certificate names the server.
  bool verifies_host() const noexcept { return verify_peer_ && verify_host_; }

 private:
  struct Free {
    void operator()(ssl_ctx_st* ctx) const noexcept;
  };
  TlsContext(ssl_ctx_st* ctx, bool verify_peer, bool verify_host = false)
      : ctx_(ctx), verify_peer_(verify_peer), verify_host_(verify_host) {}

  std::unique_ptr<ssl_ctx_st, Free> ctx_;
  bool verify_peer_ = false;
  bool verify_host_ = false;
};

}  // namespace corral::rt
