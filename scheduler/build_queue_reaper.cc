// BuildQueue's reaper: one thread that wakes every tick and runs the jobs that time drives —
// worker liveness, keepalives to waiting clients, and (once a second, as they scan thousands of
// entries) abandoned and expired operations, overdue actions, and actions no worker can take.
#include <algorithm>

#include "absl/strings/str_cat.h"
#include "scheduler/build_queue.h"

namespace kfarm {
namespace {

absl::Duration Ms(int64_t ms) { return absl::Milliseconds(ms); }

}  // namespace

void BuildQueue::Reap() {
  Locked lock(this);
  const absl::Duration tick = std::min(absl::Milliseconds(100), heartbeat_interval() / 4);
  const absl::Duration keepalive = Ms(config_.keepalive_interval_ms());
  absl::Time last_sweep = absl::InfinitePast(), last_keepalive = clock_();
  while (!stopping_) {
    RunDeferredLocked();
    stop_.WaitWithTimeout(&mu_, tick);
    const absl::Time now = clock_();
    ReapWorkersLocked(now);
    // Every stream hears from us once per keepalive interval, changed or not.
    if (now - last_keepalive >= keepalive) {
      last_keepalive = now;
      operations_.KeepaliveAll(deferred_);
    }
    if (now - last_sweep >= absl::Seconds(1)) {
      last_sweep = now;
      SweepOperationsLocked(now);
      FailOverdueLocked(now);
      FailUnservableLocked(now);
    }
    DispatchLocked();
  }
}

void BuildQueue::ReapWorkersLocked(absl::Time now) {
  const absl::Duration liveness = 3 * heartbeat_interval();
  const absl::Duration grace =
      config_.lost_worker_grace_ms() > 0 ? Ms(config_.lost_worker_grace_ms()) : liveness;
  WorkerRegistry::Reaped reaped = workers_.CheckLiveness(now, liveness, grace);
  for (const auto& link : reaped.silent) CloseLocked(link);
  for (const auto& [worker, e] : reaped.orphaned) {
    if (e->stage == Stage::kExecuting && e->worker == worker) RecordDeathLocked(e, worker, "");
  }
}

void BuildQueue::SweepOperationsLocked(absl::Time now) {
  for (OperationRecord* op : operations_.Sweep(now, Ms(config_.abandoned_operation_ms()),
                                         Ms(config_.completed_retention_ms()))) {
    CancelLocked(*op, "was abandoned: nobody waited for it");
  }
}

// Actions past their timeout plus the staging and upload allowance: the worker is told to stop,
// and the operation fails (a later completion from it is ignored as stale).
void BuildQueue::FailOverdueLocked(absl::Time now) {
  const absl::Duration allowance = Ms(config_.staging_and_upload_allowance_ms());
  std::vector<std::pair<std::shared_ptr<Execution>, std::string>> overdue;
  workers_.ForEach([&](Worker& w) {
    for (auto& [eid, e] : w.running) {
      if (e->stage == Stage::kExecuting && e->worker == w.id &&
          now - e->assigned_at > e->params.timeout + allowance) {
        overdue.emplace_back(e, eid);
      }
    }
  });
  for (auto& [e, eid] : overdue) {
    Worker& w = *workers_.Find(e->worker);
    if (w.link != nullptr) {
      worker::SchedulerMessage cancel;
      cancel.mutable_cancel()->set_execution_id(eid);
      SendLocked(w.link, std::move(cancel));
    }
    w.running.erase(eid);
    workers_.Refresh(w);
    FailLocked(e, absl::DeadlineExceededError(absl::StrCat(
                      "action ", e->params.action_digest.ToString(), " (",
                      e->params.command.arguments(0), ") did not finish on worker ", w.id,
                      " within its timeout of ", absl::FormatDuration(e->params.timeout), " plus ",
                      absl::FormatDuration(allowance),
                      " for staging and upload (execution.staging_and_upload_allowance_ms)")));
  }
}

// Queued actions no known worker (connected, or lost within its grace) offers a platform for,
// for longer than no_worker_grace_ms, fail naming what is missing.
void BuildQueue::FailUnservableLocked(absl::Time now) {
  std::vector<std::shared_ptr<Execution>> unservable;
  absl::flat_hash_map<std::string, bool> servable_by_platform;  // Few distinct platforms.
  dispatcher_.ForEachQueued([&](const std::shared_ptr<Execution>& e) {
    auto [memo, fresh] = servable_by_platform.try_emplace(e->platform_key, false);
    if (fresh) memo->second = workers_.AnyKnownOffers(e->params.platform);
    if (memo->second) {
      e->unmatched_since = absl::InfiniteFuture();
    } else if (e->unmatched_since == absl::InfiniteFuture()) {
      e->unmatched_since = now;
    } else if (now - e->unmatched_since > Ms(config_.no_worker_grace_ms())) {
      unservable.push_back(e);
    }
  });
  for (auto& e : unservable) {
    FailLocked(e, absl::FailedPreconditionError(absl::StrCat(
                      "action ", e->params.action_digest.ToString(), ": ",
                      workers_.Unmet(e->params.platform))));
  }
}

}  // namespace kfarm
