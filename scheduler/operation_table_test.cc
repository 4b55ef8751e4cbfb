#include "scheduler/operation_table.h"

#include "gmock/gmock.h"
#include "grpcpp/support/status.h"
#include "gtest/gtest.h"

namespace kfarm {
namespace {

using ::testing::HasSubstr;

std::shared_ptr<Execution> NewExecution(const std::string& instance, const std::string& action) {
  auto e = std::make_shared<Execution>();
  e->params.instance_name = instance;
  e->params.action_digest = Digest::Of(action);
  return e;
}

class CountingWatcher : public OperationWatcher {
 public:
  void OperationChanged(bool keepalive) override { (keepalive ? keepalives : changes)++; }
  int changes = 0;
  int keepalives = 0;
};

const absl::Time kStart = absl::FromUnixSeconds(1000000);

TEST(OperationTableTest, APrincipalIsAdmittedUpToItsLimitAndFinishedOnesStopCounting) {
  OperationTable table(2);
  auto e = NewExecution("", "a");
  ASSERT_TRUE(table.Admit("alice").ok());
  OperationRecord& first = table.Add({"alice"}, e, kStart);
  ASSERT_TRUE(table.Admit("alice").ok());
  table.Add({"alice"}, e, kStart);
  absl::Status third = table.Admit("alice");
  EXPECT_EQ(third.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(third.message(), HasSubstr("principal \"alice\" already has 2 unfinished"));
  EXPECT_TRUE(table.Admit("bob").ok());
  table.Done(first, kStart);
  table.Done(first, kStart);  // Once only: the second call changes nothing.
  EXPECT_TRUE(table.Admit("alice").ok());
  EXPECT_EQ(table.Admit("alice").code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(e->operations, 2);
  EXPECT_EQ(e->operation_names.size(), 2u);
}

TEST(OperationTableTest, OnlyTheSameActionOnTheSameInstanceIsJoined) {
  OperationTable table(10);
  auto e = NewExecution("a", "action");
  table.AddInFlight(e);
  EXPECT_EQ(table.InFlight(NewExecution("a", "action")->params), e);
  EXPECT_EQ(table.InFlight(NewExecution("b", "action")->params), nullptr);
  EXPECT_EQ(table.InFlight(NewExecution("a", "other")->params), nullptr);
  auto replaced = NewExecution("a", "action");
  table.RemoveInFlight(replaced);  // Not the one in flight: nothing removed.
  EXPECT_EQ(table.InFlight(e->params), e);
  table.RemoveInFlight(e);
  EXPECT_EQ(table.InFlight(e->params), nullptr);
}

TEST(OperationTableTest, ViewsFollowTheExecutionUnlessCancelled) {
  OperationTable table(10);
  auto e = NewExecution("", "a");
  OperationRecord& op = table.Add({"alice"}, e, kStart);
  EXPECT_EQ(table.View(op).stage, reapi::ExecutionStage::QUEUED);
  e->stage = Stage::kExecuting;
  EXPECT_EQ(table.View(op).stage, reapi::ExecutionStage::EXECUTING);
  EXPECT_FALSE(table.View(op).done);
  const uint64_t before = table.View(op).version;
  op.cancelled = true;
  op.version++;
  OperationView v = table.View(op);
  EXPECT_TRUE(v.done);
  EXPECT_GT(v.version, before);
  EXPECT_EQ(v.response.status().code(), grpc::StatusCode::CANCELLED);
  EXPECT_THAT(v.response.status().message(), HasSubstr(op.name));
  EXPECT_THAT(v.response.status().message(), HasSubstr(Digest::Of("a").ToString()));
  EXPECT_EQ(v.owner, "alice");
}

TEST(OperationTableTest, WatchersAreToldOnlyWhenTheDeferredCallsRun) {
  OperationTable table(10);
  auto e = NewExecution("", "a");
  OperationRecord& op = table.Add({"alice"}, e, kStart);
  auto watcher = std::make_shared<CountingWatcher>();
  table.Watch(op, watcher);
  DeferredCalls calls;
  table.Changed(*e, calls);
  table.KeepaliveAll(calls);
  EXPECT_EQ(watcher->changes, 0);  // Decided under the lock, told after it.
  for (auto& call : calls.Take()) call();
  EXPECT_EQ(watcher->changes, 1);
  EXPECT_EQ(watcher->keepalives, 1);
  table.Unwatch(op, watcher.get(), kStart);
  table.Changed(*e, calls);
  EXPECT_TRUE(calls.empty());
}

TEST(OperationTableTest, SweepCancelsTheAbandonedAndForgetsTheLongFinished) {
  OperationTable table(10);
  auto running = NewExecution("", "running");
  auto finished = NewExecution("", "finished");
  auto watched = NewExecution("", "watched");
  OperationRecord& abandoned = table.Add({"alice"}, running, kStart);
  OperationRecord& done = table.Add({"alice"}, finished, kStart);
  OperationRecord& waited = table.Add({"alice"}, watched, kStart);
  table.BeginWait(waited);
  finished->stage = Stage::kCompleted;
  table.ExecutionDone(*finished, kStart);
  const std::string done_name = done.name;

  auto swept = table.Sweep(kStart + absl::Seconds(5), absl::Seconds(10), absl::Seconds(10));
  EXPECT_TRUE(swept.empty());
  EXPECT_NE(table.Find(done_name), nullptr);

  swept = table.Sweep(kStart + absl::Seconds(11), absl::Seconds(10), absl::Seconds(10));
  ASSERT_EQ(swept.size(), 1u);
  EXPECT_EQ(swept[0], &abandoned);
  EXPECT_EQ(table.Find(done_name), nullptr);
  EXPECT_EQ(table.size(), 2u);

  table.EndWait(waited, kStart + absl::Seconds(11));  // Unwatched from now on.
  EXPECT_EQ(table.Sweep(kStart + absl::Seconds(20), absl::Seconds(10), absl::Seconds(10)).size(), 1u);
  EXPECT_EQ(table.Sweep(kStart + absl::Seconds(22), absl::Seconds(10), absl::Seconds(10)).size(), 2u);
}

}  // namespace
}  // namespace kfarm
