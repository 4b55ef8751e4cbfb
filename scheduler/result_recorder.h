// Which results the action cache keeps, and keeping them: a cacheable action's successful run
// (and, when configured, one that exited non-zero). Called before any client is told the
// operation completed, so a client that then asks the cache finds the result.
#ifndef KFARM_SCHEDULER_RESULT_RECORDER_H_
#define KFARM_SCHEDULER_RESULT_RECORDER_H_

#include "common/action_cache.h"
#include "scheduler/execution_record.h"

namespace kfarm {

class ResultRecorder {
 public:
  // `cache` may be null: nothing is recorded or kept (a queue tested without storage).
  ResultRecorder(ActionCache* cache, bool cache_nonzero_exit)
      : cache_(cache), cache_nonzero_exit_(cache_nonzero_exit) {}

  bool ShouldCache(const Execution& e, const reapi::ExecuteResponse& resp) const;
  // Writes the result when it should be cached. A failed write is logged, naming the action:
  // the client still gets its result, only later lookups miss.
  void Record(const Execution& e, const reapi::ExecuteResponse& resp) const;

 private:
  ActionCache* const cache_;
  const bool cache_nonzero_exit_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_RESULT_RECORDER_H_
