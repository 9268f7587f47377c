#include "redis_cluster.h"

#include <algorithm>
#include <charconv>
#include <utility>

#include "child_process.h"
#include "harness_error.h"
#include "ports.h"
#include "wait.h"

namespace corral::testing {

namespace {

/// The integer of a RESP integer reply (":12\r\n"); throws on anything else.
long long integer_reply(const std::string& reply) {
  long long value = 0;
  if (reply.size() < 4 || reply.front() != ':' ||
      std::from_chars(reply.data() + 1, reply.data() + reply.size() - 2, value).ec != std::errc{}) {
    throw HarnessError("expected an integer reply, got: " + reply);
  }
  return value;
}

/// Reads a RESP integer or bulk header line at `pos` ("$9", ":7000") and moves past its CRLF.
std::string next_line(const std::string& reply, std::size_t& pos) {
  const std::size_t end = reply.find("\r\n", pos);
  if (end == std::string::npos) throw HarnessError("truncated CLUSTER SLOTS reply");
  std::string line = reply.substr(pos, end - pos);
  pos = end + 2;
  return line;
}

/// (first slot, last slot, master port) per row of a CLUSTER SLOTS reply. A small walker for the
/// fixed shape redis-server 7 sends: rows of [first, last, [ip, port, id, {meta}], replicas...].
struct SlotOwner {
  long long first;
  long long last;
  long long port;
};

std::vector<SlotOwner> slot_owners(const std::string& reply) {
  std::vector<SlotOwner> owners;
  std::size_t pos = 0;
  const std::string top = next_line(reply, pos);
  if (top.empty() || top[0] != '*') throw HarnessError("CLUSTER SLOTS: " + reply);
  const long long rows = std::stoll(top.substr(1));
  for (long long r = 0; r < rows; ++r) {
    const long long fields = std::stoll(next_line(reply, pos).substr(1));
    SlotOwner owner{std::stoll(next_line(reply, pos).substr(1)), std::stoll(next_line(reply, pos).substr(1)), 0};
    for (long long f = 2; f < fields; ++f) {
      const long long node_fields = std::stoll(next_line(reply, pos).substr(1));
      for (long long n = 0; n < node_fields; ++n) {
        const std::string line = next_line(reply, pos);
        if (line[0] == '$') {
          pos += static_cast<std::size_t>(std::stoll(line.substr(1))) + 2;
        } else if (line[0] == ':') {
          if (f == 2 && n == 1) owner.port = std::stoll(line.substr(1));
        } else if (line[0] == '*' || line[0] == '%') {
          // Hostname metadata (7.0+): empty in a loopback cluster without announced names.
          if (std::stoll(line.substr(1)) != 0) throw HarnessError("unexpected node metadata in CLUSTER SLOTS");
        }
      }
    }
    owners.push_back(owner);
  }
  return owners;
}

}  // namespace

RedisCluster::RedisCluster(RedisClusterOptions options) : options_(std::move(options)) {
  const std::size_t count = options_.masters * (1 + options_.replicas_per_master);
  for (std::size_t i = 0; i < count; ++i) {
    RedisServerOptions server;
    server.extra_args = {"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                         "--cluster-node-timeout", std::to_string(options_.node_timeout.count()),
                         // A test kills masters: the rest keeps serving the slots it still has.
                         "--cluster-require-full-coverage", "no",
                         // A replica takes over however long it was out of touch with its master.
                         "--cluster-replica-validity-factor", "0",
                         // The bus port is the client port + 10000 by default, beyond 65535 for the
                         // high free ports the harness picks: a free one of its own.
                         "--cluster-port", std::to_string(pick_free_port())};
    if (!options_.password.empty()) {
      server.extra_args.insert(server.extra_args.end(),
                               {"--requirepass", options_.password, "--masterauth", options_.password});
    }
    server.extra_args.insert(server.extra_args.end(), options_.extra_args.begin(), options_.extra_args.end());
    nodes_.emplace_back(std::move(server));
  }
  std::vector<std::string> create = {find_executable("redis-cli").string(), "--cluster", "create"};
  for (const RedisServer& node : nodes_) create.push_back(node.host() + ":" + std::to_string(node.port()));
  create.insert(create.end(), {"--cluster-replicas", std::to_string(options_.replicas_per_master), "--cluster-yes"});
  if (!options_.password.empty()) create.insert(create.end(), {"-a", options_.password, "--no-auth-warning"});
  const CommandResult created = run_command(create, options_.ready_timeout);
  if (created.exit_code() != 0) throw HarnessError("redis-cli --cluster create failed:\n" + created.output);
  wait_consistent(options_.ready_timeout);
  wait_replicas_online(options_.ready_timeout);
}

void RedisCluster::wait_replicas_online(std::chrono::milliseconds timeout) {
  // A replica that never synced cannot take over from its master: a failover test needs them all.
  std::string last;
  const bool online = poll_until(
      [&] {
        for (RedisServer& node : nodes_) {
          const std::string info = node.command({"INFO", "replication"});
          if (info.find("role:master") == std::string::npos) continue;
          std::size_t online_replicas = 0;
          for (std::size_t at = info.find("state=online"); at != std::string::npos; at = info.find("state=online", at + 1)) {
            ++online_replicas;
          }
          if (online_replicas < options_.replicas_per_master) {
            last = "master " + std::to_string(node.port()) + " has " + std::to_string(online_replicas) + " replicas online";
            return false;
          }
        }
        return true;
      },
      timeout, std::chrono::milliseconds(50));
  if (!online) throw HarnessError(wait_timeout_message("every replica online (" + last + ")", timeout));
}

void RedisCluster::wait_consistent(std::chrono::milliseconds timeout) {
  std::string last;
  const bool formed = poll_until(
      [&] {
        std::vector<SlotOwner> reference;
        bool first = true;
        for (RedisServer& node : nodes_) {
          if (!node.running()) continue;
          try {
            const std::string info = node.command({"CLUSTER", "INFO"});
            if (info.find("cluster_state:ok") == std::string::npos) {
              last = "node " + std::to_string(node.port()) + " is not ok yet";
              return false;
            }
            std::vector<SlotOwner> owners = slot_owners(node.command({"CLUSTER", "SLOTS"}));
            std::sort(owners.begin(), owners.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
            long long covered = 0;
            for (const SlotOwner& owner : owners) covered += owner.last - owner.first + 1;
            const bool same = first || (owners.size() == reference.size() &&
                                        std::equal(owners.begin(), owners.end(), reference.begin(),
                                                   [](const auto& a, const auto& b) {
                                                     return a.first == b.first && a.last == b.last && a.port == b.port;
                                                   }));
            if (covered != 16384 || !same) {
              last = "node " + std::to_string(node.port()) + " disagrees on the slot map";
              return false;
            }
            reference = std::move(owners);
            first = false;
          } catch (const HarnessError& e) {
            last = e.what();
            return false;
          }
        }
        return true;
      },
      timeout, std::chrono::milliseconds(50));
  if (!formed) throw HarnessError(wait_timeout_message("a consistent cluster (" + last + ")", timeout));
}

std::string RedisCluster::url() const {
  std::string out = "redis-cluster://";
  if (!options_.password.empty()) out += ":" + options_.password + "@";
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    out += (i == 0 ? "" : ",") + nodes_[i].host() + ":" + std::to_string(nodes_[i].port());
  }
  return out;
}

std::string RedisCluster::url_of(std::size_t node) const {
  const std::string credentials = options_.password.empty() ? "" : ":" + options_.password + "@";
  return "redis-cluster://" + credentials + nodes_[node].host() + ":" + std::to_string(nodes_[node].port());
}

std::size_t RedisCluster::index_of(std::uint16_t port) const {
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].port() == port) return i;
  }
  return nodes_.size();
}

std::size_t RedisCluster::master_of(std::uint16_t slot, std::size_t asked) {
  for (const SlotOwner& owner : slot_owners(nodes_[asked].command({"CLUSTER", "SLOTS"}))) {
    if (slot >= owner.first && slot <= owner.last) {
      const std::size_t index = index_of(static_cast<std::uint16_t>(owner.port));
      if (index < nodes_.size()) return index;
    }
  }
  throw HarnessError("no master known for slot " + std::to_string(slot));
}

std::uint16_t RedisCluster::keyslot(std::string_view key) {
  return static_cast<std::uint16_t>(integer_reply(nodes_[0].command({"CLUSTER", "KEYSLOT", key})));
}

std::string RedisCluster::command_for_key(std::string_view key, const std::vector<std::string>& args) {
  return nodes_[master_of(keyslot(key))].command(args);
}

}  // namespace corral::testing
