// The mariadbd of the pool-level MySQL suites (mysql_backend_test, mysql_prepared_backend_test): one
// per test process, since each TEST runs as its own ctest.
#pragma once

#include <memory>
#include <string_view>

#include "harness.h"

namespace corral::testing {

/// Starts mariadbd with `user` (ALL on *.*) and the schemas "shop" and "other", then runs `setup_sql`
/// as root. Throws HarnessError or MysqlException when that fails.
inline std::unique_ptr<MariaDbServer> start_shop_server(std::string_view user, std::string_view password,
                                                        std::string_view setup_sql) {
  auto server = std::make_unique<MariaDbServer>();
  server->create_user(user, password);
  server->create_database("shop");
  server->create_database("other");
  server->execute(setup_sql);
  return server;
}

}  // namespace corral::testing
