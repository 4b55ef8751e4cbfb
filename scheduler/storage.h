// Builds the scheduler's stores from its configuration, composing a backend (disk or memory) with
// the decorators that make it a CAS or an action cache, and the ActionCache on top.
#ifndef KFARM_SCHEDULER_STORAGE_H_
#define KFARM_SCHEDULER_STORAGE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/action_cache.h"
#include "common/blob_access.h"
#include "kfarm/config.pb.h"

namespace kfarm {

struct Storage {
  std::unique_ptr<BlobAccess> cas;      // VerifyingBlobAccess over the backend.
  std::unique_ptr<BlobAccess> results;  // CompletenessCheckingBlobAccess over the backend.
  std::unique_ptr<ActionCache> action_cache;
};

// Fills unset fields of the whole scheduler configuration with their documented defaults.
config::SchedulerConfig WithDefaults(config::SchedulerConfig c);

absl::StatusOr<Storage> OpenStorage(const config::SchedulerConfig& c);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_STORAGE_H_
