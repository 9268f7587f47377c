#include "proxy/mysql/client_table.h"

#include <sys/socket.h>

#include <algorithm>
#include <utility>

namespace corral::proxy {

std::string_view kill_refusal(const std::optional<mysql::KillStatement>& kill) noexcept {
  using Target = mysql::KillStatement::Target;
  if (!kill) {
    return "corral: KILL is carried out only as a statement of its own (KILL [QUERY | CONNECTION] <id>), "
           "not among other statements or in SQL-level PREPARE";
  }
  switch (kill->target) {
    case Target::ConnectionId:
    case Target::Self:
      return {};
    case Target::QueryId:
      return "corral: KILL QUERY ID is not supported (query ids belong to backend threads shared by many clients)";
    case Target::User:
      return "corral: KILL ... USER is not supported (backend threads are shared by many clients)";
    case Target::Expression:
      // Evaluated by the server in the session (MysqlSession::carry_out_kill()).
      if (!kill->expression.empty()) return {};
      break;
  }
  return "corral: KILL takes a connection id or an expression";
}

void MysqlClientTable::add(std::uint32_t id, rt::EventLoop* loop, MysqlKillable* session, std::string backend_user,
                           int socket_fd, const std::atomic<std::uint32_t>* serving_thread) {
  std::lock_guard lock(mutex_);
  entries_.insert_or_assign(id, Entry{loop, session, std::move(backend_user), socket_fd, serving_thread});
}

void MysqlClientTable::set_backend_user(std::uint32_t id, std::string backend_user) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it != entries_.end()) it->second.backend_user = std::move(backend_user);
}

void MysqlClientTable::publish_backend_thread(std::uint32_t id, std::uint32_t thread) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) return;
  unpublish(id, it->second);
  it->second.told_thread = thread;
  if (thread != 0) told_threads_.insert_or_assign(thread, id);  // a session told it before loses it
}

void MysqlClientTable::unpublish(std::uint32_t id, Entry& entry) {
  const auto told = told_threads_.find(entry.told_thread);
  if (told != told_threads_.end() && told->second == id) told_threads_.erase(told);
  entry.told_thread = 0;
}

void MysqlClientTable::remove(std::uint32_t id) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  if (it == entries_.end()) return;
  unpublish(id, it->second);
  entries_.erase(it);
}

std::unordered_map<std::uint32_t, MysqlClientTable::Entry>::iterator MysqlClientTable::find_target(std::uint32_t id) {
  const auto own = entries_.find(id);
  if (own != entries_.end()) return own;
  const auto told = told_threads_.find(id);
  if (told != told_threads_.end()) return entries_.find(told->second);
  // A thread id from the process list: a scan, paid only by a KILL no other way names.
  return std::find_if(entries_.begin(), entries_.end(), [id](const auto& entry) {
    return id != 0 && entry.second.serving_thread != nullptr &&
           entry.second.serving_thread->load(std::memory_order_relaxed) == id;
  });
}

MysqlClientTable::KillOutcome MysqlClientTable::kill(std::uint32_t id, std::uint32_t killer,
                                                     std::string_view killer_backend_user, MysqlKillScope scope) {
  rt::EventLoop* loop = nullptr;
  std::uint32_t session_id = 0;
  {
    std::lock_guard lock(mutex_);
    const auto it = find_target(id);
    if (it == entries_.end() || it->second.backend_user.empty()) return KillOutcome::NoSuchId;  // not logged in
    if (it->first == killer) return KillOutcome::Self;
    if (it->second.backend_user != killer_backend_user) return KillOutcome::NotOwner;
    loop = it->second.loop;
    session_id = it->first;
    // The fd is open while the entry exists (remove() comes before the stream closes, and waits for
    // this mutex), so it cannot be another socket's; shutdown(2) is safe from any thread. The
    // session's loop sees the end of its socket and the posted kill() below ends the rest.
    if (scope == MysqlKillScope::Connection) ::shutdown(it->second.socket_fd, SHUT_RDWR);
  }
  // The table outlives the loops (SharedState outlives the workers); a function posted to a loop
  // that stops first is dropped unrun.
  loop->post([this, session_id, scope] {
    if (MysqlKillable* session = find_here(session_id)) session->kill(scope);
  });
  return KillOutcome::Posted;
}

std::size_t MysqlClientTable::size() {
  std::lock_guard lock(mutex_);
  return entries_.size();
}

MysqlKillable* MysqlClientTable::find_here(std::uint32_t id) {
  std::lock_guard lock(mutex_);
  const auto it = entries_.find(id);
  return it == entries_.end() ? nullptr : it->second.session;
}

}  // namespace corral::proxy
