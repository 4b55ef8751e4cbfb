// BuildQueue's side of the worker protocol: registration, assignments, messages and completions
// from workers, and their loss (an execution a dead worker held runs again elsewhere, within
// limits).
#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log.h"
#include "google/protobuf/util/time_util.h"
#include "scheduler/build_queue.h"

namespace kfarm {
namespace {

// How long a worker whose last max_worker_deaths completions were all its own failures (a full
// disk, a sandbox that cannot start) gets no work. Then it is tried again.
constexpr absl::Duration kInfrastructureRest = absl::Seconds(30);

using google::protobuf::util::TimeUtil;

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
  bool fresh = false;
  Worker& w = workers_.FindOrAdd(reg.worker_id(), &fresh);
  if (!fresh) {
    // A reconnect (after a blip, or a stream this side still thought alive): keep what the
    // worker still runs, requeue what it lost.
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
  workers_.Refresh(w);

  worker::SchedulerMessage welcome;
  *welcome.mutable_welcome()->mutable_heartbeat_interval() =
      TimeUtil::MillisecondsToDuration(config_.heartbeat_interval_ms());
  welcome.mutable_welcome()->set_acknowledges_completions(true);  // WorkerService sends them.
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

void BuildQueue::SendAssignmentLocked(Worker& w, const Execution& e) {
  if (metrics_ != nullptr) {
    metrics_->Assigned(e.assigned_at - e.queued_at);
    if (e.params.largest_input.valid()) metrics_->LargeInput(e.largest_input_held);
  }
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

void BuildQueue::Received(const std::string& worker_id, const worker::WorkerMessage& msg) {
  if (std::optional<PendingResult> result = Receive(worker_id, msg)) Record(std::move(*result));
}

std::optional<BuildQueue::PendingResult> BuildQueue::Receive(const std::string& worker_id,
                                                             const worker::WorkerMessage& msg) {
  Locked lock(this);
  Worker* w = workers_.Find(worker_id);
  if (w == nullptr) return std::nullopt;
  w->last_seen = clock_();
  for (const auto& d : msg.heartbeat().cached_blobs_added()) {
    auto digest = Digest::FromProto(d);
    if (digest.ok()) w->large_blobs.insert(*digest);
  }
  if (msg.heartbeat().draining() && !w->draining) {  // Shutting down: nothing new goes there.
    w->draining = true;
    workers_.Refresh(*w);
    // The reply follows every assignment already sent on the stream: once the worker reads it,
    // nothing more is on its way, and it may exit when what it holds is done.
    worker::SchedulerMessage m;
    m.mutable_drain();
    SendLocked(w->link, std::move(m));
  }
  if (!msg.has_completion()) return std::nullopt;
  std::optional<PendingResult> result = CompleteFromWorkerLocked(worker_id, msg.completion());
  DispatchLocked();  // The slot is free: its next action goes now, before any disk write.
  return result;
}

std::optional<BuildQueue::PendingResult> BuildQueue::CompleteFromWorkerLocked(
    const std::string& worker_id, const worker::Completion& c) {
  Worker* w = workers_.Find(worker_id);
  auto r = w->running.find(c.execution_id());
  if (r == w->running.end()) return std::nullopt;  // Stale: requeued or cancelled meanwhile.
  std::shared_ptr<Execution> e = r->second;
  w->running.erase(r);
  workers_.Refresh(*w);
  if (e->stage != Stage::kExecuting || e->worker != worker_id) return std::nullopt;
  if (!c.infrastructure_failure().empty()) {
    // The worker failed, not the action: run it elsewhere, and rest a worker that keeps failing.
    LogWarning("action ", e->params.action_digest.ToString(), ": ", c.infrastructure_failure(),
               " (the worker's failure, not the action's)");
    if (workers_.FailedItself(*w, config_.max_worker_deaths(), clock_(), kInfrastructureRest)) {
      LogWarning("worker ", worker_id, ": ", w->infrastructure_failures,
                 " infrastructure failures in a row; no work for it for ",
                 absl::FormatDuration(kInfrastructureRest));
    }
    RecordDeathLocked(e, worker_id, c.infrastructure_failure());
    return std::nullopt;
  }
  workers_.Succeeded(*w);
  const reapi::ExecuteResponse& resp = c.response();
  if (resp.status().code() == 0) {
    const auto& md = resp.result().execution_metadata();
    dispatcher_.history().Record(
        e->params.shape,
        absl::Nanoseconds(TimeUtil::TimestampToNanoseconds(md.execution_completed_timestamp()) -
                          TimeUtil::TimestampToNanoseconds(md.execution_start_timestamp())));
  }
  if (recorder_.ShouldCache(*e, resp)) return PendingResult{e, resp};
  FinishLocked(e, resp);
  return std::nullopt;
}

void BuildQueue::Record(PendingResult result) {
  recorder_.Record(*result.execution, result.response);
  Locked lock(this);
  // Cancelled (or timed out) meanwhile: that outcome stands.
  if (result.execution->stage == Stage::kExecuting) {
    FinishLocked(result.execution, std::move(result.response));
  }
}

void BuildQueue::Disconnected(const std::string& worker_id, const WorkerLink* link) {
  Locked lock(this);
  Worker* w = workers_.Find(worker_id);
  if (w == nullptr || w->link.get() != link) return;  // A replaced stream.
  workers_.Lost(*w, clock_());
  if (w->running.empty()) workers_.Erase(worker_id);
}

absl::Status BuildQueue::Drain(const std::string& worker_id) {
  Locked lock(this);
  Worker* w = workers_.Find(worker_id);
  if (w == nullptr || w->link == nullptr) {
    return absl::NotFoundError(absl::StrCat("worker ", worker_id, " is not connected"));
  }
  w->draining = true;
  workers_.Refresh(*w);
  worker::SchedulerMessage m;
  m.mutable_drain();
  SendLocked(w->link, std::move(m));
  return absl::OkStatus();
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
    if (metrics_ != nullptr) metrics_->Retried();
    EnqueueLocked(e);
  }
}

}  // namespace kfarm
