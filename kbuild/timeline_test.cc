#include "kbuild/timeline.h"

#include "gtest/gtest.h"

namespace kfarm {
namespace {

TEST(TimelineTest, SpansSortedByStartInSecondsFromTheStart) {
  const absl::Time t0 = absl::FromUnixSeconds(1000);
  Timeline t(t0);
  t.Add("btf", "b.ko", t0 + absl::Milliseconds(2500), t0 + absl::Seconds(3), false);
  t.Add("link", "a.ko", t0 + absl::Milliseconds(500), t0 + absl::Milliseconds(750), true);
  t.Add("vmlinux", "", t0 + absl::Seconds(1), t0 + absl::Seconds(2), false);
  EXPECT_EQ(t.Text(),
            "# phase\tname\tstart_s\tend_s\tcached\n"
            "link\ta.ko\t0.5000\t0.7500\t1\n"
            "vmlinux\t-\t1.0000\t2.0000\t0\n"
            "btf\tb.ko\t2.5000\t3.0000\t0\n");
}

}  // namespace
}  // namespace kfarm
