// The `cursor` pin of MysqlContext: a prepared statement's open cursor keeps the backend connection
// from the next response on, and the pin ends as soon as the cursor does (last row, reset, close).
#include <gtest/gtest.h>

#include "proxy/mysql_context.h"

namespace corral::proxy {
namespace {

class MysqlCursorPin : public ::testing::Test {
 protected:
  void SetUp() override {
    listener_.protocol = config::Protocol::Mysql;
    listener_.backend.protocol = config::Protocol::Mysql;
    listener_.backend.host = "db";
    listener_.backend.port = 3306;
    listener_.backend.user = "proxy";
    user_.name = "app";
    context_.login(listener_, user_, "shop", "", mysql::CLIENT_PROTOCOL_41 | mysql::CLIENT_DEPRECATE_EOF, false);
  }
  void respond() {
    mysql::ResponseSummary summary;
    summary.has_status = true;
    summary.status_flags = mysql::SERVER_STATUS_AUTOCOMMIT;
    context_.learn_from_response(summary, {}, summary.status_flags, StatementTraits{}, true);
  }
  bool cursor_pinned() const { return (context_.pins() & pin_bit(MysqlPinReason::Cursor)) != 0; }

  config::Listener listener_;
  config::User user_;
  MysqlContext context_;
};

TEST_F(MysqlCursorPin, AnOpenCursorPinsFromTheResponseOnAndIsCountedOnce) {
  context_.set_cursor_open(true);
  respond();
  EXPECT_TRUE(cursor_pinned());
  EXPECT_EQ(context_.started_pins(), pin_bit(MysqlPinReason::Cursor));
  EXPECT_TRUE(context_.holds_session_state()) << "losing the connection loses the cursor";
  respond();  // a COM_STMT_FETCH that did not reach the last row
  EXPECT_TRUE(cursor_pinned());
  EXPECT_EQ(context_.started_pins(), 0) << "a pin in force is not counted again";
}

TEST_F(MysqlCursorPin, ThePinEndsWhenTheCursorDoes) {
  context_.set_cursor_open(true);
  respond();
  context_.set_cursor_open(false);
  EXPECT_FALSE(context_.pinned()) << "COM_STMT_CLOSE has no response to learn from: the pin ends at once";
  respond();
  EXPECT_FALSE(cursor_pinned());
}

TEST_F(MysqlCursorPin, ResetAndALostBackendEndTheCursor) {
  context_.set_cursor_open(true);
  respond();
  context_.reset();
  respond();
  EXPECT_FALSE(cursor_pinned());
  context_.set_cursor_open(true);
  respond();
  context_.forget_backend_state();
  respond();
  EXPECT_FALSE(cursor_pinned());
}

TEST(MysqlPinReasonNames, CursorHasAMetricLabel) { EXPECT_EQ(to_string(MysqlPinReason::Cursor), "cursor"); }

}  // namespace
}  // namespace corral::proxy
