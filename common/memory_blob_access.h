// A store held in memory with a size cap and LRU eviction, for tests and small scratch farms. Like
// the disk store it checks nothing against the keys (the CAS wraps it in VerifyingBlobAccess); its
// readers vouch for the bytes, which never leave memory.
#ifndef KFARM_COMMON_MEMORY_BLOB_ACCESS_H_
#define KFARM_COMMON_MEMORY_BLOB_ACCESS_H_

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/blob_access.h"
#include "common/lru_index.h"

namespace kfarm {

class MemoryBlobAccess : public BlobAccess {
 public:
  explicit MemoryBlobAccess(int64_t max_bytes) : max_bytes_(max_bytes) {}

  // Called by writers on Commit.
  void Store(const Digest& digest, std::shared_ptr<const std::string> data);

 protected:
  absl::StatusOr<std::unique_ptr<BlobReader>> DoOpenRead(const Digest& digest) override;
  absl::StatusOr<std::unique_ptr<BlobWriter>> DoOpenWrite(const Digest& digest) override;
  absl::StatusOr<std::vector<Digest>> DoFindMissing(absl::Span<const Digest> digests) override;

 private:
  const int64_t max_bytes_;
  absl::Mutex mu_;
  LruIndex lru_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Digest, std::shared_ptr<const std::string>> blobs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kfarm

#endif  // KFARM_COMMON_MEMORY_BLOB_ACCESS_H_
