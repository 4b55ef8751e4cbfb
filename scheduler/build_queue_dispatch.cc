// BuildQueue's dispatch: the next execution comes from the fair queue (priority, then fair share
// between builds, then longest expected, then first come); it goes to a free worker already
// holding its largest input, else to the one with the most free slots — or, when every worker is
// busy and the action is short, to a busy worker running only short actions, which holds it and
// starts it as a slot frees (prefetch: no round trip between one action and the next).
#include <algorithm>

#include "google/protobuf/util/time_util.h"
#include "scheduler/build_queue.h"

namespace kfarm {

using google::protobuf::util::TimeUtil;

void BuildQueue::SendAssignmentLocked(Worker& w, const Execution& e) {
  worker::SchedulerMessage m;
  auto* a = m.mutable_assignment();
  a->set_execution_id(e.id);
  a->set_instance_name(e.params.instance_name);
  e.params.action_digest.ToProto(a->mutable_action_digest());
  *a->mutable_action() = e.params.action;
  *a->mutable_command() = e.params.command;
  *a->mutable_timeout() = TimeUtil::NanosecondsToDuration(absl::ToInt64Nanoseconds(e.params.timeout));
  *a->mutable_queued_timestamp() = TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(e.queued_at));
  a->mutable_input_directory_blobs()->Reserve(static_cast<int>(e.params.input_directory_blobs.size()));
  for (const auto& d : e.params.input_directory_blobs) a->add_input_directory_blobs(d);
  SendLocked(w.link, std::move(m));
}

bool BuildQueue::ShortLocked(absl::Duration expected) const {
  return config_.prefetch_below_ms() > 0 && expected > absl::ZeroDuration() &&
         expected < absl::Milliseconds(config_.prefetch_below_ms());
}

void BuildQueue::RefreshFreeLocked(Worker& w) {
  const bool usable = w.link != nullptr && !w.draining && w.resting_until == absl::InfinitePast();
  const int running = static_cast<int>(w.running.size());
  const int free = usable ? std::max(0, w.slots - running) : 0;
  int spare = 0;
  if (usable && free == 0 && config_.prefetch_below_ms() > 0) {
    spare = std::max(0, w.slots + w.queue_depth - running);
    for (const auto& [id, e] : w.running) {
      if (!ShortLocked(e->expected)) spare = 0;
    }
  }
  if (free != w.listed.free || w.last_assigned != w.listed.last_assigned) {
    if (w.listed.free > 0) free_.erase(w.listed);
    w.listed = FreeKey{free, w.last_assigned, w.id};
    if (free > 0) free_.emplace(w.listed, &w);
  }
  if (spare != w.listed_spare.free || w.last_assigned != w.listed_spare.last_assigned) {
    if (w.listed_spare.free > 0) spare_.erase(w.listed_spare);
    w.listed_spare = FreeKey{spare, w.last_assigned, w.id};
    if (spare > 0) spare_.emplace(w.listed_spare, &w);
  }
}

BuildQueue::Worker* BuildQueue::ChooseWorkerLocked(const Execution& e, bool prefer_holder) {
  for (const auto* workers : {&free_, &spare_}) {
    if (workers == &spare_ && !ShortLocked(history_.Expected(e.params.shape))) break;
    Worker* first = nullptr;
    Worker* failed_before = nullptr;  // Taken only when no other worker can.
    for (const auto& [free, w] : *workers) {
      if (!w->platform.Satisfies(e.params.platform)) continue;
      if (!e.failed_on.empty() &&
          std::find(e.failed_on.begin(), e.failed_on.end(), w->id) != e.failed_on.end()) {
        if (failed_before == nullptr) failed_before = w;
        continue;
      }
      if (!prefer_holder) return w;
      if (w->large_blobs.contains(e.params.largest_input)) return w;
      if (first == nullptr) first = w;
    }
    if (first != nullptr) return first;
    if (failed_before != nullptr && !OtherWorkerCanLocked(e)) return failed_before;
  }
  return nullptr;
}

bool BuildQueue::OtherWorkerCanLocked(const Execution& e) const {
  for (const auto& [id, w] : workers_) {
    if (w.link == nullptr || w.draining || w.resting_until != absl::InfinitePast()) continue;
    if (std::find(e.failed_on.begin(), e.failed_on.end(), id) != e.failed_on.end()) continue;
    if (w.platform.Satisfies(e.params.platform)) return true;
  }
  return false;
}

void BuildQueue::DispatchLocked() {
  while ((!free_.empty() || !spare_.empty()) && ready_.size() > 0) {
    auto next = ready_.Pop([&](const std::shared_ptr<Execution>& e) {
      return ChooseWorkerLocked(*e, /*prefer_holder=*/false) != nullptr;
    });
    if (!next) return;
    std::shared_ptr<Execution> e = std::move(*next);
    e->queued = false;
    const bool affinity = !config_.disable_cache_affinity() && e->params.largest_input.valid();
    Worker* chosen = ChooseWorkerLocked(*e, affinity);
    e->stage = Stage::kExecuting;
    e->worker = chosen->id;
    e->assigned_at = clock_();
    e->expected = history_.Expected(e->params.shape);
    chosen->running[e->id] = e;
    chosen->last_assigned = ++assignments_;
    RefreshFreeLocked(*chosen);
    if (e->params.largest_input.valid()) chosen->large_blobs.insert(e->params.largest_input);
    SendAssignmentLocked(*chosen, *e);
    ChangedLocked(*e);
  }
}

}  // namespace kfarm
