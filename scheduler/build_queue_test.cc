// BuildQueue's dispatch with prefetch: which busy worker may be sent one more action, and when.
#include "scheduler/build_queue.h"

#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "gtest/gtest.h"
#include "scheduler/storage.h"

namespace kfarm {
namespace {

using google::protobuf::util::TimeUtil;

// Records what the queue sends a worker.
class FakeLink : public WorkerLink {
 public:
  void Send(const worker::SchedulerMessage& msg) override {
    absl::MutexLock lock(&mu_);
    if (msg.has_assignment()) assigned_.push_back(msg.assignment());
  }
  void Close() override {}
  std::vector<std::string> Assigned() {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> ids;
    for (const auto& a : assigned_) ids.push_back(a.command().arguments(1));
    return ids;
  }
  std::string IdOf(const std::string& tag) {
    absl::MutexLock lock(&mu_);
    for (const auto& a : assigned_) {
      if (a.command().arguments(1) == tag) return a.execution_id();
    }
    return "";
  }

 private:
  absl::Mutex mu_;
  std::vector<worker::Assignment> assigned_;
};

class BuildQueueTest : public ::testing::Test {
 protected:
  BuildQueueTest() : queue_(Config(), nullptr, [this] { return now_; }) {}

  static config::ExecutionConfig Config() {
    config::SchedulerConfig c;
    c.mutable_execution()->set_prefetch_below_ms(1000);
    return WithDefaults(c).execution();
  }

  std::shared_ptr<FakeLink> Connect(const std::string& id, int slots, int depth) {
    auto link = std::make_shared<FakeLink>();
    worker::Register reg;
    reg.set_worker_id(id);
    reg.set_slots(slots);
    reg.set_queue_depth(depth);
    EXPECT_TRUE(queue_.Connected(reg, link).ok());
    return link;
  }

  // An uncached action of `shape`; `tag` tells it apart in what the worker was sent.
  void Submit(const std::string& shape, const std::string& tag) {
    ExecuteParams p;
    p.command.add_arguments(shape);
    p.command.add_arguments(tag);
    p.action.set_do_not_cache(true);
    p.action_digest = Digest::Of(tag);
    p.shape = shape;
    p.timeout = absl::Minutes(1);
    queue_.Submit(std::move(p));
  }

  // The worker reports `tag` done after running for `took`.
  void Complete(const std::string& worker, FakeLink& link, const std::string& tag,
                absl::Duration took) {
    worker::WorkerMessage m;
    auto* c = m.mutable_completion();
    c->set_execution_id(link.IdOf(tag));
    auto* md = c->mutable_response()->mutable_result()->mutable_execution_metadata();
    *md->mutable_execution_start_timestamp() = TimeUtil::NanosecondsToTimestamp(0);
    *md->mutable_execution_completed_timestamp() =
        TimeUtil::NanosecondsToTimestamp(absl::ToInt64Nanoseconds(took));
    queue_.Received(worker, m);
  }

  absl::Time now_ = absl::FromUnixSeconds(1000000);
  BuildQueue queue_;
};

using ::testing::ElementsAre;

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

}  // namespace
}  // namespace kfarm
