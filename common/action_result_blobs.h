// The blobs an ActionResult references: what the action cache validates on a write and what the
// completeness check looks for in the CAS on a read.
#ifndef KFARM_COMMON_ACTION_RESULT_BLOBS_H_
#define KFARM_COMMON_ACTION_RESULT_BLOBS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "common/blob_access.h"
#include "common/digest.h"

namespace kfarm {

// The digests the result names itself (output files, output Trees, stdout and stderr);
// INVALID_ARGUMENT naming the field of the first malformed one.
absl::StatusOr<std::vector<Digest>> DirectBlobs(const reapi::ActionResult& result);

// DirectBlobs plus every file inside the output Trees, read from `cas`. NOT_FOUND naming the
// output directory when a Tree is missing or is not a Tree.
absl::StatusOr<std::vector<Digest>> ReferencedBlobs(const reapi::ActionResult& result,
                                                    BlobAccess& cas);

}  // namespace kfarm

#endif  // KFARM_COMMON_ACTION_RESULT_BLOBS_H_
