#include "common/completeness_checking_blob_access.h"

#include "absl/strings/str_cat.h"
#include "common/action_result_blobs.h"
#include "common/status.h"

namespace kfarm {

absl::StatusOr<std::unique_ptr<BlobReader>> CompletenessCheckingBlobAccess::DoOpenRead(
    const Digest& key) {
  ASSIGN_OR_RETURN(std::string bytes, base()->Get(key));
  reapi::ActionResult result;
  if (!result.ParseFromString(bytes)) {
    return absl::NotFoundError(
        absl::StrCat(kRefusal, "is unreadable (not an ActionResult); treating it as a miss"));
  }
  auto blobs = ReferencedBlobs(result, *cas_);
  if (!blobs.ok()) {
    return absl::NotFoundError(absl::StrCat(kRefusal, "is incomplete: ", blobs.status().message()));
  }
  // FindMissing also extends the lifetime of everything the result references.
  ASSIGN_OR_RETURN(std::vector<Digest> missing, cas_->FindMissing(*blobs));
  if (!missing.empty()) {
    return absl::NotFoundError(absl::StrCat(kRefusal, "is incomplete: it references blob ",
                                            missing[0].ToString(),
                                            ", which is no longer in the CAS"));
  }
  return std::make_unique<StringBlobReader>(std::make_shared<const std::string>(std::move(bytes)));
}

}  // namespace kfarm
