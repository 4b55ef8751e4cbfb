// What the queue tells the status page: builds, workers, operations and one operation's story.
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/testing/build_queue_fixture.h"
#include "scheduler/testing/metric_totals.h"

namespace kfarm {
namespace {

using ::testing::ElementsAre;

class BuildQueueStatusTest : public BuildQueueTest {
 protected:
  std::string SubmitFor(const std::string& invocation, const std::string& tag,
                        const Digest& largest_input = Digest()) {
    ExecuteParams p;
    p.largest_input = largest_input;
    p.command.add_arguments("/usr/bin/cc");
    p.command.add_arguments(tag);
    p.action.set_do_not_cache(true);
    p.action_digest = Digest::Of(tag);
    p.timeout = absl::Minutes(1);
    p.invocation_id = invocation;
    p.tool = "bazel 4.2.3";
    p.principal = "alice";
    auto name = queue_.Submit(std::move(p));
    EXPECT_TRUE(name.ok()) << name.status();
    return name.value_or("");
  }
  void Advance(absl::Duration d) { now_ns_ += absl::ToInt64Nanoseconds(d); }
};

TEST_F(BuildQueueStatusTest, BuildsWorkersAndOperationsAsTheyMove) {
  auto link = Connect("w1", 1, 0);
  const std::string a = SubmitFor("inv-1", "a");  // Runs at once on the only slot.
  Advance(absl::Seconds(1));
  const std::string b = SubmitFor("inv-1", "b");  // Waits.
  queue_.CacheHit("inv-1", "bazel 4.2.3");
  Advance(absl::Seconds(1));
  SubmitFor("inv-2", "c");
  Advance(absl::Seconds(2));

  status::StatusReport r = queue_.Status(10);
  ASSERT_EQ(r.workers_size(), 1);
  EXPECT_EQ(r.workers(0).id(), "w1");
  EXPECT_EQ(r.workers(0).slots(), 1);
  ASSERT_EQ(r.workers(0).running_size(), 1);
  EXPECT_EQ(r.workers(0).running(0).operation(), a);
  EXPECT_EQ(r.workers(0).running(0).summary(), "cc a");
  ASSERT_EQ(r.queues_size(), 1);
  EXPECT_EQ(r.queues(0).queued(), 2);
  EXPECT_EQ(r.queues(0).executing(), 1);
  ASSERT_EQ(r.builds_size(), 2);
  EXPECT_EQ(r.builds(0).invocation_id(), "inv-2");  // Most recently active first.
  const status::BuildStatus& one = r.builds(1);
  EXPECT_EQ(one.tool(), "bazel 4.2.3");
  EXPECT_EQ(one.submitted(), 2);
  EXPECT_EQ(one.cached(), 1);
  EXPECT_EQ(one.executing(), 1);
  EXPECT_EQ(one.queued(), 1);
  ASSERT_EQ(r.running_size(), 3);
  EXPECT_EQ(r.running(0).name(), a);  // Oldest first.
  EXPECT_EQ(r.running(0).stage(), "EXECUTING");
  EXPECT_EQ(r.running(0).worker(), "w1");
  EXPECT_EQ(r.running(1).name(), b);
  EXPECT_EQ(r.running(1).stage(), "QUEUED");
  EXPECT_EQ(r.recent_size(), 0);

  Complete("w1", *link, "a", absl::Seconds(2));
  Advance(absl::Seconds(1));
  ASSERT_TRUE(queue_.Cancel(b).ok());
  r = queue_.Status(10);
  const status::BuildStatus& after = r.builds(0);
  EXPECT_EQ(after.invocation_id(), "inv-1");
  EXPECT_EQ(after.succeeded(), 1);
  EXPECT_EQ(after.cancelled(), 1);
  EXPECT_EQ(after.queued() + after.executing(), 0);
  ASSERT_EQ(r.recent_size(), 2);
  EXPECT_EQ(r.recent(0).stage(), "CANCELLED");
  EXPECT_EQ(r.recent(1).name(), a);
  EXPECT_EQ(r.recent(1).stage(), "COMPLETED");
  EXPECT_EQ(r.running_total(), 1);  // c, now on w1.
  EXPECT_EQ(queue_.Status(1).recent_size(), 1);
}

TEST_F(BuildQueueStatusTest, DescribeTellsAnOperationsStory) {
  auto link = Connect("w1", 1, 0);
  const std::string a = SubmitFor("inv-1", "a");
  auto running = queue_.Describe(a);
  ASSERT_TRUE(running.ok()) << running.status();
  EXPECT_EQ(running->detail.summary().stage(), "EXECUTING");
  EXPECT_EQ(running->detail.metadata().worker(), "w1");
  EXPECT_TRUE(running->detail.metadata().has_queued_timestamp());
  EXPECT_THAT(running->detail.operations(), ElementsAre(a));

  Complete("w1", *link, "a", absl::Seconds(3));
  auto done = queue_.Describe(a);
  ASSERT_TRUE(done.ok());
  EXPECT_EQ(done->detail.summary().stage(), "COMPLETED");
  EXPECT_EQ(TimeUtil::TimestampToSeconds(done->result.execution_metadata().execution_completed_timestamp()), 3);
  EXPECT_EQ(done->detail.summary().action_digest(), Digest::Of("a").ToString());

  auto unknown = queue_.Describe("operations/nope");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(unknown.status().message(), ::testing::HasSubstr("operations/nope"));
}

// The base BTF of a kernel's BTF steps is their largest input: the first step a worker runs
// fetches it, the next ones find it held.
TEST_F(BuildQueueStatusTest, LargeInputsAreCountedFetchedThenHeld) {
  prometheus::Registry registry;
  QueueMetrics metrics(registry);
  queue_.SetMetrics(&metrics);
  auto link = Connect("w1", 1, 0);
  const Digest base = Digest::Of(std::string(2 << 20, 'b'));
  SubmitFor("inv", "m1", base);
  SubmitFor("inv", "m2", base);
  Complete("w1", *link, "m1", absl::Milliseconds(5));  // m2 goes to w1 too.
  std::map<std::string, double> seen = MetricTotals(registry);
  EXPECT_EQ(seen["kfarm_large_input_assignments_total{input=\"fetched\"}"], 1);
  EXPECT_EQ(seen["kfarm_large_input_assignments_total{input=\"held\"}"], 1);
}

}  // namespace
}  // namespace kfarm
