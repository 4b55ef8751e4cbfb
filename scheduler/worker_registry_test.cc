#include "scheduler/worker_registry.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/testing/test_workers.h"

namespace kfarm {
namespace {

using ::testing::ElementsAre;

const absl::Time kStart = absl::FromUnixSeconds(1000000);

class WorkerRegistryTest : public ::testing::Test {
 protected:
  Worker& Add(const std::string& id, int slots, int depth = 0,
              const std::vector<std::pair<std::string, std::string>>& offers = {}) {
    EXPECT_EQ(registry_.Find(id), nullptr);
    return AddTestWorker(registry_, id, slots, depth, offers, kStart);
  }
  void Run(Worker& w, const std::string& id, absl::Duration expected) {
    auto e = std::make_shared<Execution>();
    e->id = id;
    e->stage = Stage::kExecuting;
    e->worker = w.id;
    e->expected = expected;
    w.running[id] = e;
    w.last_assigned = registry_.NextAssignment();
    registry_.Refresh(w);
  }
  std::vector<std::string> Ids(const WorkerRegistry::Index& index) {
    std::vector<std::string> ids;
    for (const auto& [key, w] : index) ids.push_back(w->id);
    return ids;
  }

  WorkerRegistry registry_{absl::Seconds(1)};
};

TEST_F(WorkerRegistryTest, MostFreeSlotsFirstThenTheOneIdleLongest) {
  Worker& a = Add("a", 2);
  Add("b", 1);
  EXPECT_THAT(Ids(registry_.free()), ElementsAre("a", "b"));
  Run(a, "x", absl::ZeroDuration());  // Both have one free slot; b has waited longer.
  EXPECT_THAT(Ids(registry_.free()), ElementsAre("b", "a"));
  a.draining = true;
  registry_.Refresh(a);
  EXPECT_THAT(Ids(registry_.free()), ElementsAre("b"));
}

TEST_F(WorkerRegistryTest, OnlyAWorkerRunningShortActionsHasSpareRoom) {
  Worker& quick = Add("quick", 1, 2);
  Worker& slow = Add("slow", 1, 2);
  Worker& unknown = Add("unknown", 1, 2);
  Run(quick, "q", absl::Milliseconds(100));
  Run(slow, "s", absl::Seconds(30));
  Run(unknown, "u", absl::ZeroDuration());  // Never seen: not known to be short.
  EXPECT_TRUE(registry_.free().empty());
  EXPECT_THAT(Ids(registry_.spare()), ElementsAre("quick"));
  EXPECT_EQ(registry_.spare().begin()->first.free, 2);
  Run(quick, "q2", absl::Milliseconds(100));
  Run(quick, "q3", absl::Milliseconds(100));  // Slot and queue full.
  EXPECT_TRUE(registry_.spare().empty());
}

TEST_F(WorkerRegistryTest, ASilentWorkerIsLostThenForgottenAfterTheGraceWithItsWork) {
  Worker& w = Add("w", 1);
  Run(w, "x", absl::ZeroDuration());
  const absl::Duration liveness = absl::Seconds(6), grace = absl::Seconds(10);
  auto reaped = registry_.CheckLiveness(kStart + absl::Seconds(6), liveness, grace);
  EXPECT_TRUE(reaped.silent.empty());
  reaped = registry_.CheckLiveness(kStart + absl::Seconds(7), liveness, grace);
  ASSERT_EQ(reaped.silent.size(), 1u);
  EXPECT_TRUE(reaped.orphaned.empty());
  ASSERT_NE(registry_.Find("w"), nullptr);
  EXPECT_EQ(registry_.connected(), 0u);
  reaped = registry_.CheckLiveness(kStart + absl::Seconds(17), liveness, grace);
  EXPECT_TRUE(reaped.orphaned.empty());  // 10 s lost: still within the grace.
  reaped = registry_.CheckLiveness(kStart + absl::Seconds(18), liveness, grace);
  ASSERT_EQ(reaped.orphaned.size(), 1u);
  EXPECT_EQ(reaped.orphaned[0].first, "w");
  EXPECT_EQ(reaped.orphaned[0].second->id, "x");
  EXPECT_EQ(registry_.Find("w"), nullptr);
}

TEST_F(WorkerRegistryTest, AWorkerFailingOnItsOwnRestsThenComesBack) {
  Worker& w = Add("w", 1);
  EXPECT_FALSE(registry_.FailedItself(w, 3, kStart, absl::Seconds(30)));
  registry_.Succeeded(w);  // Any other completion breaks the run of failures.
  EXPECT_FALSE(registry_.FailedItself(w, 3, kStart, absl::Seconds(30)));
  EXPECT_FALSE(registry_.FailedItself(w, 3, kStart, absl::Seconds(30)));
  EXPECT_TRUE(registry_.FailedItself(w, 3, kStart, absl::Seconds(30)));
  EXPECT_TRUE(registry_.free().empty());
  w.last_seen = kStart + absl::Seconds(30);
  registry_.CheckLiveness(kStart + absl::Seconds(29), absl::Seconds(6), absl::Seconds(6));
  EXPECT_TRUE(registry_.free().empty());
  registry_.CheckLiveness(kStart + absl::Seconds(30), absl::Seconds(6), absl::Seconds(6));
  EXPECT_THAT(Ids(registry_.free()), ElementsAre("w"));
}

TEST_F(WorkerRegistryTest, UnmetNamesWhatIsMissingAndWhatIsOffered) {
  reapi::Platform want;
  auto* p = want.add_properties();
  p->set_name("pahole");
  p->set_value("1.99");
  EXPECT_EQ(registry_.Unmet(want), "no worker is connected (wanted: pahole=1.99)");
  EXPECT_EQ(registry_.Unmet(reapi::Platform()), "no worker is connected");
  Add("a", 1, 0, {{"pahole", "1.24"}, {"OSFamily", "linux"}});
  Add("b", 1, 0, {{"pahole", "1.25"}});
  EXPECT_EQ(registry_.Unmet(want),
            "no connected worker offers pahole=1.99 (workers offer pahole=1.24|1.25)");
  p->set_value("1.24");
  auto* os = want.add_properties();
  os->set_name("OSFamily");
  os->set_value("linux");
  EXPECT_TRUE(registry_.AnyOffers(want));
  p->set_value("1.25");  // Each offered, never both on one worker.
  EXPECT_FALSE(registry_.AnyOffers(want));
  EXPECT_EQ(registry_.Unmet(want), "no single worker offers all of pahole=1.25, OSFamily=linux");
}

}  // namespace
}  // namespace kfarm
