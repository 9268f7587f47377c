#include "test_certificates.h"

#include <string>

#include "child_process.h"
#include "harness_error.h"
#include "temp_dir.h"

namespace corral::testing {

void make_test_certificates(const std::filesystem::path& dir) {
  write_file(dir / "san.ext", "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  const std::string d = dir.string();
  const std::string key = " -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string sign = " -CA ca.crt -CAkey ca.key -CAcreateserial -days 2";
  const std::string script =
      "cd '" + d + "' && openssl req -x509" + key + " -keyout ca.key -out ca.crt -days 2 -subj /CN=corral-test-ca" +
      " && openssl req -x509" + key + " -keyout other-ca.key -out other-ca.crt -days 2 -subj /CN=other-ca" +
      " && openssl req" + key + " -keyout server.key -out server.csr -subj /CN=localhost" +
      " && openssl x509 -req -in server.csr" + sign + " -extfile san.ext -out server.crt" +
      " && openssl req" + key + " -keyout client.key -out client.csr -subj /CN=corral-client" +
      " && openssl x509 -req -in client.csr" + sign + " -out client.crt";
  const CommandResult made = run_command({"/bin/sh", "-c", script}, std::chrono::seconds(60));
  if (made.exit_code() != 0) throw HarnessError("openssl CLI failed making test certificates:\n" + made.output);
}

}  // namespace corral::testing
