// Protocol sessions: one coroutine per client connection.
#pragma once

#include "proxy/worker.h"
#include "runtime/task.h"
#include "runtime/tcp.h"

namespace corral::proxy {

/// Serves one Redis client until it quits, errs, or the worker stops.
rt::Task<void> serve_redis_client(rt::TcpStream client, SessionEnv* env);
/// Serves one MySQL client until it quits, errs, or the worker stops.
rt::Task<void> serve_mysql_client(rt::TcpStream client, SessionEnv* env);

/// The reply a client gets when corral is at client.max_connections, before the connection closes.
std::string_view too_many_clients_reply(config::Protocol protocol);

}  // namespace corral::proxy
