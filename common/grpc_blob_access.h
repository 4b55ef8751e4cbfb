// A remote CAS as a BlobAccess: reads stream through ByteStream.Read, writes through
// ByteStream.Write, FindMissing through FindMissingBlobs — the worker's and the clients' view of
// the scheduler's CAS, so the same decorators compose over it as over a local store. It checks
// nothing itself: wrap it in VerifyingBlobAccess, or read it into a store that verifies.
//
// Messages are framed by hand (bytestream_wire.h): a read hands out views into the slices gRPC
// received, a write sends the caller's bytes without copying them when they come with an owner.
#ifndef KFARM_COMMON_GRPC_BLOB_ACCESS_H_
#define KFARM_COMMON_GRPC_BLOB_ACCESS_H_

#include <memory>
#include <string>

#include <grpcpp/channel.h>
#include <grpcpp/impl/rpc_method.h>

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "common/blob_access.h"

namespace kfarm {

class GrpcBlobAccess : public BlobAccess {
 public:
  GrpcBlobAccess(std::shared_ptr<grpc::Channel> channel, std::string instance);

  // Bytes per ByteStream message written.
  static constexpr size_t kChunk = 1 << 20;

 protected:
  absl::StatusOr<std::unique_ptr<BlobReader>> DoOpenRead(const Digest& digest) override;
  absl::StatusOr<std::unique_ptr<BlobWriter>> DoOpenWrite(const Digest& digest) override;
  absl::StatusOr<std::vector<Digest>> DoFindMissing(absl::Span<const Digest> digests) override;

 private:
  std::shared_ptr<grpc::Channel> channel_;
  const std::string instance_;
  std::unique_ptr<reapi::ContentAddressableStorage::Stub> cas_;
  const grpc::internal::RpcMethod raw_read_;
  const grpc::internal::RpcMethod raw_write_;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_GRPC_BLOB_ACCESS_H_
