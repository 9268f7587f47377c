// readiness_json(): the /ready body, a listener's replicas with the state the checker last published.
#include "proxy/readiness.h"

#include <gtest/gtest.h>

#include <variant>

namespace corral::proxy {
namespace {

using namespace std::chrono_literals;

config::Listener listener(std::string name, config::Protocol protocol, std::string_view url) {
  config::Listener l;
  l.name = std::move(name);
  l.protocol = protocol;
  l.backend = std::get<config::BackendUrl>(config::parse_backend_url(url));
  return l;
}

TEST(ReadinessJson, ListenersWithoutReplicasHaveNoReplicaList) {
  const config::Listener cache = listener("cache", config::Protocol::Redis, "redis://:secret@10.0.0.1:6379");
  const std::string json = readiness_json({ProbeTarget{&cache, {}}}, {ProbeResult{false, "connect: refused"}});
  EXPECT_EQ(json, R"({"ready":false,"listeners":[{"name":"cache","protocol":"redis",)"
                  R"("backend":"redis://:***@10.0.0.1:6379","ready":false,"reason":"connect: refused"}]})"
                  "\n");
}

TEST(ReadinessJson, EachReplicasStateReasonAndAgeAndAnEjectedOneKeepsTheListenerReady) {
  const config::Listener db = listener("db", config::Protocol::Mysql, "mysql://app@10.0.0.1:3306/shop");
  pool::MysqlReplicaSet replicas("db", {{{"10.0.0.2", 3306}, {}}, {{"10.0.0.3", 3307}, {}}, {{"::1", 3308}, {}}});
  const auto now = std::chrono::steady_clock::now();
  replicas.record_verdict(0, {true, "0 s behind the primary"}, now - 250ms);
  replicas.record_verdict(1, {false, "Slave_SQL_Running is No"}, now - 1500ms);
  ProbeTarget target{&db, {}};
  target.replicas = &replicas;
  const std::string json = readiness_json({target}, {ProbeResult{true, ""}}, now);
  EXPECT_EQ(json, R"({"ready":true,"listeners":[{"name":"db","protocol":"mysql","backend":"mysql://app@10.0.0.1:3306/shop",)"
                  R"("ready":true,"reason":"","replicas":[)"
                  R"({"address":"10.0.0.2:3306","state":"healthy","reason":"0 s behind the primary","checked_ms_ago":250},)"
                  R"({"address":"10.0.0.3:3307","state":"ejected","reason":"Slave_SQL_Running is No","checked_ms_ago":1500},)"
                  R"({"address":"[::1]:3308","state":"unchecked","reason":"","checked_ms_ago":null}]}]})"
                  "\n");
}

TEST(ReadinessJson, ReplicasDoNotMakeAListenerWithADeadPrimaryReady) {
  const config::Listener db = listener("db", config::Protocol::Mysql, "mysql://app@10.0.0.1:3306");
  pool::MysqlReplicaSet replicas("db", {{{"10.0.0.2", 3306}, {}}});
  const auto now = std::chrono::steady_clock::now();
  replicas.record_verdict(0, {true, "0 s behind the primary"}, now);
  ProbeTarget target{&db, {}};
  target.replicas = &replicas;
  const std::string json = readiness_json({target}, {ProbeResult{false, "connect: Connection refused"}}, now);
  EXPECT_EQ(json.rfind(R"({"ready":false,)", 0), 0u) << json;
  EXPECT_NE(json.find(R"("state":"healthy")"), std::string::npos) << json;
}

}  // namespace
}  // namespace corral::proxy
