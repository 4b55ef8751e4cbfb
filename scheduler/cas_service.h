// ContentAddressableStorage service: FindMissingBlobs, the batch calls and GetTree.
#ifndef KFARM_SCHEDULER_CAS_SERVICE_H_
#define KFARM_SCHEDULER_CAS_SERVICE_H_

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "common/blob_access.h"
#include "scheduler/authorizer.h"

namespace kfarm {

struct CasLimits {
  int64_t max_batch_total_size_bytes = 4 << 20;
  int64_t max_cas_blob_size_bytes = 0;  // 0 = unlimited.
};

class CasService final : public reapi::ContentAddressableStorage::Service {
 public:
  CasService(BlobAccess* cas, CasLimits limits, const Authorizer* auth)
      : cas_(cas), limits_(limits), auth_(auth) {}

  grpc::Status FindMissingBlobs(grpc::ServerContext* ctx, const reapi::FindMissingBlobsRequest* req,
                                reapi::FindMissingBlobsResponse* resp) override;
  grpc::Status BatchUpdateBlobs(grpc::ServerContext* ctx, const reapi::BatchUpdateBlobsRequest* req,
                                reapi::BatchUpdateBlobsResponse* resp) override;
  grpc::Status BatchReadBlobs(grpc::ServerContext* ctx, const reapi::BatchReadBlobsRequest* req,
                              reapi::BatchReadBlobsResponse* resp) override;
  grpc::Status GetTree(grpc::ServerContext* ctx, const reapi::GetTreeRequest* req,
                       grpc::ServerWriter<reapi::GetTreeResponse>* writer) override;

 private:
  absl::Status UpdateOne(const reapi::BatchUpdateBlobsRequest::Request& r);

  BlobAccess* cas_;
  CasLimits limits_;
  const Authorizer* auth_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_CAS_SERVICE_H_
