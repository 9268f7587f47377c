// log::format_line(): the text and JSON forms of one log line; json_string() escaping.
#include "runtime/log.h"

#include <gtest/gtest.h>

#include "runtime/json.h"

namespace corral::rt {
namespace {

TEST(Log, TextLine) {
  EXPECT_EQ(log::format_line(log::Format::Text, log::Level::Warn, "2026-12-06T23:30:00.123Z", "w1", "pool timed out"),
            "2026-12-06T23:30:00.123Z WARN  [w1] pool timed out\n");
}

TEST(Log, JsonLineEscapesWhatItQuotes) {
  EXPECT_EQ(log::format_line(log::Format::Json, log::Level::Error, "2026-12-06T23:30:00.123Z", "main",
                             "login failed: user \"bob\"\tfrom 127.0.0.1\n"),
            R"({"time":"2026-12-06T23:30:00.123Z","level":"error","thread":"main","message":"login failed: user \"bob\"\tfrom 127.0.0.1\n"})"
            "\n");
}

TEST(Json, StringEscapes) {
  EXPECT_EQ(json_string(""), "\"\"");
  EXPECT_EQ(json_string("a\\b\"c"), R"("a\\b\"c")");
  EXPECT_EQ(json_string(std::string_view("\x01\x1f", 2)), R"("\u0001\u001f")");
  EXPECT_EQ(json_string("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // UTF-8 passes through
}

}  // namespace
}  // namespace corral::rt
