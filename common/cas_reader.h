// What reading from a remote CAS takes, as the worker's file cache uses it: a plan (which blobs
// go in batch calls, which stream alone), batch reads, streamed reads. CasClient is the real
// one over gRPC; tests give the cache a fake to count and hold its fetches.
#ifndef KFARM_COMMON_CAS_READER_H_
#define KFARM_COMMON_CAS_READER_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/digest.h"

namespace kfarm {

// How blobs travel: indices into the digests planned, each streamed alone or in a batch.
struct TransferPlan {
  std::vector<size_t> streamed;
  std::vector<std::vector<size_t>> batches;
};

class CasReader {
 public:
  virtual ~CasReader() = default;
  virtual TransferPlan PlanTransfers(absl::Span<const Digest> digests) = 0;
  // Every digest must be found; the bytes come back in order.
  virtual absl::StatusOr<std::vector<std::string>> BatchRead(const std::vector<Digest>& digests) = 0;
  // The blob's bytes to `sink`, verified: a mismatch fails after the last piece.
  virtual absl::Status StreamBlob(const Digest& digest,
                                  const std::function<absl::Status(absl::string_view)>& sink) = 0;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_CAS_READER_H_
