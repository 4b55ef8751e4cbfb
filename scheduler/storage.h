// Builds the scheduler's stores from its configuration, composing a backend (disk or memory) with
// the decorators that make it a CAS or an action cache, and the ActionCache on top.
#ifndef KFARM_SCHEDULER_STORAGE_H_
#define KFARM_SCHEDULER_STORAGE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/action_cache.h"
#include "common/blob_access.h"
#include "common/disk_blob_access.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "kfarm/config.pb.h"

namespace kfarm {

struct Storage {
  // MetricsBlobAccess over VerifyingBlobAccess over the backend.
  std::unique_ptr<BlobAccess> cas;
  // MetricsBlobAccess over CompletenessCheckingBlobAccess over the backend.
  std::unique_ptr<BlobAccess> results;
  // The disk backends, by store name, for their size gauges; empty with the memory backend.
  std::vector<std::pair<std::string, DiskBlobAccess*>> disks;
  std::unique_ptr<ActionCache> action_cache;
};

// Fills unset fields of the whole scheduler configuration with their documented defaults.
config::SchedulerConfig WithDefaults(config::SchedulerConfig c);

// The stores report to `registry`.
absl::StatusOr<Storage> OpenStorage(const config::SchedulerConfig& c,
                                    prometheus::Registry& registry);

// Size, count and evictions of each disk store, for a scrape.
std::vector<prometheus::MetricFamily> StoreGauges(const Storage& storage);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_STORAGE_H_
