// ByteStream: streamed, verified, resumable reads and writes of CAS blobs, plain or zstd.
#ifndef KFARM_SCHEDULER_BYTESTREAM_SERVICE_H_
#define KFARM_SCHEDULER_BYTESTREAM_SERVICE_H_

#include "common/blob_access.h"
#include "common/resource_name.h"
#include "google/bytestream/bytestream.grpc.pb.h"
#include "scheduler/upload_table.h"

namespace kfarm {

// Read is served as raw messages (a ReadResponse is one bytes field, framed by hand) so that a
// blob the store has mapped goes to the transport without a copy in user space.
class ByteStreamService final : public google::bytestream::ByteStream::Service {
 public:
  using RawReadStream = grpc::ServerSplitStreamer<google::bytestream::ReadRequest, grpc::ByteBuffer>;

  ByteStreamService(BlobAccess* cas, int64_t max_blob_size, absl::Duration upload_idle_limit);

  grpc::Status RawRead(grpc::ServerContext* ctx, RawReadStream* stream);
  grpc::Status Write(grpc::ServerContext* ctx,
                     grpc::ServerReader<google::bytestream::WriteRequest>* reader,
                     google::bytestream::WriteResponse* resp) override;
  grpc::Status QueryWriteStatus(grpc::ServerContext* ctx,
                                const google::bytestream::QueryWriteStatusRequest* req,
                                google::bytestream::QueryWriteStatusResponse* resp) override;

 private:
  absl::Status CheckResource(const ResourceName& r);
  absl::Status ReadBlob(grpc::ServerContext* ctx, const ResourceName& r, int64_t offset,
                        int64_t limit, RawReadStream* stream);
  absl::Status ReadCompressed(grpc::ServerContext* ctx, BlobReader& reader, int64_t size,
                              RawReadStream* stream);
  absl::Status Accept(Upload& up, const ResourceName& r, const google::bytestream::WriteRequest& req);
  absl::StatusOr<bool> AlreadyStored(const Digest& d);

  BlobAccess* cas_;
  const int64_t max_blob_size_;
  UploadTable uploads_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_BYTESTREAM_SERVICE_H_
