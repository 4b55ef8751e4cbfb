// The operations clients wait on: each attached to one execution (joined when an identical
// cacheable action is already in flight), who watches it, and how many unfinished operations
// each principal holds. Not locked itself: BuildQueue's lock guards it, and what watchers are
// told is deferred until that lock is released.
#ifndef KFARM_SCHEDULER_OPERATION_TABLE_H_
#define KFARM_SCHEDULER_OPERATION_TABLE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "scheduler/build_table.h"
#include "scheduler/deferred_calls.h"
#include "scheduler/execution_record.h"

namespace kfarm {

struct OperationView {
  std::string name;
  std::string owner;  // The principal that submitted it.
  Digest action_digest;
  reapi::ExecutionStage::Value stage = reapi::ExecutionStage::UNKNOWN;
  bool done = false;
  reapi::ExecuteResponse response;  // Set when done.
  uint64_t version = 0;
};

// Told when a watched operation changes (or, with `keepalive`, that a keepalive interval passed).
// Called from whichever thread made the change, after the queue's lock is released, so it may
// call back into the queue; it must not block.
class OperationWatcher {
 public:
  virtual ~OperationWatcher() = default;
  virtual void OperationChanged(bool keepalive) = 0;
};

// Who asked for an operation: the principal, and the build (RequestMetadata) it belongs to.
struct Requester {
  std::string principal;
  std::string invocation_id;
  std::string tool;
};

struct OperationRecord {
  std::string name;
  std::string owner;
  std::string invocation_id;  // The build it belongs to (its counts are in the BuildTable).
  absl::Time created;
  std::shared_ptr<Execution> execution;
  int watchers = 0;  // Streams and WaitOperation calls: while any, it is not abandoned.
  absl::Time unwatched_since;
  bool cancelled = false;
  absl::Time done_at = absl::InfiniteFuture();
  uint64_t version = 0;  // Bumped on cancel, on top of the execution's version.
  std::vector<std::shared_ptr<OperationWatcher>> watching;

  bool finished() const { return cancelled || execution->stage == Stage::kCompleted; }
};

class OperationTable {
 public:
  explicit OperationTable(int max_pending_per_principal)
      : max_pending_(max_pending_per_principal) {}

  // Counts one more unfinished operation for `owner`; RESOURCE_EXHAUSTED at its limit.
  absl::Status Admit(const std::string& owner);
  // The cacheable execution of the same action in flight on the same instance, if any.
  std::shared_ptr<Execution> InFlight(const ExecuteParams& p) const;
  void AddInFlight(const std::shared_ptr<Execution>& e);
  void RemoveInFlight(const std::shared_ptr<Execution>& e);

  // A new operation on `e` for a principal already admitted.
  OperationRecord& Add(Requester who, const std::shared_ptr<Execution>& e, absl::Time now);
  OperationRecord* Find(const std::string& name);
  OperationView View(const OperationRecord& op) const;
  std::vector<OperationView> List() const;

  // Marks `op` finished at `now` (once): it no longer counts against its owner.
  void Done(OperationRecord& op, absl::Time now);
  // Every operation on `e` finished at `now`.
  void ExecutionDone(const Execution& e, absl::Time now);
  // `e` changed: its waiters wake, its operations' watchers are told.
  void Changed(Execution& e, DeferredCalls& calls);
  void Tell(const OperationRecord& op, bool keepalive, DeferredCalls& calls) const;
  void KeepaliveAll(DeferredCalls& calls) const;

  void Watch(OperationRecord& op, std::shared_ptr<OperationWatcher> watcher);
  void Unwatch(OperationRecord& op, const OperationWatcher* watcher, absl::Time now);
  void BeginWait(OperationRecord& op) { op.watchers++; }
  void EndWait(OperationRecord& op, absl::Time now);

  // The reaper's sweep: forgets finished operations nobody watched for `retention`, and returns
  // unfinished ones nobody watched for `abandoned_after` (the caller cancels them).
  std::vector<OperationRecord*> Sweep(absl::Time now, absl::Duration abandoned_after,
                                absl::Duration retention);
  // Wakes every waiter (shutdown).
  void WakeAll();
  size_t size() const { return operations_.size(); }
  // Each build's operations, counted as they are added and finish.
  BuildTable& builds() { return builds_; }
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [name, op] : operations_) f(op);
  }

 private:
  static std::string DedupKey(const ExecuteParams& p);

  const int max_pending_;
  // Node map: waiters hold references across CondVar waits, so entries must not move.
  absl::node_hash_map<std::string, OperationRecord> operations_;
  absl::flat_hash_map<std::string, std::shared_ptr<Execution>> in_flight_;
  absl::flat_hash_map<std::string, int> pending_by_owner_;
  BuildTable builds_;
};

// A random 128-bit id in hex, for operation names and execution ids.
std::string RandomId();

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_OPERATION_TABLE_H_
