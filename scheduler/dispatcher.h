// Which queued execution runs next and where. The next comes from the fair queue (priority, then
// fair share between builds, then longest expected, then first come); it goes to a free worker
// already holding its largest input, else to the one with the most free slots — or, when every
// worker is busy and the action is short, to a busy worker running only short actions, which
// holds it and starts it as a slot frees (prefetch: no round trip between one action and the
// next). An action avoids the workers it failed on while another could run it.
// Not locked itself: BuildQueue's lock guards it.
#ifndef KFARM_SCHEDULER_DISPATCHER_H_
#define KFARM_SCHEDULER_DISPATCHER_H_

#include <memory>

#include "absl/functional/function_ref.h"
#include "scheduler/duration_history.h"
#include "scheduler/execution_record.h"
#include "scheduler/fair_queue.h"
#include "scheduler/worker_registry.h"

namespace kfarm {

class Dispatcher {
 public:
  Dispatcher(WorkerRegistry* workers, bool cache_affinity)
      : workers_(workers), cache_affinity_(cache_affinity) {}

  // Queues `e` (again), ordered by what its shape is expected to take now.
  void Enqueue(const std::shared_ptr<Execution>& e);
  // Takes `e` out of the ready queue, or out of its build's running count.
  void Leave(Execution& e);
  // Pairs queued executions with workers while any can take one; each pairing is recorded on
  // both sides, then `assigned` is called (to send it).
  void Dispatch(absl::Time now,
                absl::FunctionRef<void(Worker&, const std::shared_ptr<Execution>&)> assigned);

  // Learned durations per shape: recorded on completions, read when queueing and choosing.
  DurationHistory& history() { return history_; }
  size_t queued() const { return ready_.size(); }
  template <typename F>
  void ForEachQueued(F&& f) const {
    ready_.ForEach(std::forward<F>(f));
  }

 private:
  // A worker that can run `e` now, or null; with `prefer_holder`, one holding its largest input.
  Worker* Choose(const Execution& e, bool prefer_holder);

  WorkerRegistry* const workers_;
  const bool cache_affinity_;
  FairQueue<std::shared_ptr<Execution>> ready_;
  DurationHistory history_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_DISPATCHER_H_
