#include "proxy/session.h"

namespace corral::proxy {

rt::Task<void> serve_redis_client(rt::TcpStream client, SessionEnv* env) {
  co_await client.write_all(std::string_view("-ERR corral: redis sessions are being built\r\n"),
                            rt::Deadline::after(std::chrono::seconds(1)), env->stop_cancel);
}

}  // namespace corral::proxy
