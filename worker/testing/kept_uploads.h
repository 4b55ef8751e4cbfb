// A CasUploader that keeps what it is given, for the worker's unit tests. Tests only.
#ifndef KFARM_WORKER_TESTING_KEPT_UPLOADS_H_
#define KFARM_WORKER_TESTING_KEPT_UPLOADS_H_

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/cas_client.h"
#include "common/file_util.h"

namespace kfarm {

class KeptUploads : public CasUploader {
 public:
  absl::Status UploadMissing(const std::vector<BlobSource>& blobs) override {
    for (const BlobSource& b : blobs) {
      kept[b.digest] = b.data ? *b.data : ReadFile(b.path).value_or("<unreadable>");
    }
    return absl::OkStatus();
  }
  absl::flat_hash_map<Digest, std::string> kept;
};

}  // namespace kfarm

#endif  // KFARM_WORKER_TESTING_KEPT_UPLOADS_H_
