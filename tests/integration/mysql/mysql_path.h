// Shared pieces of the MySQL path integration tests: a fixture that runs one mariadbd with corral in
// front of it (configured users, an admin endpoint for /metrics) and checks corral's log for
// sanitizer reports at teardown.
//
//   test ──► MysqlPathTest::start_proxy(setup) ──► MariaDbServer (backend) ◄── corral (listener "mysql")
//        ──► TearDown: SIGTERM corral, exit status 0, no "ERROR: AddressSanitizer" / "runtime error:"
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "../proxy_path_test.h"
#include "harness.h"

namespace corral::testing::mysql_it {

using namespace std::chrono_literals;

// The backend account corral logs in with, and the users clients log in to corral as.
inline constexpr const char* kBackendUser = "corral";
inline constexpr const char* kBackendPassword = "backend-pw";
inline constexpr const char* kUser = "app";
inline constexpr const char* kPassword = "app-pw";

/// What corral's config holds besides its one MySQL listener (named "mysql").
struct ProxySetup {
  uint32_t workers = 2;
  std::string schema{};       // the backend URL's default schema
  std::string server_toml{};  // more lines for [server]
  std::string pool_toml{};    // lines for [pool]
  std::string mysql_toml{};   // lines for [mysql]
  std::string client_toml{};  // lines for [client]
  std::string more_toml{};    // further [[users]] tables
  std::string auth = "users";  // the listener's auth: "users" or "backend"
};

/// One backend mariadbd and one corral per test. Users in corral's config: "app"/"app-pw",
/// "nopw"/"" and "reader"/"reader-pw" (backend account "reader"), plus ProxySetup::more_toml.
class MysqlPathTest : public ProxyPathTest<MariaDbServer> {
 protected:
  /// Starts mariadbd with the backend account (mysql_native_password, ALL) and schemas "app", "other".
  MariaDbServer& start_backend(MariaDbServerOptions options = {});
  /// Starts corral (and the backend first when none runs).
  CorralProcess& start_proxy(ProxySetup setup = {});

  uint16_t proxy_port() const { return proxy_->port("mysql"); }
  /// A libmysqlclient connection to corral.
  MysqlClient connect(std::string_view user = kUser, std::string_view password = kPassword,
                      std::string_view database = {}, std::string_view default_auth = {}) const;
  /// GET /metrics from corral's admin endpoint.
  std::string metrics() const;

  uint16_t admin_port_ = 0;
};

}  // namespace corral::testing::mysql_it
