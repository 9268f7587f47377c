// TLS through corral with real clients and servers: redis-cli --tls toward a TLS listener, a
// redis-server with a TLS port behind rediss:// backends, certificates made by the test (openssl CLI).
//
//   redis-cli --tls ──► [tls → rediss]  ──TLS──► redis-server --tls-port
//   redis-cli       ──► [plain → rediss] ──TLS──►   (same)
//   redis-cli --tls ──► [tls → redis]   ──────► redis-server --port
//   redis-cli       ──► [plain → rediss, CA that did not sign the server] ──► refused, backend named
// Each handshake, on either side, is counted on /metrics (listener and backend families).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "harness.h"

namespace corral::testing {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

/// A CA, a server certificate for 127.0.0.1 and localhost signed by it, and an unrelated CA.
void make_certificates(const std::filesystem::path& dir) {
  std::ofstream(dir / "san.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string script =
      "cd " + dir.string() + " && (" + "openssl req -x509" + key +
      " -keyout ca.key -out ca.crt -days 2 -subj /CN=corral-test-ca && openssl req -x509" + key +
      " -keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=other-ca && openssl req" + key +
      " -keyout server.key -out server.csr -subj /CN=localhost && openssl x509 -req -in server.csr -CA ca.crt "
      "-CAkey ca.key -CAcreateserial -days 2 -extfile san.ext -out server.crt) >openssl.log 2>&1";
  ASSERT_EQ(std::system(script.c_str()), 0) << "openssl CLI failed: " << read_file(dir / "openssl.log");
}

class Tls : public ::testing::Test {
 protected:
  void SetUp() override {
    make_certificates(certs_.path());
    if (HasFatalFailure()) return;
    tls_port_ = pick_free_port();
    RedisServerOptions options;
    options.extra_args = {"--tls-port",      std::to_string(tls_port_), "--tls-cert-file", file("server.crt"),
                          "--tls-key-file",  file("server.key"),        "--tls-ca-cert-file", file("ca.crt"),
                          "--tls-auth-clients", "no"};
    backend_ = std::make_unique<RedisServer>(options);
    const std::string rediss = "rediss://127.0.0.1:" + std::to_string(tls_port_);
    const std::string listener_tls =
        "tls_cert = " + toml_quote(file("server.crt")) + "\ntls_key = " + toml_quote(file("server.key")) + "\n";
    CorralOptions corral;
    corral.listeners = {
        {.name = "tls_to_tls", .protocol = "redis", .backend = rediss + "?ca=" + file("ca.crt"), .extra_toml = listener_tls},
        {.name = "plain_to_tls", .protocol = "redis", .backend = rediss + "?ca=" + file("ca.crt")},
        {.name = "tls_to_plain", .protocol = "redis", .backend = backend_->url(), .extra_toml = listener_tls},
        {.name = "wrong_ca", .protocol = "redis", .backend = rediss + "?ca=" + file("other-ca.crt")},
    };
    admin_port_ = pick_free_port();
    corral.extra_toml = "[server]\nadmin = \"127.0.0.1:" + std::to_string(admin_port_) + "\"\n";
    corral_ = std::make_unique<CorralProcess>(corral);
  }

  std::string file(const char* name) const { return certs_.file(name).string(); }

  /// redis-cli toward `listener`, over TLS (verifying corral's certificate) when `tls`.
  CommandResult cli(const std::string& listener, bool tls, std::vector<std::string> args) {
    std::vector<std::string> argv = {find_executable("redis-cli").string(), "-h", "127.0.0.1", "-p",
                                     std::to_string(corral_->port(listener))};
    if (tls) argv.insert(argv.end(), {"--tls", "--cacert", file("ca.crt")});
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv, 20s);
  }

  /// A series of /metrics, 0 when absent.
  uint64_t metric(const std::string& series) const {
    try {
      return admin_metric(admin_port_, series);
    } catch (const HarnessError&) {
      return 0;
    }
  }

  TempDir certs_{"corral-tls-it"};
  uint16_t tls_port_ = 0;
  uint16_t admin_port_ = 0;
  std::unique_ptr<RedisServer> backend_;
  std::unique_ptr<CorralProcess> corral_;
};

TEST_F(Tls, TlsClientThroughCorralToTlsBackend) {
  CommandResult r = cli("tls_to_tls", true, {"SET", "tls-key", "over tls"});
  EXPECT_EQ(r.output, "OK\n");
  r = cli("tls_to_tls", true, {"GET", "tls-key"});
  EXPECT_EQ(r.output, "over tls\n");
  // The value really went to the server through its TLS port: the plain port sees it too.
  EXPECT_EQ(backend_->command({"GET", "tls-key"}), "$8\r\nover tls\r\n");
  // Big values both ways (many TLS records, partial writes). An argument is at most 128 KiB on Linux,
  // so the 3 MiB value is stored through the server's plain port and read back through TLS.
  const std::string mid(100'000, 'm');
  r = cli("tls_to_tls", true, {"SET", "mid", mid});
  EXPECT_EQ(r.output, "OK\n");
  EXPECT_EQ(backend_->command({"STRLEN", "mid"}), ":100000\r\n");
  const std::string big(3 << 20, 'x');
  EXPECT_EQ(backend_->command({"SET", "big", big}), "+OK\r\n");
  r = cli("tls_to_tls", true, {"GET", "big"});
  EXPECT_EQ(r.output.size(), big.size() + 1);
  EXPECT_TRUE(r.output == big + "\n");
}

TEST_F(Tls, PlainClientToTlsBackendAndTlsClientToPlainBackend) {
  CommandResult r = cli("plain_to_tls", false, {"SET", "k", "v1"});
  EXPECT_EQ(r.output, "OK\n");
  r = cli("tls_to_plain", true, {"GET", "k"});
  EXPECT_EQ(r.output, "v1\n");
  r = cli("tls_to_plain", true, {"PING"});
  EXPECT_EQ(r.output, "PONG\n");
}

TEST_F(Tls, PlainClientOnATlsListenerIsClosed) {
  const auto start = std::chrono::steady_clock::now();
  CommandResult r = cli("tls_to_tls", false, {"PING"});
  EXPECT_THAT(r.output, ::testing::Not(HasSubstr("PONG")));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << "closed at once, not after a timeout";
  // corral is unharmed and still serves TLS clients.
  r = cli("tls_to_tls", true, {"PING"});
  EXPECT_EQ(r.output, "PONG\n");
  EXPECT_TRUE(corral_->running());
}

TEST_F(Tls, BackendCertificateFromAnotherCaFailsNamingTheBackend) {
  CommandResult r = cli("wrong_ca", false, {"GET", "k"});
  EXPECT_THAT(r.output, HasSubstr("backend 127.0.0.1:" + std::to_string(tls_port_)));
  EXPECT_THAT(r.output, HasSubstr("TLS handshake failed: certificate verify failed"));
}

TEST_F(Tls, AListenerWhoseCaRefusesTheServerNeverGetsAConnectionVerifiedForAnother) {
  // Same server, same credentials, another CA: connections opened for plain_to_tls (on every worker,
  // with this many clients) must not serve wrong_ca's clients.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(cli("plain_to_tls", false, {"SET", "shared", "no"}).output, "OK\n");
  for (int i = 0; i < 4; ++i) {
    EXPECT_THAT(cli("wrong_ca", false, {"GET", "shared"}).output, HasSubstr("TLS handshake failed"));
  }
}

TEST_F(Tls, HandshakesAreCountedPerListenerAndPerBackend) {
  const std::string listener_ok = R"(corral_listener_tls_handshakes_total{listener="tls_to_tls",result="ok"})";
  const std::string listener_failed = R"(corral_listener_tls_handshakes_total{listener="tls_to_tls",result="failed"})";
  const std::string backend = "rediss://127.0.0.1:" + std::to_string(tls_port_);
  const std::string backend_ok = "corral_backend_tls_handshakes_total{backend=\"" + backend + "\",result=\"ok\"}";
  const std::string backend_failed =
      "corral_backend_tls_handshakes_total{backend=\"" + backend + "\",result=\"failed\"}";
  // The harness's start-up probe connects to the TLS listener without a handshake (a failed one, counted
  // at some point): count from here, and the plain client below as at least one more.
  const uint64_t listener_failed_before = metric(listener_failed);
  EXPECT_EQ(metric(listener_ok), 0u);
  EXPECT_EQ(metric(backend_ok), 0u);

  EXPECT_THAT(cli("wrong_ca", false, {"GET", "k"}).output, HasSubstr("TLS handshake failed"));
  EXPECT_EQ(cli("tls_to_tls", true, {"SET", "counted", "1"}).output, "OK\n");
  EXPECT_THAT(cli("tls_to_tls", false, {"PING"}).output, ::testing::Not(HasSubstr("PONG")));
  wait_until([&] { return metric(backend_failed) >= 1; }, 5s, "the refused backend handshake counted");
  EXPECT_EQ(metric(listener_ok), 1u);
  wait_until([&] { return metric(listener_failed) >= listener_failed_before + 1; }, 5s,
             "the plain client on the TLS listener counted as a failed handshake");
  EXPECT_EQ(metric(backend_ok), 1u) << "one pool connection for the SET";
  EXPECT_EQ(metric(R"(corral_listener_tls_handshakes_total{listener="plain_to_tls",result="ok"})"), 0u);
}

}  // namespace
}  // namespace corral::testing
