// What the worker loop hands an assignment to: the Executor (stage, run, upload), or in tests a
// fake that holds and finishes actions on cue.
#ifndef KFARM_WORKER_ACTION_RUNNER_H_
#define KFARM_WORKER_ACTION_RUNNER_H_

#include "kfarm/worker.pb.h"
#include "worker/process_runner.h"

namespace kfarm {

class ActionRunner {
 public:
  virtual ~ActionRunner() = default;
  // Runs `a` to its end, or until `cancel`; failures are in the completion, never thrown.
  virtual worker::Completion Run(const worker::Assignment& a, CancelSignal* cancel) = 0;
};

}  // namespace kfarm

#endif  // KFARM_WORKER_ACTION_RUNNER_H_
