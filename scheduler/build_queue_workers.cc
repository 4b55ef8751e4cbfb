// BuildQueue's side of the worker protocol: registration, messages and completions from workers,
// their loss (an execution a dead worker held runs again elsewhere, within limits), and the
// reaper that times out heartbeats, abandoned operations and executions no worker can take.
#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_status.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"
#include "scheduler/build_queue.h"

namespace kfarm {
namespace {

// How long a worker whose last max_worker_deaths completions were all its own failures (a full
// disk, a sandbox that cannot start) gets no work. Then it is tried again.
constexpr absl::Duration kInfrastructureRest = absl::Seconds(30);

using google::protobuf::util::TimeUtil;

absl::Duration Ms(int64_t ms) { return absl::Milliseconds(ms); }

}  // namespace

absl::Status BuildQueue::Connected(const worker::Register& reg, std::shared_ptr<WorkerLink> link) {
  if (reg.worker_id().empty()) return absl::InvalidArgumentError("Register.worker_id is empty");
  if (reg.slots() <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker ", reg.worker_id(), " registered with ", reg.slots(), " slots"));
  }
  Locked lock(this);
  const absl::Time now = clock_();
  absl::flat_hash_set<std::string> still_running(reg.running_executions().begin(),
                                                 reg.running_executions().end());
  auto [it, fresh] = workers_.try_emplace(reg.worker_id());
  Worker& w = it->second;
  if (!fresh) {
    // A reconnect (after a blip, or a stream this side still thought alive): keep what the
    // worker still runs, requeue what it lost. Neither counts as a death.
    if (w.link != nullptr) CloseLocked(w.link);
    // Work it no longer reports was lost with the old process: that counts as a death, or a
    // worker that crashes and restarts under the same id would loop on the same action.
    for (auto r = w.running.begin(); r != w.running.end();) {
      if (still_running.contains(r->first)) {
        ++r;
        continue;
      }
      std::shared_ptr<Execution> e = r->second;
      w.running.erase(r++);
      if (e->stage == Stage::kExecuting && e->worker == w.id) RecordDeathLocked(e, w.id, "");
    }
    LogInfo("worker ", reg.worker_id(), " reconnected, reclaiming ", w.running.size(),
            " running action(s)");
  } else {
    LogInfo("worker ", reg.worker_id(), " connected with ", reg.slots(), " slots");
  }
  w.id = reg.worker_id();
  w.platform = OfferedPlatform(reg.properties());
  w.slots = reg.slots();
  w.queue_depth = std::max(0, reg.queue_depth());
  w.link = std::move(link);
  w.last_seen = now;
  w.lost_at = absl::InfiniteFuture();
  w.draining = false;
  w.large_blobs.clear();
  for (const auto& d : reg.cached_blobs()) {
    auto digest = Digest::FromProto(d);
    if (digest.ok()) w.large_blobs.insert(*digest);
  }
  RefreshFreeLocked(w);

  worker::SchedulerMessage welcome;
  *welcome.mutable_welcome()->mutable_heartbeat_interval() =
      TimeUtil::MillisecondsToDuration(config_.heartbeat_interval_ms());
  SendLocked(w.link, std::move(welcome));
  for (const std::string& id : still_running) {
    if (w.running.contains(id)) continue;
    worker::SchedulerMessage cancel;  // Work the scheduler no longer expects from this worker.
    cancel.mutable_cancel()->set_execution_id(id);
    SendLocked(w.link, std::move(cancel));
  }
  DispatchLocked();
  return absl::OkStatus();
}

void BuildQueue::Received(const std::string& worker_id, const worker::WorkerMessage& msg) {
  {
    Locked lock(this);
    auto it = workers_.find(worker_id);
    if (it == workers_.end()) return;
    it->second.last_seen = clock_();
    for (const auto& d : msg.heartbeat().cached_blobs_added()) {
      auto digest = Digest::FromProto(d);
      if (digest.ok()) it->second.large_blobs.insert(*digest);
    }
  }
  if (msg.has_completion()) CompleteFromWorker(worker_id, msg.completion());
}

void BuildQueue::CompleteFromWorker(const std::string& worker_id, const worker::Completion& c) {
  std::shared_ptr<Execution> e;
  {
    Locked lock(this);
    auto w = workers_.find(worker_id);
    if (w == workers_.end()) return;
    auto r = w->second.running.find(c.execution_id());
    if (r == w->second.running.end()) return;  // Stale: requeued or cancelled meanwhile.
    e = r->second;
    w->second.running.erase(r);
    RefreshFreeLocked(w->second);
    if (e->stage != Stage::kExecuting || e->worker != worker_id) {
      DispatchLocked();
      return;
    }
  }
  if (!c.infrastructure_failure().empty()) {
    // The worker failed, not the action: run it elsewhere, and rest a worker that keeps failing.
    LogWarning("action ", e->params.action_digest.ToString(), ": ", c.infrastructure_failure(),
               " (the worker's failure, not the action's)");
    Locked lock(this);
    auto w = workers_.find(worker_id);
    if (w != workers_.end() && ++w->second.infrastructure_failures >= config_.max_worker_deaths()) {
      w->second.resting_until = clock_() + kInfrastructureRest;
      LogWarning("worker ", worker_id, ": ", w->second.infrastructure_failures,
                 " infrastructure failures in a row; no work for it for ",
                 absl::FormatDuration(kInfrastructureRest));
      RefreshFreeLocked(w->second);
    }
    if (e->stage == Stage::kExecuting) RecordDeathLocked(e, worker_id, c.infrastructure_failure());
    DispatchLocked();
    return;
  }
  {
    Locked lock(this);
    auto w = workers_.find(worker_id);
    if (w != workers_.end()) w->second.infrastructure_failures = 0;
  }
  const reapi::ExecuteResponse& resp = c.response();
  if (resp.status().code() == 0) {
    const auto& md = resp.result().execution_metadata();
    absl::Duration took = absl::Nanoseconds(
        TimeUtil::TimestampToNanoseconds(md.execution_completed_timestamp()) -
        TimeUtil::TimestampToNanoseconds(md.execution_start_timestamp()));
    Locked lock(this);
    history_.Record(e->params.shape, took);
  }
  bool cache = e->cacheable && resp.status().code() == 0 && resp.has_result() &&
               (resp.result().exit_code() == 0 || config_.cache_nonzero_exit());
  // The result reaches the action cache before any client sees COMPLETED.
  if (cache) {
    absl::Status s = action_cache_->Put(e->params.instance_name, e->params.action_digest,
                                        resp.result());
    if (!s.ok()) {
      LogWarning("action ", e->params.action_digest.ToString(), ": result not cached: ",
                 s.message());
    }
  }
  Locked lock(this);
  if (e->stage == Stage::kExecuting) FinishLocked(e, resp);
  DispatchLocked();
}

void BuildQueue::Disconnected(const std::string& worker_id, const WorkerLink* link) {
  Locked lock(this);
  auto it = workers_.find(worker_id);
  if (it == workers_.end() || it->second.link.get() != link) return;  // A replaced stream.
  WorkerLostLocked(it->second, clock_());
  if (it->second.running.empty()) workers_.erase(it);
}

absl::Status BuildQueue::Drain(const std::string& worker_id) {
  Locked lock(this);
  auto it = workers_.find(worker_id);
  if (it == workers_.end() || it->second.link == nullptr) {
    return absl::NotFoundError(absl::StrCat("worker ", worker_id, " is not connected"));
  }
  it->second.draining = true;
  RefreshFreeLocked(it->second);
  worker::SchedulerMessage m;
  m.mutable_drain();
  SendLocked(it->second.link, std::move(m));
  return absl::OkStatus();
}

void BuildQueue::WorkerLostLocked(Worker& w, absl::Time now) {
  if (w.link == nullptr) return;
  LogWarning("worker ", w.id, " lost with ", w.running.size(), " running action(s)");
  w.link = nullptr;
  w.lost_at = now;
  RefreshFreeLocked(w);
}

void BuildQueue::RecordDeathLocked(const std::shared_ptr<Execution>& e, const std::string& worker,
                                   const std::string& why) {
  e->dead_workers.push_back(why.empty() ? worker : why);
  e->failed_on.push_back(worker);
  if (static_cast<int>(e->dead_workers.size()) >= config_.max_worker_deaths()) {
    FailLocked(e, absl::InternalError(absl::StrCat(
                      "action ", e->params.action_digest.ToString(), " (",
                      e->params.command.arguments(0), ") was running on workers that died or failed ",
                      e->dead_workers.size(), " times (", absl::StrJoin(e->dead_workers, "; "),
                      "); not retrying it again")));
  } else {
    // Each attempt is a new execution id: the worker that just reported the last one may not
    // have forgotten it yet, and would take the same id sent again for a duplicate.
    e->id = absl::StrCat(e->id.substr(0, e->id.find('.')), ".", e->dead_workers.size());
    EnqueueLocked(e);
  }
}

void BuildQueue::BuryWorkerLocked(Worker& w) {
  for (auto& [id, e] : w.running) {
    if (e->stage == Stage::kExecuting && e->worker == w.id) RecordDeathLocked(e, w.id, "");
  }
  w.running.clear();
  RefreshFreeLocked(w);
}

void BuildQueue::Reap() {
  Locked lock(this);
  const absl::Duration tick =
      std::min(absl::Milliseconds(100), heartbeat_interval() / 4);
  const absl::Duration keepalive = Ms(config_.keepalive_interval_ms());
  absl::Time last_sweep = absl::InfinitePast(), last_keepalive = clock_();
  while (!stopping_) {
    RunDeferredLocked();
    stop_.WaitWithTimeout(&mu_, tick);
    const absl::Time now = clock_();
    const absl::Duration liveness = 3 * heartbeat_interval();
    const absl::Duration lost_grace =
        config_.lost_worker_grace_ms() > 0 ? Ms(config_.lost_worker_grace_ms()) : liveness;
    for (auto it = workers_.begin(); it != workers_.end();) {
      Worker& w = it->second;
      if (w.link != nullptr && now - w.last_seen > liveness) {
        LogWarning("worker ", w.id, " silent for ", absl::FormatDuration(now - w.last_seen));
        CloseLocked(w.link);
        WorkerLostLocked(w, now);
      }
      if (w.resting_until != absl::InfinitePast() && now >= w.resting_until) {
        w.resting_until = absl::InfinitePast();
        RefreshFreeLocked(w);
      }
      if (w.link == nullptr && now - w.lost_at > lost_grace) {
        BuryWorkerLocked(w);
        workers_.erase(it++);
        continue;
      }
      ++it;
    }
    // Every stream hears from us once per keepalive interval, changed or not.
    if (now - last_keepalive >= keepalive) {
      last_keepalive = now;
      for (auto& [name, op] : operations_) WatchersChangedLocked(op, true);
    }
    // Operations and the queue can hold thousands of entries: sweep them once a second, not
    // every tick (their timeouts are tens of seconds).
    if (now - last_sweep < absl::Seconds(1)) {
      DispatchLocked();
      continue;
    }
    last_sweep = now;
    for (auto it = operations_.begin(); it != operations_.end();) {
      Operation& op = it->second;
      bool done = op.cancelled || op.execution->stage == Stage::kCompleted;
      if (!done && op.watchers == 0 &&
          now - op.unwatched_since > Ms(config_.abandoned_operation_ms())) {
        CancelLocked(op, "was abandoned: nobody waited for it");
      } else if (done && op.watchers == 0 &&
                 now - op.done_at > Ms(config_.completed_retention_ms())) {
        operations_.erase(it++);
        continue;
      }
      ++it;
    }
    // Actions past their timeout plus the staging and upload allowance: the worker is told to
    // stop, and the operation fails (a later completion from it is ignored as stale).
    const absl::Duration allowance = Ms(config_.staging_and_upload_allowance_ms());
    std::vector<std::pair<std::shared_ptr<Execution>, std::string>> overdue;
    for (auto& [id, w] : workers_) {
      for (auto& [eid, e] : w.running) {
        if (e->stage == Stage::kExecuting && e->worker == id &&
            now - e->assigned_at > e->params.timeout + allowance) {
          overdue.emplace_back(e, eid);
        }
      }
    }
    for (auto& [e, eid] : overdue) {
      Worker& w = workers_.at(e->worker);
      if (w.link != nullptr) {
        worker::SchedulerMessage cancel;
        cancel.mutable_cancel()->set_execution_id(eid);
        SendLocked(w.link, std::move(cancel));
      }
      w.running.erase(eid);
      RefreshFreeLocked(w);
      FailLocked(e, absl::DeadlineExceededError(absl::StrCat(
                        "action ", e->params.action_digest.ToString(), " (",
                        e->params.command.arguments(0), ") did not finish on worker ", w.id,
                        " within its timeout of ", absl::FormatDuration(e->params.timeout),
                        " plus ", absl::FormatDuration(allowance),
                        " for staging and upload (execution.staging_and_upload_allowance_ms)")));
    }
    std::vector<std::shared_ptr<Execution>> unservable;
    absl::flat_hash_map<std::string, bool> servable_by_platform;  // Few distinct platforms.
    ready_.ForEach([&](const std::shared_ptr<Execution>& e) {
      auto [memo, fresh] = servable_by_platform.try_emplace(e->platform_key, false);
      if (fresh) {
        for (const auto& [id, w] : workers_) memo->second |= w.platform.Satisfies(e->params.platform);
      }
      const bool servable = memo->second;
      if (servable) {
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
                        UnmetLocked(e->params.platform))));
    }
    DispatchLocked();
  }
}

}  // namespace kfarm
