// BuildQueue's client side: submissions, waiting and watching, cancellation, and finishing an
// execution for every operation attached to it.
#include "scheduler/build_queue.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "scheduler/command_summary.h"

namespace kfarm {
namespace {

absl::Duration Ms(int64_t ms) { return absl::Milliseconds(ms); }

absl::Status UnknownOperation(const std::string& name, absl::string_view advice) {
  return absl::NotFoundError(absl::StrCat("operation \"", name, "\" is unknown", advice));
}

}  // namespace

BuildQueue::Locked::Locked(BuildQueue* q) : q_(q) { q_->mu_.Lock(); }

BuildQueue::Locked::~Locked() {
  auto deferred = q_->deferred_.Take();
  q_->mu_.Unlock();
  for (auto& f : deferred) f();
}

void BuildQueue::RunDeferredLocked() {
  if (deferred_.empty()) return;
  auto deferred = deferred_.Take();
  mu_.Unlock();
  for (auto& f : deferred) f();
  mu_.Lock();
}

void BuildQueue::SendLocked(const std::shared_ptr<WorkerLink>& link, worker::SchedulerMessage msg) {
  deferred_.Add([link, msg = std::move(msg)]() mutable { link->Send(std::move(msg)); });
}

void BuildQueue::CloseLocked(const std::shared_ptr<WorkerLink>& link) {
  deferred_.Add([link] { link->Close(); });
}

BuildQueue::BuildQueue(config::ExecutionConfig config, ActionCache* action_cache, Clock clock)
    : config_(std::move(config)),
      recorder_(action_cache, config_.cache_nonzero_exit()),
      clock_(std::move(clock)),
      started_(clock_()),
      operations_(config_.max_pending_operations_per_principal()),
      workers_(Ms(config_.prefetch_below_ms())),
      dispatcher_(&workers_, !config_.disable_cache_affinity()) {
  reaper_ = std::thread([this] { Reap(); });
}

BuildQueue::~BuildQueue() {
  {
    Locked lock(this);
    stopping_ = true;
    stop_.SignalAll();
    operations_.WakeAll();
  }
  reaper_.join();
}

absl::Duration BuildQueue::heartbeat_interval() const {
  return Ms(config_.heartbeat_interval_ms());
}

size_t BuildQueue::connected_workers() {
  Locked lock(this);
  return workers_.connected();
}

void BuildQueue::SetMetrics(QueueMetrics* metrics) {
  Locked lock(this);
  metrics_ = metrics;
}

QueueSnapshot BuildQueue::Snapshot() {
  Locked lock(this);
  QueueSnapshot s;
  dispatcher_.ForEachQueued([&](const std::shared_ptr<Execution>& e) {
    ++s.queued[{e->params.instance_name, PlatformLabel(e->params.platform)}];
  });
  workers_.ForEach([&](Worker& w) {
    if (w.link == nullptr) return;  // Lost, within its grace: not serving.
    ++s.workers;
    if (w.draining) {
      ++s.draining;
    } else if (w.resting_until != absl::InfinitePast()) {
      ++s.resting;
    }
    s.slots += w.slots;
    s.busy_slots += std::min<int64_t>(w.slots, static_cast<int64_t>(w.running.size()));
    s.executing += static_cast<int64_t>(w.running.size());
  });
  return s;
}

absl::Status BuildQueue::CheckServable(const reapi::Platform& platform) {
  Locked lock(this);
  if (workers_.AnyOffers(platform)) return absl::OkStatus();
  std::string unmet = workers_.Unmet(platform);
  if (clock_() - started_ < Ms(config_.no_worker_grace_ms())) {
    return absl::UnavailableError(
        absl::StrCat(unmet, " yet; workers may still be connecting, retry shortly"));
  }
  return absl::FailedPreconditionError(unmet);
}

absl::StatusOr<std::string> BuildQueue::Submit(ExecuteParams params) {
  Locked lock(this);
  const absl::Time now = clock_();
  // Each operation is its caller's, even when joined to another's execution.
  Requester who{params.principal, params.invocation_id, params.tool};
  if (absl::Status s = operations_.Admit(who.principal); !s.ok()) return s;
  const bool cacheable = !params.action.do_not_cache();
  std::shared_ptr<Execution> e = cacheable ? operations_.InFlight(params) : nullptr;
  if (e != nullptr && metrics_ != nullptr) metrics_->Merged();
  if (e == nullptr) {
    e = std::make_shared<Execution>();
    e->id = RandomId();
    e->summary = CommandSummary(params.command);
    e->params = std::move(params);
    e->cacheable = cacheable;
    e->seq = next_seq_++;
    e->queued_at = now;
    e->platform_key = e->params.platform.SerializeAsString();
    if (cacheable) operations_.AddInFlight(e);
    EnqueueLocked(e);
  }
  std::string name = operations_.Add(std::move(who), e, now).name;
  DispatchLocked();
  return name;
}

absl::StatusOr<OperationView> BuildQueue::Get(const std::string& name) {
  Locked lock(this);
  const OperationRecord* op = operations_.Find(name);
  if (op == nullptr) {
    return UnknownOperation(name, " (finished long ago, or the scheduler restarted); call Execute again");
  }
  return operations_.View(*op);
}

absl::StatusOr<OperationView> BuildQueue::Await(const std::string& name, uint64_t seen,
                                                absl::Time deadline) {
  Locked lock(this);
  OperationRecord* op = operations_.Find(name);
  if (op == nullptr) return UnknownOperation(name, "; call Execute again");
  operations_.BeginWait(*op);
  OperationView v = operations_.View(*op);
  while (v.version <= seen && !v.done && !stopping_ && clock_() < deadline) {
    op->execution->changed.WaitWithDeadline(&mu_, deadline);
    v = operations_.View(*op);
  }
  operations_.EndWait(*op, clock_());
  return v;
}

absl::Status BuildQueue::Watch(const std::string& name, std::shared_ptr<OperationWatcher> watcher) {
  Locked lock(this);
  OperationRecord* op = operations_.Find(name);
  if (op == nullptr) return UnknownOperation(name, "; call Execute again");
  operations_.Watch(*op, std::move(watcher));
  return absl::OkStatus();
}

void BuildQueue::Unwatch(const std::string& name, const OperationWatcher* watcher) {
  Locked lock(this);
  if (OperationRecord* op = operations_.Find(name)) operations_.Unwatch(*op, watcher, clock_());
}

std::vector<OperationView> BuildQueue::List() {
  Locked lock(this);
  return operations_.List();
}

absl::Status BuildQueue::Cancel(const std::string& name) {
  Locked lock(this);
  OperationRecord* op = operations_.Find(name);
  if (op == nullptr) return UnknownOperation(name, "");
  CancelLocked(*op, "cancelled by the client");
  return absl::OkStatus();
}

void BuildQueue::CancelLocked(OperationRecord& op, absl::string_view why) {
  if (op.finished()) return;
  op.cancelled = true;
  op.version++;
  operations_.Done(op, clock_());
  auto e = op.execution;
  // The execution stops only when no other operation still wants its result.
  if (--e->operations > 0) {
    e->changed.SignalAll();
    operations_.Tell(op, false, deferred_);
    return;
  }
  if (e->stage == Stage::kExecuting) {
    Worker* w = workers_.Find(e->worker);
    if (w != nullptr && w->link != nullptr) {
      worker::SchedulerMessage m;
      m.mutable_cancel()->set_execution_id(e->id);
      SendLocked(w->link, std::move(m));
    }
  }
  FailLocked(e, absl::CancelledError(absl::StrCat("action ", e->params.action_digest.ToString(),
                                                  " ", why)));
}

void BuildQueue::ChangedLocked(Execution& e) { operations_.Changed(e, deferred_); }

void BuildQueue::EnqueueLocked(const std::shared_ptr<Execution>& e) {
  dispatcher_.Enqueue(e);
  ChangedLocked(*e);
}

void BuildQueue::DispatchLocked() {
  dispatcher_.Dispatch(clock_(), [this](Worker& w, const std::shared_ptr<Execution>& e) {
    SendAssignmentLocked(w, *e);
    ChangedLocked(*e);
  });
}

void BuildQueue::FinishLocked(const std::shared_ptr<Execution>& e,
                              reapi::ExecuteResponse response) {
  if (metrics_ != nullptr) {
    metrics_->Completed(response, clock_() - e->assigned_at, e->stage == Stage::kExecuting);
  }
  dispatcher_.Leave(*e);
  e->stage = Stage::kCompleted;
  e->response = std::move(response);
  operations_.RemoveInFlight(e);
  // A finished operation is kept (for completed_retention_ms) only for its response: the
  // input tree, Command and Action it was run from go now.
  std::vector<std::string>().swap(e->params.input_directory_blobs);
  e->params.command.Clear();
  e->params.action.Clear();
  e->params.platform.Clear();
  std::string().swap(e->params.shape);
  operations_.ExecutionDone(*e, clock_());
  ChangedLocked(*e);
}

void BuildQueue::FailLocked(const std::shared_ptr<Execution>& e, const absl::Status& status) {
  reapi::ExecuteResponse r;
  *r.mutable_status() = ToRpcStatus(status);
  r.set_message(std::string(status.message()));
  FinishLocked(e, std::move(r));
}

}  // namespace kfarm
