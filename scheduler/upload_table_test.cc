#include "scheduler/upload_table.h"

#include "gtest/gtest.h"

namespace kfarm {
namespace {

class UploadTableTest : public ::testing::Test {
 protected:
  UploadTable Make(UploadLimits limits) {
    return UploadTable(limits, [this] { return now_; });
  }
  // An unfinished upload under `name` that received `bytes`, then left by its stream.
  void Abandon(UploadTable& t, const std::string& name, int64_t bytes) {
    auto up = t.Acquire(name);
    ASSERT_TRUE(up.ok()) << up.status();
    (*up)->committed = bytes;
    t.Release(name, /*keep=*/true);
    now_ += absl::Seconds(1);
  }

  absl::Time now_ = absl::FromUnixSeconds(1000000);
};

TEST_F(UploadTableTest, AnUnfinishedUploadCanBeResumedUntilItHasBeenIdleTooLong) {
  UploadTable t = Make({absl::Seconds(60), 10, 1 << 20});
  Abandon(t, "u1", 100);
  ASSERT_TRUE(t.Query("u1").has_value());
  EXPECT_EQ(t.Query("u1")->committed, 100);
  now_ += absl::Seconds(30);
  auto again = t.Acquire("u1");  // Resumed: where it was left.
  ASSERT_TRUE(again.ok());
  EXPECT_EQ((*again)->committed, 100);
  EXPECT_EQ(t.Acquire("u1").status().code(), absl::StatusCode::kAborted);  // One writer.
  t.Release("u1", true);
  now_ += absl::Seconds(61);
  ASSERT_TRUE(t.Acquire("other").ok());  // Any call sweeps.
  EXPECT_FALSE(t.Query("u1").has_value());
}

TEST_F(UploadTableTest, BeyondMaxIdleTheLeastRecentlyActiveGoFirst) {
  UploadTable t = Make({absl::Seconds(600), 3, int64_t{1} << 30});
  for (const char* n : {"a", "b", "c"}) Abandon(t, n, 10);
  auto a = t.Acquire("a");  // Active again: now the most recent.
  ASSERT_TRUE(a.ok());
  t.Release("a", true);
  Abandon(t, "d", 10);  // Four idle: the oldest, b, goes.
  EXPECT_FALSE(t.Query("b").has_value());
  for (const char* n : {"a", "c", "d"}) EXPECT_TRUE(t.Query(n).has_value()) << n;
}

TEST_F(UploadTableTest, BeyondMaxIdleBytesUploadsGoUntilTheRestFits) {
  UploadTable t = Make({absl::Seconds(600), 100, 1000});
  Abandon(t, "a", 400);
  Abandon(t, "b", 400);
  Abandon(t, "c", 900);  // 1700 bytes held: a and b go.
  EXPECT_FALSE(t.Query("a").has_value());
  EXPECT_FALSE(t.Query("b").has_value());
  EXPECT_TRUE(t.Query("c").has_value());
}

TEST_F(UploadTableTest, FinishedAndBusyUploadsCountAgainstNoLimit) {
  UploadTable t = Make({absl::Seconds(600), 1, 10});
  auto busy = t.Acquire("busy");
  ASSERT_TRUE(busy.ok());
  (*busy)->committed = 1000;  // Being written: never dropped under its writer.
  for (const char* n : {"f1", "f2"}) {
    auto f = t.Acquire(n);
    ASSERT_TRUE(f.ok());
    (*f)->committed = 500;
    (*f)->complete = true;
    t.Release(n, true);
  }
  Abandon(t, "idle", 5);
  for (const char* n : {"busy", "f1", "f2", "idle"}) EXPECT_TRUE(t.Query(n).has_value()) << n;
  EXPECT_TRUE(t.Query("f1")->complete);
}

}  // namespace
}  // namespace kfarm
