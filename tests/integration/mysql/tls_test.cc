// MySQL over TLS through corral, with certificates made by the test (openssl CLI), a mariadbd with
// ssl_cert/ssl_key/ssl_ca, and real clients (the mysql CLI and libmysqlclient) on both sides:
//
//   client ──SSLRequest, TLS──► [tls]            ──plain──────────────────────► mariadbd (TLS offered)
//          ──TLS or ERR 3159──► [required]       ──ssl-mode=VERIFY_IDENTITY──►   (same)
//          ──TLS + cert───────► [client_cert]    ──ssl-mode=REQUIRED─────────►   (same)
//          ──plain────────────► [plain]          ──ssl-mode=REQUIRED─────────►   (same)
//          ──plain────────────► [wrong_ca]       ──ssl-mode=VERIFY_CA, another CA: refused, named
//          ──TLS──────────────► [auth_backend]   ──ssl-mode=VERIFY_CA, the client's own login relayed
//          ──plain────────────► [needs_tls] / [prefers_tls] ──REQUIRED / PREFERRED──► mariadbd without TLS
//
// SHOW STATUS LIKE 'Ssl_cipher' is answered by the backend connection, so it tells whether corral's
// side toward the server is encrypted; mysql_get_ssl_cipher() tells the client's own side.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <unistd.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kBackendUser = "corral";
constexpr const char* kBackendPassword = "backend-pw";
constexpr const char* kUser = "app";
constexpr const char* kPassword = "app-pw";

class MysqlTls : public ::testing::Test {
 protected:
  void SetUp() override {
    make_test_certificates(certs_.path());
    MariaDbServerOptions options;
    options.ssl_cert = file("server.crt");
    options.ssl_key = file("server.key");
    options.ssl_ca = file("ca.crt");
    backend_ = std::make_unique<MariaDbServer>(options);
    backend_->create_user(kBackendUser, kBackendPassword);
    backend_->create_user("bob", "bob-pw");
  }

  std::string file(const char* name) const { return certs_.file(name).string(); }

  /// The backend URL with `query` (ssl-mode, ssl-ca) appended.
  std::string backend_url(const std::string& query = {}, const MariaDbServer* server = nullptr) const {
    const std::string url = (server != nullptr ? *server : *backend_).url(kBackendUser, kBackendPassword);
    return query.empty() ? url : url + "?" + query;
  }

  /// tls_cert/tls_key lines of a listener, plus `more`.
  std::string listener_tls(const std::string& more = {}) const {
    return "tls_cert = " + toml_quote(file("server.crt")) + "\ntls_key = " + toml_quote(file("server.key")) + "\n" +
           more;
  }

  void start_proxy(std::vector<CorralListenerSpec> listeners) {
    admin_port_ = pick_free_port();
    std::string toml = "[server]\nworkers = 1\nadmin = \"127.0.0.1:" + std::to_string(admin_port_) +
                       "\"\n[[users]]\nname = \"app\"\npassword = \"app-pw\"\n"
                       "[[users]]\nname = \"cli\"\npassword = \"cli-pw\"\n";
    proxy_ = std::make_unique<CorralProcess>(CorralOptions{.listeners = std::move(listeners), .extra_toml = toml});
  }

  void TearDown() override {
    if (proxy_ == nullptr) return;
    const std::string problem = stop_and_check(*proxy_);
    EXPECT_EQ(problem, "") << proxy_->log();
  }

  /// A libmysqlclient login to `listener` as app.
  MysqlLogin login(const std::string& listener, std::string user = kUser, std::string password = kPassword) const {
    return MysqlLogin{.port = proxy_->port(listener), .user = std::move(user), .password = std::move(password)};
  }

  /// The mysql CLI toward `listener` with `args`, as `user`.
  CommandResult cli(const std::string& listener, std::vector<std::string> args, const std::string& user = kUser,
                    const std::string& password = kPassword) const {
    std::vector<std::string> argv = {find_executable("mysql").string(), "--no-defaults", "-h127.0.0.1",
                                     "-P" + std::to_string(proxy_->port(listener)), "-u" + user, "-p" + password,
                                     "--batch"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, 30s);
  }

  std::string metrics() const { return admin_get(admin_port_, "/metrics"); }

  TempDir certs_{"corral-mysql-tls-"};
  std::unique_ptr<MariaDbServer> backend_;
  std::unique_ptr<CorralProcess> proxy_;
  uint16_t admin_port_ = 0;
};

/// The value of SHOW STATUS LIKE 'Ssl_cipher' on the connection that runs the statement.
std::string backend_cipher(MysqlClient& client) { return client.query("SHOW STATUS LIKE 'Ssl_cipher'").at(0, 1); }

TEST_F(MysqlTls, CliLogsInWithAndWithoutTlsAndVerifiesCorralsCertificate) {
  start_proxy({{.name = "tls", .protocol = "mysql", .backend = backend_url(), .extra_toml = listener_tls()},
               {.name = "plain", .protocol = "mysql", .backend = backend_url()}});
  // The CLI's default login, on a listener that offers TLS and on one that does not.
  for (const char* listener : {"tls", "plain"}) {
    const CommandResult r = cli(listener, {"-e", "SELECT CURRENT_USER() AS who"});
    EXPECT_EQ(r.exit_code(), 0) << listener << ": " << r.output;
    EXPECT_THAT(r.output, HasSubstr("who\ncorral@%\n")) << listener;
  }
  // --ssl with the CA and the host name checked: the client's side is encrypted.
  const CommandResult verified =
      cli("tls", {"--ssl", "--ssl-ca=" + file("ca.crt"), "--ssl-verify-server-cert", "-e", "status"});
  EXPECT_EQ(verified.exit_code(), 0) << verified.output;
  EXPECT_THAT(verified.output, HasSubstr("Cipher in use is")) << verified.output;
  // A CA that did not sign corral's certificate is refused by the CLI.
  const CommandResult wrong_ca =
      cli("tls", {"--ssl", "--ssl-ca=" + file("other-ca.crt"), "--ssl-verify-server-cert", "-e", "SELECT 1"});
  EXPECT_NE(wrong_ca.exit_code(), 0) << wrong_ca.output;
  EXPECT_THAT(wrong_ca.output, HasSubstr("2026"));
  // caching_sha2_password's full authentication over TLS: the CLI sends its password in clear inside TLS.
  const CommandResult sha2 = cli("tls", {"--ssl", "--ssl-ca=" + file("ca.crt"), "--default-auth=caching_sha2_password",
                                         "-e", "SELECT CURRENT_USER() AS who"});
  EXPECT_EQ(sha2.exit_code(), 0) << sha2.output;
  EXPECT_THAT(sha2.output, HasSubstr("who\ncorral@%\n"));
  EXPECT_THAT(metrics(), HasSubstr("corral_mysql_caching_sha2_auths_total{path=\"full\"} 1"));
  EXPECT_THAT(proxy_->log(), Not(HasSubstr("sent its password in clear")));
  // Without TLS on the listener the CLI's default (ssl on) still sends its password in clear after
  // 0x04 (MariaDB Connector/C decides by its option, not by the greeting): corral lets it in because its
  // scramble token already proved the password, and says so in the log.
  const CommandResult sha2_plain = cli("plain", {"--default-auth=caching_sha2_password", "-e", "SELECT 5 AS five"},
                                       "cli", "cli-pw");
  EXPECT_EQ(sha2_plain.exit_code(), 0) << sha2_plain.output;
  EXPECT_THAT(sha2_plain.output, HasSubstr("five\n5\n"));
  EXPECT_THAT(proxy_->log(), HasSubstr("user 'cli' from 127.0.0.1 sent its password in clear over an unencrypted "
                                       "connection"));
  // A wrong password sent that way is still refused.
  const CommandResult wrong_plain =
      cli("plain", {"--default-auth=caching_sha2_password", "--skip-ssl", "-e", "SELECT 1"}, "cli", "nope");
  EXPECT_NE(wrong_plain.exit_code(), 0);
  EXPECT_THAT(wrong_plain.output, HasSubstr("ERROR 1045 (28000)"));
}

TEST_F(MysqlTls, PlainTextPasswordWithoutAProvenTokenIsRefused) {
  start_proxy({{.name = "plain", .protocol = "mysql", .backend = backend_url()}});
  // The CLI with ssl on and a wrong password: its token fails, then it sends the wrong password in
  // clear; both are refused.
  const CommandResult wrong = cli("plain", {"--default-auth=caching_sha2_password", "-e", "SELECT 1"}, "cli", "nope");
  EXPECT_NE(wrong.exit_code(), 0);
  EXPECT_THAT(wrong.output, HasSubstr("ERROR 1045 (28000)"));
  EXPECT_THAT(metrics(), HasSubstr("corral_mysql_caching_sha2_auths_total{path=\"full\"} 0"));
  // With --skip-ssl the same CLI asks for the RSA key and logs in without sending its password in clear.
  const CommandResult rsa = cli("plain", {"--default-auth=caching_sha2_password", "--skip-ssl", "-e", "SELECT 6 AS six"},
                                "cli", "cli-pw");
  EXPECT_EQ(rsa.exit_code(), 0) << rsa.output;
  EXPECT_THAT(rsa.output, HasSubstr("six\n6\n"));
  EXPECT_THAT(proxy_->log(), Not(HasSubstr("sent its password in clear")));
}

TEST_F(MysqlTls, LibmysqlclientOverTlsBothSides) {
  start_proxy({{.name = "tls", .protocol = "mysql", .backend = backend_url(), .extra_toml = listener_tls()},
               {.name = "required",
                .protocol = "mysql",
                .backend = backend_url("ssl-mode=VERIFY_IDENTITY&ssl-ca=" + file("ca.crt")),
                .extra_toml = listener_tls("tls_required = true\n")}});
  MysqlLogin secure = login("required");
  secure.ssl = true;
  secure.ssl_ca = file("ca.crt");
  secure.ssl_verify_server_cert = true;
  MysqlClient both = MysqlClient::connect(secure);
  EXPECT_THAT(both.ssl_cipher(), Not(""));
  EXPECT_THAT(backend_cipher(both), Not("")) << "corral's connection to the server is encrypted";
  EXPECT_EQ(both.query("SELECT CURRENT_USER()").at(0), "corral@%");

  MysqlLogin client_side = login("tls");
  client_side.ssl = true;
  client_side.ssl_ca = file("ca.crt");
  MysqlClient front_only = MysqlClient::connect(client_side);
  EXPECT_THAT(front_only.ssl_cipher(), Not(""));
  EXPECT_EQ(backend_cipher(front_only), "") << "the [tls] listener's backend is plain";
  // Big results pass through TLS on both sides intact.
  const QueryResult big = both.query("SELECT REPEAT('x', 1000000) AS v, 1");
  EXPECT_EQ(big.at(0).size(), 1000000u);
}

TEST_F(MysqlTls, CachingSha2FullAuthenticationOverTlsThenFastPath) {
  start_proxy({{.name = "tls", .protocol = "mysql", .backend = backend_url(), .extra_toml = listener_tls()}});
  MysqlLogin sha2 = login("tls");
  sha2.ssl = true;
  sha2.ssl_ca = file("ca.crt");
  sha2.default_auth = "caching_sha2_password";
  try {
    MysqlLogin wrong = sha2;
    wrong.password = "wrong";
    MysqlClient::connect(wrong);
    FAIL() << "a wrong clear-text password was accepted";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1045u) << e.what();
  }
  { MysqlClient first = MysqlClient::connect(sha2); EXPECT_EQ(first.query("SELECT 1").at(0), "1"); }
  { MysqlClient second = MysqlClient::connect(sha2); EXPECT_EQ(second.query("SELECT 2").at(0), "2"); }
  const std::string m = metrics();
  EXPECT_THAT(m, HasSubstr("corral_mysql_caching_sha2_auths_total{path=\"full\"} 1"));
  EXPECT_THAT(m, HasSubstr("corral_mysql_caching_sha2_auths_total{path=\"fast\"} 1"));
}

TEST_F(MysqlTls, RequiredListenerRefusesPlainLoginsWithErr3159) {
  start_proxy({{.name = "required", .protocol = "mysql", .backend = backend_url(),
                .extra_toml = listener_tls("tls_required = true\n")}});
  try {
    MysqlClient::connect(login("required"));
    FAIL() << "a plain login to a listener with tls_required succeeded";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 3159u) << e.what();
    EXPECT_EQ(e.sqlstate(), "HY000");
    EXPECT_THAT(e.what(), HasSubstr("insecure transport"));
  }
  const CommandResult plain_cli = cli("required", {"--skip-ssl", "-e", "SELECT 1"});
  EXPECT_NE(plain_cli.exit_code(), 0);
  EXPECT_THAT(plain_cli.output, HasSubstr("ERROR 3159 (HY000)"));
  // The CLI's default takes the TLS the greeting offers.
  const CommandResult tls_cli = cli("required", {"-e", "SELECT 3 AS three"});
  EXPECT_EQ(tls_cli.exit_code(), 0) << tls_cli.output;
  EXPECT_THAT(tls_cli.output, HasSubstr("three\n3\n"));
  EXPECT_THAT(proxy_->log(), HasSubstr("insecure transport"));
}

TEST_F(MysqlTls, ClientCertificatesAskedForAndRequired) {
  start_proxy({{.name = "client_cert",
                .protocol = "mysql",
                .backend = backend_url("ssl-mode=REQUIRED"),
                .extra_toml = listener_tls("tls_client_ca = " + toml_quote(file("ca.crt")) +
                                           "\ntls_require_client_cert = true\ntls_required = true\n")}});
  MysqlLogin without = login("client_cert");
  without.ssl = true;
  try {
    MysqlClient::connect(without);
    FAIL() << "a client without a certificate logged in";
  } catch (const MysqlException& e) {
    EXPECT_NE(e.code(), 3159u) << "refused for its missing certificate, not for plain text: " << e.what();
  }
  MysqlLogin with = without;
  with.ssl_cert = file("client.crt");
  with.ssl_key = file("client.key");
  MysqlClient client = MysqlClient::connect(with);
  EXPECT_THAT(client.ssl_cipher(), Not(""));
  EXPECT_THAT(backend_cipher(client), Not(""));
}

TEST_F(MysqlTls, AskingForTlsOnAPlainListenerFailsCleanly) {
  start_proxy({{.name = "plain", .protocol = "mysql", .backend = backend_url()}});
  // Connector/C 3.3 insists on TLS only when it is to verify the server's certificate.
  MysqlLogin insist = login("plain");
  insist.ssl = true;
  insist.ssl_ca = file("ca.crt");
  insist.ssl_verify_server_cert = true;
  try {
    MysqlClient::connect(insist);
    FAIL() << "TLS was insisted on and the login went on without it";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 2026u) << e.what();  // CR_SSL_CONNECTION_ERROR: the greeting offers no CLIENT_SSL
    EXPECT_THAT(e.what(), HasSubstr("server does not support it"));
  }
  const CommandResult cli_insists = cli("plain", {"--ssl-verify-server-cert", "-e", "SELECT 1"});
  EXPECT_NE(cli_insists.exit_code(), 0);
  EXPECT_THAT(cli_insists.output, HasSubstr("ERROR 2026 (HY000)"));
  // A client that sends an SSLRequest anyway gets ERR 1043 in plain text, and the connection closes.
  const int fd = connect_tcp("127.0.0.1", proxy_->port("plain"), 5s);
  char greeting[512];
  ASSERT_GT(::read(fd, greeting, sizeof greeting), 4);
  // SSLRequest: PROTOCOL_41 | SECURE_CONNECTION | SSL, max packet 16 MiB, charset 33, 23 zero bytes.
  std::string request = {'\x20', '\0', '\0', '\x01', '\x00', '\x8a', '\x00', '\x00', '\0', '\0', '\0', '\x01', '\x21'};
  request.append(23, '\0');
  ASSERT_EQ(::write(fd, request.data(), request.size()), static_cast<ssize_t>(request.size()));
  std::string reply(512, '\0');
  const ssize_t n = ::read(fd, reply.data(), reply.size());
  ASSERT_GT(n, 7);
  reply.resize(static_cast<std::size_t>(n));
  EXPECT_EQ(static_cast<unsigned char>(reply[4]), 0xffu);
  EXPECT_EQ(static_cast<unsigned char>(reply[5]) | static_cast<unsigned char>(reply[6]) << 8, 1043);
  EXPECT_THAT(reply, HasSubstr("TLS is not enabled on listener 'plain'"));
  char rest[16];
  EXPECT_EQ(::read(fd, rest, sizeof rest), 0) << "the connection closes after the ERR";
  ::close(fd);
  MysqlClient after = MysqlClient::connect(login("plain"));
  EXPECT_EQ(after.query("SELECT 4").at(0), "4");
}

/// Writes all of `data` to a blocking socket.
void write_fully(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    ASSERT_GT(n, 0);
    data.remove_prefix(static_cast<std::size_t>(n));
  }
}

/// Moves what OpenSSL wrote into `out` to the socket.
void flush_bio(BIO* out, int fd) {
  char buffer[16384];
  int n = 0;
  while ((n = BIO_read(out, buffer, sizeof buffer)) > 0) write_fully(fd, std::string_view(buffer, static_cast<std::size_t>(n)));
}

// Clients write their ClientHello right behind the SSLRequest; when both arrive in one segment corral
// must leave the ClientHello in the socket for OpenSSL. Made certain here: one write holds both.
TEST_F(MysqlTls, SslRequestAndClientHelloInOneSegment) {
  start_proxy({{.name = "tls", .protocol = "mysql", .backend = backend_url(), .extra_toml = listener_tls()}});
  const int fd = connect_tcp("127.0.0.1", proxy_->port("tls"), 5s);
  char greeting[512];
  ASSERT_GT(::read(fd, greeting, sizeof greeting), 4);
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());   // socket bytes for OpenSSL
  BIO* out = BIO_new(BIO_s_mem());  // OpenSSL's bytes for the socket
  SSL_set_bio(ssl, in, out);
  SSL_set_connect_state(ssl);
  ASSERT_EQ(SSL_do_handshake(ssl), -1);  // wants the server's answer; the ClientHello is in `out`
  // SSLRequest: PROTOCOL_41 | SECURE_CONNECTION | SSL | PLUGIN_AUTH, max packet 16 MiB, charset 33.
  std::string segment = {'\x20', '\0', '\0', '\x01', '\x00', '\x8a', '\x08', '\x00', '\0', '\0', '\0', '\x01', '\x21'};
  segment.append(23, '\0');
  char hello[16384];
  const int hello_size = BIO_read(out, hello, sizeof hello);
  ASSERT_GT(hello_size, 0);
  segment.append(hello, static_cast<std::size_t>(hello_size));
  write_fully(fd, segment);
  while (SSL_do_handshake(ssl) != 1) {
    ASSERT_EQ(SSL_get_error(ssl, -1), SSL_ERROR_WANT_READ) << ERR_error_string(ERR_get_error(), nullptr);
    flush_bio(out, fd);
    char buffer[16384];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    ASSERT_GT(n, 0) << "corral closed the connection during the handshake";
    BIO_write(in, buffer, static_cast<int>(n));
  }
  flush_bio(out, fd);
  // HandshakeResponse41 inside TLS with sequence id 2: app with no password, so corral answers ERR 1045
  // with sequence id 3, inside TLS.
  std::string response = {'\x00', '\x8a', '\x08', '\x00', '\0', '\0', '\0', '\x01', '\x21'};
  response.append(23, '\0');
  response.append("app").push_back('\0');
  response.push_back('\0');  // empty auth response
  response.append("mysql_native_password").push_back('\0');
  std::string packet = {static_cast<char>(response.size()), '\0', '\0', '\x02'};
  packet += response;
  ASSERT_EQ(SSL_write(ssl, packet.data(), static_cast<int>(packet.size())), static_cast<int>(packet.size()));
  flush_bio(out, fd);
  std::string reply;
  char plain[4096];
  while (reply.size() < 7) {
    const int got = SSL_read(ssl, plain, sizeof plain);
    if (got > 0) {
      reply.append(plain, static_cast<std::size_t>(got));
      continue;
    }
    ASSERT_EQ(SSL_get_error(ssl, got), SSL_ERROR_WANT_READ);
    flush_bio(out, fd);
    char buffer[16384];
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    ASSERT_GT(n, 0) << "no answer to the HandshakeResponse41";
    BIO_write(in, buffer, static_cast<int>(n));
  }
  EXPECT_EQ(static_cast<unsigned char>(reply[3]), 3u);
  EXPECT_EQ(static_cast<unsigned char>(reply[4]), 0xffu);
  EXPECT_EQ(static_cast<unsigned char>(reply[5]) | static_cast<unsigned char>(reply[6]) << 8, 1045);
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  ::close(fd);
}

TEST_F(MysqlTls, BackendSslModes) {
  MariaDbServer no_tls;  // a second mariadbd, without certificates: it offers no TLS
  no_tls.create_user(kBackendUser, kBackendPassword);
  start_proxy({{.name = "plain", .protocol = "mysql", .backend = backend_url("ssl-mode=REQUIRED")},
               {.name = "verify_ca", .protocol = "mysql", .backend = backend_url("ssl-mode=VERIFY_CA&ssl-ca=" + file("ca.crt"))},
               {.name = "wrong_ca", .protocol = "mysql",
                .backend = backend_url("ssl-mode=VERIFY_CA&ssl-ca=" + file("other-ca.crt"))},
               {.name = "needs_tls", .protocol = "mysql", .backend = backend_url("ssl-mode=REQUIRED", &no_tls)},
               {.name = "prefers_tls", .protocol = "mysql", .backend = backend_url("ssl-mode=PREFERRED", &no_tls)},
               {.name = "prefers_tls_offered", .protocol = "mysql", .backend = backend_url("ssl-mode=PREFERRED")}});
  for (const char* listener : {"plain", "verify_ca", "prefers_tls_offered"}) {
    MysqlClient client = MysqlClient::connect(login(listener));
    EXPECT_THAT(backend_cipher(client), Not("")) << listener;
    EXPECT_EQ(client.ssl_cipher(), "") << listener;
  }
  {
    MysqlClient client = MysqlClient::connect(login("prefers_tls"));
    EXPECT_EQ(backend_cipher(client), "") << "PREFERRED goes on in plain text when the server offers no TLS";
  }
  for (const char* listener : {"wrong_ca", "needs_tls"}) {
    const auto started = std::chrono::steady_clock::now();
    try {
      // The login may pass on what another listener of the same server learned; the statement needs
      // a backend connection of this listener's key.
      MysqlClient client = MysqlClient::connect(login(listener));
      client.query("SELECT 1");
      FAIL() << listener << ": the statement ran";
    } catch (const MysqlException& e) {
      EXPECT_EQ(e.code(), 1105u) << e.what();
      const std::string expected = std::string(listener) == "wrong_ca"
                                       ? "TLS handshake (ssl-mode=VERIFY_CA): certificate verify failed"
                                       : "ssl-mode=REQUIRED, but the server does not offer TLS";
      EXPECT_THAT(e.what(), HasSubstr(expected)) << listener;
    }
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << listener << ": a clear error, not a hang";
  }
  EXPECT_THAT(proxy_->log(), HasSubstr("does not offer TLS"));
  // /ready probes each backend as its listener's connections would: over TLS, verified as configured.
  const std::string ready = admin_get(admin_port_, "/ready");
  EXPECT_THAT(ready, HasSubstr("503"));
  EXPECT_THAT(ready, HasSubstr("ssl-mode=REQUIRED, but the server does not offer TLS"));
  EXPECT_THAT(ready, HasSubstr("certificate verify failed"));
}

TEST_F(MysqlTls, BackendAuthRelayedOverTlsOnBothSides) {
  start_proxy({{.name = "auth_backend",
                .protocol = "mysql",
                .backend = backend_url("ssl-mode=VERIFY_CA&ssl-ca=" + file("ca.crt")),
                .auth = "backend",
                .extra_toml = listener_tls()}});
  MysqlLogin bob = login("auth_backend", "bob", "bob-pw");
  bob.ssl = true;
  bob.ssl_ca = file("ca.crt");
  MysqlClient client = MysqlClient::connect(bob);
  EXPECT_EQ(client.query("SELECT CURRENT_USER()").at(0), "bob@%");
  EXPECT_THAT(client.ssl_cipher(), Not(""));
  EXPECT_THAT(backend_cipher(client), Not(""));
  MysqlLogin wrong = bob;
  wrong.password = "wrong";
  try {
    MysqlClient::connect(wrong);
    FAIL() << "a wrong password was accepted";
  } catch (const MysqlException& e) {
    EXPECT_EQ(e.code(), 1045u) << e.what();  // the server's own refusal, relayed over both TLS links
  }
  const CommandResult r = run_command({find_executable("mysql").string(), "--no-defaults", "-h127.0.0.1",
                                       "-P" + std::to_string(proxy_->port("auth_backend")), "-ubob", "-pbob-pw",
                                       "--ssl", "--batch", "-e", "SELECT CURRENT_USER() AS who"},
                                      30s);
  EXPECT_EQ(r.exit_code(), 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("who\nbob@%\n"));
}

}  // namespace
}  // namespace corral::testing
