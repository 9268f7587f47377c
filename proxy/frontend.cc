#include "proxy/frontend.h"

#include "proxy/mysql/frontend.h"
#include "proxy/redis/frontend.h"

namespace corral::proxy {

std::unique_ptr<Frontend> make_frontend(const ListenerEnv& env) {
  switch (env.listener->protocol) {
    case config::Protocol::Redis: return std::make_unique<RedisFrontend>(env);
    case config::Protocol::Mysql: return MysqlFrontend::create(env);
  }
  return nullptr;
}

}  // namespace corral::proxy
