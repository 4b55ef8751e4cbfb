// BuildQueue on a fake clock with fake worker links, for the queue's tests.
#ifndef KFARM_SCHEDULER_TESTING_BUILD_QUEUE_FIXTURE_H_
#define KFARM_SCHEDULER_TESTING_BUILD_QUEUE_FIXTURE_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "google/protobuf/util/time_util.h"
#include "scheduler/build_queue.h"
#include "scheduler/storage.h"

namespace kfarm {

using google::protobuf::util::TimeUtil;

// Records what the queue sends a worker.
class FakeLink : public WorkerLink {
 public:
  void Send(worker::SchedulerMessage msg) override {
    absl::MutexLock lock(&mu_);
    if (msg.has_assignment()) assigned_.push_back(msg.assignment());
    if (msg.has_cancel()) cancelled_.push_back(msg.cancel().execution_id());
  }
  std::vector<std::string> Cancelled() {
    absl::MutexLock lock(&mu_);
    return cancelled_;
  }
  void Close() override {}
  std::vector<std::string> Assigned() {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> ids;
    for (const auto& a : assigned_) ids.push_back(a.command().arguments(1));
    return ids;
  }
  // The execution id of the last assignment of `tag` (each attempt has its own).
  std::string IdOf(const std::string& tag) {
    absl::MutexLock lock(&mu_);
    std::string id;
    for (const auto& a : assigned_) {
      if (a.command().arguments(1) == tag) id = a.execution_id();
    }
    return id;
  }

 private:
  absl::Mutex mu_;
  std::vector<worker::Assignment> assigned_;
  std::vector<std::string> cancelled_;
};

class BuildQueueTest : public ::testing::Test {
 protected:
  BuildQueueTest() : queue_(Config(), nullptr, [this] { return absl::FromUnixNanos(now_ns_.load()); }) {}

  static config::ExecutionConfig Config() {
    config::SchedulerConfig c;
    c.mutable_execution()->set_prefetch_below_ms(1000);
    return WithDefaults(c).execution();
  }

  std::shared_ptr<FakeLink> Connect(const std::string& id, int slots, int depth,
                                    const std::vector<std::string>& running = {}) {
    auto link = std::make_shared<FakeLink>();
    worker::Register reg;
    reg.set_worker_id(id);
    reg.set_slots(slots);
    reg.set_queue_depth(depth);
    for (const std::string& r : running) reg.add_running_executions(r);
    EXPECT_TRUE(queue_.Connected(reg, link).ok());
    return link;
  }

  // An uncached action of `shape`; `tag` tells it apart in what the worker was sent. Returns the
  // operation's name.
  std::string Submit(const std::string& shape, const std::string& tag, bool cacheable = false) {
    ExecuteParams p;
    p.command.add_arguments(shape);
    p.command.add_arguments(tag);
    p.action.set_do_not_cache(!cacheable);
    p.action_digest = Digest::Of(tag);
    p.shape = shape;
    p.timeout = absl::Minutes(1);
    auto name = queue_.Submit(std::move(p));
    EXPECT_TRUE(name.ok()) << name.status();
    return name.value_or("");
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

  // The worker reports that it, not the action, failed running (the last assignment of) `tag`.
  void FailOnWorker(const std::string& worker, FakeLink& link, const std::string& tag) {
    worker::WorkerMessage m;
    auto* c = m.mutable_completion();
    c->set_execution_id(link.IdOf(tag));
    c->mutable_response()->mutable_status()->set_code(14);  // UNAVAILABLE;
    c->set_infrastructure_failure("worker " + worker + ": the sandbox could not start");
    queue_.Received(worker, m);
  }

  std::atomic<int64_t> now_ns_{int64_t{1000000} * 1000000000};  // Read by the reaper thread too.
  BuildQueue queue_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_TESTING_BUILD_QUEUE_FIXTURE_H_
