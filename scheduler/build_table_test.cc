#include "scheduler/build_table.h"

#include <gtest/gtest.h>

namespace kfarm {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

TEST(BuildTableTest, CountsEachBuildApart) {
  BuildTable t;
  t.CacheHit("inv-a", "bazel 4.2.3", kT0);
  t.Submitted("inv-a", "bazel 4.2.3", kT0 + absl::Seconds(1));
  t.Submitted("inv-a", "bazel 4.2.3", kT0 + absl::Seconds(1));
  t.Submitted("inv-b", "kfarm modfinal", kT0 + absl::Seconds(2));
  t.Finished("inv-a", Outcome::kSucceeded, kT0 + absl::Seconds(3));
  t.Finished("inv-a", Outcome::kFailed, kT0 + absl::Seconds(4));
  std::vector<BuildCounts> l = t.List();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].invocation_id, "inv-a");  // Active last.
  EXPECT_EQ(l[0].tool, "bazel 4.2.3");
  EXPECT_EQ(l[0].cached, 1);
  EXPECT_EQ(l[0].submitted, 2);
  EXPECT_EQ(l[0].succeeded, 1);
  EXPECT_EQ(l[0].failed, 1);
  EXPECT_EQ(l[0].first_seen, kT0);
  EXPECT_EQ(l[0].last_activity, kT0 + absl::Seconds(4));
  EXPECT_EQ(l[1].invocation_id, "inv-b");
  EXPECT_EQ(l[1].submitted, 1);
  EXPECT_EQ(l[1].succeeded + l[1].failed + l[1].cancelled, 0);
}

TEST(BuildTableTest, KeepsOnlyTheMostRecentlyActive) {
  BuildTable t(2);
  t.Submitted("old", "", kT0);
  t.Submitted("mid", "", kT0 + absl::Seconds(1));
  t.Finished("old", Outcome::kCancelled, kT0 + absl::Seconds(2));  // "old" is active again.
  t.Submitted("new", "", kT0 + absl::Seconds(3));                  // "mid" goes.
  std::vector<BuildCounts> l = t.List();
  ASSERT_EQ(l.size(), 2u);
  EXPECT_EQ(l[0].invocation_id, "new");
  EXPECT_EQ(l[1].invocation_id, "old");
  EXPECT_EQ(l[1].cancelled, 1);
  t.Finished("mid", Outcome::kSucceeded, kT0 + absl::Seconds(4));  // Back, counting afresh.
  l = t.List();
  EXPECT_EQ(l[0].invocation_id, "mid");
  EXPECT_EQ(l[0].submitted, 0);
  EXPECT_EQ(l[0].succeeded, 1);
}

}  // namespace
}  // namespace kfarm
