// BuildQueue's dispatch policy: which queued execution runs next (priority, then fair share
// between builds, then longest expected, then first come) and on which worker (the one already
// holding the largest input, else the one with the most free slots).
#include <algorithm>
#include <tuple>

#include "absl/container/flat_hash_set.h"
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

void BuildQueue::DispatchLocked() {
  // Fair sharing between builds: each build's share counts the actions it was given while it had
  // work; a build that (re)appears starts level with the least-served one, so a new build
  // neither starves nor is starved by one that has been running for an hour.
  absl::flat_hash_set<std::string> active;
  for (const auto& [key, e] : queue_) active.insert(e->params.invocation_id);
  for (const auto& [id, w] : workers_) {
    for (const auto& [eid, e] : w.running) active.insert(e->params.invocation_id);
  }
  absl::erase_if(served_, [&](const auto& kv) { return !active.contains(kv.first); });
  int64_t least = 0;
  bool any = false;
  for (const auto& [inv, n] : served_) {
    least = any ? std::min(least, n) : n;
    any = true;
  }
  for (const std::string& inv : active) served_.try_emplace(inv, least);
  for (;;) {
    std::vector<Worker*> free;
    for (auto& [id, w] : workers_) {
      if (w.link != nullptr && !w.draining && static_cast<int>(w.running.size()) < w.slots) {
        free.push_back(&w);
      }
    }
    if (free.empty() || queue_.empty()) return;
    // The next execution: the most urgent priority; then the least-served build; then the
    // longest expected (learned per shape); then first come.
    std::shared_ptr<Execution> best;
    std::tuple<int32_t, int64_t, int64_t, uint64_t> best_key;
    for (const auto& [key, e] : queue_) {
      if (best != nullptr && e->params.priority > best->params.priority) break;
      bool servable = std::any_of(free.begin(), free.end(), [&](Worker* w) {
        return w->platform.Satisfies(e->params.platform);
      });
      if (!servable) continue;
      auto k = std::make_tuple(e->params.priority, served_[e->params.invocation_id],
                               -absl::ToInt64Nanoseconds(history_.Expected(e->params.shape)), e->seq);
      if (best == nullptr || k < best_key) {
        best = e;
        best_key = k;
      }
    }
    if (best == nullptr) return;
    // The worker: one that already holds the largest input (cache affinity), else the one with
    // the most free slots.
    Worker* chosen = nullptr;
    auto rank = [&](Worker* w) {
      bool holds = !config_.disable_cache_affinity() && best->params.largest_input.valid() &&
                   w->large_blobs.contains(best->params.largest_input);
      return std::make_pair(holds, w->slots - static_cast<int>(w->running.size()));
    };
    for (Worker* w : free) {
      if (!w->platform.Satisfies(best->params.platform)) continue;
      if (chosen == nullptr || rank(w) > rank(chosen)) chosen = w;
    }
    queue_.erase({best->params.priority, best->seq});
    best->stage = Stage::kExecuting;
    best->worker = chosen->id;
    chosen->running[best->id] = best;
    if (best->params.largest_input.valid()) chosen->large_blobs.insert(best->params.largest_input);
    served_[best->params.invocation_id]++;
    SendAssignmentLocked(*chosen, *best);
    ChangedLocked(*best);
  }
}

}  // namespace kfarm
