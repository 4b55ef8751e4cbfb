// The connected workers: what each offers and runs, which have room (an index kept in step
// with every change, so dispatch never scans them all), whether each is alive, draining or
// resting after failing again and again. Not locked itself: BuildQueue's lock guards it.
#ifndef KFARM_SCHEDULER_WORKER_REGISTRY_H_
#define KFARM_SCHEDULER_WORKER_REGISTRY_H_

#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/time/time.h"
#include "kfarm/worker.pb.h"
#include "scheduler/execution_record.h"
#include "scheduler/platform_match.h"

namespace kfarm {

// How the queue reaches one connected worker; implemented by the worker service. Called after
// the queue's lock is released, in the order the queue decided them.
class WorkerLink {
 public:
  virtual ~WorkerLink() = default;
  virtual void Send(worker::SchedulerMessage msg) = 0;
  virtual void Close() = 0;  // Ends the stream (the worker is presumed dead).
};

// Workers with room: most free first, then the one idle longest, so equal workers share the
// load (and, without affinity, an input spreads as any scheduler would spread it).
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
  FreeKey listed;                           // Its entry in free (free 0: not listed).
  FreeKey listed_spare;                     // Its entry in spare (free 0: not listed).

  // Connected, not draining, not resting: it may be given work.
  bool usable() const {
    return link != nullptr && !draining && resting_until == absl::InfinitePast();
  }
};

class WorkerRegistry {
 public:
  using Index = std::map<FreeKey, Worker*>;

  // Actions expected to finish within `prefetch_below` (zero: never) are short: a busy worker
  // running only short ones may be sent more, up to its queue depth.
  explicit WorkerRegistry(absl::Duration prefetch_below) : prefetch_below_(prefetch_below) {}

  Worker* Find(const std::string& id);
  // The worker under `id`, created (and `*fresh` set) if there is none.
  Worker& FindOrAdd(const std::string& id, bool* fresh);
  void Erase(const std::string& id);

  // Keeps the free and spare indexes in step with `w`'s link, drain state and running work.
  void Refresh(Worker& w);
  // Workers with a free slot, best first.
  const Index& free() const { return free_; }
  // Busy workers running only short actions, with room in their queue, best first.
  const Index& spare() const { return spare_; }
  bool IsShort(absl::Duration expected) const;
  uint64_t NextAssignment() { return ++assignments_; }

  // Whether any connected worker offers `p`.
  bool AnyOffers(const reapi::Platform& p) const;
  // Whether any worker known (connected or within its grace) offers `p`.
  bool AnyKnownOffers(const reapi::Platform& p) const;
  // Whether a usable worker `e` has not failed on could run it, busy or not.
  bool AnotherCanRun(const Execution& e) const;
  // Why no connected worker can run `p`: each property none offers, with what they offer.
  std::string Unmet(const reapi::Platform& p) const;
  size_t connected() const;

  void Lost(Worker& w, absl::Time now);
  // Counts a failure of the worker's own; true when that makes `max_in_a_row` and it now rests
  // until `now + rest`.
  bool FailedItself(Worker& w, int max_in_a_row, absl::Time now, absl::Duration rest);
  void Succeeded(Worker& w) { w.infrastructure_failures = 0; }

  // The reaper's liveness job. Workers silent for longer than `liveness` are marked lost and
  // their links returned (for closing); rests that ended end; workers lost for longer than
  // `grace` are forgotten, and what they were running is returned for a retry elsewhere.
  struct Reaped {
    std::vector<std::shared_ptr<WorkerLink>> silent;
    std::vector<std::pair<std::string, std::shared_ptr<Execution>>> orphaned;  // worker, execution
  };
  Reaped CheckLiveness(absl::Time now, absl::Duration liveness, absl::Duration grace);

  template <typename F>
  void ForEach(F&& f) {
    for (auto& [id, w] : workers_) f(w);
  }

 private:
  const absl::Duration prefetch_below_;
  // Node map: the indexes point into it.
  absl::node_hash_map<std::string, Worker> workers_;
  Index free_;
  Index spare_;
  uint64_t assignments_ = 0;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_WORKER_REGISTRY_H_
