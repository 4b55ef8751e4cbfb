#include "common/bounded_executor.h"

#include <atomic>
#include <set>
#include <thread>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

TEST(BoundedExecutorTest, RefusesBeyondItsCapacityAndRunsEverythingItAccepted) {
  std::atomic<int> ran{0};
  absl::Notification release, started;
  {
    BoundedExecutor executor("test", 1, 2);
    ASSERT_TRUE(executor.TrySubmit([&] {
      started.Notify();
      release.WaitForNotification();  // Holds the only thread.
      ++ran;
    }));
    started.WaitForNotification();
    EXPECT_TRUE(executor.TrySubmit([&] { ++ran; }));
    EXPECT_TRUE(executor.TrySubmit([&] { ++ran; }));
    EXPECT_EQ(executor.waiting(), 2u);
    EXPECT_FALSE(executor.TrySubmit([&] { ran += 100; }));  // Full: refused, never run.
    release.Notify();
  }  // The destructor runs what was accepted.
  EXPECT_EQ(ran.load(), 3);
}

TEST(BoundedExecutorTest, TasksRunOnItsThreadsNotTheCaller) {
  BoundedExecutor executor("test", 3, 100);
  absl::Mutex mu;
  std::set<std::thread::id> ids;
  std::atomic<int> left{30};
  absl::Notification all;
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(executor.TrySubmit([&] {
      {
        absl::MutexLock lock(&mu);
        ids.insert(std::this_thread::get_id());
      }
      if (--left == 0) all.Notify();
    }));
  }
  all.WaitForNotification();
  absl::MutexLock lock(&mu);
  EXPECT_EQ(ids.count(std::this_thread::get_id()), 0u);
  EXPECT_GE(ids.size(), 1u);
  EXPECT_LE(ids.size(), 3u);
}

}  // namespace
}  // namespace kfarm
