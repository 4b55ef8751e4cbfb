// The status page's data: the queue's report, and each operation's story completed from
// storage — the command from the CAS (the queue drops it once the action has run) and the
// output the action wrote. Operations the action cache answered are described from the cache.
// Shared by the HTTP pages and the StatusService, which check permissions themselves.
#ifndef KFARM_SCHEDULER_STATUS_SOURCE_H_
#define KFARM_SCHEDULER_STATUS_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "common/action_cache.h"
#include "common/blob_access.h"
#include "kfarm/status.pb.h"
#include "scheduler/build_queue.h"

namespace kfarm {

// Bytes of stdout and stderr shown at most, each.
inline constexpr size_t kMaxShownOutput = 64 << 10;

class StatusSource {
 public:
  // `queue` may be null (a cache-only scheduler): the report then holds no queue.
  StatusSource(BuildQueue* queue, ActionCache* cache, BlobAccess* cas)
      : queue_(queue), cache_(cache), cas_(cas) {}

  status::StatusReport Report(int max_recent);
  // NOT_FOUND naming the operation when neither the queue nor the action cache knows it.
  absl::StatusOr<status::OperationDetail> Operation(const std::string& name);

 private:
  // The command, platform and output; what could not be read is said in `unavailable`.
  void CompleteFromStorage(const Digest& action, const reapi::ActionResult* result,
                           status::OperationDetail& detail);

  BuildQueue* const queue_;
  ActionCache* const cache_;
  BlobAccess* const cas_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_STATUS_SOURCE_H_
