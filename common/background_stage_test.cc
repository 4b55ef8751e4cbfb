#include "common/background_stage.h"

#include <atomic>
#include <string>

#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

TEST(BackgroundStageTest, ProcessesBatchesInOrderAndHoldsTheirOwners) {
  std::string seen;
  std::weak_ptr<const void> first_owner;
  {
    BackgroundStage stage(
        [&](absl::Span<const absl::string_view> batch) {
          for (absl::string_view p : batch) seen.append(p.data(), p.size());
        },
        2);
    for (int i = 0; i < 100; ++i) {
      // The only reference to the bytes travels with the batch.
      auto bytes = std::make_shared<const std::string>(std::to_string(i) + ",");
      if (i == 0) first_owner = bytes;
      absl::string_view v = *bytes;
      stage.Push({v.substr(0, 1), v.substr(1)}, std::move(bytes));
    }
    stage.Drain();
    EXPECT_TRUE(first_owner.expired());  // Let go once processed.
    std::string want;
    for (int i = 0; i < 100; ++i) want += std::to_string(i) + ",";
    EXPECT_EQ(seen, want);
  }
}

TEST(BackgroundStageTest, PushWaitsWhileTheQueueIsFull) {
  absl::Notification release;
  std::atomic<int> pushed{0};
  BackgroundStage stage([&](absl::Span<const absl::string_view>) { release.WaitForNotification(); },
                        3);
  std::thread producer([&] {
    for (int i = 0; i < 10; ++i) {
      stage.Push({}, nullptr);
      ++pushed;
    }
  });
  // One batch in the (blocked) function and three queued: the fifth push cannot return.
  while (pushed < 4) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(pushed, 4);
  release.Notify();
  producer.join();
  stage.Drain();
  EXPECT_EQ(pushed, 10);
}

TEST(BackgroundStageTest, DestructionFinishesWhatWasPushed) {
  std::atomic<int> done{0};
  {
    BackgroundStage stage([&](absl::Span<const absl::string_view>) { ++done; }, 4);
    for (int i = 0; i < 20; ++i) stage.Push({}, nullptr);
  }
  EXPECT_EQ(done, 20);
}

}  // namespace
}  // namespace kfarm
