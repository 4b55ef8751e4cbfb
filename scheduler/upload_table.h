// Unfinished ByteStream uploads, kept between streams so a client can resume one after a broken
// connection (QueryWriteStatus tells it where). One stream at a time may drive an upload.
#ifndef KFARM_SCHEDULER_UPLOAD_TABLE_H_
#define KFARM_SCHEDULER_UPLOAD_TABLE_H_

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/blob_access.h"
#include "common/zstd_stream.h"

namespace kfarm {

struct Upload {
  std::unique_ptr<BlobWriter> writer;
  std::unique_ptr<ZstdDecompressor> zstd;  // Set for compressed-blobs uploads.
  int64_t committed = 0;                   // Bytes accepted as sent on the wire.
  bool complete = false;
};

// Kept uploads are bounded: each holds an open file and disk space, and a client that opens
// uploads and walks away must not exhaust either. Unfinished uploads nobody is writing are
// dropped after idle_limit, and beyond max_idle (count) or max_idle_bytes (bytes received), the
// least recently active first.
struct UploadLimits {
  absl::Duration idle_limit = absl::Seconds(60);
  int max_idle = 256;
  int64_t max_idle_bytes = int64_t{1} << 30;
};

class UploadTable {
 public:
  using Clock = std::function<absl::Time()>;
  explicit UploadTable(UploadLimits limits, Clock clock = absl::Now)
      : limits_(limits), clock_(std::move(clock)) {}

  // The upload under `name`, created empty if unknown or expired. ABORTED while another stream
  // holds it. The caller owns it until Release.
  absl::StatusOr<std::shared_ptr<Upload>> Acquire(const std::string& name);
  // Gives the upload back; with `keep` false (it failed) it is forgotten. Unfinished, it is kept
  // for a resuming stream within the limits.
  void Release(const std::string& name, bool keep);

  struct Progress {
    int64_t committed;
    bool complete;
  };
  std::optional<Progress> Query(const std::string& name);

 private:
  struct Entry {
    std::shared_ptr<Upload> upload;
    bool busy = false;
    bool idle_unfinished = false;  // Counted in idle_count_ and idle_bytes_.
    absl::Time last_active;
  };
  void SweepLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes `e` out of the idle counts (it is being written again, or dropped).
  void UncountLocked(Entry& e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Drops the least recently active idle unfinished uploads while over max_idle(_bytes).
  void EnforceLimitsLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const UploadLimits limits_;
  const Clock clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> uploads_ ABSL_GUARDED_BY(mu_);
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu_);
  int idle_count_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t idle_bytes_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_UPLOAD_TABLE_H_
