// The decorator that makes a store observable: every read, write and FindMissing counted by
// outcome, their bytes and durations, and FindMissing's batch sizes, as Prometheus metrics
// labelled with the store's name ("cas", "ac", a worker's "cache"). On the action cache's store,
// reads that are ok or not_found are its hits and misses.
#ifndef KFARM_COMMON_METRICS_BLOB_ACCESS_H_
#define KFARM_COMMON_METRICS_BLOB_ACCESS_H_

#include <memory>
#include <string>

#include "common/blob_access.h"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace kfarm {

class MetricsBlobAccess : public BlobAccessDecorator {
 public:
  MetricsBlobAccess(std::unique_ptr<BlobAccess> base, const std::string& store,
                    prometheus::Registry& registry);

  // One kind of operation's metrics; internal to the readers and writers.
  struct Operation {
    prometheus::Counter* ok;
    prometheus::Counter* not_found;
    prometheus::Counter* invalid;
    prometheus::Counter* error;
    prometheus::Counter* abandoned;  // A reader or writer dropped before its end.
    prometheus::Counter* bytes;      // Null for FindMissing.
    prometheus::Histogram* seconds;
    void Done(const absl::Status& status, double seconds);
  };

 protected:
  absl::StatusOr<std::unique_ptr<BlobReader>> DoOpenRead(const Digest& digest) override;
  absl::StatusOr<std::unique_ptr<BlobWriter>> DoOpenWrite(const Digest& digest) override;
  absl::StatusOr<std::vector<Digest>> DoFindMissing(absl::Span<const Digest> digests) override;

 private:
  Operation read_, write_, find_missing_;
  prometheus::Histogram* find_missing_digests_;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_METRICS_BLOB_ACCESS_H_
