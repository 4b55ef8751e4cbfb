// An Execute answered from the action cache leaves nothing in the queue: its operation's name
// carries the instance and the action digest, so GetOperation, WaitOperation and WaitExecution
// answer it by reading the action cache again, as long as the result is there.
#ifndef KFARM_SCHEDULER_CACHED_OPERATION_H_
#define KFARM_SCHEDULER_CACHED_OPERATION_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/action_cache.h"
#include "common/digest.h"
#include "scheduler/build_queue.h"

namespace kfarm {

struct CachedOperationRef {
  std::string instance;
  Digest action;
};

// "operations/cached-HASH-SIZE", then ".INSTANCE" in web-safe base64 when the instance is not "".
std::string CachedOperationName(absl::string_view instance, const Digest& action);
// Whether `name` is such a name (nullopt for a queue's operation or anything malformed).
std::optional<CachedOperationRef> ParseCachedOperationName(absl::string_view name);

// The finished operation `name`, whose result the action cache still holds; NOT_FOUND naming
// the action and instance once it no longer does.
absl::StatusOr<OperationView> CachedOperation(ActionCache* cache, const std::string& name,
                                              const CachedOperationRef& ref);
// The finished operation `name` for `result`, found in the action cache for `action`.
OperationView CachedOperationView(const std::string& name, const Digest& action,
                                  reapi::ActionResult result);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_CACHED_OPERATION_H_
