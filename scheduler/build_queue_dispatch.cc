// BuildQueue's dispatch: the next execution comes from the fair queue (priority, then fair share
// between builds, then longest expected, then first come); it goes to a free worker already
// holding its largest input, else to the one with the most free slots.
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
  w.link->Send(m);
}

void BuildQueue::RefreshFreeLocked(Worker& w) {
  const int free = w.link != nullptr && !w.draining
                       ? std::max(0, w.slots - static_cast<int>(w.running.size()))
                       : 0;
  if (free == w.listed.free && w.last_assigned == w.listed.last_assigned) return;
  if (w.listed.free > 0) free_.erase(w.listed);
  w.listed = FreeKey{free, w.last_assigned, w.id};
  if (free > 0) free_.emplace(w.listed, &w);
}

BuildQueue::Worker* BuildQueue::ChooseWorkerLocked(const Execution& e, bool prefer_holder) {
  Worker* first = nullptr;
  for (const auto& [free, w] : free_) {
    if (!w->platform.Satisfies(e.params.platform)) continue;
    if (!prefer_holder) return w;
    if (w->large_blobs.contains(e.params.largest_input)) return w;
    if (first == nullptr) first = w;
  }
  return first;
}

void BuildQueue::DispatchLocked() {
  while (!free_.empty() && ready_.size() > 0) {
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
    chosen->running[e->id] = e;
    chosen->last_assigned = ++assignments_;
    RefreshFreeLocked(*chosen);
    if (e->params.largest_input.valid()) chosen->large_blobs.insert(e->params.largest_input);
    SendAssignmentLocked(*chosen, *e);
    ChangedLocked(*e);
  }
}

}  // namespace kfarm
