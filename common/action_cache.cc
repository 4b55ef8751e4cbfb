#include "common/action_cache.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/action_result_blobs.h"
#include "common/completeness_checking_blob_access.h"
#include "common/status.h"

namespace kfarm {
namespace {

// Results of different instances must not mix, so the key hashes the instance in.
Digest KeyFor(absl::string_view instance, const Digest& action) {
  return Digest(Digest::Of(absl::StrCat(instance, "\n", action.ToString())).hash(), 0);
}

}  // namespace

absl::StatusOr<reapi::ActionResult> ActionCache::Get(absl::string_view instance,
                                                     const Digest& action) {
  auto bytes = results_->Get(KeyFor(instance, action));
  if (!bytes.ok()) {
    if (bytes.status().code() != absl::StatusCode::kNotFound) return bytes.status();
    absl::string_view why = bytes.status().message();
    if (absl::StartsWith(why, CompletenessCheckingBlobAccess::kRefusal)) {
      return absl::NotFoundError(absl::StrCat("action ", action.ToString(), ": ", why));
    }
    return absl::NotFoundError(absl::StrCat("no cached result for action ", action.ToString()));
  }
  reapi::ActionResult result;
  if (!result.ParseFromString(*bytes)) {
    return absl::NotFoundError(absl::StrCat("cached result for action ", action.ToString(),
                                            " is unreadable; treating it as a miss"));
  }
  return result;
}

absl::Status ActionCache::Put(absl::string_view instance, const Digest& action,
                              const reapi::ActionResult& result) {
  RETURN_IF_ERROR(DirectBlobs(result).status());
  std::string bytes;
  result.SerializeToString(&bytes);
  return results_->Put(KeyFor(instance, action), bytes);
}

}  // namespace kfarm
