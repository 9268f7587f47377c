#include "mysql_path.h"

#include <utility>

namespace corral::testing::mysql_it {

MariaDbServer& MysqlPathTest::start_backend(MariaDbServerOptions options) {
  backend_ = std::make_unique<MariaDbServer>(std::move(options));
  backend_->create_user(kBackendUser, kBackendPassword);
  backend_->create_user("reader", "reader-pw");
  backend_->create_database("app");
  backend_->create_database("other");
  return *backend_;
}

CorralProcess& MysqlPathTest::start_proxy(ProxySetup setup) {
  if (backend_ == nullptr) start_backend();
  admin_port_ = pick_free_port();
  std::string toml = "[server]\nworkers = " + std::to_string(setup.workers) +
                     "\nshutdown_grace_ms = 2000\nadmin = \"127.0.0.1:" + std::to_string(admin_port_) + "\"\n" +
                     setup.server_toml +
                     "\n[pool]\n" + setup.pool_toml + "\n[mysql]\n" + setup.mysql_toml + "\n[client]\n" +
                     setup.client_toml + "\n" +
                     "[[users]]\nname = \"app\"\npassword = \"app-pw\"\n"
                     "[[users]]\nname = \"nopw\"\npassword = \"\"\n"
                     "[[users]]\nname = \"reader\"\npassword = \"reader-pw\"\nbackend_user = \"reader\"\n"
                     "backend_password = \"reader-pw\"\n" +
                     setup.more_toml + "\n";
  proxy_ = std::make_unique<CorralProcess>(CorralOptions{
      .listeners = {{.name = "mysql",
                     .protocol = "mysql",
                     .backend = backend_->url(kBackendUser, kBackendPassword, setup.schema),
                     .auth = setup.auth}},
      .extra_toml = std::move(toml)});
  return *proxy_;
}

MysqlClient MysqlPathTest::connect(std::string_view user, std::string_view password, std::string_view database,
                                   std::string_view default_auth) const {
  return MysqlClient::connect({.port = proxy_port(),
                               .user = std::string(user),
                               .password = std::string(password),
                               .database = std::string(database),
                               .default_auth = std::string(default_auth)});
}

std::string MysqlPathTest::metrics() const {
  return admin_get(admin_port_, "/metrics");
}

}  // namespace corral::testing::mysql_it
