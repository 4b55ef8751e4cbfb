// Builds the scheduler's stores from its configuration: the CAS, the action cache's own store,
// and the ActionCache on top of both.
#ifndef KFARM_SCHEDULER_STORAGE_H_
#define KFARM_SCHEDULER_STORAGE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "common/action_cache.h"
#include "common/blob_access.h"
#include "kfarm/config.pb.h"

namespace kfarm {

struct Storage {
  std::unique_ptr<BlobAccess> cas;
  std::unique_ptr<BlobAccess> results;
  std::unique_ptr<ActionCache> action_cache;
};

// Fills unset fields of the whole scheduler configuration with their documented defaults.
config::SchedulerConfig WithDefaults(config::SchedulerConfig c);

absl::StatusOr<Storage> OpenStorage(const config::SchedulerConfig& c);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_STORAGE_H_
