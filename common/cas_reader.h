// What reading from a remote CAS takes, as the worker's file cache uses it: a plan (which blobs
// go in batch calls, which stream alone), batch reads, and the remote CAS as a store for the
// blobs that stream. CasClient is the real one over gRPC; tests give the cache a fake to count
// and hold its fetches.
#ifndef KFARM_COMMON_CAS_READER_H_
#define KFARM_COMMON_CAS_READER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "common/blob_access.h"
#include "common/digest.h"
#include "common/directory_tree.h"

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
  // Every digest must be found; the bytes come back in order, verified against their digests.
  virtual absl::StatusOr<std::vector<std::string>> BatchRead(const std::vector<Digest>& digests) = 0;
  // The remote CAS as a store, unverified: its reads go into a store that verifies them, so each
  // byte is hashed once on its way in.
  virtual BlobAccess* remote() = 0;
  // Every Directory of the tree under `root`, by digest, as stored; NOT_FOUND naming one absent.
  virtual absl::StatusOr<DirectoryMap> FetchDirectories(const Digest& root) = 0;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_CAS_READER_H_
