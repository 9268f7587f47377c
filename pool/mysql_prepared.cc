#include "pool/mysql_prepared.h"

#include <algorithm>
#include <utility>

#include "pool/mysql_connection.h"
#include "protocols/mysql/primitives.h"

namespace corral::pool {

// ---- templates -----------------------------------------------------------------------------------

std::shared_ptr<PreparedTemplate> PreparedTemplates::find_or_add(std::string_view context_id,
                                                                 std::string_view schema, std::string_view sql) {
  std::string key;
  key.reserve(context_id.size() + schema.size() + sql.size() + 24);
  // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
  key.append(std::to_string(context_id.size())).append(":").append(context_id);
  key.append(std::to_string(schema.size())).append(":").append(schema);
  key.append(sql);
  auto [it, inserted] = by_key_.try_emplace(std::move(key));
  if (!inserted) {
    if (auto alive = it->second.lock(); alive && !alive->retired) return alive;
  }
  auto made = std::make_shared<PreparedTemplate>();
  made->id = next_id_++;
  made->sql.assign(sql);
  made->schema.assign(schema);
  it->second = made;
  if (by_key_.size() > sweep_at_) sweep_expired();
  return made;
}

void PreparedTemplates::sweep_expired() {
  std::erase_if(by_key_, [](const auto& entry) { return entry.second.expired(); });
  // Sweep again only after the live set doubled: amortized O(1) per find_or_add.
  sweep_at_ = by_key_.size() * 2 + 64;
}

// ---- one connection's statements -----------------------------------------------------------------

BackendStatement* PreparedStatements::find(std::uint64_t template_id) noexcept {
  const auto it = by_template_.find(template_id);
  if (it == by_template_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);  // relinks the node: no allocation, iterators stay valid
  return &*it->second;
}

BackendStatement& PreparedStatements::add(std::shared_ptr<PreparedTemplate> statement, std::uint32_t backend_id,
                                          std::uint16_t num_params, std::size_t capacity,
                                          std::vector<std::uint32_t>& evicted) {
  const std::uint64_t template_id = statement->id;
  if (auto old = erase(template_id)) evicted.push_back(*old);
  for (auto it = lru_.begin(); it != lru_.end();) {
    if (it->statement->retired && !it->cursor_open) {
      evicted.push_back(it->backend_id);
      by_template_.erase(it->statement->id);
      it = lru_.erase(it);
    } else {
      ++it;
    }
  }
  lru_.push_front(BackendStatement{std::move(statement), backend_id, num_params, {}, false});
  by_template_.emplace(template_id, lru_.begin());
  // Walk from the least recently used end; statements with an open cursor stay (their session holds
  // this connection and will fetch from them).
  auto it = lru_.end();
  while (by_template_.size() > capacity && it != std::next(lru_.begin())) {
    --it;
    if (it->cursor_open) continue;
    evicted.push_back(it->backend_id);
    by_template_.erase(it->statement->id);
    it = lru_.erase(it);
  }
  return lru_.front();
}

std::optional<std::uint32_t> PreparedStatements::erase(std::uint64_t template_id) {
  const auto it = by_template_.find(template_id);
  if (it == by_template_.end()) return std::nullopt;
  const std::uint32_t backend_id = it->second->backend_id;
  lru_.erase(it->second);
  by_template_.erase(it);
  return backend_id;
}

void PreparedStatements::clear() noexcept {
  by_template_.clear();
  lru_.clear();
}

// ---- COM_STMT_EXECUTE ----------------------------------------------------------------------------

mysql::Result<ExecuteLayout> scan_execute(std::string_view payload, std::uint16_t num_params,
                                          mysql::CapabilityFlags caps) {
  // Once per execute: the fixed-size fields are read in place, the Reader is used only for the
  // length-encoded parts of CLIENT_QUERY_ATTRIBUTES.
  constexpr std::size_t kFlagsAt = 5;       // command byte, int<4> statement id
  constexpr std::size_t kFixedSize = 10;    // ... flags, int<4> iteration count
  constexpr auto kExecute = static_cast<std::uint8_t>(mysql::Command::COM_STMT_EXECUTE);
  if (!payload.empty() && static_cast<std::uint8_t>(payload[0]) != kExecute) return mysql::Errc::UnexpectedPacket;
  if (payload.size() < kFixedSize) return mysql::Errc::Truncated;
  ExecuteLayout layout;
  layout.flags = static_cast<std::uint8_t>(payload[kFlagsAt]);
  std::size_t at = kFixedSize;
  std::uint64_t count = num_params;
  const bool attributes = (caps & mysql::CLIENT_QUERY_ATTRIBUTES) != 0;
  if (attributes && (count > 0 || (layout.flags & mysql::PARAMETER_COUNT_AVAILABLE))) {
    mysql::Reader r(payload.substr(at));
    count = r.lenenc_int();
    if (!r.ok()) return r.error();
    if (count > 0xffff) return mysql::Errc::LimitExceeded;
    at += r.position();
  }
  layout.param_count = static_cast<std::size_t>(count);
  if (count == 0) {
    layout.values_at = at;
    return layout;
  }
  at += (layout.param_count + 7) / 8;  // NULL bitmap
  if (payload.size() <= at) return mysql::Errc::Truncated;
  layout.bound_flag_at = at;
  layout.new_params_bound = payload[at++] != 0;
  if (layout.new_params_bound) {
    const std::size_t types_at = at;
    if (!attributes) {
      at += 2 * layout.param_count;  // type, flags
      if (payload.size() < at) return mysql::Errc::Truncated;
    } else {
      mysql::Reader r(payload.substr(at));
      for (std::size_t i = 0; i < layout.param_count && r.ok(); ++i) {
        r.skip(2);  // type, flags
        r.lenenc_string();
      }
      if (!r.ok()) return r.error();
      at += r.position();
    }
    layout.types = payload.substr(types_at, at - types_at);
  }
  layout.values_at = at;
  return layout;
}

void append_execute_with_types(std::string& out, std::string_view payload, const ExecuteLayout& layout,
                               std::uint32_t statement_id, std::string_view types) {
  constexpr std::size_t kFlagsAt = 5;  // command byte + int<4> statement id
  out.reserve(out.size() + payload.size() + types.size() + 1);
  out.push_back(payload[0]);
  mysql::Writer(out).int4(statement_id);
  out.append(payload.substr(kFlagsAt, layout.bound_flag_at - kFlagsAt));
  out.push_back('\x01');
  out.append(types);
  out.append(payload.substr(layout.values_at));
}

// ---- COM_STMT_BULK_EXECUTE -----------------------------------------------------------------------

namespace {
constexpr std::size_t kBulkFlagsAt = 5;  // command byte, int<4> statement id
}  // namespace

mysql::Result<BulkLayout> scan_bulk_execute(std::string_view payload, std::uint16_t num_params) {
  constexpr std::size_t kTypesAt = kBulkFlagsAt + 2;
  constexpr auto kBulk = static_cast<std::uint8_t>(mysql::Command::COM_STMT_BULK_EXECUTE);
  if (!payload.empty() && static_cast<std::uint8_t>(payload[0]) != kBulk) return mysql::Errc::UnexpectedPacket;
  if (payload.size() < kTypesAt) return mysql::Errc::Truncated;
  BulkLayout layout;
  layout.flags = static_cast<std::uint16_t>(static_cast<std::uint8_t>(payload[kBulkFlagsAt]) |
                                            static_cast<std::uint8_t>(payload[kBulkFlagsAt + 1]) << 8);
  layout.rows_at = kTypesAt;
  if ((layout.flags & kBulkSendTypes) != 0) {
    layout.rows_at += 2 * static_cast<std::size_t>(num_params);  // type, flags
    if (payload.size() < layout.rows_at) return mysql::Errc::Truncated;
    layout.types = payload.substr(kTypesAt, layout.rows_at - kTypesAt);
  }
  return layout;
}

void append_bulk_with_types(std::string& out, std::string_view payload, const BulkLayout& layout,
                            std::uint32_t statement_id, std::string_view types) {
  out.reserve(out.size() + payload.size() + types.size());
  out.push_back(payload[0]);
  mysql::Writer w(out);
  w.int4(statement_id);
  w.int2(static_cast<std::uint16_t>(layout.flags | kBulkSendTypes));
  out.append(types);
  out.append(payload.substr(layout.rows_at));
}

// ---- backend round trips -------------------------------------------------------------------------

namespace {

/// Sends one command and reads its whole response. Returns the ERR_Packet payload when the server
/// refused it (empty when it succeeded); a transport failure is an error.
rt::Task<rt::Result<std::string>> round_trip(MysqlConnection& connection, std::string_view payload,
                                             std::string* response, rt::CancelSource* cancel) {
  auto sent = co_await connection.send_command(payload, cancel);
  if (!sent) co_return sent.error();
  for (;;) {
    auto packet = co_await connection.next_response_packet(cancel);
    if (!packet) co_return packet.error();
    if (response != nullptr) response->append(packet->packet.wire);
    if (packet->event.phase == mysql::ResponsePhase::Err) co_return std::string(packet->packet.payload());
    if (packet->event.complete) co_return std::string();
  }
}

rt::Task<rt::Result<std::string>> init_db(MysqlConnection& connection, std::string_view schema,
                                          rt::CancelSource* cancel) {
  std::string payload;
  mysql::encode_com_init_db(payload, schema);
  co_return co_await round_trip(connection, payload, nullptr, cancel);
}

}  // namespace

rt::Task<rt::Result<PrepareOnOutcome>> prepare_on(MysqlConnection& connection,
                                                  const std::shared_ptr<PreparedTemplate>& statement,
                                                  std::size_t capacity, rt::CancelSource* cancel) {
  PrepareOnOutcome outcome;
  outcome.statement = connection.prepared().find(statement->id);
  if (outcome.statement != nullptr) co_return outcome;

  // A statement resolves unqualified names in the schema it was prepared in, whatever the connection's
  // schema is now (a schema cannot be unselected, so an empty one is left as it is).
  std::string restore;
  if (!statement->schema.empty() && statement->schema != connection.schema()) {
    restore = connection.schema();
    auto switched = co_await init_db(connection, statement->schema, cancel);
    if (!switched) co_return switched.error();
    if (!switched->empty()) {
      outcome.refusal = std::move(*switched);
      co_return outcome;
    }
  }

  std::string payload;
  mysql::encode_com_stmt_prepare(payload, statement->sql);
  std::string response;
  auto prepared = co_await round_trip(connection, payload, &response, cancel);
  if (!prepared) co_return prepared.error();
  const mysql::COM_STMT_PREPARE_OK ok = connection.summary().prepare_ok;  // before COM_INIT_DB replaces it

  if (!restore.empty()) {
    // A refusal here (the old schema was dropped meanwhile) leaves the connection in the template's
    // schema, which the connection reports; the pool moves it back on its next lend.
    auto back = co_await init_db(connection, restore, cancel);
    if (!back) co_return back.error();
  }
  if (!prepared->empty()) {
    outcome.refusal = std::move(*prepared);
    co_return outcome;
  }

  statement->num_params = ok.num_params;
  statement->num_columns = ok.num_columns;
  statement->prepare_warnings = ok.warning_count;
  statement->prepare_response = std::move(response);
  std::vector<std::uint32_t> evicted;
  outcome.statement =
      &connection.prepared().add(statement, ok.statement_id, ok.num_params, capacity, evicted);
  outcome.prepared_now = true;
  if (evicted.empty()) co_return outcome;
  // All in one write, and without a response: the PREPARE's warnings stay the client's to read.
  std::string closes;
  for (const std::uint32_t backend_id : evicted) {
    payload.clear();
    mysql::encode_com_stmt_close(payload, backend_id);
    mysql::append_packet(closes, 0, payload);
  }
  auto closed = co_await connection.send_silent_commands(closes, cancel);
  if (!closed) co_return closed.error();
  co_return outcome;
}

namespace {

rt::Task<rt::Result<void>> send_long_data(MysqlConnection& connection, std::uint32_t backend_id,
                                          const ExecuteState& state, rt::CancelSource* cancel) {
  std::string packets;  // every piece of every parameter, one COM_STMT_SEND_LONG_DATA each, one write
  std::string payload;
  for (std::size_t i = 0; i < state.long_data.size(); ++i) {
    if (!state.long_data[i]) continue;
    const std::string_view bytes = *state.long_data[i];
    // Without a piece size (the state was filled another way), the value goes whole.
    const std::size_t piece = state.long_data_piece == 0 ? std::max<std::size_t>(bytes.size(), 1) : state.long_data_piece;
    std::size_t at = 0;
    do {  // an empty value is one empty packet, as the client sent it
      payload.clear();
      const std::string_view part = bytes.substr(at, piece);
      mysql::encode_com_stmt_send_long_data(payload, backend_id, static_cast<std::uint16_t>(i), part);
      mysql::append_packet(packets, 0, payload);
      at += part.size();
    } while (at < bytes.size());
  }
  if (packets.empty()) co_return rt::Result<void>{};
  co_return co_await connection.send_silent_commands(packets, cancel);
}

/// Clears the long data a failed execute left on the backend statement of `template_id`
/// (BackendStatement::stale_long_data). A statement the server will not reset is closed and forgotten
/// instead (the caller prepares it again).
rt::Task<rt::Result<void>> reset_stale_long_data(MysqlConnection& connection, std::uint64_t template_id,
                                                 rt::CancelSource* cancel) {
  BackendStatement* backend = connection.prepared().find(template_id);
  std::string payload;
  mysql::encode_com_stmt_reset(payload, backend->backend_id);
  auto refused = co_await round_trip(connection, payload, nullptr, cancel);
  if (!refused) co_return refused.error();
  if (!refused->empty()) {
    auto closed = co_await close_on(connection, template_id, cancel);
    co_return closed;
  }
  backend->stale_long_data = false;
  backend->bound_types.clear();  // MariaDB's reset forgets the types too: the next execute must carry them
  co_return rt::Result<void>{};
}

/// Sends an execute or bulk execute: `rebuilt` (its types re-encoded) when not empty, else the
/// client's own bytes with the backend's statement id written in place.
rt::Task<rt::Result<void>> send_execute(MysqlConnection& connection, const std::string& rebuilt, std::span<char> wire,
                                        std::uint32_t backend_id, rt::CancelSource* cancel) {
  if (!rebuilt.empty()) {
    rt::Result<void> sent = co_await connection.send_command(rebuilt, cancel);
    co_return sent;
  }
  if (mysql::rewrite_statement_id(wire, backend_id) != mysql::Errc::Ok) {
    co_return make_error_code(MysqlBackendErrc::Protocol);
  }
  rt::Result<void> sent = co_await connection.send_command_wire(std::string_view(wire.data(), wire.size()), cancel);
  co_return sent;
}

}  // namespace

BackendStatement* ready_execute(MysqlConnection& connection, const PreparedTemplate& statement, ExecuteState& state,
                                std::span<char> wire, std::string_view payload) {
  if (!state.long_data.empty()) return nullptr;
  BackendStatement* backend = connection.prepared().find(statement.id);
  if (backend == nullptr || backend->stale_long_data) return nullptr;
  const auto layout = scan_execute(payload, backend->num_params, connection.capabilities());
  if (!layout) return nullptr;
  if (layout->new_params_bound) {
    if (state.types != layout->types) state.types.assign(layout->types);
    if (backend->bound_types != layout->types) backend->bound_types.assign(layout->types);
  } else if (layout->param_count > 0 && !state.types.empty() && backend->bound_types != state.types) {
    return nullptr;  // the types must be re-sent: start_execute() re-encodes the packet
  }
  if (mysql::rewrite_statement_id(wire, backend->backend_id) != mysql::Errc::Ok) return nullptr;
  return backend;
}

rt::Task<rt::Result<ExecuteStart>> start_execute(MysqlConnection& connection,
                                                 const std::shared_ptr<PreparedTemplate>& statement,
                                                 ExecuteState& state, std::span<char> wire,
                                                 std::string_view payload, std::size_t capacity,
                                                 bool after_need_reprepare, rt::CancelSource* cancel) {
  // What ready_execute() cannot do: prepare here, send long data, re-send types, retry after 1615.
  ExecuteStart start;
  if (after_need_reprepare) {
    auto closed = co_await close_on(connection, statement->id, cancel);
    if (!closed) co_return closed.error();
  }
  for (int attempt = after_need_reprepare ? 1 : 0;; ++attempt) {
    BackendStatement* backend = connection.prepared().find(statement->id);
    if (backend != nullptr && backend->stale_long_data) {
      auto reset = co_await reset_stale_long_data(connection, statement->id, cancel);
      if (!reset) co_return reset.error();
      backend = connection.prepared().find(statement->id);  // gone when the server refused the reset
    }
    if (backend == nullptr) {
      auto prepared = co_await prepare_on(connection, statement, capacity, cancel);
      if (!prepared) co_return prepared.error();
      if (!prepared->refusal.empty()) {
        start.refusal = std::move(prepared->refusal);
        state.clear_long_data();
        co_return start;
      }
      backend = prepared->statement;
    }
    auto layout = scan_execute(payload, backend->num_params, connection.capabilities());
    if (!layout) co_return make_error_code(MysqlBackendErrc::Protocol);
    if (layout->new_params_bound) {
      if (state.types != layout->types) state.types.assign(layout->types);
      if (backend->bound_types != layout->types) backend->bound_types.assign(layout->types);
    }
    const bool sends_long_data = !state.long_data.empty();
    if (sends_long_data) {
      auto sent_data = co_await send_long_data(connection, backend->backend_id, state, cancel);
      if (!sent_data) co_return sent_data.error();
    }

    // The client's bytes go as they are (id rewritten in place) unless the backend statement last saw
    // other types than the ones this client bound: then they are re-encoded with the client's types.
    const bool needs_types = layout->param_count > 0 && !layout->new_params_bound && !state.types.empty() &&
                             backend->bound_types != state.types;
    std::string rebuilt;
    if (needs_types) {
      append_execute_with_types(rebuilt, payload, *layout, backend->backend_id, state.types);
      backend->bound_types = state.types;
    }
    const rt::Result<void> sent = co_await send_execute(connection, rebuilt, wire, backend->backend_id, cancel);
    if (!sent) co_return sent.error();
    // The first packet, polled in place (a coroutine frame only to wait for bytes).
    std::optional<ResponsePacket> first;
    while (!first) {
      auto polled = connection.poll_response_packet();
      if (!polled) co_return polled.error();
      if (polled->has_value()) {
        first = std::move(*polled);
        break;
      }
      auto filled = co_await connection.read_response_bytes(cancel);
      if (!filled) co_return filled.error();
    }

    const bool failed = first->event.phase == mysql::ResponsePhase::Err;
    if (failed && sends_long_data) backend->stale_long_data = true;
    const bool need_reprepare = failed && first->event.err.error_code == kErrNeedReprepare;
    if (!need_reprepare || attempt > 0) {
      start.statement = backend;
      start.first = first->packet;
      start.first_event = first->event;
      start.reprepared = attempt > 0;
      state.clear_long_data();
      co_return start;
    }
    // The statement did not run: drop the stale backend statement and go round once more.
    auto closed = co_await close_on(connection, statement->id, cancel);
    if (!closed) co_return closed.error();
  }
}

rt::Task<rt::Result<ExecuteStart>> start_bulk_execute(MysqlConnection& connection,
                                                      const std::shared_ptr<PreparedTemplate>& statement,
                                                      ExecuteState& state, std::span<char> wire,
                                                      std::string_view payload, std::size_t capacity,
                                                      rt::CancelSource* cancel) {
  ExecuteStart start;
  BackendStatement* backend = connection.prepared().find(statement->id);
  if (backend == nullptr) {
    auto prepared = co_await prepare_on(connection, statement, capacity, cancel);
    if (!prepared) co_return prepared.error();
    if (!prepared->refusal.empty()) {
      start.refusal = std::move(prepared->refusal);
      co_return start;
    }
    backend = prepared->statement;
  }
  auto layout = scan_bulk_execute(payload, backend->num_params);
  if (!layout) co_return make_error_code(MysqlBackendErrc::Protocol);
  // Bulk and execute type blocks are alike (2 bytes per parameter) unless CLIENT_QUERY_ATTRIBUTES adds
  // names to the execute's: only blocks of the bulk's size are taken from one into the other.
  const std::size_t bulk_types_size = 2 * static_cast<std::size_t>(backend->num_params);
  if ((layout->flags & kBulkSendTypes) != 0) {
    if (state.types != layout->types) state.types.assign(layout->types);
    if (backend->bound_types != layout->types) backend->bound_types.assign(layout->types);
  }
  const bool needs_types = (layout->flags & kBulkSendTypes) == 0 && backend->num_params > 0 &&
                           state.types.size() == bulk_types_size && backend->bound_types != state.types;
  std::string rebuilt;
  if (needs_types) {
    append_bulk_with_types(rebuilt, payload, *layout, backend->backend_id, state.types);
    backend->bound_types = state.types;
  }
  const rt::Result<void> sent = co_await send_execute(connection, rebuilt, wire, backend->backend_id, cancel);
  if (!sent) co_return sent.error();
  auto first = co_await connection.next_response_packet(cancel);
  if (!first) co_return first.error();
  start.statement = backend;
  start.first = first->packet;
  start.first_event = first->event;
  co_return start;
}

rt::Task<rt::Result<void>> close_on(MysqlConnection& connection, std::uint64_t template_id,
                                    rt::CancelSource* cancel) {
  const auto backend_id = connection.prepared().erase(template_id);
  if (!backend_id) co_return rt::Result<void>{};
  std::string payload;
  mysql::encode_com_stmt_close(payload, *backend_id);
  co_return co_await connection.send_command(payload, cancel);
}

}  // namespace corral::pool
