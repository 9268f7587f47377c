// mysql_replica_metrics(): one gauge line per replica, labelled with its listener and address.
#include "proxy/mysql/replica_metrics.h"

#include <gtest/gtest.h>

namespace corral::proxy {
namespace {

TEST(MysqlReplicaMetrics, OneLinePerReplicaWithItsHealth) {
  pool::MysqlReplicaSet db("db", {{{"10.0.0.2", 3306}, {}}, {{"::1", 3307}, {}}});
  pool::MysqlReplicaSet shop("shop", {{{"r1", 3306}, {}}});
  db.set_healthy(1, true);
  EXPECT_EQ(mysql_replica_metrics({&db, &shop}),
            "# HELP corral_mysql_replica_healthy Whether a MySQL replica takes reads now (1) or is ejected (0).\n"
            "# TYPE corral_mysql_replica_healthy gauge\n"
            "corral_mysql_replica_healthy{listener=\"db\",replica=\"10.0.0.2:3306\"} 0\n"
            "corral_mysql_replica_healthy{listener=\"db\",replica=\"[::1]:3307\"} 1\n"
            "corral_mysql_replica_healthy{listener=\"shop\",replica=\"r1:3306\"} 0\n");
}

TEST(MysqlReplicaMetrics, NothingWithoutReplicas) { EXPECT_EQ(mysql_replica_metrics({}), ""); }

}  // namespace
}  // namespace corral::proxy
