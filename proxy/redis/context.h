// The connection context of one Redis client: what redis-server would hold for the client's own
// connection, kept by corral because the backend connections are shared.
//
//   RedisLocalCommands::init() ──► context ◄── local commands (AUTH HELLO SELECT CLIENT RESET) change it
//                                     │    ◄── the session's transaction steps (MULTI WATCH EXEC...)
//                                     └──► RedisLocalCommands::pool_key(): which backend pool serves it now
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "protocols/redis/command_table.h"
#include "protocols/redis/encoder.h"
#include "proxy/redis/transaction.h"

namespace corral::proxy {

struct RedisContext {
  uint64_t id = 0;                  // CLIENT ID: corral's own, unique per process
  std::string peer;                 // addr= in CLIENT INFO
  std::string local;                // laddr=
  std::chrono::steady_clock::time_point created = std::chrono::steady_clock::now();
  int db = 0;                       // SELECTed database
  redis::RespVersion resp = redis::RespVersion::Resp2;
  bool authenticated = false;
  // auth "backend", no AUTH yet: the client may be the backend URL's user without AUTH, as a client
  // of redis-server is its default user when that needs no password. The session tries it once.
  bool implicit_login = false;
  std::string user = "default";     // the user the client authenticated as
  std::string backend_user;         // credentials in the pool key
  std::string backend_password;
  std::string name;                 // CLIENT SETNAME / HELLO SETNAME
  std::string lib_name;             // CLIENT SETINFO LIB-NAME
  std::string lib_ver;              // CLIENT SETINFO LIB-VER
  RedisTransaction transaction;     // MULTI / WATCH on the pinned connection
  const redis::CommandInfo* last_command = nullptr;  // cmd= in CLIENT LIST; static table entry
  std::chrono::steady_clock::time_point last_active = created;  // idle=
  bool blocked = false;             // waiting for a blocking command's reply (flag b)
  bool subscribed = false;          // relaying a subscription (flag P, CLIENT LIST TYPE pubsub)
  bool no_evict = false;            // CLIENT NO-EVICT on (flag e)
  bool reply_off = false;           // CLIENT REPLY OFF: replies are dropped until CLIENT REPLY ON
  bool skip_next_reply = false;     // CLIENT REPLY SKIP: the next command's reply is dropped
};

}  // namespace corral::proxy
