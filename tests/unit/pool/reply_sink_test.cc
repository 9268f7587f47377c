// ReplySink's accounting for streaming and slow clients: what counts as queued for the client, when a
// backend connection must wait for it (the window), giving up on a client that takes nothing, and the
// limit that closes it.
#include "pool/reply_sink.h"

#include <gtest/gtest.h>

#include <string>

namespace corral::pool {
namespace {

constexpr std::size_t kFlush = 64;
constexpr std::size_t kLimit = 4 * 1024 * 1024;
constexpr std::size_t kWindow = 1024 * 1024;  // ReplySink::kStreamWindow: below half the limit here

TEST(ReplySink, QueuedCountsWhatTheClientHasNotTakenIncludingAWriteInProgress) {
  ReplySinkRef sink = make_reply_sink(kFlush, kLimit);
  ReplySinkRef entry = sink->expect();
  sink->deliver_part(std::string(1000, 'a'));
  EXPECT_EQ(sink->outstanding(), 1u);  // a part is not the whole reply
  EXPECT_EQ(sink->queued(), 1000u);
  std::string writing;
  sink->take_output(writing);
  EXPECT_EQ(writing.size(), 1000u);
  EXPECT_EQ(sink->queued(), 1000u);  // taken, not yet written
  entry->deliver("\r\n");
  EXPECT_EQ(sink->outstanding(), 0u);
  EXPECT_EQ(sink->queued(), 1002u);
  sink->wrote(600);
  EXPECT_EQ(sink->queued(), 402u);
  sink->wrote(400);
  EXPECT_EQ(sink->queued(), 2u);
}

TEST(ReplySink, TheWindowHoldsTheConnectionUntilTheClientTakesBytesOrIsGivenUpOn) {
  ReplySinkRef sink = make_reply_sink(kFlush, kLimit);
  ReplySinkRef entry = sink->expect();
  sink->deliver_part(std::string(kWindow - 1, 'a'));
  EXPECT_FALSE(sink->over_window());
  sink->deliver_part("a");
  EXPECT_TRUE(sink->over_window());
  std::string writing;
  sink->take_output(writing);
  EXPECT_TRUE(sink->over_window());  // taken is still queued until written
  sink->wrote(1);
  EXPECT_FALSE(sink->over_window());
  // A client that takes nothing: the connection stops waiting and the bytes queue past the window.
  sink->deliver_part(std::string(10, 'b'));
  EXPECT_TRUE(sink->over_window());
  sink->lift_window();
  EXPECT_FALSE(sink->over_window());
  sink->deliver_part(std::string(kWindow, 'c'));
  EXPECT_FALSE(sink->over_window());
  EXPECT_FALSE(sink->overflowed());
  // Once it reads again below the window, the window holds again.
  sink->wrote(writing.size() - 1);
  std::string more;
  sink->take_output(more);
  sink->wrote(more.size());
  sink->deliver_part(std::string(kWindow, 'd'));
  EXPECT_TRUE(sink->over_window());
}

TEST(ReplySink, MoreThanTheLimitQueuedOverflowsCancelsTheWriteAndDropsTheRest) {
  ReplySinkRef sink = make_reply_sink(kFlush, kLimit);
  rt::CancelSource cancel;
  sink->cancel_on_overflow(&cancel);
  ReplySinkRef entry = sink->expect();
  sink->lift_window();
  sink->deliver_part(std::string(kLimit, 'a'));
  EXPECT_FALSE(sink->overflowed());
  sink->deliver_part("a");
  EXPECT_TRUE(sink->overflowed());
  EXPECT_TRUE(cancel.cancelled());
  EXPECT_FALSE(sink->over_window());  // nothing waits for a client that is being closed
  const std::size_t queued = sink->queued();
  sink->deliver_part(std::string(1000, 'b'));
  EXPECT_EQ(sink->queued(), queued);
  EXPECT_FALSE(sink->cut());
}

TEST(ReplySink, AReplyCutShortClosesTheClient) {
  ReplySinkRef sink = make_reply_sink(kFlush, kLimit);
  rt::CancelSource cancel;
  sink->cancel_on_overflow(&cancel);
  ReplySinkRef entry = sink->expect();
  sink->deliver_part("$100\r\nabc");
  sink->cut_mid_reply();
  EXPECT_TRUE(sink->cut());
  EXPECT_TRUE(sink->overflowed());
  EXPECT_TRUE(cancel.cancelled());
}

TEST(ReplySink, TheWindowIsHalfASmallLimit) {
  ReplySinkRef sink = make_reply_sink(kFlush, 1024);
  ReplySinkRef entry = sink->expect();
  sink->deliver_part(std::string(511, 'a'));
  EXPECT_FALSE(sink->over_window());
  sink->deliver_part("a");
  EXPECT_TRUE(sink->over_window());
}

}  // namespace
}  // namespace corral::pool
