// Result<T, E>: one template for both error kinds: std::error_code (the runtime's default) and a
// codec's own enum (mysql::Result<T> is Result<T, mysql::Errc>).
#include "runtime/result.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <string>

namespace corral::rt {
namespace {

enum class CodecErrc : std::uint8_t { Ok = 0, Truncated, BadValue };

TEST(Result, ValueOrErrorCode) {
  const Result<int> value = 42;
  EXPECT_TRUE(value.ok());
  EXPECT_EQ(*value, 42);
  EXPECT_FALSE(value.error()) << "a value has no error";

  const Result<int> failed = timed_out();
  EXPECT_FALSE(failed);
  EXPECT_EQ(failed.error(), std::errc::timed_out);
}

TEST(Result, ValueOrCodecEnum) {
  const Result<std::string, CodecErrc> value = std::string("abc");
  EXPECT_TRUE(value);
  EXPECT_EQ(value->size(), 3u);
  EXPECT_EQ(value.error(), CodecErrc::Ok) << "a value reports the enum's zero";

  const Result<std::string, CodecErrc> failed = CodecErrc::Truncated;
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.error(), CodecErrc::Truncated);
}

TEST(Result, MovesOutOfAnRvalue) {
  Result<std::unique_ptr<int>, CodecErrc> owned = std::make_unique<int>(7);
  std::unique_ptr<int> taken = *std::move(owned);
  ASSERT_NE(taken, nullptr);
  EXPECT_EQ(*taken, 7);
}

TEST(Result, VoidIsOkUnlessItHoldsAnError) {
  EXPECT_TRUE(Result<void>{}.ok());
  EXPECT_FALSE(Result<void>{errno_code(5)}.ok());
  EXPECT_TRUE((Result<void, CodecErrc>{}.ok()));
  EXPECT_FALSE((Result<void, CodecErrc>{CodecErrc::BadValue}.ok()));
  // std::error_code says itself whether it is an error: value 0 of any category is none.
  EXPECT_TRUE(Result<void>{std::error_code(0, std::generic_category())}.ok());
}

}  // namespace
}  // namespace corral::rt
