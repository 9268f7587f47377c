#include "proxy/mysql/frontend.h"

#include <utility>

#include "protocols/mysql/mysql.h"
#include "runtime/log.h"

namespace corral::proxy {

std::unique_ptr<MysqlFrontend> MysqlFrontend::create(const ListenerEnv& env) {
  const std::string& private_pem = env.shared->mysql_rsa_private_pem;
  auto key = private_pem.empty() ? mysql::RsaKey::generate() : mysql::RsaKey::from_private_pem(private_pem);
  auto public_pem = key ? key->public_pem() : mysql::Result<std::string>(key.error());
  if (!key || !public_pem) {
    rt::log::error("mysql: cannot make the RSA key for caching_sha2_password: {}",
                   mysql::to_string(public_pem.error()));
    return nullptr;
  }
  return std::unique_ptr<MysqlFrontend>(new MysqlFrontend(env, std::move(*key), std::move(*public_pem)));
}

MysqlFrontend::MysqlFrontend(const ListenerEnv& env, mysql::RsaKey key, std::string public_pem)
    : Frontend(env), rsa_key_(std::move(key)), rsa_public_pem_(std::move(public_pem)) {
  mysql::append_packet(too_many_clients_, 0, mysql::make_err(mysql::ER_CON_COUNT_ERROR));
}

}  // namespace corral::proxy
