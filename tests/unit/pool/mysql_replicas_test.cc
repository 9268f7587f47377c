// judge_replica(): what makes a replica fit for reads, from the answers to SELECT @@read_only and
// SHOW SLAVE STATUS; replica_key(); MysqlReplicaSet's published health and its one checker.
#include "pool/mysql_replicas.h"

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace corral::pool {
namespace {

using namespace std::chrono_literals;

QueryOutcome read_only(std::optional<std::string> value) {
  QueryOutcome out;
  out.columns = {"@@read_only"};
  out.rows = {{std::move(value)}};
  return out;
}

QueryOutcome slave_status(std::optional<std::string> io, std::optional<std::string> sql,
                          std::optional<std::string> behind) {
  QueryOutcome out;
  out.columns = {"Slave_IO_State", "Master_Host", "Slave_IO_Running", "Slave_SQL_Running", "Seconds_Behind_Master"};
  out.rows = {{"Waiting for master to send event", "127.0.0.1", std::move(io), std::move(sql), std::move(behind)}};
  return out;
}

QueryOutcome failed(std::string message) {
  QueryOutcome out;
  out.error = MysqlError{1227, "42000", std::move(message)};
  return out;
}

TEST(JudgeReplica, HealthyWhenReadOnlyReplicatingAndWithinTheLag) {
  const ReplicaVerdict v = judge_replica(read_only("1"), slave_status("Yes", "Yes", "0"), 5000ms);
  EXPECT_TRUE(v.healthy);
  EXPECT_EQ(v.reason, "0 s behind the primary");
  EXPECT_TRUE(judge_replica(read_only("1"), slave_status("Yes", "Yes", "5"), 5000ms).healthy);
}

TEST(JudgeReplica, LagBeyondTheBoundEjects) {
  const ReplicaVerdict v = judge_replica(read_only("1"), slave_status("Yes", "Yes", "6"), 5000ms);
  EXPECT_FALSE(v.healthy);
  EXPECT_EQ(v.reason, "lagging 6 s behind the primary (max_replication_lag_ms = 5000)");
  EXPECT_FALSE(judge_replica(read_only("1"), slave_status("Yes", "Yes", "2"), 1000ms).healthy);
}

TEST(JudgeReplica, StoppedThreadsOrUnknownLagEject) {
  EXPECT_EQ(judge_replica(read_only("1"), slave_status("Connecting", "Yes", std::nullopt), 5000ms).reason,
            "Slave_IO_Running is Connecting");
  EXPECT_EQ(judge_replica(read_only("1"), slave_status("Yes", "No", std::nullopt), 5000ms).reason,
            "Slave_SQL_Running is No");
  EXPECT_EQ(judge_replica(read_only("1"), slave_status("Yes", std::nullopt, "0"), 5000ms).reason,
            "Slave_SQL_Running is NULL");
  EXPECT_EQ(judge_replica(read_only("1"), slave_status("Yes", "Yes", std::nullopt), 5000ms).reason,
            "Seconds_Behind_Master is unknown");
  EXPECT_EQ(judge_replica(read_only("1"), slave_status("Yes", "Yes", "x"), 5000ms).reason,
            "Seconds_Behind_Master is unknown");
}

TEST(JudgeReplica, AWritableServerIsNoReplica) {
  EXPECT_EQ(judge_replica(read_only("0"), slave_status("Yes", "Yes", "0"), 5000ms).reason,
            "read_only is OFF (not a replica, or promoted)");
  EXPECT_FALSE(judge_replica(read_only(std::nullopt), slave_status("Yes", "Yes", "0"), 5000ms).healthy);
  EXPECT_FALSE(judge_replica(QueryOutcome{}, slave_status("Yes", "Yes", "0"), 5000ms).healthy);
}

TEST(JudgeReplica, NotConfiguredOrRefusedStatusEjects) {
  EXPECT_EQ(judge_replica(read_only("1"), QueryOutcome{}, 5000ms).reason,
            "replication is not configured (SHOW SLAVE STATUS is empty)");
  EXPECT_EQ(judge_replica(read_only("1"), failed("Access denied; you need the SLAVE MONITOR privilege"), 5000ms).reason,
            "SHOW SLAVE STATUS failed: Access denied; you need the SLAVE MONITOR privilege");
  EXPECT_EQ(judge_replica(failed("no"), slave_status("Yes", "Yes", "0"), 5000ms).reason,
            "SELECT @@read_only failed: no");
}

TEST(ReplicaKey, TheReplicasAddressWithEverythingElseKept) {
  MysqlKey primary{"db-1", 3306, "app", "pw", "shop", "utf8mb4", mysql::CLIENT_FOUND_ROWS};
  const MysqlReplicaSet::Replica replica{{"db-2", 3307}, {}};
  const MysqlKey key = replica_key(primary, replica);
  EXPECT_EQ(key.host, "db-2");
  EXPECT_EQ(key.port, 3307);
  primary.host = "db-2";
  primary.port = 3307;
  EXPECT_EQ(key, primary);
}

TEST(MysqlReplicaSet, StartsEjectedAndHasOneChecker) {
  MysqlReplicaSet set("db", {{{"a", 1}, {}}, {{"b", 2}, {}}});
  EXPECT_EQ(set.name(), "db");
  ASSERT_EQ(set.size(), 2u);
  EXPECT_FALSE(set.healthy(0));
  EXPECT_FALSE(set.healthy(1));
  set.set_healthy(1, true);
  EXPECT_TRUE(set.healthy(1));
  EXPECT_TRUE(set.claim_checker());
  EXPECT_FALSE(set.claim_checker());
}

TEST(MysqlReplicaSet, KeepsEachVerdictForReadyAndPublishesItsHealth) {
  MysqlReplicaSet set("db", {{{"a", 1}, {}}, {{"b", 2}, {}}});
  EXPECT_EQ(set.status(0).state, ReplicaState::Unchecked);
  EXPECT_EQ(set.status(0).reason, "");
  const auto at = std::chrono::steady_clock::now();
  set.record_verdict(0, {true, "2 s behind the primary"}, at);
  set.record_verdict(1, {false, "Slave_IO_Running is No"}, at);
  EXPECT_TRUE(set.healthy(0));
  EXPECT_FALSE(set.healthy(1));
  EXPECT_EQ(set.status(0).state, ReplicaState::Healthy);
  EXPECT_EQ(set.status(0).reason, "2 s behind the primary");
  EXPECT_EQ(set.status(0).checked_at, at);
  EXPECT_EQ(set.status(1).state, ReplicaState::Ejected);
  EXPECT_EQ(set.status(1).reason, "Slave_IO_Running is No");
  // Ejected again later: the same state, the newer reason and time.
  set.record_verdict(0, {false, "read_only is OFF (not a replica, or promoted)"}, at + std::chrono::seconds(1));
  EXPECT_FALSE(set.healthy(0));
  EXPECT_EQ(set.status(0).state, ReplicaState::Ejected);
  EXPECT_EQ(set.status(0).checked_at, at + std::chrono::seconds(1));
  EXPECT_EQ(to_string(ReplicaState::Unchecked), "unchecked");
}

}  // namespace
}  // namespace corral::pool
