// The action cache as REAPI sees it: ActionResults keyed by (instance name, action digest), over
// a BlobAccess that holds them serialized — in the scheduler, a store inside
// CompletenessCheckingBlobAccess, so a result whose outputs were evicted reads as a miss.
#ifndef KFARM_COMMON_ACTION_CACHE_H_
#define KFARM_COMMON_ACTION_CACHE_H_

#include "absl/status/statusor.h"
#include "common/blob_access.h"

namespace kfarm {

class ActionCache {
 public:
  explicit ActionCache(BlobAccess* results) : results_(results) {}

  // NOT_FOUND on a miss or when the store refuses the result (the message says why).
  absl::StatusOr<reapi::ActionResult> Get(absl::string_view instance, const Digest& action);
  // INVALID_ARGUMENT when the result holds a malformed digest (the message names the field).
  absl::Status Put(absl::string_view instance, const Digest& action,
                   const reapi::ActionResult& result);

 private:
  BlobAccess* results_;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_ACTION_CACHE_H_
