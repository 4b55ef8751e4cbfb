#include "scheduler/operation_table.h"

#include <atomic>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "grpcpp/support/status.h"

namespace kfarm {

std::string RandomId() {
  // Seeded once per process: gRPC starts threads per call, and std::random_device per thread
  // executes CPUID, which traps to the hypervisor in a VM.
  static const uint64_t process_seed =
      std::random_device{}() ^ static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  static std::atomic<uint64_t> threads{0};
  static thread_local std::mt19937_64 rng(process_seed + 0x9e3779b97f4a7c15ULL * ++threads);
  return absl::StrFormat("%016x%016x", rng(), rng());
}

std::string OperationTable::DedupKey(const ExecuteParams& p) {
  return absl::StrCat(p.instance_name, "\n", p.action_digest.ToString());
}

absl::Status OperationTable::Admit(const std::string& owner) {
  int& pending = pending_by_owner_[owner];
  if (pending >= max_pending_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "principal \"", owner, "\" already has ", pending,
        " unfinished operations, the most one principal may have "
        "(execution.max_pending_operations_per_principal); wait for some to finish"));
  }
  ++pending;
  return absl::OkStatus();
}

std::shared_ptr<Execution> OperationTable::InFlight(const ExecuteParams& p) const {
  auto it = in_flight_.find(DedupKey(p));
  return it == in_flight_.end() ? nullptr : it->second;
}

void OperationTable::AddInFlight(const std::shared_ptr<Execution>& e) {
  in_flight_[DedupKey(e->params)] = e;
}

void OperationTable::RemoveInFlight(const std::shared_ptr<Execution>& e) {
  auto it = in_flight_.find(DedupKey(e->params));
  if (it != in_flight_.end() && it->second == e) in_flight_.erase(it);
}

OperationRecord& OperationTable::Add(Requester who, const std::shared_ptr<Execution>& e,
                                     absl::Time now) {
  OperationRecord op;
  op.name = "operations/" + RandomId();
  op.owner = std::move(who.principal);
  op.invocation_id = std::move(who.invocation_id);
  op.created = now;
  builds_.Submitted(op.invocation_id, who.tool, now);
  op.execution = e;
  op.unwatched_since = now;
  e->operation_names.push_back(op.name);
  e->operations++;
  std::string name = op.name;
  return operations_.emplace(std::move(name), std::move(op)).first->second;
}

OperationRecord* OperationTable::Find(const std::string& name) {
  auto it = operations_.find(name);
  return it == operations_.end() ? nullptr : &it->second;
}

OperationView OperationTable::View(const OperationRecord& op) const {
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

std::vector<OperationView> OperationTable::List() const {
  std::vector<OperationView> out;
  out.reserve(operations_.size());
  for (const auto& [name, op] : operations_) out.push_back(View(op));
  return out;
}

void OperationTable::Done(OperationRecord& op, absl::Time now) {
  if (op.done_at != absl::InfiniteFuture()) return;
  op.done_at = now;
  const reapi::ExecuteResponse& r = op.execution->response;
  builds_.Finished(op.invocation_id,
                   op.cancelled ? Outcome::kCancelled
                   : r.status().code() != 0 || r.result().exit_code() != 0 ? Outcome::kFailed
                                                                           : Outcome::kSucceeded,
                   now);
  auto it = pending_by_owner_.find(op.owner);
  if (it != pending_by_owner_.end() && --it->second <= 0) pending_by_owner_.erase(it);
}

void OperationTable::ExecutionDone(const Execution& e, absl::Time now) {
  for (const std::string& name : e.operation_names) {
    if (OperationRecord* op = Find(name)) Done(*op, now);
  }
}

void OperationTable::Changed(Execution& e, DeferredCalls& calls) {
  e.version++;
  e.changed.SignalAll();
  for (const std::string& name : e.operation_names) {
    if (const OperationRecord* op = Find(name)) Tell(*op, false, calls);
  }
}

void OperationTable::Tell(const OperationRecord& op, bool keepalive, DeferredCalls& calls) const {
  for (const auto& w : op.watching) {
    calls.Add([w, keepalive] { w->OperationChanged(keepalive); });
  }
}

void OperationTable::KeepaliveAll(DeferredCalls& calls) const {
  for (const auto& [name, op] : operations_) Tell(op, true, calls);
}

void OperationTable::Watch(OperationRecord& op, std::shared_ptr<OperationWatcher> watcher) {
  op.watchers++;
  op.watching.push_back(std::move(watcher));
}

void OperationTable::Unwatch(OperationRecord& op, const OperationWatcher* watcher, absl::Time now) {
  for (auto w = op.watching.begin(); w != op.watching.end(); ++w) {
    if (w->get() != watcher) continue;
    op.watching.erase(w);
    EndWait(op, now);
    return;
  }
}

void OperationTable::EndWait(OperationRecord& op, absl::Time now) {
  if (--op.watchers == 0) op.unwatched_since = now;
}

std::vector<OperationRecord*> OperationTable::Sweep(absl::Time now, absl::Duration abandoned_after,
                                              absl::Duration retention) {
  std::vector<OperationRecord*> abandoned;
  for (auto it = operations_.begin(); it != operations_.end();) {
    OperationRecord& op = it->second;
    if (op.watchers == 0 && !op.finished() && now - op.unwatched_since > abandoned_after) {
      abandoned.push_back(&op);
    } else if (op.watchers == 0 && op.finished() && now - op.done_at > retention) {
      operations_.erase(it++);
      continue;
    }
    ++it;
  }
  return abandoned;
}

void OperationTable::WakeAll() {
  for (auto& [name, op] : operations_) op.execution->changed.SignalAll();
}

}  // namespace kfarm
