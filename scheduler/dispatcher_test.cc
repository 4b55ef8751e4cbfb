// The dispatch policy on its own: no threads, no clock, no gRPC. Each test queues executions,
// offers workers and reads back, in order, which execution went where.
#include "scheduler/dispatcher.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "scheduler/testing/test_workers.h"

namespace kfarm {
namespace {

using ::testing::ElementsAre;

const absl::Time kNow = absl::FromUnixSeconds(1000000);

class DispatcherTest : public ::testing::Test {
 protected:
  Worker& AddWorker(const std::string& id, int slots,
                    const std::vector<std::pair<std::string, std::string>>& offers = {}) {
    return AddTestWorker(workers_, id, slots, 0, offers);
  }
  // Queues `tag` (also its action digest) for build `build`.
  std::shared_ptr<Execution> Queue(const std::string& tag, const std::string& build = "",
                                   int32_t priority = 0, const std::string& shape = "cc",
                                   const reapi::Platform& platform = {}) {
    auto e = std::make_shared<Execution>();
    e->id = tag;
    e->params.action_digest = Digest::Of(tag);
    e->params.invocation_id = build;
    e->params.priority = priority;
    e->params.shape = shape;
    e->params.platform = platform;
    e->seq = next_seq_++;
    dispatcher_.Enqueue(e);
    return e;
  }
  // Dispatches; returns "worker:tag" for each assignment made.
  std::vector<std::string> Dispatch() {
    std::vector<std::string> out;
    dispatcher_.Dispatch(kNow, [&](Worker& w, const std::shared_ptr<Execution>& e) {
      out.push_back(w.id + ":" + e->id);
    });
    return out;
  }
  // Runs everything queued on the one-slot worker `w`, one at a time; returns the order.
  std::vector<std::string> DrainOneByOne() {
    std::vector<std::string> order;
    for (auto next = Dispatch(); !next.empty(); next = Dispatch()) {
      const std::string tag = next[0].substr(next[0].find(':') + 1);
      order.push_back(tag);
      workers_.ForEach([&](Worker& w) {
        auto it = w.running.find(tag);
        if (it == w.running.end()) return;
        dispatcher_.Leave(*it->second);
        it->second->stage = Stage::kCompleted;
        w.running.erase(it);
        workers_.Refresh(w);
      });
    }
    return order;
  }

  WorkerRegistry workers_{absl::Seconds(1)};
  Dispatcher dispatcher_{&workers_, /*cache_affinity=*/true};
  uint64_t next_seq_ = 0;
};

TEST_F(DispatcherTest, TheMostUrgentPriorityRunsFirst) {
  Queue("low", "", 10);
  Queue("default", "", 0);
  Queue("high", "", -5);
  AddWorker("w", 1);
  EXPECT_THAT(DrainOneByOne(), ElementsAre("high", "default", "low"));
}

TEST_F(DispatcherTest, ABuildArrivingBehindAnotherTakesTurnsWithIt) {
  for (int i = 0; i < 4; ++i) Queue("a" + std::to_string(i), "build-a");
  Queue("b0", "build-b");
  Queue("b1", "build-b");
  AddWorker("w", 1);
  EXPECT_THAT(DrainOneByOne(), ElementsAre("a0", "b0", "a1", "b1", "a2", "a3"));
}

TEST_F(DispatcherTest, ABuildThatReappearsStartsLevelWithTheLeastServed) {
  AddWorker("w", 1);
  for (int i = 0; i < 3; ++i) Queue("a" + std::to_string(i), "build-a");
  EXPECT_THAT(DrainOneByOne(), ElementsAre("a0", "a1", "a2"));  // build-a served 3, then idle.
  Queue("b0", "build-b");
  Queue("b1", "build-b");
  Queue("a3", "build-a");
  // build-a returns level with build-b, not 3 behind it, and build-b not 3 ahead.
  EXPECT_THAT(DrainOneByOne(), ElementsAre("b0", "a3", "b1"));
}

TEST_F(DispatcherTest, TheLongestExpectedRunsFirstWhateverItsArrival) {
  dispatcher_.history().Record("quick", absl::Milliseconds(50));
  dispatcher_.history().Record("slow", absl::Milliseconds(800));
  Queue("q", "", 0, "quick");
  Queue("new", "", 0, "never seen");
  Queue("s", "", 0, "slow");
  AddWorker("w", 1);
  EXPECT_THAT(DrainOneByOne(), ElementsAre("s", "q", "new"));
}

TEST_F(DispatcherTest, AnActionGoesWhereItsLargestInputAlreadyIs) {
  Worker& a = AddWorker("a", 2);
  Worker& b = AddWorker("b", 1);
  const Digest base = Digest::Of("base btf");
  b.large_blobs.insert(base);
  for (int i = 0; i < 2; ++i) {
    auto e = Queue("m" + std::to_string(i));
    e->params.largest_input = base;
  }
  // a has more free slots, but b holds the input: the first goes there. b is then full, and
  // the next goes to a, which now fetches the input too.
  EXPECT_THAT(Dispatch(), ElementsAre("b:m0", "a:m1"));
  EXPECT_TRUE(a.large_blobs.contains(base));
}

TEST_F(DispatcherTest, WithoutAffinityTheWorkerWithMostRoomTakesIt) {
  Dispatcher plain(&workers_, /*cache_affinity=*/false);
  AddWorker("a", 2);
  Worker& b = AddWorker("b", 1);
  const Digest base = Digest::Of("base btf");
  b.large_blobs.insert(base);
  auto e = std::make_shared<Execution>();
  e->id = "m";
  e->params.largest_input = base;
  plain.Enqueue(e);
  std::vector<std::string> out;
  plain.Dispatch(kNow, [&](Worker& w, const std::shared_ptr<Execution>& x) {
    out.push_back(w.id + ":" + x->id);
  });
  EXPECT_THAT(out, ElementsAre("a:m"));
}

TEST_F(DispatcherTest, AnActionWaitsForAWorkerOfferingItsPlatformWithoutBlockingOthers) {
  reapi::Platform wants;
  auto* p = wants.add_properties();
  p->set_name("pahole");
  p->set_value("1.25");
  auto e = Queue("btf", "", 0, "cc", wants);
  Queue("plain");
  AddWorker("old", 2, {{"pahole", "1.24"}});
  EXPECT_THAT(Dispatch(), ElementsAre("old:plain"));
  EXPECT_EQ(dispatcher_.queued(), 1u);
  AddWorker("new", 1, {{"pahole", "1.25"}});
  EXPECT_THAT(Dispatch(), ElementsAre("new:btf"));
  EXPECT_EQ(e->stage, Stage::kExecuting);
  EXPECT_EQ(e->worker, "new");
  EXPECT_EQ(e->assigned_at, kNow);
}

}  // namespace
}  // namespace kfarm
