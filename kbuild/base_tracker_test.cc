#include "kbuild/base_tracker.h"

#include <deque>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

class BaseTrackerTest : public ::testing::Test {
 protected:
  Module* NewModule(const std::string& ko) {
    Module& m = modules_.emplace_back();
    m.recipe.ko = ko;
    return &m;
  }
  // `m`'s BTF step is built on `base` (as StartBtf does).
  static void BuiltOn(Module* m, const Digest& base) { m->btf_base = base; }

  std::deque<Module> modules_;
  BaseTracker tracker_;
  const Digest early_ = Digest::Of("base read from .tmp_vmlinux1.btf.o");
  const Digest real_ = Digest::Of("base in vmlinux");
};

TEST_F(BaseTrackerTest, EveryModuleMustNameTheSameBaseFile) {
  EXPECT_TRUE(tracker_.Named("/k/vmlinux", "a.ko").ok());
  EXPECT_TRUE(tracker_.Named("/k/vmlinux", "b.ko").ok());
  absl::Status two = tracker_.Named("/k/vmlinux.unstripped", "c.ko");
  EXPECT_EQ(two.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(two.message(),
            "modules name two base BTF files: /k/vmlinux (a.ko) and /k/vmlinux.unstripped (c.ko)");
}

TEST_F(BaseTrackerTest, TheBaseIsReadOnceVmlinuxIsLinkedAndNamedOrMakeEndedWithoutIt) {
  EXPECT_FALSE(tracker_.DueFromVmlinux(false, false));
  EXPECT_FALSE(tracker_.DueFromVmlinux(false, true));  // Linked, but no module named it yet.
  EXPECT_TRUE(tracker_.DueFromVmlinux(true, true));    // No module has BTF: nothing waits.
  ASSERT_TRUE(tracker_.Named("/k/vmlinux", "a.ko").ok());
  EXPECT_FALSE(tracker_.DueFromVmlinux(false, false));
  EXPECT_TRUE(tracker_.DueFromVmlinux(false, true));
  tracker_.Loaded(false);
  EXPECT_FALSE(tracker_.DueFromVmlinux(true, true));  // Once.
}

TEST_F(BaseTrackerTest, LinkedModulesWaitForTheBaseThenAllStart) {
  Module* a = NewModule("a.ko");
  Module* b = NewModule("b.ko");
  EXPECT_FALSE(tracker_.Linked(a));
  EXPECT_FALSE(tracker_.Linked(b));
  EXPECT_THAT(tracker_.Loaded(false), ElementsAre(a, b));
  EXPECT_TRUE(tracker_.Linked(NewModule("c.ko")));  // After the base: starts at once.
  BuiltOn(a, real_);
  EXPECT_EQ(tracker_.BtfFinished(a, Digest::Of("a.ko")), BaseTracker::BtfOutcome::kFinal);
  EXPECT_EQ(tracker_.BtfFinished(b, std::nullopt), BaseTracker::BtfOutcome::kFinal);  // A failure stands.
}

TEST_F(BaseTrackerTest, AnEarlyBaseThatHoldsWritesEveryParkedResult) {
  Module* a = NewModule("a.ko");
  Module* b = NewModule("b.ko");
  EXPECT_FALSE(tracker_.Linked(a));
  EXPECT_THAT(tracker_.Loaded(/*early=*/true), ElementsAre(a));
  EXPECT_TRUE(tracker_.unconfirmed());
  BuiltOn(a, early_);
  EXPECT_EQ(tracker_.BtfFinished(a, Digest::Of("a.ko")), BaseTracker::BtfOutcome::kParked);
  EXPECT_TRUE(tracker_.Linked(b));
  BuiltOn(b, early_);
  EXPECT_EQ(tracker_.BtfFinished(b, Digest::Of("b.ko")), BaseTracker::BtfOutcome::kParked);

  BaseTracker::Confirmation c = tracker_.Confirm(early_, early_);
  EXPECT_FALSE(c.stale);
  EXPECT_THAT(c.write, ElementsAre(Pair(a, Digest::Of("a.ko")), Pair(b, Digest::Of("b.ko"))));
  EXPECT_THAT(c.redo, IsEmpty());
  EXPECT_FALSE(tracker_.unconfirmed());
  Module* late = NewModule("late.ko");
  BuiltOn(late, early_);
  EXPECT_EQ(tracker_.BtfFinished(late, Digest::Of("late.ko")), BaseTracker::BtfOutcome::kFinal);
}

TEST_F(BaseTrackerTest, AStaleEarlyBaseRunsEveryBtfStepBuiltOnItAgain) {
  Module* parked_ok = NewModule("ok.ko");
  Module* parked_failed = NewModule("failed.ko");
  Module* in_flight = NewModule("inflight.ko");
  tracker_.Loaded(/*early=*/true);
  for (Module* m : {parked_ok, parked_failed, in_flight}) EXPECT_TRUE(tracker_.Linked(m));
  for (Module* m : {parked_ok, parked_failed, in_flight}) BuiltOn(m, early_);
  EXPECT_EQ(tracker_.BtfFinished(parked_ok, Digest::Of("ok.ko")), BaseTracker::BtfOutcome::kParked);
  EXPECT_EQ(tracker_.BtfFinished(parked_failed, std::nullopt), BaseTracker::BtfOutcome::kParked);

  BaseTracker::Confirmation c = tracker_.Confirm(real_, early_);
  EXPECT_TRUE(c.stale);
  EXPECT_THAT(c.write, IsEmpty());
  EXPECT_THAT(c.redo, ElementsAre(parked_ok, parked_failed));
  // Still running on the farm when vmlinux confirmed: its result is stale too when it comes.
  EXPECT_EQ(tracker_.BtfFinished(in_flight, Digest::Of("inflight.ko")),
            BaseTracker::BtfOutcome::kRedo);
  // The second runs were built on vmlinux's base: they stand, failures included.
  for (Module* m : {parked_ok, parked_failed, in_flight}) BuiltOn(m, real_);
  EXPECT_EQ(tracker_.BtfFinished(parked_ok, Digest::Of("ok2.ko")), BaseTracker::BtfOutcome::kFinal);
  EXPECT_EQ(tracker_.BtfFinished(parked_failed, std::nullopt), BaseTracker::BtfOutcome::kFinal);
}

TEST_F(BaseTrackerTest, AFailureParkedUnderAGoodEarlyBaseIsRunAgainNotWritten) {
  Module* m = NewModule("m.ko");
  tracker_.Loaded(true);
  ASSERT_TRUE(tracker_.Linked(m));
  BuiltOn(m, early_);
  EXPECT_EQ(tracker_.BtfFinished(m, std::nullopt), BaseTracker::BtfOutcome::kParked);
  BaseTracker::Confirmation c = tracker_.Confirm(early_, early_);
  EXPECT_THAT(c.write, IsEmpty());
  EXPECT_THAT(c.redo, ElementsAre(m));
}

}  // namespace
}  // namespace kfarm
