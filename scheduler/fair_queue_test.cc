#include "scheduler/fair_queue.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace kfarm {
namespace {

using Queue = FairQueue<std::string>;

std::vector<std::string> PopAll(Queue& q, int n) {
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    auto item = q.Pop([](const std::string&) { return true; });
    if (!item) break;
    out.push_back(*item);
  }
  return out;
}

TEST(FairQueueTest, PriorityThenLongestExpectedThenFirstCome) {
  Queue q;
  q.Push("b", {0, 0, 1}, "short-first");
  q.Push("b", {0, 0, 2}, "short-second");
  q.Push("b", {0, 500, 3}, "long");
  q.Push("b", {-1, 0, 4}, "urgent");
  q.Push("b", {5, 900, 5}, "lazy");
  EXPECT_EQ(PopAll(q, 5),
            (std::vector<std::string>{"urgent", "long", "short-first", "short-second", "lazy"}));
  EXPECT_EQ(q.size(), 0u);
}

TEST(FairQueueTest, BuildsTakeTurns) {
  Queue q;
  for (uint64_t i = 0; i < 4; ++i) q.Push("first", {0, 0, i}, "f" + std::to_string(i));
  for (uint64_t i = 4; i < 6; ++i) q.Push("second", {0, 0, i}, "s" + std::to_string(i));
  std::vector<std::string> got = PopAll(q, 6);
  // Whichever starts, neither gets two in a row while the other still has work.
  for (size_t i = 1; i < 4; ++i) EXPECT_NE(got[i][0], got[i - 1][0]) << i;
  EXPECT_EQ(got[4][0], 'f');
  EXPECT_EQ(got[5][0], 'f');
}

TEST(FairQueueTest, ReturningBuildStartsLevelWithTheLeastServed) {
  Queue q;
  for (uint64_t i = 0; i < 10; ++i) q.Push("old", {0, 0, i}, "o");
  PopAll(q, 5);  // "old" has been served 5 and is still active.
  q.Push("new", {0, 0, 100}, "n1");
  q.Push("new", {0, 0, 101}, "n2");
  // Level with "old", not at zero: the next two alternate instead of "new" taking both.
  std::vector<std::string> got = PopAll(q, 2);
  EXPECT_NE(got[0], got[1]);
}

TEST(FairQueueTest, UnservableItemsAreSkippedNotLost) {
  Queue q;
  q.Push("b", {0, 0, 1}, "gpu");
  q.Push("b", {0, 0, 2}, "cpu");
  auto item = q.Pop([](const std::string& s) { return s != "gpu"; });
  ASSERT_TRUE(item);
  EXPECT_EQ(*item, "cpu");
  EXPECT_FALSE(q.Pop([](const std::string& s) { return s != "gpu"; }));
  EXPECT_EQ(q.size(), 1u);
  EXPECT_TRUE(q.Erase("b", {0, 0, 1}));
  EXPECT_FALSE(q.Erase("b", {0, 0, 1}));
  EXPECT_EQ(q.size(), 0u);
}

TEST(FairQueueTest, BuildIsForgottenOnlyWhenNothingQueuedOrRunning) {
  Queue q;
  q.Push("b", {0, 0, 1}, "x");
  PopAll(q, 1);
  EXPECT_EQ(q.builds(), 1u);  // Still running.
  q.Stopped("b");
  EXPECT_EQ(q.builds(), 0u);
}

}  // namespace
}  // namespace kfarm
