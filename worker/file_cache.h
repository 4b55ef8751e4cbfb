// The worker's local CAS: read-only, content-addressed files that input roots hardlink to, with
// the executable bit part of the key (two stores, 0444 and 0555), LRU eviction under a size cap,
// verification on arrival, and one download per digest however many actions want it at once.
#ifndef KFARM_WORKER_FILE_CACHE_H_
#define KFARM_WORKER_FILE_CACHE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/cas_reader.h"
#include "common/disk_blob_access.h"
#include "common/verifying_blob_access.h"

namespace kfarm {

class FileCache {
 public:
  struct Options {
    std::string root;
    int64_t max_bytes = int64_t{10} << 30;
    int owner_uid = -1;  // See DiskBlobAccess::Options::owner_uid.
  };
  static absl::StatusOr<std::unique_ptr<FileCache>> Open(const Options& options, CasReader* cas);

  struct Want {
    Digest digest;
    bool executable;
  };
  // Makes every wanted file present locally (fetching what is missing: small ones batched,
  // large ones streamed). Afterwards Path() names them.
  absl::Status Ensure(const std::vector<Want>& wants);
  std::string Path(const Digest& digest, bool executable) const;

  // Blobs of at least `min_size` bytes held here (for the scheduler's cache affinity).
  std::vector<Digest> LargeBlobs(int64_t min_size);
  // Large blobs fetched since the last call (reported to the scheduler in heartbeats).
  std::vector<Digest> TakeNewLargeBlobs();
  int64_t bytes_fetched() const { return bytes_fetched_; }
  // Inputs asked for that were already here, and those that had to be fetched.
  int64_t hits() const { return hits_; }
  int64_t misses() const { return misses_; }

 private:
  struct Flight {
    absl::Mutex mu;
    bool done = false;
    absl::Status status;
  };
  explicit FileCache(CasReader* cas) : cas_(cas) {}
  // Downloads go through a verifying layer: the worker never trusts the bytes it is sent either.
  BlobAccess* Store(bool executable) const {
    return executable ? exec_verified_.get() : plain_verified_.get();
  }
  absl::Status Fetch(const std::vector<Want>& wants);
  absl::Status FetchOne(const Want& w);

  CasReader* cas_;
  std::unique_ptr<VerifyingBlobAccess> plain_verified_;
  std::unique_ptr<VerifyingBlobAccess> exec_verified_;
  DiskBlobAccess* plain_ = nullptr;  // Owned by plain_verified_.
  DiskBlobAccess* exec_ = nullptr;   // Owned by exec_verified_.
  absl::Mutex mu_;
  absl::flat_hash_map<std::pair<Digest, bool>, std::shared_ptr<Flight>> flights_ ABSL_GUARDED_BY(mu_);
  std::atomic<int64_t> bytes_fetched_{0};
  std::atomic<int64_t> hits_{0};
  std::atomic<int64_t> misses_{0};
  std::vector<Digest> new_large_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kfarm

#endif  // KFARM_WORKER_FILE_CACHE_H_
