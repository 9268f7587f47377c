#include "proxy/mysql/frontend.h"

#include <utility>

#include "protocols/mysql/mysql.h"
#include "runtime/log.h"

namespace corral::proxy {

void check_replicas_once(pool::MysqlPools& pools, pool::MysqlReplicaSet& replicas, const config::Listener& listener,
                         const config::MysqlOptions& options) {
  // One checker per configuration's replica set, on the worker that claims it: each change of health
  // is then seen and logged once.
  if (!replicas.claim_checker()) return;
  pools.watch_replicas(replicas, pool::make_mysql_key(listener.backend, 0), options.max_replication_lag,
                       options.replica_check_interval);
}

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
