// corral's real-server test harness: one include for integration tests.
//
//   test ──► RedisServer / MariaDbServer ──spawn──► redis-server / mariadbd  (free 127.0.0.1 ports,
//     │                                                                      private temp dirs)
//     └────► CorralProcess ──writes TOML, spawns──► corral --config dir/corral.toml
//     └────► RedisClient / MysqlClient ──TCP──► corral listeners or the servers directly
//     └────► wait_until(condition, timeout, what) ──polls──► any of the above, until it holds
//
// Everything here is plain blocking POSIX code and throws HarnessError on failure. Every server is a
// child with PR_SET_PDEATHSIG(SIGKILL) and is killed, and its directory removed, by its destructor.
// A binary missing from PATH fails with "<name> not found in PATH; run scripts/install-deps.sh".
#pragma once

#include "admin_client.h"    // IWYU pragma: export
#include "child_process.h"   // IWYU pragma: export
#include "corral_process.h"  // IWYU pragma: export
#include "harness_error.h"   // IWYU pragma: export
#include "mariadb_replication.h"  // IWYU pragma: export
#include "mariadb_server.h"  // IWYU pragma: export
#include "mysql_client.h"    // IWYU pragma: export
#include "ports.h"           // IWYU pragma: export
#include "redis_client.h"    // IWYU pragma: export
#include "redis_cluster.h"   // IWYU pragma: export
#include "redis_server.h"    // IWYU pragma: export
#include "temp_dir.h"        // IWYU pragma: export
#include "test_certificates.h"  // IWYU pragma: export
#include "wait.h"            // IWYU pragma: export
