#include "scheduler/build_queue.h"

#include <algorithm>
#include <atomic>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/grpc_status.h"

namespace kfarm {
namespace {

std::string RandomId() {
  // Seeded once per process: gRPC starts threads per call, and std::random_device per thread
  // executes CPUID, which traps to the hypervisor in a VM.
  static const uint64_t process_seed =
      std::random_device{}() ^ static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  static std::atomic<uint64_t> threads{0};
  static thread_local std::mt19937_64 rng(process_seed + 0x9e3779b97f4a7c15ULL * ++threads);
  return absl::StrFormat("%016x%016x", rng(), rng());
}

absl::Duration Ms(int64_t ms) { return absl::Milliseconds(ms); }

}  // namespace

BuildQueue::Locked::Locked(BuildQueue* q) : q_(q) { q_->mu_.Lock(); }

BuildQueue::Locked::~Locked() {
  auto deferred = std::exchange(q_->deferred_, {});
  q_->mu_.Unlock();
  for (auto& f : deferred) f();
}

void BuildQueue::RunDeferredLocked() {
  if (deferred_.empty()) return;
  auto deferred = std::exchange(deferred_, {});
  mu_.Unlock();
  for (auto& f : deferred) f();
  mu_.Lock();
}

void BuildQueue::WatchersChangedLocked(const Operation& op, bool keepalive) {
  for (const auto& w : op.watching) {
    deferred_.push_back([w, keepalive] { w->OperationChanged(keepalive); });
  }
}

void BuildQueue::SendLocked(const std::shared_ptr<WorkerLink>& link, worker::SchedulerMessage msg) {
  deferred_.push_back([link, msg = std::move(msg)] { link->Send(msg); });
}

void BuildQueue::CloseLocked(const std::shared_ptr<WorkerLink>& link) {
  deferred_.push_back([link] { link->Close(); });
}

BuildQueue::BuildQueue(config::ExecutionConfig config, ActionCache* action_cache, Clock clock)
    : config_(std::move(config)),
      action_cache_(action_cache),
      clock_(std::move(clock)),
      started_(clock_()) {
  reaper_ = std::thread([this] { Reap(); });
}

BuildQueue::~BuildQueue() {
  {
    Locked lock(this);
    stopping_ = true;
    stop_.SignalAll();
    for (auto& [name, op] : operations_) op.execution->changed.SignalAll();
  }
  reaper_.join();
}

absl::Duration BuildQueue::heartbeat_interval() const {
  return Ms(config_.heartbeat_interval_ms());
}

size_t BuildQueue::connected_workers() {
  Locked lock(this);
  size_t n = 0;
  for (const auto& [id, w] : workers_) n += w.link != nullptr;
  return n;
}

std::string BuildQueue::DedupKey(const ExecuteParams& p) {
  return absl::StrCat(p.instance_name, "\n", p.action_digest.ToString());
}

std::string BuildQueue::UnmetLocked(const reapi::Platform& p) const {
  // Name each wanted property no worker offers; if every one is offered somewhere but never all
  // on one worker, say that instead.
  std::vector<std::string> missing;
  for (const auto& prop : p.properties()) {
    bool offered = false;
    std::vector<std::string> values;
    for (const auto& [id, w] : workers_) {
      if (w.link == nullptr) continue;
      reapi::Platform one;
      *one.add_properties() = prop;
      offered |= w.platform.Satisfies(one);
      std::string v = w.platform.Offered(prop.name());
      if (!v.empty()) values.push_back(v);
    }
    if (!offered) {
      missing.push_back(absl::StrCat(prop.name(), "=", prop.value(), " (workers offer ",
                                     values.empty() ? "no " + prop.name()
                                                    : prop.name() + "=" + absl::StrJoin(values, "|"),
                                     ")"));
    }
  }
  if (missing.empty() && workers_.empty()) return "no worker is connected";
  if (missing.empty()) {
    std::vector<std::string> all;
    for (const auto& prop : p.properties()) all.push_back(prop.name() + "=" + prop.value());
    return absl::StrCat("no single worker offers all of ", absl::StrJoin(all, ", "));
  }
  return absl::StrCat("no connected worker offers ", absl::StrJoin(missing, ", "));
}

absl::Status BuildQueue::CheckServable(const reapi::Platform& platform) {
  Locked lock(this);
  for (const auto& [id, w] : workers_) {
    if (w.link != nullptr && w.platform.Satisfies(platform)) return absl::OkStatus();
  }
  std::string unmet = UnmetLocked(platform);
  if (clock_() - started_ < Ms(config_.no_worker_grace_ms())) {
    return absl::UnavailableError(
        absl::StrCat(unmet, " yet; workers may still be connecting, retry shortly"));
  }
  return absl::FailedPreconditionError(unmet);
}

absl::StatusOr<std::string> BuildQueue::Submit(ExecuteParams params) {
  Locked lock(this);
  const absl::Time now = clock_();
  std::string owner = params.principal;  // Each operation is its caller's, even when joined.
  int& pending = pending_by_owner_[owner];
  if (pending >= config_.max_pending_operations_per_principal()) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "principal \"", owner, "\" already has ", pending,
        " unfinished operations, the most one principal may have "
        "(execution.max_pending_operations_per_principal); wait for some to finish"));
  }
  ++pending;
  const bool cacheable = !params.action.do_not_cache();
  std::shared_ptr<Execution> e;
  std::string key = DedupKey(params);
  if (cacheable) {
    auto it = in_flight_.find(key);
    if (it != in_flight_.end()) e = it->second;
  }
  if (e == nullptr) {
    e = std::make_shared<Execution>();
    e->id = RandomId();
    e->params = std::move(params);
    e->cacheable = cacheable;
    e->seq = next_seq_++;
    e->queued_at = now;
    e->platform_key = e->params.platform.SerializeAsString();
    if (cacheable) in_flight_[key] = e;
    EnqueueLocked(e);
  }
  Operation op;
  op.name = "operations/" + RandomId();
  op.owner = std::move(owner);
  op.execution = e;
  op.unwatched_since = now;
  e->operation_names.push_back(op.name);
  e->operations++;
  std::string name = op.name;
  operations_.emplace(name, std::move(op));
  DispatchLocked();
  return name;
}

OperationView BuildQueue::ViewLocked(const Operation& op) const {
  const Execution& e = *op.execution;
  OperationView v;
  v.name = op.name;
  v.owner = op.owner;
  v.action_digest = e.params.action_digest;
  v.version = e.version + op.version;
  if (op.cancelled) {
    v.stage = reapi::ExecutionStage::COMPLETED;
    v.done = true;
    v.response.mutable_status()->set_code(grpc::StatusCode::CANCELLED);
    v.response.mutable_status()->set_message(
        absl::StrCat("operation ", op.name, " (action ", e.params.action_digest.ToString(),
                     ") was cancelled"));
    return v;
  }
  switch (e.stage) {
    case Stage::kQueued:
      v.stage = reapi::ExecutionStage::QUEUED;
      break;
    case Stage::kExecuting:
      v.stage = reapi::ExecutionStage::EXECUTING;
      break;
    case Stage::kCompleted:
      v.stage = reapi::ExecutionStage::COMPLETED;
      v.done = true;
      v.response = e.response;
      break;
  }
  return v;
}

absl::StatusOr<OperationView> BuildQueue::Get(const std::string& name) {
  Locked lock(this);
  auto it = operations_.find(name);
  if (it == operations_.end()) {
    return absl::NotFoundError(absl::StrCat("operation \"", name, "\" is unknown (finished long ago, "
                                            "or the scheduler restarted); call Execute again"));
  }
  return ViewLocked(it->second);
}

absl::StatusOr<OperationView> BuildQueue::Await(const std::string& name, uint64_t seen,
                                                absl::Time deadline) {
  Locked lock(this);
  auto it = operations_.find(name);
  if (it == operations_.end()) {
    return absl::NotFoundError(absl::StrCat("operation \"", name, "\" is unknown; call Execute again"));
  }
  Operation& op = it->second;
  op.watchers++;
  OperationView v = ViewLocked(op);
  while (v.version <= seen && !v.done && !stopping_ && clock_() < deadline) {
    op.execution->changed.WaitWithDeadline(&mu_, deadline);
    v = ViewLocked(op);
  }
  if (--op.watchers == 0) op.unwatched_since = clock_();
  return v;
}

absl::Status BuildQueue::Watch(const std::string& name, std::shared_ptr<OperationWatcher> watcher) {
  Locked lock(this);
  auto it = operations_.find(name);
  if (it == operations_.end()) {
    return absl::NotFoundError(absl::StrCat("operation \"", name, "\" is unknown; call Execute again"));
  }
  it->second.watchers++;
  it->second.watching.push_back(std::move(watcher));
  return absl::OkStatus();
}

void BuildQueue::Unwatch(const std::string& name, const OperationWatcher* watcher) {
  Locked lock(this);
  auto it = operations_.find(name);
  if (it == operations_.end()) return;
  Operation& op = it->second;
  for (auto w = op.watching.begin(); w != op.watching.end(); ++w) {
    if (w->get() != watcher) continue;
    op.watching.erase(w);
    if (--op.watchers == 0) op.unwatched_since = clock_();
    return;
  }
}

std::vector<OperationView> BuildQueue::List() {
  Locked lock(this);
  std::vector<OperationView> out;
  for (const auto& [name, op] : operations_) out.push_back(ViewLocked(op));
  return out;
}

absl::Status BuildQueue::Cancel(const std::string& name) {
  Locked lock(this);
  auto it = operations_.find(name);
  if (it == operations_.end()) {
    return absl::NotFoundError(absl::StrCat("operation \"", name, "\" is unknown"));
  }
  CancelLocked(it->second, "cancelled by the client");
  return absl::OkStatus();
}

void BuildQueue::CancelLocked(Operation& op, absl::string_view why) {
  if (op.cancelled || op.execution->stage == Stage::kCompleted) return;
  op.cancelled = true;
  op.version++;
  OperationDoneLocked(op, clock_());
  auto e = op.execution;
  // The execution stops only when no other operation still wants its result.
  if (--e->operations > 0) {
    e->changed.SignalAll();
    WatchersChangedLocked(op, false);
    return;
  }
  if (e->stage == Stage::kExecuting) {
    auto w = workers_.find(e->worker);
    if (w != workers_.end() && w->second.link != nullptr) {
      worker::SchedulerMessage m;
      m.mutable_cancel()->set_execution_id(e->id);
      SendLocked(w->second.link, std::move(m));
    }
  }
  FailLocked(e, absl::CancelledError(absl::StrCat("action ", e->params.action_digest.ToString(),
                                                  " ", why)));
}

void BuildQueue::ChangedLocked(Execution& e) {
  e.version++;
  e.changed.SignalAll();
  for (const std::string& name : e.operation_names) {
    auto op = operations_.find(name);
    if (op != operations_.end()) WatchersChangedLocked(op->second, false);
  }
}

void BuildQueue::LeaveStageLocked(Execution& e) {
  if (e.queued) {
    ready_.Erase(e.params.invocation_id, e.key);
    e.queued = false;
  } else if (e.stage == Stage::kExecuting) {
    ready_.Stopped(e.params.invocation_id);
  }
}

void BuildQueue::EnqueueLocked(const std::shared_ptr<Execution>& e) {
  LeaveStageLocked(*e);
  e->stage = Stage::kQueued;
  e->worker.clear();
  e->unmatched_since = absl::InfiniteFuture();
  // The learned duration is read once, here: the queue's order never shifts under it.
  e->key = FairQueueKey{e->params.priority,
                        absl::ToInt64Nanoseconds(history_.Expected(e->params.shape)), e->seq};
  e->queued = true;
  ready_.Push(e->params.invocation_id, e->key, e);
  ChangedLocked(*e);
}

void BuildQueue::FinishLocked(const std::shared_ptr<Execution>& e,
                              reapi::ExecuteResponse response) {
  LeaveStageLocked(*e);
  e->stage = Stage::kCompleted;
  e->response = std::move(response);
  auto it = in_flight_.find(DedupKey(e->params));
  if (it != in_flight_.end() && it->second == e) in_flight_.erase(it);
  // A finished operation is kept (for completed_retention_ms) only for its response: the
  // input tree, Command and Action it was run from go now.
  std::vector<std::string>().swap(e->params.input_directory_blobs);
  e->params.command.Clear();
  e->params.action.Clear();
  e->params.platform.Clear();
  std::string().swap(e->params.shape);
  const absl::Time now = clock_();
  for (const std::string& name : e->operation_names) {
    auto op = operations_.find(name);
    if (op != operations_.end()) OperationDoneLocked(op->second, now);
  }
  ChangedLocked(*e);
}

void BuildQueue::OperationDoneLocked(Operation& op, absl::Time now) {
  if (op.done_at != absl::InfiniteFuture()) return;
  op.done_at = now;
  auto it = pending_by_owner_.find(op.owner);
  if (it != pending_by_owner_.end() && --it->second <= 0) pending_by_owner_.erase(it);
}

void BuildQueue::FailLocked(const std::shared_ptr<Execution>& e, const absl::Status& status) {
  reapi::ExecuteResponse r;
  *r.mutable_status() = ToRpcStatus(status);
  r.set_message(std::string(status.message()));
  FinishLocked(e, std::move(r));
}

}  // namespace kfarm
