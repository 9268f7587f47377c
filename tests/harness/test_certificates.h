// Certificates for TLS tests, made by the openssl CLI into a test's private directory.
//
//   make_test_certificates(dir) ──openssl req/x509──► dir/ca.crt          the test CA
//                                                     dir/server.{crt,key} CN=localhost, SAN localhost + 127.0.0.1
//                                                     dir/client.{crt,key} CN=corral-client, signed by the CA
//                                                     dir/other-ca.crt     an unrelated CA
#pragma once

#include <filesystem>

namespace corral::testing {

/// Writes the files above (EC P-256 keys, valid two days). Throws HarnessError with openssl's output
/// when the CLI fails.
void make_test_certificates(const std::filesystem::path& dir);

}  // namespace corral::testing
