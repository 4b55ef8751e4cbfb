// The action cache: ActionResults keyed by (instance name, action digest), kept in a BlobAccess
// of its own, and served only while every blob they reference is still in the CAS — a hit whose
// outputs were evicted is a miss, never a broken build ("builds without the bytes" relies on it).
#ifndef KFARM_COMMON_ACTION_CACHE_H_
#define KFARM_COMMON_ACTION_CACHE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/blob_access.h"

namespace kfarm {

class ActionCache {
 public:
  // `results` holds serialized ActionResults (a non-verifying store); `cas` the outputs.
  ActionCache(BlobAccess* results, BlobAccess* cas) : results_(results), cas_(cas) {}

  // NOT_FOUND on a miss or when a referenced blob is gone (the message names it).
  absl::StatusOr<reapi::ActionResult> Get(absl::string_view instance, const Digest& action);
  // INVALID_ARGUMENT when the result holds a malformed digest (the message names the field).
  absl::Status Put(absl::string_view instance, const Digest& action,
                   const reapi::ActionResult& result);

  // Every blob `result` references, including the files inside its output Trees; for
  // completeness checks and lifetime extension.
  absl::StatusOr<std::vector<Digest>> ReferencedBlobs(const reapi::ActionResult& result);

 private:
  absl::StatusOr<std::vector<Digest>> DirectBlobs(const reapi::ActionResult& result);

  BlobAccess* results_;
  BlobAccess* cas_;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_ACTION_CACHE_H_
