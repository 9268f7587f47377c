#include "protocols/mysql/statement_classifier.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <utility>
#include <vector>

namespace corral::mysql {

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
  /// True when the last statement only reads (see StatementTraits::read_only; effects and the
  /// previous-statement functions are checked by the caller).
  bool reads_only() const noexcept { return reads_only_ && !writes_; }
  /// True when the last statement is a SELECT, DO, SET or VALUES that names no table.
  bool names_no_table() const noexcept { return names_no_table_; }

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
    if (quote != '`' && literal_start_ == std::string_view::npos) literal_start_ = pos_;
    ++pos_;
    while (pos_ < sql_.size()) {
      const char c = sql_[pos_++];
      if (c == '\\' && quote != '`') {
        ++pos_;
      } else if (c == quote) {
        if (literal_end_ == std::string_view::npos && quote != '`') literal_end_ = pos_;
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
      if (name.size() > 7 && iequals(name.substr(0, 7), "global.")) saw_global_ = true;
      name = name.substr(name.find('.') == std::string_view::npos ? 0 : name.find('.') + 1);
      if (iequals(name, "wait_timeout") || iequals(name, "interactive_timeout")) saw_timeout_ = true;
      note_tracker(name);
      if (first_is(0, "SET") && iequals(sql_.substr(start, pos_ - start), "wait_timeout")) unscoped_wait_timeout();
      if (first_is(0, "SET") && name.size() == pos_ - start && !iequals(name, "autocommit") && assigned_next()) {
        traits_.effects |= effect_bit(StatementEffect::UntrackedVariable);
      }
      if (iequals(name, "warning_count") || iequals(name, "error_count")) asks_previous_ = true;
      // The server's CONNECTION_ID() is the session's pseudo_thread_id (mtr reads either).
      if (iequals(name, "pseudo_thread_id")) traits_.effects |= effect_bit(StatementEffect::ConnectionId);
      return;
    }
    // 'user'@'host' and user@host name accounts, not variables.
    const bool account = pos_ > 0 && (is_word_char(sql_[pos_ - 1]) || sql_[pos_ - 1] == '\'' ||
                                      sql_[pos_ - 1] == '"' || sql_[pos_ - 1] == '`');
    if (!account) traits_.effects |= effect_bit(StatementEffect::UserVariable);
    ++pos_;
  }

  /// True when `=` or `:=` follows (after spaces): the variable just read is assigned, not read.
  bool assigned_next() const noexcept {
    std::size_t at = pos_;
    while (at < sql_.size() && (sql_[at] == ' ' || sql_[at] == '\t' || sql_[at] == '\n' || sql_[at] == '\r')) ++at;
    return at < sql_.size() && (sql_[at] == '=' || (sql_[at] == ':' && at + 1 < sql_.size() && sql_[at + 1] == '='));
  }

  /// After `SET @@wait_timeout`: ` = <digits>` (or `:=`) gives StatementTraits::unscoped_wait_timeout.
  void unscoped_wait_timeout() {
    std::size_t at = pos_;
    const auto skip_spaces = [&] {
      while (at < sql_.size() && std::isspace(static_cast<unsigned char>(sql_[at]))) ++at;
    };
    skip_spaces();
    if (at < sql_.size() && sql_[at] == ':') ++at;
    if (at >= sql_.size() || sql_[at] != '=') return;
    ++at;
    skip_spaces();
    std::uint32_t seconds = 0;
    const auto [end, error] = std::from_chars(sql_.data() + at, sql_.data() + sql_.size(), seconds);
    const bool whole = end == sql_.data() + sql_.size() || !is_word_char(*end);
    if (error == std::errc() && end != sql_.data() + at && whole) traits_.unscoped_wait_timeout = seconds;
  }

  void word() {
    const std::size_t start = pos_;
    std::size_t end = start;  // a local: the loop keeps it in a register
    while (end < sql_.size() && is_word_char(sql_[end])) ++end;
    pos_ = end;
    const std::string_view w = sql_.substr(start, end - start);
    if (words_ < kFirstWords) first_[words_] = w;
    if (words_ == 0) verb_ = w;
    ++words_;
    // SET STATEMENT var = value [, ...] FOR <statement>: the statement after the first FOR is what
    // runs (with the variables for its duration): a KILL, a definition change...
    if (after_for_ && !verb_after_for_ && first_is(0, "SET") && first_is(1, "STATEMENT")) {
      verb_ = w;
      verb_after_for_ = true;
      if (iequals(w, "KILL")) starts_kill_ = true;
    }
    after_for_ = iequals(w, "FOR");
    note_keyword(w);
  }

  /// session_track_schema, session_track_system_variables... assigned (`name =`): a SET of one
  /// changes what the client's reports should hold (or, GLOBAL, new sessions' defaults).
  void note_tracker(std::string_view name) {
    constexpr std::string_view kTracker = "session_track_";
    if (name.size() <= kTracker.size() || !iequals(name.substr(0, kTracker.size()), kTracker) || !assigned_next()) {
      return;
    }
    const std::string_view which = name.substr(kTracker.size());
    if (iequals(which, "schema")) trackers_ |= kTrackSchema;
    if (iequals(which, "state_change")) trackers_ |= kTrackStateChange;
    if (iequals(which, "system_variables")) trackers_ |= kTrackSystemVariables;
    if (iequals(which, "transaction_info")) trackers_ |= kTrackTransactionInfo;
  }

  /// The words that matter wherever they appear. Dispatching on the length keeps the usual word (no
  /// keyword of its length) to at most one comparison.
  void note_keyword(std::string_view w) {
    note_tracker(w);
    switch (w.size()) {
      case 4:
        if (iequals(w, "LOCK")) saw_lock_ = writes_ = true;  // LOCK IN SHARE MODE, LOCK TABLES
        if (iequals(w, "INTO")) writes_ = true;              // SELECT ... INTO OUTFILE / @var
        if (iequals(w, "FROM")) names_table_ = true;
        break;
      case 5:
        if (iequals(w, "SHARE")) writes_ = true;  // FOR SHARE (MySQL 8): a locking read
        if (iequals(w, "VALUE")) names_table_ = true;  // NEXT | PREVIOUS VALUE FOR sequence
        break;
      case 6:
        if (iequals(w, "EXPORT")) saw_export_ = true;  // FLUSH TABLES ... FOR EXPORT
        [[fallthrough]];
      case 7:
        // FOR UPDATE; sequences move (NEXTVAL, SETVAL) or are the session's own (LASTVAL).
        if (iequals(w, "UPDATE") || iequals(w, "SETVAL") || iequals(w, "NEXTVAL") || iequals(w, "LASTVAL")) {
          writes_ = true;
          names_table_ = true;  // a sequence is a table
        }
        if (iequals(w, "ERRORS") || iequals(w, "STATUS")) asks_previous_ = true;
        if (iequals(w, "GLOBAL")) saw_global_ = true;
        break;
      case 12:
      case 15:
      case 16:
      case 17:
        // Named locks and replication waits belong to the primary's sessions.
        if (iequals(w, "RELEASE_LOCK") || iequals(w, "IS_USED_LOCK") || iequals(w, "IS_FREE_LOCK") ||
            iequals(w, "MASTER_POS_WAIT") || iequals(w, "MASTER_GTID_WAIT") || iequals(w, "RELEASE_ALL_LOCKS")) {
          writes_ = true;
        }
        if (iequals(w, "WAIT_TIMEOUT")) saw_timeout_ = true;
        break;
      case 8:
        if (iequals(w, "GET_LOCK")) traits_.effects |= effect_bit(StatementEffect::NamedLock);
        if (iequals(w, "WARNINGS")) asks_previous_ = true;
        break;
      case 14:
        if (iequals(w, "LAST_INSERT_ID")) traits_.uses_last_insert_id = true;
        break;
      case 19:
        if (iequals(w, "SQL_CALC_FOUND_ROWS")) traits_.effects |= effect_bit(StatementEffect::CalcFoundRows);
        if (iequals(w, "INTERACTIVE_TIMEOUT")) saw_timeout_ = true;
        break;
      case 9:
      case 10:
        if (iequals(w, "ROW_COUNT") || iequals(w, "FOUND_ROWS")) {
          traits_.reads_previous_counts = true;
          asks_previous_ = true;
        }
        break;
      case 11:
        if (iequals(w, "ERROR_COUNT")) asks_previous_ = true;
        break;
      case 13:
        if (iequals(w, "WARNING_COUNT")) asks_previous_ = true;
        if (iequals(w, "CONNECTION_ID")) traits_.effects |= effect_bit(StatementEffect::ConnectionId);
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
    if (first_is(0, "CREATE") && first_is(1, "TEMPORARY")) traits_.effects |= effect_bit(StatementEffect::TemporaryTable);
    note_lock_statement();
    note_handler_statement();
    if (first_is(0, "PREPARE")) traits_.effects |= effect_bit(StatementEffect::SqlPrepare);
    if (first_is(0, "SET") && first_is(1, "TRANSACTION")) traits_.effects |= effect_bit(StatementEffect::NextTransaction);
    if (first_is(0, "SHUTDOWN") && !in_routine_body_) traits_.shutdown = true;
    if (first_is(0, "EXECUTE") && first_is(1, "IMMEDIATE") && literal_end_ != std::string_view::npos &&
        classify_statement(literal()).has(StatementEffect::NextTransaction)) {
      traits_.effects |= effect_bit(StatementEffect::NextTransaction);
    }
    if (first_is(0, "SET") && saw_global_ && (saw_timeout_ || trackers_ != 0)) traits_.sets_global_defaults = true;
    if (first_is(0, "SET")) traits_.sets_trackers |= trackers_;
    if (first_is(0, "SET") && first_is(1, "NAMES") && first_is(3, "COLLATE") && words_ == 5) {
      traits_.names_collation = std::string(first_[4]);
    }
    if (statements_ == 1) in_routine_body_ = first_is(0, "CREATE");
    // Statements after the first of a CREATE PROCEDURE / FUNCTION / TRIGGER / EVENT are its body:
    // they run later, on the server, with its checks.
    if ((first_is(0, "KILL") || starts_kill_) && !in_routine_body_) traits_.kill = true;
    if ((first_is(0, "PREPARE") || (first_is(0, "EXECUTE") && first_is(1, "IMMEDIATE"))) &&
        literal_end_ != std::string_view::npos && classify_statement(literal()).kill) {
      traits_.dynamic_kill = true;
    }
    if (first_is(0, "EXECUTE") && first_is(1, "IMMEDIATE") && literal_end_ != std::string_view::npos) {
      // The literal is the statement that runs: its locks are the session's as if sent as text.
      const StatementTraits inner = classify_statement(literal());
      traits_.effects = static_cast<StatementEffects>((traits_.effects & ~inner.ended_effects) | inner.effects);
      traits_.ended_effects |= inner.ended_effects;
    }
    reads_only_ = first_is(0, "SELECT") || (first_is(0, "SHOW") && shows_definitions());
    // verb_: after SET STATEMENT ... FOR, the statement that runs.
    names_no_table_ = !names_table_ && (iequals(verb_, "SELECT") || iequals(verb_, "DO") ||
                                        iequals(verb_, "SET") || iequals(verb_, "VALUES"));
    names_table_ = false;
    if (changes_definitions()) traits_.changes_schema = true;
    if (first_is(0, "LOAD") && (first_is(1, "DATA") || first_is(1, "XML"))) {
      for (std::size_t i = 2; i < 5; ++i) {
        if (first_is(i, "LOCAL")) traits_.local_infile = true;
      }
    }
    words_ = 0;
    verb_ = {};
    verb_after_for_ = false;
    saw_lock_ = false;
    saw_global_ = false;
    saw_timeout_ = false;
    trackers_ = 0;
    saw_export_ = false;
    after_for_ = false;
    starts_kill_ = false;
    literal_start_ = literal_end_ = std::string_view::npos;
  }

  /// Lock state that outlives the statement: started (LOCK TABLES, FLUSH ... WITH READ LOCK / FOR
  /// EXPORT, BACKUP STAGE, BACKUP LOCK) or ended (UNLOCK TABLES, BACKUP STAGE END, BACKUP UNLOCK). A
  /// later statement of the same text wins: "LOCK TABLES t READ; UNLOCK TABLES" leaves no lock.
  void note_lock_statement() noexcept {
    using E = StatementEffect;
    const bool tables = first_is(1, "TABLES") || first_is(1, "TABLE");
    if ((first_is(0, "LOCK") && tables) || (first_is(0, "FLUSH") && (saw_lock_ || saw_export_))) start(E::TableLock);
    if (first_is(0, "UNLOCK") && tables) end(E::TableLock);
    if (!first_is(0, "BACKUP")) return;
    if (first_is(1, "STAGE")) {
      if (first_is(2, "END")) {
        end(E::BackupStage);
      } else {
        start(E::BackupStage);
      }
    }
    if (first_is(1, "LOCK")) start(E::BackupLock);
    if (first_is(1, "UNLOCK")) end(E::BackupLock);
  }
  /// HANDLER [db.]t OPEN [[AS] alias]: the handle stays open until its HANDLER ... CLOSE, and a session
  /// may hold several (a backquoted name is no word here, so OPEN may come right after HANDLER).
  void note_handler_statement() noexcept {
    if (!first_is(0, "HANDLER")) return;
    for (std::size_t i = 1; i < 4; ++i) {
      if (first_is(i, "OPEN")) start(StatementEffect::HandlerOpen);
    }
  }
  void start(StatementEffect effect) noexcept { traits_.effects |= effect_bit(effect); }
  void end(StatementEffect effect) noexcept {
    if (in_routine_body_) return;  // an UNLOCK in a CREATE PROCEDURE body runs later, if ever
    traits_.effects = static_cast<StatementEffects>(traits_.effects & ~effect_bit(effect));
    traits_.ended_effects |= effect_bit(effect);
  }

  /// True when, after this statement, a fresh PREPARE of some text may describe other columns or get
  /// another plan than a statement prepared before it: a definition or its statistics changed, or the
  /// statement runs others the text does not show (a procedure, a prepared or compound statement).
  bool changes_definitions() const noexcept {
    for (const std::string_view verb : {"CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE", "CALL", "EXECUTE"}) {
      if (iequals(verb_, verb)) return true;
    }
    // ANALYZE | OPTIMIZE | REPAIR [NO_WRITE_TO_BINLOG | LOCAL] TABLE (not ANALYZE SELECT ...).
    if (iequals(verb_, "ANALYZE") || iequals(verb_, "OPTIMIZE") || iequals(verb_, "REPAIR")) {
      for (std::size_t i = 1; i < 3; ++i) {
        if (first_is(i, "TABLE") || first_is(i, "TABLES")) return true;
      }
    }
    return first_is(0, "BEGIN") && first_is(1, "NOT") && first_is(2, "ATOMIC");
  }

  /// SHOW of what a replica has as the primary does (definitions, not the server's own state).
  bool shows_definitions() const noexcept {
    if (first_is(1, "FULL")) return first_is(2, "TABLES") || first_is(2, "COLUMNS") || first_is(2, "FIELDS");
    if (first_is(1, "TABLE")) return first_is(2, "STATUS");
    for (const std::string_view what : {"TABLES", "DATABASES", "SCHEMAS", "COLUMNS", "FIELDS", "INDEX", "INDEXES",
                                        "KEYS", "CREATE", "CHARACTER", "CHARSET", "COLLATION"}) {
      if (first_is(1, what)) return true;
    }
    return false;
  }

  /// The statement's first string literal, without its quotes (escapes left as they are: only
  /// keywords are looked for in it).
  std::string_view literal() const noexcept {
    return sql_.substr(literal_start_ + 1, literal_end_ - 1 - (literal_start_ + 1));
  }

  std::string_view sql_;
  std::size_t pos_ = 0;
  std::array<std::string_view, kFirstWords> first_{};
  std::size_t words_ = 0;
  std::size_t statements_ = 0;
  std::string_view verb_;          // the statement's first word, or the one after SET STATEMENT ... FOR
  bool verb_after_for_ = false;    // verb_ is the word after SET STATEMENT ... FOR
  bool saw_lock_ = false;
  bool saw_global_ = false;   // GLOBAL or @@global. in this statement
  bool saw_timeout_ = false;  // wait_timeout or interactive_timeout in this statement
  std::uint8_t trackers_ = 0;  // SessionTracker bits assigned in this statement
  bool saw_export_ = false;        // the word EXPORT (FLUSH TABLES ... FOR EXPORT)
  bool asks_previous_ = false;
  bool reads_only_ = false;       // the last statement is a SELECT or a SHOW of definitions
  bool writes_ = false;           // a word that makes a read a write or session-bound (FOR UPDATE, INTO...)
  bool names_table_ = false;      // this statement has FROM or a sequence function (names_no_table())
  bool names_no_table_ = false;   // the last statement: see names_no_table()
  bool after_for_ = false;        // the previous word was FOR
  bool starts_kill_ = false;      // SET STATEMENT ... FOR KILL
  bool in_routine_body_ = false;  // the text's first statement is a CREATE
  std::size_t literal_start_ = std::string_view::npos;  // the statement's first string literal
  std::size_t literal_end_ = std::string_view::npos;
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

/// The exact forms of a statement that asks about the previous one (spaces and case aside).
void classify_previous_statement_query(std::string_view sql, StatementTraits& traits) {
  constexpr std::size_t kLongestLocal = 64;
  if (sql.size() > kLongestLocal) return;
  const std::string compact = compact_upper(sql);
  const std::string_view text = trim(sql);
  const auto selected = [&text] { return std::string(trim(text.substr(6))); };  // after "SELECT"
  if (compact == "SELECTROW_COUNT()") {
    traits.asks_for = PreviousStatementQuery::RowCount;
    traits.column_name = selected();
  } else if (compact == "SELECTFOUND_ROWS()") {
    traits.asks_for = PreviousStatementQuery::FoundRows;
    traits.column_name = selected();
  } else if (compact == "SHOWSTATUSLIKE'THREADS_CONNECTED'" || compact == "SHOWGLOBALSTATUSLIKE'THREADS_CONNECTED'") {
    traits.asks_for = PreviousStatementQuery::ThreadsConnected;
  } else if (compact == "SHOWWARNINGS" || compact == "SHOWERRORS") {
    traits.asks_for = PreviousStatementQuery::ShowWarnings;
  } else if (compact == "SELECT@@WARNING_COUNT" || compact == "SELECT@@ERROR_COUNT" ||
             compact == "SELECT@@SESSION.WARNING_COUNT" || compact == "SELECT@@SESSION.ERROR_COUNT") {
    traits.asks_for = PreviousStatementQuery::WarningCount;
    traits.column_name = selected();
  } else if (compact == "SHOWCOUNT(*)WARNINGS" || compact == "SHOWCOUNT(*)ERRORS") {
    traits.asks_for = PreviousStatementQuery::WarningCount;
    traits.column_name = compact.ends_with("WARNINGS") ? "@@session.warning_count" : "@@session.error_count";
  }
}

/// Whitespace-separated words of `sql`, without a trailing ';'.
std::vector<std::string_view> words_of(std::string_view sql) {
  std::vector<std::string_view> words;
  sql = trim(sql);
  std::size_t pos = 0;
  while (pos < sql.size()) {
    while (pos < sql.size() && std::isspace(static_cast<unsigned char>(sql[pos])) != 0) ++pos;
    const std::size_t start = pos;
    while (pos < sql.size() && std::isspace(static_cast<unsigned char>(sql[pos])) == 0) ++pos;
    if (pos > start) words.push_back(sql.substr(start, pos - start));
  }
  return words;
}

std::optional<std::uint64_t> number_of(std::string_view word) {
  if (word.empty() || word.size() > 19) return std::nullopt;
  std::uint64_t n = 0;
  for (const char c : word) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

/// The literal after EXECUTE IMMEDIATE, unquoted (simple literals only: no escapes, one quote kind).
std::optional<std::string_view> immediate_literal(std::string_view sql) {
  sql = trim(sql);
  const std::size_t quote = sql.find_first_of("'\"");
  if (quote == std::string_view::npos || sql.back() != sql[quote] || sql.size() - quote < 2) return std::nullopt;
  const std::string_view inner = sql.substr(quote + 1, sql.size() - quote - 2);
  if (inner.find(sql[quote]) != std::string_view::npos || inner.find('\\') != std::string_view::npos) return std::nullopt;
  return inner;
}

/// `sql` without its quoted strings and identifiers, upper-cased, each quoted part replaced by a space.
std::string unquoted_upper(std::string_view sql) {
  std::string out;
  char quote = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote != 0) {
      if (c == '\\' && quote != '`') {
        ++i;
      } else if (c == quote) {
        quote = 0;
        out.push_back(' ');
      }
    } else if (c == '\'' || c == '"' || c == '`') {
      quote = c;
    } else {
      out.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

/// True when `text` (upper-cased) has `word` as a whole word.
bool has_word(std::string_view text, std::string_view word) {
  const auto is_name_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; };
  for (std::size_t at = text.find(word); at != std::string_view::npos; at = text.find(word, at + 1)) {
    const bool starts = at == 0 || !is_name_char(text[at - 1]);
    const bool ends = at + word.size() == text.size() || !is_name_char(text[at + word.size()]);
    if (starts && ends) return true;
  }
  return false;
}

/// KillStatement::uses_table for an expression given as unquoted_upper() returns it.
bool reads_table_or_sequence(std::string_view text) {
  for (const std::string_view word : {"FROM", "NEXTVAL", "LASTVAL", "SETVAL"}) {
    if (has_word(text, word)) return true;
  }
  return has_word(text, "VALUE") && has_word(text, "FOR");  // NEXT / PREVIOUS VALUE FOR s
}

/// The text from `word` (a view into `sql`) to the end, without a trailing ';'.
std::string_view rest_from(std::string_view sql, std::string_view word) {
  std::string_view rest = trim(sql.substr(static_cast<std::size_t>(word.data() - sql.data())));
  if (!rest.empty() && rest.back() == ';') rest = trim(rest.substr(0, rest.size() - 1));
  return rest;
}

}  // namespace

std::optional<KillStatement> parse_kill(std::string_view sql) {
  StatementScanner scanner(sql);
  const StatementTraits traits = scanner.run();
  if (scanner.statements() != 1) return std::nullopt;
  std::vector<std::string_view> words = words_of(sql);
  if (words.size() >= 2 && iequals(words[0], "EXECUTE") && iequals(words[1], "IMMEDIATE")) {
    if (!traits.dynamic_kill) return std::nullopt;
    const auto inner = immediate_literal(sql);
    if (!inner) return KillStatement{};  // a KILL, but not one read here: an Expression target
    return parse_kill(*inner);
  }
  if (!traits.kill) return std::nullopt;
  // SET STATEMENT ... FOR KILL ...: the variables do not matter to a KILL carried out by a proxy.
  std::size_t at = 0;
  if (!iequals(words[0], "KILL")) {
    for (at = 1; at + 1 < words.size() && !(iequals(words[at], "FOR") && iequals(words[at + 1], "KILL")); ++at) {
    }
    ++at;
  }
  KillStatement kill;
  std::size_t i = at + 1;
  if (i < words.size() && (iequals(words[i], "HARD") || iequals(words[i], "SOFT"))) ++i;
  if (i < words.size() && iequals(words[i], "QUERY")) {
    kill.query = true;
    ++i;
  } else if (i < words.size() && iequals(words[i], "CONNECTION")) {
    ++i;
  }
  if (i < words.size() && iequals(words[i], "ID")) {
    kill.target = KillStatement::Target::QueryId;
    return kill;
  }
  if (i < words.size() && iequals(words[i], "USER")) {
    kill.target = KillStatement::Target::User;
    return kill;
  }
  if (i + 1 == words.size()) {
    if (iequals(words[i], "CONNECTION_ID()")) kill.target = KillStatement::Target::Self;
    if (const auto id = number_of(words[i])) {
      kill.target = KillStatement::Target::ConnectionId;
      kill.id = *id;
    }
  }
  if (kill.target == KillStatement::Target::Expression && i < words.size()) {
    kill.expression = std::string(rest_from(sql, words[i]));
    // Outside quoted strings and identifiers: a `?` is a prepared statement's parameter.
    const std::string unquoted = unquoted_upper(kill.expression);
    kill.has_parameter_marker = unquoted.find('?') != std::string::npos;
    kill.uses_table = reads_table_or_sequence(unquoted);
  }
  return kill;
}

namespace {

/// A statement name as the server compares it: backquotes removed, lower-cased.
std::string statement_name(std::string_view word) {
  if (!word.empty() && word.back() == ';') word.remove_suffix(1);
  if (word.size() >= 2 && word.front() == '`' && word.back() == '`') word = word.substr(1, word.size() - 2);
  std::string name(word);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

std::optional<SqlPreparedStatement> parse_sql_prepared(std::string_view sql) {
  StatementScanner scanner(sql);
  const StatementTraits traits = scanner.run();
  if (scanner.statements() != 1) return std::nullopt;
  const std::vector<std::string_view> words = words_of(sql);
  if (words.size() < 2) return std::nullopt;
  SqlPreparedStatement use;
  if (iequals(words[0], "PREPARE") && words.size() >= 4 && iequals(words[2], "FROM")) {
    use.verb = SqlPreparedStatement::Verb::Prepare;
    use.name = statement_name(words[1]);
    use.prepares_kill = traits.dynamic_kill;
    if (use.prepares_kill) {
      if (const auto inner = immediate_literal(sql)) use.kill = parse_kill(*inner);
    }
  } else if (iequals(words[0], "EXECUTE") && !iequals(words[1], "IMMEDIATE")) {
    use.verb = SqlPreparedStatement::Verb::Execute;
    use.name = statement_name(words[1]);
  } else if ((iequals(words[0], "DEALLOCATE") || iequals(words[0], "DROP")) && words.size() == 3 &&
             iequals(words[1], "PREPARE")) {
    use.verb = SqlPreparedStatement::Verb::Deallocate;
    use.name = statement_name(words[2]);
  } else {
    return std::nullopt;
  }
  if (use.name.empty() || use.name.front() == '@') return std::nullopt;
  return use;
}

StatementTraits classify_statement(std::string_view sql) {
  StatementScanner scanner(sql);
  StatementTraits traits = scanner.run();
  if (scanner.statements() == 1 && scanner.asks_previous()) classify_previous_statement_query(sql, traits);
  traits.keeps_diagnostics = scanner.statements() == 1 && scanner.names_no_table();
  traits.read_only = scanner.statements() == 1 && scanner.reads_only() &&
                     (traits.effects & ~effect_bit(StatementEffect::CalcFoundRows)) == 0 &&
                     !traits.uses_last_insert_id && !traits.reads_previous_counts;
  return traits;
}

}  // namespace corral::mysql
