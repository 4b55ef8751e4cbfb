// The action cache's decorator: a stored ActionResult is served only while every blob it
// references — output files, the files inside output Trees, stdout and stderr — is still in the
// CAS, so a hit whose outputs were evicted is a miss, never a broken build ("builds without the
// bytes" relies on it). Checking also extends those blobs' lifetime. As Buildbarn's
// CompletenessCheckingBlobAccess.
#ifndef KFARM_COMMON_COMPLETENESS_CHECKING_BLOB_ACCESS_H_
#define KFARM_COMMON_COMPLETENESS_CHECKING_BLOB_ACCESS_H_

#include <memory>

#include "common/blob_access.h"

namespace kfarm {

class CompletenessCheckingBlobAccess : public BlobAccessDecorator {
 public:
  // Refusals are NOT_FOUND with a message starting with this, naming what is missing.
  static constexpr absl::string_view kRefusal = "the cached result ";

  // `results` holds serialized ActionResults; `cas` (not owned) the blobs they reference.
  CompletenessCheckingBlobAccess(std::unique_ptr<BlobAccess> results, BlobAccess* cas)
      : BlobAccessDecorator(std::move(results)), cas_(cas) {}

 protected:
  absl::StatusOr<std::unique_ptr<BlobReader>> DoOpenRead(const Digest& key) override;

 private:
  BlobAccess* cas_;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_COMPLETENESS_CHECKING_BLOB_ACCESS_H_
