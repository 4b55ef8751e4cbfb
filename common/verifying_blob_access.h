// The decorator that makes a store a CAS: no bytes become a blob unless they hash to its digest,
// and no bytes are handed out as a blob unless they were checked — by the store beneath, when it
// vouches for them (BlobReader::vouched), else here, as they stream past. The one place where "the
// client's hash is never trusted" is enforced, whatever the backend.
#ifndef KFARM_COMMON_VERIFYING_BLOB_ACCESS_H_
#define KFARM_COMMON_VERIFYING_BLOB_ACCESS_H_

#include <memory>

#include "common/blob_access.h"

namespace kfarm {

class VerifyingBlobAccess : public BlobAccessDecorator {
 public:
  using BlobAccessDecorator::BlobAccessDecorator;

 protected:
  absl::StatusOr<std::unique_ptr<BlobReader>> DoOpenRead(const Digest& digest) override;
  absl::StatusOr<std::unique_ptr<BlobWriter>> DoOpenWrite(const Digest& digest) override;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_VERIFYING_BLOB_ACCESS_H_
