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

class UploadTable {
 public:
  using Clock = std::function<absl::Time()>;
  UploadTable(absl::Duration idle_limit, Clock clock = absl::Now)
      : idle_limit_(idle_limit), clock_(std::move(clock)) {}

  // The upload under `name`, created empty if unknown or expired. ABORTED while another stream
  // holds it. The caller owns it until Release.
  absl::StatusOr<std::shared_ptr<Upload>> Acquire(const std::string& name);
  // Gives the upload back; with `keep` false (it failed) it is forgotten.
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
    absl::Time last_active;
  };
  void SweepLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const absl::Duration idle_limit_;
  const Clock clock_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Entry> uploads_ ABSL_GUARDED_BY(mu_);
  absl::Time last_sweep_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_UPLOAD_TABLE_H_
