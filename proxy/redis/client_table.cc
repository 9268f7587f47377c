#include "proxy/redis/client_table.h"

#include <charconv>
#include <climits>
#include <utility>

#include "runtime/notify.h"

namespace corral::proxy {

namespace {

constexpr std::string_view kSyntaxError = "-ERR syntax error\r\n";

std::optional<long long> parse_integer(std::string_view text) {
  long long value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

/// getClientTypeByName(): "normal", "slave"/"replica", "pubsub", "master"; nullopt for anything else.
std::optional<ClientType> client_type(std::string_view name) {
  if (redis::iequals(name, "normal")) return ClientType::Normal;
  if (redis::iequals(name, "slave") || redis::iequals(name, "replica")) return ClientType::Replica;
  if (redis::iequals(name, "pubsub")) return ClientType::Pubsub;
  if (redis::iequals(name, "master")) return ClientType::Master;
  return std::nullopt;
}

std::string unknown_type(std::string_view name) {
  return "-ERR Unknown client type '" + std::string(name) + "'\r\n";
}

/// One state shared by visit_all() and the functions it posts: the last holder frees it, on
/// whichever thread that is (it holds no loop resource but a Notify nobody waits on any more).
struct Gather {
  rt::EventLoop* origin = nullptr;
  std::vector<ClientVisit> results;
  std::size_t pending = 0;  // touched on `origin` only
  rt::Notify done;          // `origin`'s
};

}  // namespace

void RedisClientTable::add_worker(rt::EventLoop& loop) {
  workers_.push_back(std::make_unique<Worker>(Worker{&loop, {}}));
}

RedisClientTable::Worker& RedisClientTable::of(rt::EventLoop& loop) {
  for (const auto& worker : workers_) {
    if (worker->loop == &loop) return *worker;
  }
  // A loop that was never added (a test's own loop): it gets a slot of its own on first use, which
  // is safe only because such a process runs one loop.
  workers_.push_back(std::make_unique<Worker>(Worker{&loop, {}}));
  return *workers_.back();
}

void RedisClientTable::add(rt::EventLoop& loop, uint64_t id, RedisClientEntry& entry) { of(loop).clients[id] = &entry; }

void RedisClientTable::remove(rt::EventLoop& loop, uint64_t id) { of(loop).clients.erase(id); }

rt::Task<std::optional<std::vector<ClientVisit>>> RedisClientTable::visit_all(ClientVisitor visitor,
                                                                              rt::Deadline deadline,
                                                                              rt::CancelSource* cancel) {
  auto gather = std::make_shared<Gather>();
  gather->origin = rt::EventLoop::current();
  gather->results.resize(workers_.size());
  gather->pending = workers_.size();
  auto shared_visitor = std::make_shared<const ClientVisitor>(std::move(visitor));
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    Worker* worker = workers_[i].get();
    // Captures by value: `gather` and the visitor are shared pointers, `worker` lives as long as the
    // process's SharedState, and its clients are read on its own loop.
    worker->loop->post([gather, shared_visitor, worker, i] {
      ClientVisit result = (*shared_visitor)(worker->clients);
      gather->origin->post([gather, i, result = std::move(result)]() mutable {
        gather->results[i] = std::move(result);
        if (--gather->pending == 0) gather->done.notify();
      });
    });
  }
  while (gather->pending > 0) {
    const bool woken = co_await gather->done.wait(deadline, cancel);
    if (!woken) co_return std::nullopt;
  }
  co_return std::move(gather->results);
}

std::variant<ClientFilter, std::string> parse_client_list(const redis::Request& request) {
  ClientFilter filter;
  const std::size_t argc = request.arg_count();
  if (argc == 4 && redis::iequals(request.arg(2), "type")) {
    filter.type = client_type(request.arg(3));
    if (!filter.type) return unknown_type(request.arg(3));
  } else if (argc > 3 && redis::iequals(request.arg(2), "id")) {
    for (std::size_t i = 3; i < argc; ++i) {
      const auto id = parse_integer(request.arg(i));
      if (!id) return std::string("-ERR Invalid client ID\r\n");
      // A negative id names no client; it is kept as 0, which no client has.
      filter.ids.push_back(*id > 0 ? static_cast<uint64_t>(*id) : 0);
    }
  } else if (argc != 2) {
    return std::string(kSyntaxError);
  }
  return filter;
}

std::variant<ClientFilter, std::string> parse_client_kill(const redis::Request& request) {
  ClientFilter filter;
  const std::size_t argc = request.arg_count();
  if (argc == 3) {
    filter.addr = std::string(request.arg(2));
    filter.old_style = true;  // and the asker may kill itself
    return filter;
  }
  if (argc < 3) return std::string(kSyntaxError);
  filter.skip_me = true;
  for (std::size_t i = 2; i < argc; i += 2) {
    const std::string_view option = request.arg(i);
    if (i + 1 >= argc) return std::string(kSyntaxError);
    const std::string_view value = request.arg(i + 1);
    if (redis::iequals(option, "id")) {
      const auto id = parse_integer(value);
      if (!id || *id < 1 || *id > LONG_MAX) return std::string("-ERR client-id should be greater than 0\r\n");
      filter.ids = {static_cast<uint64_t>(*id)};
    } else if (redis::iequals(option, "type")) {
      filter.type = client_type(value);
      if (!filter.type) return unknown_type(value);
    } else if (redis::iequals(option, "addr")) {
      filter.addr = std::string(value);
    } else if (redis::iequals(option, "laddr")) {
      filter.laddr = std::string(value);
    } else if (redis::iequals(option, "user")) {
      filter.user = std::string(value);
    } else if (redis::iequals(option, "skipme")) {
      if (redis::iequals(value, "yes")) {
        filter.skip_me = true;
      } else if (redis::iequals(value, "no")) {
        filter.skip_me = false;
      } else {
        return std::string(kSyntaxError);
      }
    } else {
      return std::string(kSyntaxError);
    }
  }
  return filter;
}

bool client_matches(const ClientFilter& filter, const RedisContext& context, ClientType type, uint64_t asker) {
  if (filter.skip_me && context.id == asker) return false;
  if (!filter.ids.empty()) {
    bool listed = false;
    for (const uint64_t id : filter.ids) listed = listed || id == context.id;
    if (!listed) return false;
  }
  if (filter.type && *filter.type != type) return false;
  if (!filter.addr.empty() && filter.addr != context.peer) return false;
  if (!filter.laddr.empty() && filter.laddr != context.local) return false;
  if (filter.user && *filter.user != context.user) return false;
  return true;
}

std::string client_line(const RedisContext& context, std::chrono::steady_clock::time_point now, std::size_t qbuf) {
  using std::chrono::duration_cast;
  using std::chrono::seconds;
  const auto age = duration_cast<seconds>(now - context.created).count();
  const auto idle = duration_cast<seconds>(now - context.last_active).count();
  std::string flags;
  if (context.subscribed) flags += 'P';
  if (context.transaction.in_multi()) flags += 'x';
  if (context.blocked) flags += 'b';
  if (context.no_evict) flags += 'e';
  if (flags.empty()) flags = "N";
  std::string command = "NULL";
  if (context.last_command != nullptr) command = std::string(context.last_command->name);
  // The fields and their order are redis-server 7.2's (rbs/rbp since 7.0: a client parsing them finds
  // them). corral has no per-client buffers like the server's: qbuf is the request being handled,
  // the other sizes are 0.
  return "id=" + std::to_string(context.id) + " addr=" + context.peer + " laddr=" + context.local +
         " fd=-1 name=" + context.name + " age=" + std::to_string(age) + " idle=" + std::to_string(idle) +
         " flags=" + flags + " db=" + std::to_string(context.db) + " sub=0 psub=0 ssub=0 multi=" +
         (context.transaction.in_multi() ? "0" : "-1") + " qbuf=" + std::to_string(qbuf) +
         " qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=" + command +
         " user=" + context.user + " redir=-1 resp=" + std::to_string(static_cast<int>(context.resp)) +
         " lib-name=" + context.lib_name + " lib-ver=" + context.lib_ver + "\n";
}

std::string replace_redirect_id(std::string reply, const RedirectIds& ids) {
  const std::string backend = ":" + std::to_string(ids.backend_id) + "\r\n";
  const std::string client = ":" + std::to_string(ids.client_id) + "\r\n";
  if (reply == backend) return client;  // GETREDIR
  // TRACKINGINFO: flags (fixed words), then "redirect" and its integer, then the prefixes. The first
  // "redirect" key is the field: no flag can contain it, and it comes before any prefix.
  const bool tracking_info = reply.starts_with("*6\r\n$5\r\nflags\r\n") || reply.starts_with("%3\r\n$5\r\nflags\r\n");
  if (!tracking_info) return reply;
  const std::string field = "$8\r\nredirect\r\n";
  const std::size_t at = reply.find(field);
  if (at == std::string::npos || reply.compare(at + field.size(), backend.size(), backend) != 0) return reply;
  reply.replace(at + field.size(), backend.size(), client);
  return reply;
}

}  // namespace corral::proxy
