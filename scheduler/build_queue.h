// The scheduler's execution state: operations (what clients wait on), executions (what workers
// run; identical cacheable actions in flight share one), the priority queue between them, and
// the connected workers. Every change bumps a version and wakes waiters; service handlers only
// submit, wait and read snapshots. All state is in memory: after a restart clients re-submit.
#ifndef KFARM_SCHEDULER_BUILD_QUEUE_H_
#define KFARM_SCHEDULER_BUILD_QUEUE_H_

#include <functional>
#include <map>
#include <tuple>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/action_cache.h"
#include "common/digest.h"
#include "kfarm/config.pb.h"
#include "kfarm/worker.pb.h"
#include "scheduler/duration_history.h"
#include "scheduler/fair_queue.h"
#include "scheduler/platform_match.h"

namespace kfarm {

struct ExecuteParams {
  std::string instance_name;
  Digest action_digest;
  reapi::Action action;
  reapi::Command command;
  reapi::Platform platform;  // Effective: Action.platform, else Command.platform.
  int32_t priority = 0;
  absl::Duration timeout;
  bool skip_cache_lookup = false;
  std::string invocation_id;  // RequestMetadata.tool_invocation_id: which build asked.
  std::string principal;      // Who asked: the operation's owner.
  std::string shape;          // Arguments and outputs without digests (duration history key).
  Digest largest_input;       // The biggest input file (>= 1 MiB), for cache affinity.
  // Every Directory of the input tree, as the client's bytes: sent along to the worker.
  std::vector<std::string> input_directory_blobs;
};

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

// How the queue reaches one connected worker; implemented by the worker service. Called after
// the queue's lock is released, in the order the queue decided them.
class WorkerLink {
 public:
  virtual ~WorkerLink() = default;
  virtual void Send(const worker::SchedulerMessage& msg) = 0;
  virtual void Close() = 0;  // Ends the stream (the worker is presumed dead).
};

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
  void Received(const std::string& worker_id, const worker::WorkerMessage& msg);
  void Disconnected(const std::string& worker_id, const WorkerLink* link);
  absl::Status Drain(const std::string& worker_id);

  absl::Duration heartbeat_interval() const;
  size_t connected_workers();

 private:
  enum class Stage { kQueued, kExecuting, kCompleted };
  struct Execution {
    std::string id;
    ExecuteParams params;
    bool cacheable = true;
    Stage stage = Stage::kQueued;
    uint64_t seq = 0;
    FairQueueKey key;          // Its place while queued.
    bool queued = false;       // In ready_.
    std::string platform_key;  // The platform, serialized: equal platforms match alike.
    std::string worker;                      // While executing.
    absl::Duration expected;                 // Learned duration when assigned (0: unknown).
    std::vector<std::string> dead_workers;   // Workers that died running it, or how they failed.
    std::vector<std::string> failed_on;      // Their ids: other workers are preferred.
    absl::Time queued_at;
    absl::Time assigned_at;                  // When last sent to a worker.
    absl::Time unmatched_since = absl::InfiniteFuture();
    reapi::ExecuteResponse response;
    std::vector<std::string> operation_names; // Every operation attached, finished or not.
    int operations = 0;                        // Attached operations not cancelled.
    uint64_t version = 0;
    absl::CondVar changed;  // Its waiters only: no thundering herd across thousands of streams.
  };
  struct Operation {
    std::string name;
    std::string owner;
    std::shared_ptr<Execution> execution;
    int watchers = 0;
    absl::Time unwatched_since;
    bool cancelled = false;
    absl::Time done_at = absl::InfiniteFuture();
    uint64_t version = 0;  // Bumped on cancel, on top of the execution's version.
    std::vector<std::shared_ptr<OperationWatcher>> watching;
  };
  // Workers with free slots: most free first, then the one idle longest, so equal workers
  // share the load (and, without affinity, an input spreads as any scheduler would spread it).
  // The same order ranks busy workers that may be sent one more short action (prefetch).
  struct FreeKey {
    int free = 0;
    uint64_t last_assigned = 0;
    std::string id;
    bool operator<(const FreeKey& o) const {
      return std::tie(o.free, last_assigned, id) < std::tie(free, o.last_assigned, o.id);
    }
  };
  struct Worker {
    std::string id;
    OfferedPlatform platform;
    int slots = 1;
    int queue_depth = 0;                     // Assignments beyond its slots it will hold.
    std::shared_ptr<WorkerLink> link;        // Null while lost.
    absl::flat_hash_map<std::string, std::shared_ptr<Execution>> running;
    absl::Time last_seen;
    absl::Time lost_at = absl::InfiniteFuture();
    bool draining = false;
    int infrastructure_failures = 0;          // In a row; reset by any other completion.
    absl::Time resting_until = absl::InfinitePast();  // Given no work until then.
    absl::flat_hash_set<Digest> large_blobs;  // What its cache holds (or is about to fetch).
    uint64_t last_assigned = 0;               // Dispatch count when it last got work.
    FreeKey listed;                           // Its entry in free_ (free 0: not listed).
    FreeKey listed_spare;                     // Its entry in spare_ (free 0: not listed).
  };

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
  void WatchersChangedLocked(const Operation& op, bool keepalive)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  OperationView ViewLocked(const Operation& op) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ChangedLocked(Execution& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EnqueueLocked(const std::shared_ptr<Execution>& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes `e` out of the ready queue, or out of its build's running count.
  void LeaveStageLocked(Execution& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Keeps free_ and spare_ in step with the worker's link, drain state and running work.
  void RefreshFreeLocked(Worker& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A free worker that can run `e`: one holding its largest input if affinity allows, else the
  // one with the most free slots; failing that, for a short `e`, a busy worker that may hold it
  // (spare_); null when none can.
  Worker* ChooseWorkerLocked(const Execution& e, bool prefer_holder)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether a usable worker `e` has not failed on could run it (busy or not): then `e` waits
  // for it rather than going back to a worker it failed on.
  bool OtherWorkerCanLocked(const Execution& e) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DispatchLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Expected to finish within prefetch_below_ms (a learned duration, so never for a new shape).
  bool ShortLocked(absl::Duration expected) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const std::shared_ptr<Execution>& e, reapi::ExecuteResponse response)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FailLocked(const std::shared_ptr<Execution>& e, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelLocked(Operation& op, absl::string_view why) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Marks `op` finished at `now` (once): it no longer counts against its owner.
  void OperationDoneLocked(Operation& op, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WorkerLostLocked(Worker& w, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BuryWorkerLocked(Worker& w) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Requeues `e` after its worker died, or fails it once that happened max_worker_deaths times.
  // `e` was lost with `worker` (dead) or failed there for the worker's own reason (`why`):
  // queued again, unless that happened max_worker_deaths times.
  void RecordDeathLocked(const std::shared_ptr<Execution>& e, const std::string& worker,
                         const std::string& why)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CompleteFromWorker(const std::string& worker_id, const worker::Completion& c);
  void SendAssignmentLocked(Worker& w, const Execution& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static std::string DedupKey(const ExecuteParams& p);
  std::string UnmetLocked(const reapi::Platform& p) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Reap();

  const config::ExecutionConfig config_;
  ActionCache* const action_cache_;
  const Clock clock_;
  const absl::Time started_;

  absl::Mutex mu_;
  absl::CondVar stop_;  // Wakes the reaper at shutdown.
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // Node maps: waiters hold references across CondVar waits, so entries must not move.
  absl::node_hash_map<std::string, Operation> operations_ ABSL_GUARDED_BY(mu_);
  // Cacheable executions in flight, by instance + action digest, for deduplication.
  absl::flat_hash_map<std::string, std::shared_ptr<Execution>> in_flight_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, int> pending_by_owner_ ABSL_GUARDED_BY(mu_);  // Unfinished ops.
  FairQueue<std::shared_ptr<Execution>> ready_ ABSL_GUARDED_BY(mu_);
  absl::node_hash_map<std::string, Worker> workers_ ABSL_GUARDED_BY(mu_);
  std::map<FreeKey, Worker*> free_ ABSL_GUARDED_BY(mu_);
  // Busy workers running only short actions, with room in their queue.
  std::map<FreeKey, Worker*> spare_ ABSL_GUARDED_BY(mu_);
  uint64_t assignments_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::function<void()>> deferred_ ABSL_GUARDED_BY(mu_);  // Run once mu_ is released.
  DurationHistory history_ ABSL_GUARDED_BY(mu_);
  std::thread reaper_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_BUILD_QUEUE_H_
