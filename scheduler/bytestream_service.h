// ByteStream: streamed, verified, resumable reads and writes of CAS blobs, plain or zstd.
#ifndef KFARM_SCHEDULER_BYTESTREAM_SERVICE_H_
#define KFARM_SCHEDULER_BYTESTREAM_SERVICE_H_

#include "common/blob_access.h"
#include "common/bytestream_wire.h"
#include "common/resource_name.h"
#include "google/bytestream/bytestream.grpc.pb.h"
#include "scheduler/authorizer.h"
#include "scheduler/upload_table.h"

namespace kfarm {

// Read and Write are served as raw messages (common/bytestream_wire): a blob the store has mapped
// goes to the transport without a copy in user space, and an upload goes from the slices gRPC
// received it in to the hash and the file, never through a protobuf string.
class ByteStreamService final : public google::bytestream::ByteStream::Service {
 public:
  using RawReadStream = grpc::ServerSplitStreamer<google::bytestream::ReadRequest, grpc::ByteBuffer>;
  using RawWriteStream = grpc::ServerReader<grpc::ByteBuffer>;

  // `uploads` is shared by every listener's ByteStream, so its limits hold for the scheduler as
  // a whole.
  ByteStreamService(BlobAccess* cas, int64_t max_blob_size, UploadTable* uploads,
                    const Authorizer* auth);

  grpc::Status RawRead(grpc::ServerContext* ctx, RawReadStream* stream);
  grpc::Status RawWrite(grpc::ServerContext* ctx, RawWriteStream* stream,
                        google::bytestream::WriteResponse* resp);
  grpc::Status QueryWriteStatus(grpc::ServerContext* ctx,
                                const google::bytestream::QueryWriteStatusRequest* req,
                                google::bytestream::QueryWriteStatusResponse* resp) override;

 private:
  absl::Status CheckResource(const ResourceName& r);
  absl::Status ReadBlob(grpc::ServerContext* ctx, const ResourceName& r, int64_t offset,
                        int64_t limit, RawReadStream* stream);
  absl::Status ReadCompressed(grpc::ServerContext* ctx, BlobReader& reader, int64_t size,
                              RawReadStream* stream);
  absl::StatusOr<bool> NextRequest(RawWriteStream* stream, grpc::ByteBuffer* buffer,
                                   WriteRequestFrame* req);
  absl::Status Accept(Upload& up, const ResourceName& r, WriteRequestFrame& req);
  absl::StatusOr<bool> AlreadyStored(const Digest& d);

  BlobAccess* cas_;
  const int64_t max_blob_size_;
  const Authorizer* auth_;
  UploadTable& uploads_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_BYTESTREAM_SERVICE_H_
