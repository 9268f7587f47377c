#include "proxy/mysql/context.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace corral::proxy {

namespace {

// The scanner runs on every COM_QUERY: these are inline ASCII tests rather than <cctype> calls, which
// cost a library call and a locale lookup per character. SQL keywords and identifiers' word
// characters are ASCII; corral never sets a locale, so <cctype> would answer the same.
constexpr char ascii_upper(char c) noexcept { return c >= 'a' && c <= 'z' ? static_cast<char>(c - ('a' - 'A')) : c; }

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return ascii_upper(x) == ascii_upper(y); });
}

constexpr std::array<bool, 256> kWordChars = [] {
  std::array<bool, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[static_cast<std::size_t>(c)] =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '$';
  }
  return table;
}();

constexpr bool is_word_char(char c) noexcept { return kWordChars[static_cast<unsigned char>(c)]; }

/// Walks statement text the way the server's lexer separates code from quoted strings and comments,
/// collecting the first words of each ';'-separated statement. Executable comments (/*! ... */,
/// /*M! ... */) are code: mysqldump puts user variable assignments inside them.
class StatementScanner {
 public:
  explicit StatementScanner(std::string_view sql) : sql_(sql) {}

  StatementTraits run() {
    while (pos_ < sql_.size()) step();
    end_statement();
    return std::move(traits_);
  }
  std::size_t statements() const noexcept { return statements_; }
  /// True when a word names something about the previous statement (ROW_COUNT, WARNINGS, ...).
  bool asks_previous() const noexcept { return asks_previous_; }

 private:
  static constexpr std::size_t kFirstWords = 6;

  void step() {
    const char c = sql_[pos_];
    if (c == '\'' || c == '"' || c == '`') return skip_quoted(c);
    if (c == '#') return skip_line();
    if (c == '-' && starts_with("--") && (pos_ + 2 >= sql_.size() || std::isspace(static_cast<unsigned char>(sql_[pos_ + 2])))) {
      return skip_line();
    }
    if (c == '/' && starts_with("/*")) return comment();
    if (c == '*' && starts_with("*/")) {  // the end of an executable comment
      pos_ += 2;
      return;
    }
    if (c == ';') {
      end_statement();
      ++pos_;
      return;
    }
    if (c == '@') return at_sign();
    if (is_word_char(c)) return word();
    ++pos_;
  }

  bool starts_with(std::string_view prefix) const noexcept { return sql_.substr(pos_, prefix.size()) == prefix; }

  void skip_quoted(char quote) {
    ++pos_;
    while (pos_ < sql_.size()) {
      const char c = sql_[pos_++];
      if (c == '\\' && quote != '`') {
        ++pos_;
      } else if (c == quote) {
        return;
      }
    }
  }

  void skip_line() {
    const std::size_t end = sql_.find('\n', pos_);
    pos_ = end == std::string_view::npos ? sql_.size() : end + 1;
  }

  void comment() {
    if (starts_with("/*!") || starts_with("/*M!")) {
      pos_ += starts_with("/*!") ? 3 : 4;
      while (pos_ < sql_.size() && std::isdigit(static_cast<unsigned char>(sql_[pos_]))) ++pos_;
      return;  // the rest is code; its "*/" is skipped by step()
    }
    const std::size_t end = sql_.find("*/", pos_ + 2);
    pos_ = end == std::string_view::npos ? sql_.size() : end + 2;
  }

  void at_sign() {
    if (pos_ + 1 < sql_.size() && sql_[pos_ + 1] == '@') {  // @@system_variable
      pos_ += 2;
      const std::size_t start = pos_;
      while (pos_ < sql_.size() && (is_word_char(sql_[pos_]) || sql_[pos_] == '.')) ++pos_;
      std::string_view name = sql_.substr(start, pos_ - start);
      name = name.substr(name.find('.') == std::string_view::npos ? 0 : name.find('.') + 1);
      if (iequals(name, "warning_count") || iequals(name, "error_count")) asks_previous_ = true;
      return;
    }
    // 'user'@'host' and user@host name accounts, not variables.
    const bool account = pos_ > 0 && (is_word_char(sql_[pos_ - 1]) || sql_[pos_ - 1] == '\'' ||
                                      sql_[pos_ - 1] == '"' || sql_[pos_ - 1] == '`');
    if (!account) traits_.pins |= pin_bit(MysqlPinReason::UserVariable);
    ++pos_;
  }

  void word() {
    const std::size_t start = pos_;
    std::size_t end = start;  // a local: the loop keeps it in a register
    while (end < sql_.size() && is_word_char(sql_[end])) ++end;
    pos_ = end;
    const std::string_view w = sql_.substr(start, end - start);
    if (words_ < kFirstWords) first_[words_] = w;
    ++words_;
    note_keyword(w);
  }

  /// The words that matter wherever they appear. Dispatching on the length keeps the usual word (no
  /// keyword of its length) to at most one comparison.
  void note_keyword(std::string_view w) {
    switch (w.size()) {
      case 4:
        if (iequals(w, "LOCK")) saw_lock_ = true;
        break;
      case 8:
        if (iequals(w, "GET_LOCK")) traits_.pins |= pin_bit(MysqlPinReason::NamedLock);
        if (iequals(w, "WARNINGS")) asks_previous_ = true;
        break;
      case 14:
        if (iequals(w, "LAST_INSERT_ID")) traits_.uses_last_insert_id = true;
        break;
      case 19:
        if (iequals(w, "SQL_CALC_FOUND_ROWS")) traits_.pins |= pin_bit(MysqlPinReason::FoundRows);
        break;
      case 6:
      case 9:
      case 10:
      case 11:
      case 13:
        if (iequals(w, "ERRORS") || iequals(w, "ROW_COUNT") || iequals(w, "FOUND_ROWS") || iequals(w, "ERROR_COUNT") ||
            iequals(w, "WARNING_COUNT")) {
          asks_previous_ = true;
        }
        break;
      default:
        break;
    }
  }

  bool first_is(std::size_t i, std::string_view keyword) const noexcept {
    return i < std::min(words_, kFirstWords) && iequals(first_[i], keyword);
  }

  void end_statement() {
    if (words_ == 0) return;
    ++statements_;
    if (first_is(0, "CREATE") && first_is(1, "TEMPORARY")) traits_.pins |= pin_bit(MysqlPinReason::TemporaryTable);
    if (first_is(0, "LOCK") && (first_is(1, "TABLES") || first_is(1, "TABLE"))) {
      traits_.pins |= pin_bit(MysqlPinReason::TableLock);
    }
    if (first_is(0, "FLUSH") && saw_lock_) traits_.pins |= pin_bit(MysqlPinReason::TableLock);
    if (first_is(0, "PREPARE")) traits_.pins |= pin_bit(MysqlPinReason::SqlPrepare);
    if (first_is(0, "KILL")) traits_.kill = true;
    if (first_is(0, "LOAD") && (first_is(1, "DATA") || first_is(1, "XML"))) {
      for (std::size_t i = 2; i < 5; ++i) {
        if (first_is(i, "LOCAL")) traits_.local_infile = true;
      }
    }
    words_ = 0;
    saw_lock_ = false;
  }

  std::string_view sql_;
  std::size_t pos_ = 0;
  std::array<std::string_view, kFirstWords> first_{};
  std::size_t words_ = 0;
  std::size_t statements_ = 0;
  bool saw_lock_ = false;
  bool asks_previous_ = false;
  StatementTraits traits_;
};

/// `sql` without spaces, upper-cased, without a trailing ';' (only for short statements).
std::string compact_upper(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  for (const char c : sql) {
    if (std::isspace(static_cast<unsigned char>(c)) == 0) out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  while (!out.empty() && out.back() == ';') out.pop_back();
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.front())) != 0)) s.remove_prefix(1);
  while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.back())) != 0 || s.back() == ';')) s.remove_suffix(1);
  return s;
}

/// Statements whose answer is the previous statement's, which corral keeps in the context.
void classify_local_answer(std::string_view sql, StatementTraits& traits) {
  constexpr std::size_t kLongestLocal = 64;
  if (sql.size() > kLongestLocal) return;
  const std::string compact = compact_upper(sql);
  const std::string_view text = trim(sql);
  const auto selected = [&text] { return std::string(trim(text.substr(6))); };  // after "SELECT"
  if (compact == "SELECTROW_COUNT()") {
    traits.local = LocalAnswer::RowCount;
    traits.column_name = selected();
  } else if (compact == "SELECTFOUND_ROWS()") {
    traits.local = LocalAnswer::FoundRows;
    traits.column_name = selected();
  } else if (compact == "SHOWWARNINGS" || compact == "SHOWERRORS") {
    traits.local = LocalAnswer::ShowWarnings;
  } else if (compact == "SELECT@@WARNING_COUNT" || compact == "SELECT@@ERROR_COUNT" ||
             compact == "SELECT@@SESSION.WARNING_COUNT" || compact == "SELECT@@SESSION.ERROR_COUNT") {
    traits.local = LocalAnswer::WarningCount;
    traits.column_name = selected();
  } else if (compact == "SHOWCOUNT(*)WARNINGS" || compact == "SHOWCOUNT(*)ERRORS") {
    traits.local = LocalAnswer::WarningCount;
    traits.column_name = compact.ends_with("WARNINGS") ? "@@session.warning_count" : "@@session.error_count";
  }
}

/// Variables that follow something else corral tracks (the schema, the charset, the transaction
/// flags) and must never be replayed on their own.
bool follows_other_state(std::string_view name) noexcept {
  return name == "character_set_client" || name == "character_set_connection" || name == "character_set_results" ||
         name == "collation_connection" || name == "character_set_database" || name == "collation_database" ||
         name == "autocommit";
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
    case MysqlPinReason::SqlPrepare: return "sql_prepare";
    case MysqlPinReason::CharsetVariables: return "charset_variables";
    case MysqlPinReason::UnknownStateChange: return "unknown_state_change";
    case MysqlPinReason::Cursor: return "cursor";
  }
  return "unknown";
}

StatementTraits classify_statement(std::string_view sql) {
  StatementScanner scanner(sql);
  StatementTraits traits = scanner.run();
  if (scanner.statements() == 1 && scanner.asks_previous()) classify_local_answer(sql, traits);
  return traits;
}

std::string_view charset_of_collation(std::uint16_t id) noexcept {
  // The default collations clients send, and the other collations of the charsets they belong to
  // (MariaDB's INFORMATION_SCHEMA.COLLATIONS ids).
  switch (id) {
    case 1: case 84: return "big5";
    case 8: case 5: case 15: case 31: case 47: case 48: case 49: case 94: return "latin1";
    case 11: case 65: return "ascii";
    case 24: case 86: return "gb2312";
    case 28: case 87: return "gbk";
    case 33: case 83: return "utf8mb3";
    case 45: case 46: return "utf8mb4";
    case 63: return "binary";
    case 95: case 96: return "cp932";
    case 13: case 88: return "sjis";
    case 12: case 91: return "ujis";
    case 19: case 85: return "euckr";
    case 51: case 50: return "cp1251";
    case 57: case 59: return "cp1256";
    case 255: return "utf8mb4";  // MySQL 8's utf8mb4_0900_ai_ci
    default: break;
  }
  if (id >= 192 && id <= 215) return "utf8mb3";
  if (id >= 224 && id <= 247) return "utf8mb4";
  return {};
}

void MysqlContext::login(const config::Listener& listener, const config::User& user, std::string schema,
                         std::string charset, mysql::CapabilityFlags capabilities, bool local_infile) {
  user_ = &user;
  capabilities_ = capabilities;
  local_infile_ = local_infile;
  login_charset_ = charset.empty() ? listener.backend.mysql_charset : std::move(charset);
  mysql::CapabilityFlags key_capabilities = capabilities;
  // Without mysql.local_infile the backend connection never offers LOCAL INFILE either.
  if (!local_infile) key_capabilities &= ~mysql::CLIENT_LOCAL_FILES;
  key_ = pool::make_mysql_key(listener.backend, key_capabilities);
  if (user.backend_user) {
    key_.user = *user.backend_user;
    key_.password = user.backend_password.value_or(std::string());
  }
  key_.schema = std::move(schema);
  key_.charset = login_charset_;
  reset();
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
  charset_client_.reset();
  charset_connection_.reset();
  charset_results_.reset();
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
  if (applied == variables_text_) return {};
  // `applied` is another variables_text(): "name=value\n" lines sorted by name.
  std::vector<std::pair<std::string_view, std::string_view>> had;
  while (!applied.empty()) {
    const std::size_t end = applied.find('\n');
    const std::string_view line = applied.substr(0, end);
    const std::size_t eq = line.find('=');
    if (eq != std::string_view::npos) had.emplace_back(line.substr(0, eq), line.substr(eq + 1));
    applied.remove_prefix(end == std::string_view::npos ? applied.size() : end + 1);
  }
  std::string sql;
  const auto add = [&sql](std::string_view name) -> std::string& {
    sql.append(sql.empty() ? "SET SESSION " : ", ").append(name).append(" = ");
    return sql;
  };
  for (const auto& [name, value] : variables_) {
    const auto it = std::find_if(had.begin(), had.end(), [&](const auto& h) { return h.first == name; });
    if (it == had.end() || it->second != value) append_literal(add(name), value);
  }
  for (const auto& [name, value] : had) {
    const bool kept = std::any_of(variables_.begin(), variables_.end(), [&](const auto& v) { return v.first == name; });
    if (!kept) add(name).append("DEFAULT");
  }
  return sql;
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

void MysqlContext::learn_variable(const std::string& name, const std::string& value) {
  if (name == "character_set_client") {
    charset_client_ = value;
  } else if (name == "character_set_connection") {
    charset_connection_ = value;
  } else if (name == "character_set_results") {
    charset_results_ = value;
  } else if (name.starts_with("session_track")) {
    // corral's own view of the session depends on these trackers.
    pins_ |= pin_bit(MysqlPinReason::UnknownStateChange);
  } else if (!follows_other_state(name)) {
    set_variable(name, value);
  }
}

void MysqlContext::learn_from_response(const mysql::ResponseSummary& summary,
                                       const mysql::SessionStateChanges& changes, mysql::StatusFlags status_flags,
                                       const StatementTraits& traits, bool result_set) {
  const MysqlPins before = pins_;
  MysqlPins sticky = (pins_ & kStickyPins) | (traits.pins & kStickyPins);
  if (summary.has_status) status_flags_ = status_flags;
  if (!summary.failed) {
    if (summary.last_insert_id != 0) last_insert_id_ = summary.last_insert_id;
    row_count_ = result_set ? -1 : static_cast<std::int64_t>(summary.affected_rows);
    if (result_set) found_rows_ = summary.rows;
  }

  if (!summary.session_state_info.empty()) {
    if (changes.schema) set_schema(*changes.schema);
    const std::size_t variables_before = variables_.size();
    charset_client_.reset();
    charset_connection_.reset();
    charset_results_.reset();
    pins_ = sticky;
    for (const auto& [name, value] : changes.system_variables) learn_variable(name, value);
    sticky |= pins_ & kStickyPins;
    if (variables_.size() != variables_before || !changes.system_variables.empty()) rebuild_variables_text();
    if (charset_client_ || charset_connection_ || charset_results_) {
      const std::string client = charset_client_.value_or(key_.charset);
      const bool expressible = charset_connection_.value_or(client) == client &&
                               charset_results_.value_or(client) == client;
      if (expressible) {
        set_charset(client);
      } else {
        sticky |= pin_bit(MysqlPinReason::CharsetVariables);
      }
    }
    const bool explained = changes.schema.has_value() || !changes.system_variables.empty() ||
                           (traits.pins & kStickyPins) != 0 || changes.transaction_characteristics.has_value() ||
                           changes.transaction_state.has_value();
    if (changes.state_changed && !explained) sticky |= pin_bit(MysqlPinReason::UnknownStateChange);
    if (changes.transaction_characteristics) {
      transaction_characteristics_ = !changes.transaction_characteristics->empty();
    }
  }

  MysqlPins now = sticky;
  if (in_transaction()) now |= pin_bit(MysqlPinReason::Transaction);
  if ((status_flags_ & mysql::SERVER_STATUS_AUTOCOMMIT) == 0) now |= pin_bit(MysqlPinReason::AutocommitOff);
  if (transaction_characteristics_) now |= pin_bit(MysqlPinReason::TransactionCharacteristics);
  if (cursor_open_) now |= pin_bit(MysqlPinReason::Cursor);
  if ((traits.pins & pin_bit(MysqlPinReason::FoundRows)) != 0 && !summary.failed) {
    now |= pin_bit(MysqlPinReason::FoundRows);
  }
  if (summary.failed || summary.warnings > 0) now |= pin_bit(MysqlPinReason::Diagnostics);
  pins_ = now;
  started_pins_ = static_cast<MysqlPins>(now & ~before);
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
