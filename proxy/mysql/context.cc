#include "proxy/mysql/context.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <iterator>
#include <utility>

#include "protocols/mysql/collations.h"

namespace corral::proxy {

namespace {

/// Variables that follow something else corral tracks (the schema, the charset, the transaction
/// flags) and must never be replayed on their own.
bool follows_other_state(std::string_view name) noexcept {
  return name == "character_set_client" || name == "character_set_connection" || name == "character_set_results" ||
         name == "collation_connection" || name == "character_set_database" || name == "collation_database" ||
         name == "autocommit";
}

/// Variables the server's tracker reports that no session can set: last_gtid changes with every
/// commit when binary logging is on; the others change only as a side effect. Replaying one would fail
/// with ERR 1238 ("is a read only variable").
bool read_only(std::string_view name) noexcept {
  return name == "last_gtid" || name == "in_transaction" || name == "warning_count" || name == "error_count" ||
         name == "external_user" || name == "proxy_user";
}

/// A value as an SQL literal for SET: numbers bare, everything else quoted.
void append_literal(std::string& out, std::string_view value) {
  const bool numeric = !value.empty() && std::all_of(value.begin(), value.end(), [](char c) {
    return std::isdigit(static_cast<unsigned char>(c)) != 0 || c == '.' || c == '-';
  });
  if (numeric) {
    out.append(value);
    return;
  }
  out.push_back('\'');
  for (const char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out.push_back('\'');
}

}  // namespace

std::string_view to_string(MysqlPinReason reason) noexcept {
  switch (reason) {
    case MysqlPinReason::Transaction: return "transaction";
    case MysqlPinReason::AutocommitOff: return "autocommit_off";
    case MysqlPinReason::TransactionCharacteristics: return "transaction_characteristics";
    case MysqlPinReason::FoundRows: return "found_rows";
    case MysqlPinReason::Diagnostics: return "diagnostics";
    case MysqlPinReason::UserVariable: return "user_variable";
    case MysqlPinReason::TemporaryTable: return "temporary_table";
    case MysqlPinReason::TableLock: return "table_lock";
    case MysqlPinReason::NamedLock: return "named_lock";
    case MysqlPinReason::BackupStage: return "backup_stage";
    case MysqlPinReason::BackupLock: return "backup_lock";
    case MysqlPinReason::Handler: return "handler";
    case MysqlPinReason::SqlPrepare: return "sql_prepare";
    case MysqlPinReason::CharsetVariables: return "charset_variables";
    case MysqlPinReason::UnknownStateChange: return "unknown_state_change";
    case MysqlPinReason::Cursor: return "cursor";
  }
  return "unknown";
}

namespace {

constexpr std::pair<mysql::StatementEffect, MysqlPinReason> kPinOfEffect[] = {
    {mysql::StatementEffect::UserVariable, MysqlPinReason::UserVariable},
    {mysql::StatementEffect::TemporaryTable, MysqlPinReason::TemporaryTable},
    {mysql::StatementEffect::TableLock, MysqlPinReason::TableLock},
    {mysql::StatementEffect::NamedLock, MysqlPinReason::NamedLock},
    {mysql::StatementEffect::SqlPrepare, MysqlPinReason::SqlPrepare},
    {mysql::StatementEffect::CalcFoundRows, MysqlPinReason::FoundRows},
    {mysql::StatementEffect::NextTransaction, MysqlPinReason::TransactionCharacteristics},
    {mysql::StatementEffect::UntrackedVariable, MysqlPinReason::UnknownStateChange},
    {mysql::StatementEffect::BackupStage, MysqlPinReason::BackupStage},
    {mysql::StatementEffect::BackupLock, MysqlPinReason::BackupLock},
    {mysql::StatementEffect::HandlerOpen, MysqlPinReason::Handler},
};
// ConnectionId pins nothing: a KILL of the thread id the client read follows the client to whatever
// connection it uses then (MysqlClientTable::publish_backend_thread()).
static_assert(std::size(kPinOfEffect) == mysql::kStatementEffectCount - 1, "every other effect starts a pin");

MysqlPins pins_of(mysql::StatementEffects effects) noexcept {
  MysqlPins pins = 0;
  if (effects == 0) return pins;  // the usual statement
  for (const auto& [effect, reason] : kPinOfEffect) {
    if ((effects & mysql::effect_bit(effect)) != 0) pins |= pin_bit(reason);
  }
  return pins;
}

}  // namespace

MysqlPins pins_started_by(const mysql::StatementTraits& traits) noexcept { return pins_of(traits.effects); }

MysqlPins pins_ended_by(const mysql::StatementTraits& traits) noexcept { return pins_of(traits.ended_effects); }

void MysqlContext::login(const config::Listener& listener, const config::User& user, std::string schema,
                         std::string charset, mysql::CapabilityFlags capabilities, bool local_infile) {
  start(listener, std::move(charset), capabilities, local_infile);
  user_ = &user;
  if (user.backend_user) {
    key_.user = *user.backend_user;
    key_.password = user.backend_password.value_or(std::string());
  }
  key_.schema = std::move(schema);
  logged_in();
}

void MysqlContext::login_as_backend_user(const config::Listener& listener, std::string user,
                                         pool::MysqlPasswordEquivalent equivalent,
                                         std::string schema, std::string charset,
                                         mysql::CapabilityFlags capabilities, bool local_infile) {
  start(listener, std::move(charset), capabilities, local_infile);
  user_ = nullptr;
  key_.user = std::move(user);
  key_.password.clear();
  key_.password_sha1 = std::move(equivalent.sha1);
  key_.old_password_hash = std::move(equivalent.old_hash);
  key_.schema = std::move(schema);
  logged_in();
}

void MysqlContext::logged_in() {
  reset();
  if (login_observer_ != nullptr) login_observer_->logged_in(key_);
}

void MysqlContext::start(const config::Listener& listener, std::string charset, mysql::CapabilityFlags capabilities,
                         bool local_infile) {
  capabilities_ = capabilities;
  local_infile_ = local_infile;
  login_charset_ = charset.empty() ? listener.backend.mysql_charset : std::move(charset);
  mysql::CapabilityFlags key_capabilities = capabilities;
  // Without mysql.local_infile the backend connection never offers LOCAL INFILE either.
  if (!local_infile) key_capabilities &= ~mysql::CLIENT_LOCAL_FILES;
  key_ = pool::make_mysql_key(listener.backend, key_capabilities, backend_tls_);
  key_.charset = login_charset_;
  backend_listener_ = &listener;
}

void MysqlContext::follow_backend(const config::Listener& listener, const rt::TlsContext* tls) {
  const config::BackendUrl& url = listener.backend;
  backend_listener_ = &listener;
  backend_tls_ = tls;
  key_.host = url.host;
  key_.port = url.port;
  key_.ssl_mode = url.mysql_ssl_mode;
  key_.ssl_ca = url.tls_ca_file;
  key_.tls = tls;
  const bool urls_account = user_ != nullptr && !user_->backend_user;
  if (urls_account) {
    key_.user = url.user;
    key_.password = url.password;
  }
  key_changed();
}

MysqlPins MysqlContext::reset() {
  const MysqlPins had = pins_;
  key_.charset = login_charset_;
  variables_.clear();
  variables_text_.clear();
  status_flags_ = mysql::SERVER_STATUS_AUTOCOMMIT;
  pins_ = 0;
  started_pins_ = 0;
  transaction_characteristics_ = false;
  cursor_open_ = false;
  last_insert_id_ = 0;
  row_count_ = -1;
  found_rows_ = 0;
  wait_timeout_ = login_wait_timeout_;
  wait_timeout_set_ = false;
  trackers_ = default_trackers_;
  trackers_set_ = false;
  key_changed();
  return had;
}

void MysqlContext::set_schema(std::string schema) {
  if (schema == key_.schema) return;
  key_.schema = std::move(schema);
  key_changed();
}

void MysqlContext::set_charset(std::string charset) {
  if (charset == key_.charset) return;
  key_.charset = std::move(charset);
  key_changed();
}

void MysqlContext::set_multi_statements(bool on) {
  if (on) {
    capabilities_ |= mysql::CLIENT_MULTI_STATEMENTS;
    key_.capabilities |= mysql::CLIENT_MULTI_STATEMENTS;
  } else {
    capabilities_ &= ~mysql::CLIENT_MULTI_STATEMENTS;
    key_.capabilities &= ~mysql::CLIENT_MULTI_STATEMENTS;
  }
  key_changed();
}

std::string MysqlContext::variables_statement(std::string_view applied) const {
  std::string sql;
  for (const auto& [name, assignment] : variables_assignments(applied)) {
    sql.append(sql.empty() ? "SET SESSION " : ", ").append(assignment);
  }
  return sql;
}

std::vector<std::pair<std::string, std::string>> MysqlContext::variables_assignments(std::string_view applied) const {
  std::vector<std::pair<std::string, std::string>> assignments;
  if (applied == variables_text_) return assignments;
  // `applied` is another variables_text(): "name=value\n" lines sorted by name.
  std::vector<std::pair<std::string_view, std::string_view>> had;
  while (!applied.empty()) {
    const std::size_t end = applied.find('\n');
    const std::string_view line = applied.substr(0, end);
    const std::size_t eq = line.find('=');
    if (eq != std::string_view::npos) had.emplace_back(line.substr(0, eq), line.substr(eq + 1));
    applied.remove_prefix(end == std::string_view::npos ? applied.size() : end + 1);
  }
  const auto add = [&assignments](std::string_view name) -> std::string& {
    return assignments.emplace_back(std::string(name), std::string(name)).second.append(" = ");
  };
  for (const auto& [name, value] : variables_) {
    const auto it = std::find_if(had.begin(), had.end(), [&](const auto& h) { return h.first == name; });
    if (it == had.end() || it->second != value) append_literal(add(name), value);
  }
  for (const auto& [name, value] : had) {
    const bool kept = std::any_of(variables_.begin(), variables_.end(), [&](const auto& v) { return v.first == name; });
    if (!kept) add(name).append("DEFAULT");
  }
  return assignments;
}

void MysqlContext::forget_variable(std::string_view name) {
  const auto it = std::find_if(variables_.begin(), variables_.end(), [&](const auto& v) { return v.first == name; });
  if (it == variables_.end()) return;
  variables_.erase(it);
  rebuild_variables_text();
}

void MysqlContext::set_variable(const std::string& name, const std::string& value) {
  const auto it = std::lower_bound(variables_.begin(), variables_.end(), name,
                                   [](const auto& entry, const std::string& n) { return entry.first < n; });
  if (it != variables_.end() && it->first == name) {
    it->second = value;
  } else {
    variables_.emplace(it, name, value);
  }
}

void MysqlContext::rebuild_variables_text() {
  variables_text_.clear();
  for (const auto& [name, value] : variables_) variables_text_.append(name).append("=").append(value).append("\n");
}

void MysqlContext::learn_wait_timeout(std::string_view value) {
  // MariaDB's range is 1..31536000 seconds; anything else is not a value it reports.
  std::uint32_t seconds = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), seconds);
  if (error == std::errc() && end == value.data() + value.size()) set_client_wait_timeout(seconds);
}

void MysqlContext::set_client_wait_timeout(std::uint32_t seconds) {
  // MariaDB's range is 1..31536000 seconds (it clips a SET beyond it with a warning).
  wait_timeout_ = std::chrono::seconds(std::clamp<std::uint32_t>(seconds, 1, 31536000));
  wait_timeout_set_ = true;
}

void MysqlContext::learn_variable(const std::string& name, const std::string& value, CharsetReport& charsets) {
  if (name == "last_gtid") {
    last_gtid_ = value;  // never replayed (read_only()): kept for causal reads on replicas
  } else if (name == "character_set_client") {
    charsets.client = value;
  } else if (name == "character_set_connection") {
    charsets.connection = value;
  } else if (name == "character_set_results") {
    charsets.results = value;
  } else if (name == "collation_connection") {
    charsets.collation = value;
  } else if (name == "wait_timeout") {
    learn_wait_timeout(value);
    set_variable(name, value);  // replayed too: the server also ends a pinned connection after it
  } else if (name.starts_with("session_track")) {
    // corral's own view of the session depends on these trackers.
    pins_ |= pin_bit(MysqlPinReason::UnknownStateChange);
  } else if (!follows_other_state(name) && !read_only(name)) {
    set_variable(name, value);
  }
}

MysqlPins MysqlContext::learn_charsets(const CharsetReport& charsets) {
  // key_.charset is "cs" or "cs COLLATE collation" (SET NAMES cs COLLATE c).
  const std::string_view key_charset = std::string_view(key_.charset).substr(0, key_.charset.find(' '));
  // The tracker reports the variables a statement set: the others keep the charset of SET NAMES
  // (SET character_set_client = cp932 alone leaves the connection and results charsets as they were).
  const std::string client = charsets.client.value_or(std::string(key_charset));
  const bool expressible = charsets.connection.value_or(std::string(key_charset)) == client &&
                           charsets.results.value_or(std::string(key_charset)) == client;
  if (!expressible) return pin_bit(MysqlPinReason::CharsetVariables);
  // SET NAMES without COLLATE reports the charsets only, and gives their default collation.
  const std::string collation = charsets.collation.value_or(std::string());
  // SET collation_connection = ucs2_general_ci also makes the connection charset ucs2, which the
  // tracker does not report: no SET NAMES of the client charset can say that.
  if (!collation.empty() && !mysql::collation_belongs_to(client, collation)) {
    return pin_bit(MysqlPinReason::CharsetVariables);
  }
  // A non-default collation of the session is part of the key, so every connection lent to it
  // gets SET NAMES cs COLLATE collation (mtr: utf8mb4_unicode_520_ci kept across statements).
  const bool keep_collation = !collation.empty() && !mysql::is_default_collation(client, collation);
  set_charset(keep_collation ? client + " COLLATE " + collation : client);
  return 0;
}

void MysqlContext::learn_from_response(const mysql::ResponseSummary& summary,
                                       const mysql::SessionStateChanges& changes, mysql::StatusFlags status_flags,
                                       const mysql::StatementTraits& traits, bool result_set) {
  const MysqlPins before = pins_;
  const MysqlPins statement_pins = pins_started_by(traits);
  // A lock ends only when its UNLOCK ran: a text that failed may have stopped before it.
  const MysqlPins ended = summary.failed ? 0 : pins_ended_by(traits);
  MysqlPins sticky = static_cast<MysqlPins>((pins_ & kStickyPins & ~ended) | (statement_pins & kStickyPins));
  if (summary.has_status) status_flags_ = status_flags;
  last_statement_failed_ = summary.failed;
  if (!summary.failed) {
    if (summary.last_insert_id != 0) last_insert_id_ = summary.last_insert_id;
    if (traits.unscoped_wait_timeout != 0) set_client_wait_timeout(traits.unscoped_wait_timeout);
    row_count_ = result_set ? -1 : static_cast<std::int64_t>(summary.affected_rows);
    if (result_set) found_rows_ = summary.rows;
  }

  // Counted for has_unsaid_state(): any charset report counts, since one that SET NAMES can say again
  // may follow a combination that it could not, while the pin lasts.
  bool unsaid_change = (statement_pins & kUnsaidStatePins) != 0;
  if (!summary.session_state_info.empty()) {
    if (changes.schema) set_schema(*changes.schema);
    const std::size_t variables_before = variables_.size();
    CharsetReport charsets;
    pins_ = sticky;
    for (const auto& [name, value] : changes.system_variables) learn_variable(name, value, charsets);
    if (!traits.names_collation.empty() && !summary.failed) charsets.collation = traits.names_collation;
    if ((pins_ & ~sticky & kUnsaidStatePins) != 0) unsaid_change = true;  // a session_track_* variable
    sticky |= pins_ & kStickyPins;
    if (variables_.size() != variables_before || !changes.system_variables.empty()) rebuild_variables_text();
    if (charsets.any()) {
      sticky |= learn_charsets(charsets);
      unsaid_change = true;
    }
    const bool explained = changes.schema.has_value() || !changes.system_variables.empty() ||
                           (statement_pins & kStickyPins) != 0 || changes.transaction_characteristics.has_value() ||
                           changes.transaction_state.has_value();
    if (changes.state_changed && !explained) {
      sticky |= pin_bit(MysqlPinReason::UnknownStateChange);
      unsaid_change = true;
    }
    if (changes.transaction_characteristics) {
      transaction_characteristics_ = !changes.transaction_characteristics->empty();
    }
  }
  // A connection that does not track transaction characteristics (its query cache is on: see
  // MysqlConnection::tracks_transaction_characteristics()) never reports them, nor when they are used
  // up: a SET TRANSACTION that succeeded keeps the session on its connection from then on. (A tracked
  // repeat of pending characteristics reports nothing either; they are still pending then.)
  if (traits.has(mysql::StatementEffect::NextTransaction) && !summary.failed &&
      !changes.transaction_characteristics) {
    transaction_characteristics_ = true;
  }

  MysqlPins now = sticky;
  if (in_transaction()) now |= pin_bit(MysqlPinReason::Transaction);
  if ((status_flags_ & mysql::SERVER_STATUS_AUTOCOMMIT) == 0) now |= pin_bit(MysqlPinReason::AutocommitOff);
  if (transaction_characteristics_) now |= pin_bit(MysqlPinReason::TransactionCharacteristics);
  if (cursor_open_) now |= pin_bit(MysqlPinReason::Cursor);
  if ((statement_pins & pin_bit(MysqlPinReason::FoundRows)) != 0 && !summary.failed) {
    now |= pin_bit(MysqlPinReason::FoundRows);
  }
  if (summary.failed || summary.warnings > 0) now |= pin_bit(MysqlPinReason::Diagnostics);
  // Reading the diagnostics does not clear them on the server (mysqltest shows a statement's
  // warnings itself, then a test's own SHOW WARNINGS shows them again), nor does a statement that
  // uses no table: the hold goes on.
  const bool reads_diagnostics = traits.asks_for == mysql::PreviousStatementQuery::ShowWarnings ||
                                 traits.asks_for == mysql::PreviousStatementQuery::WarningCount;
  const bool keeps_diagnostics = reads_diagnostics || traits.keeps_diagnostics;
  if (keeps_diagnostics && (before & pin_bit(MysqlPinReason::Diagnostics)) != 0 && !summary.failed) {
    now |= pin_bit(MysqlPinReason::Diagnostics);
  }
  pins_ = now;
  started_pins_ = static_cast<MysqlPins>(now & ~before);
  if (unsaid_change) ++unsaid_state_changes_;
}

void MysqlContext::set_cursor_open(bool open) noexcept {
  cursor_open_ = open;
  if (!open) pins_ = static_cast<MysqlPins>(pins_ & ~pin_bit(MysqlPinReason::Cursor));
}

void MysqlContext::forget_backend_state() {
  status_flags_ = mysql::SERVER_STATUS_AUTOCOMMIT;
  transaction_characteristics_ = false;
  cursor_open_ = false;
  pins_ &= kStickyPins;
  started_pins_ = 0;
}

}  // namespace corral::proxy
