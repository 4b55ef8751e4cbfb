// Turns an ExecuteRequest into ExecuteParams: loads the Action and Command from the CAS, checks
// that the whole input tree is present, resolves timeout, platform and priority. Everything
// missing is found before queuing and reported in one FAILED_PRECONDITION whose
// PreconditionFailure lists each blob ("MISSING", "blobs/{hash}/{size}") — what Bazel re-uploads.
#ifndef KFARM_SCHEDULER_ACTION_LOADER_H_
#define KFARM_SCHEDULER_ACTION_LOADER_H_

#include <grpcpp/support/status.h>

#include "common/blob_access.h"
#include "kfarm/config.pb.h"
#include "scheduler/build_queue.h"

namespace kfarm {

class ActionLoader {
 public:
  ActionLoader(BlobAccess* cas, const config::ExecutionConfig& config,
               bool allow_absolute_symlinks)
      : cas_(cas), config_(config), allow_absolute_symlinks_(allow_absolute_symlinks) {}

  // grpc::Status because a FAILED_PRECONDITION carries binary details.
  grpc::Status Load(const reapi::ExecuteRequest& req, const Digest& action_digest,
                    ExecuteParams* out);

 private:
  BlobAccess* cas_;
  const config::ExecutionConfig& config_;
  bool allow_absolute_symlinks_;
};

// A FAILED_PRECONDITION listing `missing` as PreconditionFailure violations.
grpc::Status MissingBlobsStatus(const std::vector<std::pair<Digest, std::string>>& missing);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_ACTION_LOADER_H_
