// Client side of the CAS: what kfarm's CLI, worker and kernel client use to move blobs.
// Uploads ask FindMissingBlobs first and send only what is missing — small blobs batched,
// large ones streamed through ByteStream from their files without loading them whole.
#ifndef KFARM_COMMON_CAS_CLIENT_H_
#define KFARM_COMMON_CAS_CLIENT_H_

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <grpcpp/channel.h>
#include <grpcpp/impl/rpc_method.h>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "common/dial.h"
#include "common/digest.h"
#include "common/merkle.h"
#include "google/bytestream/bytestream.grpc.pb.h"

namespace kfarm {

// A blob to upload: bytes in memory, or a file read when (and only if) it must be sent.
struct BlobSource {
  Digest digest;
  std::string path;                        // Used when data is null.
  std::shared_ptr<const std::string> data;
};

class CasClient {
 public:
  CasClient(std::shared_ptr<grpc::Channel> channel, std::string instance);

  absl::StatusOr<std::vector<Digest>> FindMissing(absl::Span<const Digest> digests);
  absl::Status UploadMissing(const std::vector<BlobSource>& blobs);
  absl::Status UploadTree(const MerkleTree& tree);
  // One blob through ByteStream, whatever its size, without asking FindMissing first.
  absl::Status StreamUpload(const BlobSource& blob);

  absl::StatusOr<std::string> ReadBlob(const Digest& digest);
  // Streams the blob's bytes to `sink` (verified: a mismatch fails after the last piece).
  absl::Status StreamBlob(const Digest& digest,
                          const std::function<absl::Status(absl::string_view)>& sink);
  // Small blobs in one BatchReadBlobs call; every digest must be found.
  absl::StatusOr<std::vector<std::string>> BatchRead(const std::vector<Digest>& digests);
  int64_t max_batch_bytes() const { return max_batch_bytes_; }
  absl::Status DownloadFile(const Digest& digest, const std::string& path, bool executable);
  // Every Directory of the tree under `root` (root first), via GetTree.
  absl::StatusOr<std::vector<reapi::Directory>> GetTree(const Digest& root);
  // Recreates the tree under `out_dir` (which must not exist yet).
  absl::Status DownloadTree(const Digest& root, const std::string& out_dir);

  // Blobs at or above this size travel through ByteStream.
  static constexpr int64_t kStreamThreshold = 1 << 20;

 private:
  absl::Status BatchUpload(const std::vector<const BlobSource*>& blobs);

  std::shared_ptr<grpc::Channel> channel_;
  std::string instance_;
  std::unique_ptr<reapi::ContentAddressableStorage::Stub> cas_;
  std::unique_ptr<google::bytestream::ByteStream::Stub> bytestream_;
  // ByteStream.Write with hand-framed messages (common/bytestream_wire), as a stub would call it.
  const grpc::internal::RpcMethod raw_write_;
  int64_t max_batch_bytes_ = 4 << 20;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_CAS_CLIENT_H_
