// BuildQueue as a whole, on a fake clock and fake worker links: how submissions, workers'
// messages and the reaper's jobs move operations along. The policies of its parts are tested
// beside them (dispatcher, worker registry, operation table).
#include "scheduler/build_queue.h"

#include <atomic>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "scheduler/storage.h"
#include "scheduler/testing/build_queue_fixture.h"
#include "scheduler/testing/metric_totals.h"

namespace kfarm {
namespace {

using ::testing::ElementsAre;

// Records what it is told, reading the operation back from the queue as a stream does — which
// would deadlock if the queue called it with its lock held.
class RecordingWatcher : public OperationWatcher {
 public:
  RecordingWatcher(BuildQueue* queue, std::string name) : queue_(queue), name_(std::move(name)) {}
  void OperationChanged(bool keepalive) override {
    auto v = queue_->Get(name_);
    absl::MutexLock lock(&mu_);
    if (keepalive) ++keepalives_;
    if (v.ok() && !keepalive) stages_.push_back(v->stage);
  }
  std::vector<reapi::ExecutionStage::Value> stages() {
    absl::MutexLock lock(&mu_);
    return stages_;
  }
  bool AwaitKeepalive(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    auto heard = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return keepalives_ > 0; };
    return mu_.AwaitWithTimeout(absl::Condition(&heard), timeout);
  }

 private:
  BuildQueue* queue_;
  std::string name_;
  absl::Mutex mu_;
  std::vector<reapi::ExecutionStage::Value> stages_ ABSL_GUARDED_BY(mu_);
  int keepalives_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST_F(BuildQueueTest, WatchersHearEveryChangeOutsideTheLockUntilTheyStop) {
  const std::string first = Submit("cc", "a");  // No worker yet: queued.
  auto watcher = std::make_shared<RecordingWatcher>(&queue_, first);
  ASSERT_TRUE(queue_.Watch(first, watcher).ok());
  auto w = Connect("w1", 1, 0);  // Dispatched: executing.
  Complete("w1", *w, "a", absl::Milliseconds(20));
  EXPECT_THAT(watcher->stages(), ElementsAre(reapi::ExecutionStage::EXECUTING,
                                             reapi::ExecutionStage::COMPLETED));

  const std::string second = Submit("cc", "b");
  auto gone = std::make_shared<RecordingWatcher>(&queue_, second);
  ASSERT_TRUE(queue_.Watch(second, gone).ok());
  queue_.Unwatch(second, gone.get());
  Complete("w1", *w, "b", absl::Milliseconds(20));
  EXPECT_TRUE(gone->stages().empty());
  EXPECT_EQ(queue_.Watch("operations/none", gone).code(), absl::StatusCode::kNotFound);
}

TEST_F(BuildQueueTest, WatchedStreamsGetAKeepaliveEachInterval) {
  auto w = Connect("w1", 1, 0);
  const std::string name = Submit("link", "long");
  auto watcher = std::make_shared<RecordingWatcher>(&queue_, name);
  ASSERT_TRUE(queue_.Watch(name, watcher).ok());
  EXPECT_FALSE(watcher->AwaitKeepalive(absl::Milliseconds(300)));  // Nothing is due yet.
  now_ns_ += Config().keepalive_interval_ms() * 1000000;  // The reaper's clock moves on.
  EXPECT_TRUE(watcher->AwaitKeepalive(absl::Seconds(5)));
  queue_.Unwatch(name, watcher.get());
}

TEST_F(BuildQueueTest, BusyWorkerGetsOneMoreOnlyWhenEverythingIsKnownShort) {
  auto w = Connect("w1", 1, 1);
  Submit("cc", "a");
  Submit("cc", "b");  // A shape never seen: not prefetched.
  EXPECT_THAT(w->Assigned(), ElementsAre("a"));
  Complete("w1", *w, "a", absl::Milliseconds(20));  // Now "cc" is known short.
  EXPECT_THAT(w->Assigned(), ElementsAre("a", "b"));
  Submit("cc", "c");  // b runs (short), the queue has room: sent ahead.
  Submit("cc", "d");  // One slot and one queued: full.
  EXPECT_THAT(w->Assigned(), ElementsAre("a", "b", "c"));
  Complete("w1", *w, "b", absl::Milliseconds(20));  // c starts there; d is sent ahead.
  EXPECT_THAT(w->Assigned(), ElementsAre("a", "b", "c", "d"));
}

TEST_F(BuildQueueTest, NothingWaitsBehindALongActionAndIdleWorkersComeFirst) {
  auto w1 = Connect("w1", 1, 1);
  Submit("link", "l1");
  Complete("w1", *w1, "l1", absl::Seconds(30));  // "link" is long.
  Submit("cc", "c1");
  Complete("w1", *w1, "c1", absl::Milliseconds(20));  // "cc" is short.
  Submit("link", "l2");
  Submit("cc", "c2");  // w1 runs a long action: c2 waits in the scheduler.
  EXPECT_THAT(w1->Assigned(), ElementsAre("l1", "c1", "l2"));
  auto w2 = Connect("w2", 1, 1);  // c2 goes to the idle worker, not behind l2.
  EXPECT_THAT(w2->Assigned(), ElementsAre("c2"));
  Submit("cc", "c3");  // Both busy; only w2's running action is short.
  EXPECT_THAT(w2->Assigned(), ElementsAre("c2", "c3"));
  EXPECT_THAT(w1->Assigned(), ElementsAre("l1", "c1", "l2"));
  Submit("link", "l3");  // Long: never sent ahead.
  EXPECT_THAT(w2->Assigned(), ElementsAre("c2", "c3"));
}

TEST_F(BuildQueueTest, WorkersThatHoldNothingGetNothingAhead) {
  auto w = Connect("w1", 1, 0);
  Submit("cc", "a");
  Complete("w1", *w, "a", absl::Milliseconds(20));
  Submit("cc", "b");
  Submit("cc", "c");
  EXPECT_THAT(w->Assigned(), ElementsAre("a", "b"));
}

TEST(BuildQueueLimitTest, APrincipalHasAtMostItsLimitOfUnfinishedOperations) {
  config::SchedulerConfig c;
  c.mutable_execution()->set_max_pending_operations_per_principal(2);
  BuildQueue queue(WithDefaults(c).execution(), nullptr);
  auto submit = [&](const std::string& who, const std::string& tag) {
    ExecuteParams p;
    p.command.add_arguments("cc");
    p.command.add_arguments(tag);
    p.action.set_do_not_cache(true);
    p.action_digest = Digest::Of(tag);
    p.shape = "cc";
    p.timeout = absl::Minutes(1);
    p.principal = who;
    return queue.Submit(std::move(p));
  };
  auto a1 = submit("a", "1");
  ASSERT_TRUE(a1.ok());
  ASSERT_TRUE(submit("a", "2").ok());
  auto a3 = submit("a", "3");
  EXPECT_EQ(a3.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(a3.status().message()),
              ::testing::HasSubstr("principal \"a\" already has 2 unfinished operations"));
  EXPECT_TRUE(submit("b", "4").ok());  // Another principal has its own allowance.
  ASSERT_TRUE(queue.Cancel(*a1).ok());  // A finished operation no longer counts.
  EXPECT_TRUE(submit("a", "5").ok());
  EXPECT_EQ(submit("a", "6").status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(BuildQueueTest, AnActionStuckOnItsWorkerFailsAfterTimeoutAndAllowance) {
  auto w1 = Connect("w1", 1, 0);
  const std::string op = Submit("cc", "stuck");  // Timeout 1 min; the allowance is 10 min.
  auto client = std::make_shared<RecordingWatcher>(&queue_, op);  // Waited for: not abandoned.
  ASSERT_TRUE(queue_.Watch(op, client).ok());
  ASSERT_THAT(w1->Assigned(), ElementsAre("stuck"));
  const std::string id = w1->IdOf("stuck");
  // The worker keeps sending heartbeats (it is alive) but never completes the action.
  auto advance = [&](absl::Duration d) {
    for (absl::Duration done; done < d; done += absl::Seconds(4)) {
      queue_.Received("w1", worker::WorkerMessage());
      now_ns_ += absl::ToInt64Nanoseconds(absl::Seconds(4));
    }
    queue_.Received("w1", worker::WorkerMessage());
  };
  advance(absl::Minutes(10));
  absl::SleepFor(absl::Milliseconds(300));  // Reaper ticks (on the fake clock, nothing is due).
  ASSERT_FALSE(queue_.Get(op)->done);
  advance(absl::Minutes(1) + absl::Seconds(8));
  for (int i = 0; i < 500 && !queue_.Get(op)->done; ++i) absl::SleepFor(absl::Milliseconds(10));
  auto view = queue_.Get(op);
  ASSERT_TRUE(view->done);
  EXPECT_EQ(view->response.status().code(), 4);  // DEADLINE_EXCEEDED
  EXPECT_THAT(view->response.status().message(),
              ::testing::HasSubstr("did not finish on worker w1 within its timeout of 1m plus 10m"));
  EXPECT_THAT(w1->Cancelled(), ElementsAre(id));
  queue_.Unwatch(op, client.get());
  Submit("cc", "next");  // The worker's slot is given back.
  EXPECT_THAT(w1->Assigned(), ElementsAre("stuck", "next"));
}

TEST_F(BuildQueueTest, AnInfrastructureFailureRunsTheActionOnAnotherWorker) {
  auto w1 = Connect("w1", 1, 0);
  const std::string op = Submit("cc", "a");
  auto w2 = Connect("w2", 1, 0);
  ASSERT_THAT(w1->Assigned(), ElementsAre("a"));
  FailOnWorker("w1", *w1, "a");
  // w1 is free again, but the action goes to the worker it has not failed on.
  EXPECT_THAT(w1->Assigned(), ElementsAre("a"));
  EXPECT_THAT(w2->Assigned(), ElementsAre("a"));
  Complete("w2", *w2, "a", absl::Milliseconds(20));
  auto view = queue_.Get(op);
  ASSERT_TRUE(view.ok());
  EXPECT_TRUE(view->done);
  EXPECT_EQ(view->response.status().code(), 0) << view->response.status().message();
}

TEST_F(BuildQueueTest, AnActionWaitsForAnotherWorkerRatherThanRetryWhereItFailed) {
  auto w1 = Connect("w1", 1, 0);
  auto w2 = Connect("w2", 1, 0);
  Submit("cc", "long");
  Submit("cc", "a");
  ASSERT_THAT(w1->Assigned(), ElementsAre("long"));
  ASSERT_THAT(w2->Assigned(), ElementsAre("a"));
  FailOnWorker("w2", *w2, "a");
  EXPECT_THAT(w2->Assigned(), ElementsAre("a"));  // Free, but "a" failed there; w1 is busy.
  Complete("w1", *w1, "long", absl::Seconds(1));
  EXPECT_THAT(w1->Assigned(), ElementsAre("long", "a"));
}

TEST_F(BuildQueueTest, AWorkerThatKeepsFailingRestsThenGetsWorkAgain) {
  auto w1 = Connect("w1", 1, 0);
  const std::string op = Submit("cc", "a");
  // The only worker: each retry goes back to it, until the action has failed there 3 times.
  for (int i = 0; i < 3; ++i) FailOnWorker("w1", *w1, "a");
  auto view = queue_.Get(op);
  ASSERT_TRUE(view.ok());
  ASSERT_TRUE(view->done);
  EXPECT_EQ(view->response.status().code(), 13);  // INTERNAL
  EXPECT_THAT(view->response.status().message(),
              ::testing::HasSubstr("died or failed 3 times (worker w1: the sandbox could not start"));
  Submit("cc", "b");  // Three failures in a row: w1 rests.
  EXPECT_THAT(w1->Assigned(), ElementsAre("a", "a", "a"));
  // The reaper's clock moves past the rest, the worker's heartbeats keeping it alive meanwhile.
  for (int i = 0; i < 8; ++i) {
    queue_.Received("w1", worker::WorkerMessage());
    now_ns_ += absl::ToInt64Nanoseconds(absl::Seconds(4));
  }
  queue_.Received("w1", worker::WorkerMessage());
  for (int i = 0; i < 500 && w1->Assigned().size() < 4; ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_THAT(w1->Assigned(), ElementsAre("a", "a", "a", "b"));
}

}  // namespace
}  // namespace kfarm

namespace kfarm {
namespace {

// A worker whose stream broke keeps its action for lost_worker_grace_ms (default: three
// heartbeats, 6 s): back in time, it reclaims the action, which is not run again; back later,
// the action has gone to another worker, and the returning one is told to stop its copy.
TEST_F(BuildQueueTest, AWorkerBackWithinTheGraceReclaimsItsActionLaterItRunsElsewhere) {
  auto w1 = Connect("w1", 1, 0);
  const std::string op = Submit("cc", "a");
  ASSERT_THAT(w1->Assigned(), ElementsAre("a"));
  const std::string a = w1->IdOf("a");
  queue_.Disconnected("w1", w1.get());
  now_ns_ += absl::ToInt64Nanoseconds(absl::Seconds(5));
  absl::SleepFor(absl::Milliseconds(300));  // Reaper ticks: on the fake clock, nothing is due.
  auto back = Connect("w1", 1, 0, {a});
  EXPECT_TRUE(back->Assigned().empty());
  EXPECT_TRUE(back->Cancelled().empty());
  worker::WorkerMessage done;
  done.mutable_completion()->set_execution_id(a);
  queue_.Received("w1", done);
  ASSERT_TRUE(queue_.Get(op)->done);
  EXPECT_EQ(queue_.Get(op)->response.status().code(), 0);

  Submit("cc", "b");
  ASSERT_THAT(back->Assigned(), ElementsAre("b"));
  const std::string b = back->IdOf("b");
  queue_.Disconnected("w1", back.get());
  auto w2 = Connect("w2", 1, 0);
  EXPECT_TRUE(w2->Assigned().empty());  // "b" waits for w1 during the grace.
  for (int step = 0; step < 2; ++step) {  // 7 s; w2 stays alive (heartbeats within 6 s).
    now_ns_ += absl::ToInt64Nanoseconds(absl::Milliseconds(3500));
    queue_.Received("w2", worker::WorkerMessage());
  }
  for (int i = 0; i < 500 && w2->Assigned().empty(); ++i) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_THAT(w2->Assigned(), ElementsAre("b"));
  auto late = Connect("w1", 1, 0, {b});
  EXPECT_THAT(late->Cancelled(), ElementsAre(b));
}


// Identical cacheable actions in flight run once, and every operation gets the one result;
// do_not_cache ones each run.
TEST_F(BuildQueueTest, IdenticalActionsShareOneExecutionUnlessDoNotCache) {
  auto w = Connect("w1", 2, 0);
  const std::string first = Submit("cc", "same", /*cacheable=*/true);
  const std::string second = Submit("cc", "same", /*cacheable=*/true);
  EXPECT_NE(first, second);
  EXPECT_THAT(w->Assigned(), ElementsAre("same"));
  Complete("w1", *w, "same", absl::Milliseconds(20));
  for (const std::string& op : {first, second}) {
    auto v = queue_.Get(op);
    ASSERT_TRUE(v.ok());
    EXPECT_TRUE(v->done);
    EXPECT_EQ(v->response.status().code(), 0);
  }
  Submit("cc", "again", false);
  Submit("cc", "again", false);
  EXPECT_THAT(w->Assigned(), ElementsAre("same", "again", "again"));
}

// Cancelling one of two operations sharing an execution leaves it running for the other.
TEST_F(BuildQueueTest, CancellingOneOfTwoJoinedOperationsKeepsTheExecution) {
  auto w = Connect("w1", 1, 0);
  const std::string first = Submit("cc", "same", true);
  const std::string second = Submit("cc", "same", true);
  ASSERT_TRUE(queue_.Cancel(first).ok());
  EXPECT_TRUE(w->Cancelled().empty());
  EXPECT_EQ(queue_.Get(first)->response.status().code(), 1);  // CANCELLED
  EXPECT_FALSE(queue_.Get(second)->done);
  ASSERT_TRUE(queue_.Cancel(second).ok());
  EXPECT_THAT(w->Cancelled(), ElementsAre(w->IdOf("same")));
}

TEST_F(BuildQueueTest, AnUnmatchedPlatformIsUnavailableDuringTheGraceThenFailedPrecondition) {
  reapi::Platform wants;
  auto* p = wants.add_properties();
  p->set_name("pahole");
  p->set_value("1.99");
  absl::Status early = queue_.CheckServable(wants);
  EXPECT_EQ(early.code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(early.message(), ::testing::HasSubstr("retry shortly"));
  now_ns_ += (Config().no_worker_grace_ms() + 1) * 1000000;
  absl::Status late = queue_.CheckServable(wants);
  EXPECT_EQ(late.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(late.message(), ::testing::HasSubstr("pahole=1.99"));
  Connect("w1", 1, 0);
  EXPECT_TRUE(queue_.CheckServable(reapi::Platform()).ok());
}

}  // namespace
}  // namespace kfarm

namespace kfarm {
namespace {

TEST_F(BuildQueueTest, TheSnapshotAndTheMetricsFollowTheQueue) {
  prometheus::Registry registry;
  QueueMetrics metrics(registry);
  queue_.SetMetrics(&metrics);
  auto w = Connect("w1", 2, 0);
  Submit("cc", "a");
  Submit("cc", "b");
  Submit("cc", "c");  // Two slots: c waits.
  QueueSnapshot s = queue_.Snapshot();
  EXPECT_EQ(s.workers, 1);
  EXPECT_EQ(s.slots, 2);
  EXPECT_EQ(s.busy_slots, 2);
  EXPECT_EQ(s.executing, 2);
  ASSERT_EQ(s.queued.size(), 1u);
  EXPECT_EQ(s.queued.begin()->second, 1);

  now_ns_ += 250 * 1000000;
  Complete("w1", *w, "a", absl::Milliseconds(20));  // c goes out, 250 ms after it came.
  s = queue_.Snapshot();
  EXPECT_TRUE(s.queued.empty());
  EXPECT_EQ(s.executing, 2);

  std::map<std::string, double> seen = MetricTotals(registry);
  EXPECT_EQ(seen["kfarm_execution_queued_seconds_count"], 3);
  EXPECT_DOUBLE_EQ(seen["kfarm_execution_queued_seconds_sum"], 0.25);
  EXPECT_EQ(seen["kfarm_execution_executing_seconds_count"], 1);
  EXPECT_EQ(seen["kfarm_execution_results_total"], 1);

  std::vector<prometheus::MetricFamily> gauges = QueueMetrics::Gauges(s);
  ASSERT_EQ(gauges[0].name, "kfarm_queue_actions");
  EXPECT_TRUE(gauges[0].metric.empty());
  EXPECT_EQ(gauges[1].metric[0].gauge.value, 2);  // kfarm_executing_actions.
  queue_.SetMetrics(nullptr);
}

}  // namespace
}  // namespace kfarm
