// The MySQL side of one listener: its sessions, the RSA key of caching_sha2_password, the worker's pools.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pool/mysql_pool.h"
#include "protocols/mysql/auth.h"
#include "protocols/mysql/status_packets.h"
#include "proxy/frontend.h"
#include "runtime/notify.h"

namespace corral::proxy {

/// Starts the one health checker of `replicas` in `pools`, logging in with `listener`'s backend account
/// and using `options` ([mysql] of the replicas' configuration), unless a worker already started it.
/// The checker ends with `pools`.
void check_replicas_once(pool::MysqlPools& pools, pool::MysqlReplicaSet& replicas, const config::Listener& listener,
                         const config::MysqlOptions& options);

/// Serves MySQL clients (proxy/mysql/session.cc). Not thread-safe: lives on its worker's loop.
class MysqlFrontend final : public Frontend {
 public:
  /// Loads the daemon's RSA key (SharedState::mysql_rsa_private_pem), or generates one when there is
  /// none. Start-up only (generating takes ~0.1 s). nullptr, logged, when the key cannot be made.
  static std::unique_ptr<MysqlFrontend> create(const ListenerEnv& env);

  rt::Task<void> serve(rt::TcpStream client) override;
  /// An ERR_Packet with sequence id 0 in place of the HandshakeV10, as mysqld sends it.
  std::string_view too_many_clients_reply() const override { return too_many_clients_; }
  /// TLS starts after the greeting, when the client asks for it (SSLRequest; see login.cc).
  bool tls_at_accept() const noexcept override { return false; }

  pool::MysqlPools& pools() const noexcept { return env().pools->mysql; }
  const mysql::RsaKey& rsa_key() const noexcept { return rsa_key_; }
  /// What a client gets when it asks for the key.
  std::string_view rsa_public_pem() const noexcept { return rsa_public_pem_; }

  /// What a new session gets from the backend's globals: wait_timeout (or interactive_timeout) and
  /// the session_track_* settings (MysqlSession::learn_login_defaults()). Read on a connection of its
  /// own by one session at a time, kept for kTtl or until a SET GLOBAL of one passes through corral.
  struct GlobalDefaults {
    static constexpr std::chrono::seconds kTtl{60};
    std::chrono::seconds wait{0};         // zero: unknown (the read failed)
    std::chrono::seconds interactive{0};
    std::optional<mysql::SessionTrackFilter> trackers;  // nullopt: unknown (the read failed)
    rt::Clock::time_point read_at{};
    std::uint64_t changes = ~0ull;        // SharedState::mysql_global_default_changes when read
    bool reading = false;                 // a session reads them now
  };
  GlobalDefaults global_defaults;

  /// The backend's capabilities for the greeting are learned once, by the first session that needs
  /// them; the others wait on `probed`.
  bool probing = false;
  rt::WaitQueue probed;

 private:
  MysqlFrontend(const ListenerEnv& env, mysql::RsaKey key, std::string public_pem);

  mysql::RsaKey rsa_key_;
  std::string rsa_public_pem_;
  std::string too_many_clients_;
};

}  // namespace corral::proxy
