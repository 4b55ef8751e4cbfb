#include "scheduler/dispatcher.h"

namespace kfarm {

void Dispatcher::Leave(Execution& e) {
  if (e.queued) {
    ready_.Erase(e.params.invocation_id, e.key);
    e.queued = false;
  } else if (e.stage == Stage::kExecuting) {
    ready_.Stopped(e.params.invocation_id);
  }
}

void Dispatcher::Enqueue(const std::shared_ptr<Execution>& e) {
  Leave(*e);
  e->stage = Stage::kQueued;
  e->worker.clear();
  e->unmatched_since = absl::InfiniteFuture();
  // The learned duration is read once, here: the queue's order never shifts under it.
  e->key = FairQueueKey{e->params.priority,
                        absl::ToInt64Nanoseconds(history_.Expected(e->params.shape)), e->seq};
  e->queued = true;
  ready_.Push(e->params.invocation_id, e->key, e);
}

Worker* Dispatcher::Choose(const Execution& e, bool prefer_holder) {
  for (const auto* index : {&workers_->free(), &workers_->spare()}) {
    if (index == &workers_->spare() && !workers_->IsShort(history_.Expected(e.params.shape))) {
      break;
    }
    Worker* first = nullptr;
    Worker* failed_before = nullptr;  // Taken only when no other worker can.
    for (const auto& [key, w] : *index) {
      if (!w->platform.Satisfies(e.params.platform)) continue;
      if (e.FailedOn(w->id)) {
        if (failed_before == nullptr) failed_before = w;
        continue;
      }
      if (!prefer_holder) return w;
      if (w->large_blobs.contains(e.params.largest_input)) return w;
      if (first == nullptr) first = w;
    }
    if (first != nullptr) return first;
    if (failed_before != nullptr && !workers_->AnotherCanRun(e)) return failed_before;
  }
  return nullptr;
}

void Dispatcher::Dispatch(
    absl::Time now,
    absl::FunctionRef<void(Worker&, const std::shared_ptr<Execution>&)> assigned) {
  while ((!workers_->free().empty() || !workers_->spare().empty()) && ready_.size() > 0) {
    auto next = ready_.Pop([&](const std::shared_ptr<Execution>& e) {
      return Choose(*e, /*prefer_holder=*/false) != nullptr;
    });
    if (!next) return;
    std::shared_ptr<Execution> e = std::move(*next);
    e->queued = false;
    Worker* chosen = Choose(*e, cache_affinity_ && e->params.largest_input.valid());
    e->stage = Stage::kExecuting;
    e->worker = chosen->id;
    e->assigned_at = now;
    e->expected = history_.Expected(e->params.shape);
    chosen->running[e->id] = e;
    chosen->last_assigned = workers_->NextAssignment();
    if (e->params.largest_input.valid()) {
      e->largest_input_held = !chosen->large_blobs.insert(e->params.largest_input).second;
    }
    workers_->Refresh(*chosen);
    assigned(*chosen, e);
  }
}

}  // namespace kfarm
