// A CAS held in memory with a size cap and LRU eviction. For tests and small scratch farms.
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
  // With verify_content=false it holds arbitrary values under digest-shaped keys (action cache).
  explicit MemoryBlobAccess(int64_t max_bytes, bool verify_content = true)
      : max_bytes_(max_bytes), verify_content_(verify_content) {}
  bool verify_content() const { return verify_content_; }

  // Called by writers once their bytes are verified.
  void Store(const Digest& digest, std::shared_ptr<const std::string> data);

 protected:
  absl::StatusOr<std::unique_ptr<BlobReader>> DoOpenRead(const Digest& digest) override;
  absl::StatusOr<std::unique_ptr<BlobWriter>> DoOpenWrite(const Digest& digest) override;
  absl::StatusOr<std::vector<Digest>> DoFindMissing(absl::Span<const Digest> digests) override;

 private:
  const int64_t max_bytes_;
  const bool verify_content_;
  absl::Mutex mu_;
  LruIndex lru_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Digest, std::shared_ptr<const std::string>> blobs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kfarm

#endif  // KFARM_COMMON_MEMORY_BLOB_ACCESS_H_
