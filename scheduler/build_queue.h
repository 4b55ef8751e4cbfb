// The scheduler's execution state, behind one lock: the operation table (what clients wait on),
// the dispatcher (what runs next, where), the worker registry (who is connected, with what room)
// and the result recorder. BuildQueue only coordinates them: a submission, a worker's message,
// a reaper tick each become a few calls on those parts, and what must reach watchers or workers
// is deferred until the lock is released. All state is in memory: after a restart clients
// re-submit.
#ifndef KFARM_SCHEDULER_BUILD_QUEUE_H_
#define KFARM_SCHEDULER_BUILD_QUEUE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/action_cache.h"
#include "kfarm/config.pb.h"
#include "kfarm/status.pb.h"
#include "kfarm/worker.pb.h"
#include "scheduler/deferred_calls.h"
#include "scheduler/dispatcher.h"
#include "scheduler/execution_record.h"
#include "scheduler/operation_table.h"
#include "scheduler/queue_metrics.h"
#include "scheduler/result_recorder.h"
#include "scheduler/worker_registry.h"

namespace kfarm {

class BuildQueue {
 public:
  using Clock = std::function<absl::Time()>;
  BuildQueue(config::ExecutionConfig config, ActionCache* action_cache, Clock clock = absl::Now);
  ~BuildQueue();

  // UNAVAILABLE (during the start-up grace) or FAILED_PRECONDITION when no connected worker
  // offers `platform`; the message names the unmet properties.
  absl::Status CheckServable(const reapi::Platform& platform);
  // Returns the new operation's name; joins an identical in-flight execution when allowed.
  // RESOURCE_EXHAUSTED when params.principal already has its limit of unfinished operations.
  absl::StatusOr<std::string> Submit(ExecuteParams params);

  absl::StatusOr<OperationView> Get(const std::string& op);
  // Waits until the operation's version passes `seen`, or `deadline`. Holds the operation
  // "watched" meanwhile, so it is not abandoned.
  absl::StatusOr<OperationView> Await(const std::string& op, uint64_t seen, absl::Time deadline);
  // Watching holds the operation "watched" (so it is not abandoned) until Unwatch.
  absl::Status Watch(const std::string& op, std::shared_ptr<OperationWatcher> watcher);
  void Unwatch(const std::string& op, const OperationWatcher* watcher);
  absl::Status Cancel(const std::string& op);
  std::vector<OperationView> List();

  // Worker side. Connected fails if a live worker already uses the id.
  absl::Status Connected(const worker::Register& reg, std::shared_ptr<WorkerLink> link);
  // Handles a worker's message without touching the disk, so it may run on gRPC's threads: a
  // completion frees its slot and the next action goes out at once. A result the action cache
  // is to keep comes back for Record, which writes it (off those threads) and only then tells
  // the operations: no client sees COMPLETED before the cache holds the result.
  struct PendingResult {
    std::shared_ptr<Execution> execution;
    reapi::ExecuteResponse response;
  };
  std::optional<PendingResult> Receive(const std::string& worker_id,
                                       const worker::WorkerMessage& msg);
  void Record(PendingResult result);
  // Receive, then Record if needed.
  void Received(const std::string& worker_id, const worker::WorkerMessage& msg);
  void Disconnected(const std::string& worker_id, const WorkerLink* link);
  absl::Status Drain(const std::string& worker_id);

  absl::Duration heartbeat_interval() const;
  size_t connected_workers();

  // Reports to `metrics` from now on (not owned; outlives the queue).
  void SetMetrics(QueueMetrics* metrics);
  QueueSnapshot Snapshot();

  // For the status page (build_queue_status.cc). An Execute the action cache answered counts
  // toward its build.
  void CacheHit(const std::string& invocation_id, const std::string& tool);
  // The queue, workers, builds, unfinished operations and the `max_recent` finished last.
  status::StatusReport Status(int max_recent);
  // What the queue knows of one operation; the command and output are the caller's to read from
  // the CAS. NOT_FOUND naming the operation once it is forgotten.
  struct OperationStory {
    status::OperationDetail detail;
    reapi::ActionResult result;  // Set when it ran to completion.
  };
  absl::StatusOr<OperationStory> Describe(const std::string& name);

 private:
  // Holds mu_; on release runs what was deferred meanwhile (watchers told, messages to workers),
  // after unlocking: those calls may re-enter the queue, and gRPC may run reactions inline.
  class ABSL_SCOPED_LOCKABLE Locked {
   public:
    explicit Locked(BuildQueue* q) ABSL_EXCLUSIVE_LOCK_FUNCTION(q->mu_);
    ~Locked() ABSL_UNLOCK_FUNCTION();

   private:
    BuildQueue* q_;
  };
  // Runs the deferred calls with mu_ briefly released (for the reaper, which holds mu_).
  void RunDeferredLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendLocked(const std::shared_ptr<WorkerLink>& link, worker::SchedulerMessage msg)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CloseLocked(const std::shared_ptr<WorkerLink>& link) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ChangedLocked(Execution& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EnqueueLocked(const std::shared_ptr<Execution>& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DispatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendAssignmentLocked(Worker& w, const Execution& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const std::shared_ptr<Execution>& e, reapi::ExecuteResponse response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailLocked(const std::shared_ptr<Execution>& e, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelLocked(OperationRecord& op, absl::string_view why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // `e` was lost with `worker` (dead) or failed there for the worker's own reason (`why`):
  // queued again, unless that happened max_worker_deaths times.
  void RecordDeathLocked(const std::shared_ptr<Execution>& e, const std::string& worker,
                         const std::string& why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<PendingResult> CompleteFromWorkerLocked(const std::string& worker_id,
                                                        const worker::Completion& c)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // The reaper: one thread, waking every tick to run its jobs, each on its own schedule.
  void Reap();
  void ReapWorkersLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SweepOperationsLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailOverdueLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailUnservableLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const config::ExecutionConfig config_;
  const ResultRecorder recorder_;
  const Clock clock_;
  const absl::Time started_;

  absl::Mutex mu_;
  absl::CondVar stop_;  // Wakes the reaper at shutdown.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  OperationTable operations_ ABSL_GUARDED_BY(mu_);
  WorkerRegistry workers_ ABSL_GUARDED_BY(mu_);
  Dispatcher dispatcher_ ABSL_GUARDED_BY(mu_);
  DeferredCalls deferred_ ABSL_GUARDED_BY(mu_);
  QueueMetrics* metrics_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::thread reaper_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_BUILD_QUEUE_H_
