// libFuzzer target: classify_statement over arbitrary COM_QUERY text (what a client sends corral).
// Invariants: only defined effects are reported; a question about the previous statement is only
// recognised in a short text and names a column no longer than the text; and leading whitespace,
// which the server's lexer skips, changes nothing but (past the length bound) that recognition.
//   input: the statement text, as is
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/mysql/statement_classifier.h"

namespace {

using namespace corral::mysql;

void check(bool invariant) {
  if (!invariant) __builtin_trap();
}

/// The longest text classify_statement() looks at for a question about the previous statement.
constexpr std::size_t kLongestQuestion = 64;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view sql(reinterpret_cast<const char*>(data), size);
  const StatementTraits traits = classify_statement(sql);
  check((traits.effects >> kStatementEffectCount) == 0);
  if (traits.asks_for != PreviousStatementQuery::None) {
    check(sql.size() <= kLongestQuestion);
    check(traits.column_name.size() <= sql.size() || traits.column_name.starts_with("@@session."));
  }

  const StatementTraits spaced = classify_statement(" \n\t" + std::string(sql));
  check(spaced.effects == traits.effects);
  check(spaced.local_infile == traits.local_infile);
  check(spaced.kill == traits.kill);
  check(spaced.uses_last_insert_id == traits.uses_last_insert_id);
  check(spaced.asks_for == traits.asks_for || sql.size() + 3 > kLongestQuestion);
  return 0;
}
