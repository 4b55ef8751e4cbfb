#include "scheduler/result_recorder.h"

#include "common/log.h"

namespace kfarm {

bool ResultRecorder::ShouldCache(const Execution& e, const reapi::ExecuteResponse& resp) const {
  return cache_ != nullptr && e.cacheable && resp.status().code() == 0 && resp.has_result() &&
         (resp.result().exit_code() == 0 || cache_nonzero_exit_);
}

void ResultRecorder::Record(const Execution& e, const reapi::ExecuteResponse& resp) const {
  if (!ShouldCache(e, resp)) return;
  absl::Status s = cache_->Put(e.params.instance_name, e.params.action_digest, resp.result());
  if (!s.ok()) {
    LogWarning("action ", e.params.action_digest.ToString(), " on instance \"",
               e.params.instance_name, "\": result not cached: ", s.message());
  }
}

}  // namespace kfarm
