#include "scheduler/duration_history.h"

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

TEST(DurationHistoryTest, FollowsTheLatestRuns) {
  DurationHistory h;
  EXPECT_EQ(h.Expected("cc a.c"), absl::ZeroDuration());
  h.Record("cc a.c", absl::Seconds(4));
  EXPECT_EQ(h.Expected("cc a.c"), absl::Seconds(4));
  h.Record("cc a.c", absl::Seconds(8));
  EXPECT_EQ(h.Expected("cc a.c"), absl::Seconds(5));
}

TEST(DurationHistoryTest, EndlessDistinctShapesStayWithinCapacityAndRecentOnesAreKept) {
  DurationHistory h(100);
  h.Record("the build's link", absl::Seconds(30));
  for (int i = 0; i < 10000; ++i) {
    h.Record(absl::StrCat("hostile ", i), absl::Milliseconds(1));
    // The farm's own shape is looked up now and then: it stays.
    if (i % 40 == 0) {
      EXPECT_EQ(h.Expected("the build's link"), absl::Seconds(30)) << i;
    }
    ASSERT_LE(h.size(), 100u);
  }
  EXPECT_EQ(h.Expected("hostile 9999"), absl::Milliseconds(1));
  EXPECT_EQ(h.Expected("hostile 0"), absl::ZeroDuration());  // Long forgotten.
}

}  // namespace
}  // namespace kfarm
