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

#include "absl/base/call_once.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "common/cas_reader.h"
#include "common/dial.h"
#include "common/digest.h"
#include "common/directory_tree.h"
#include "common/grpc_blob_access.h"
#include "common/merkle.h"
#include "common/verifying_blob_access.h"

namespace kfarm {

// A blob to upload: bytes in memory, or a file read when (and only if) it must be sent.
struct BlobSource {
  Digest digest;
  std::string path;                        // Used when data is null.
  std::shared_ptr<const std::string> data;
};

// Where a worker's outputs go: uploads of what the CAS is missing (CasClient, or a fake that
// keeps them in tests).
class CasUploader {
 public:
  virtual ~CasUploader() = default;
  virtual absl::Status UploadMissing(const std::vector<BlobSource>& blobs) = 0;
};

class CasClient : public CasReader, public CasUploader {
 public:
  CasClient(std::shared_ptr<grpc::Channel> channel, std::string instance);

  absl::StatusOr<std::vector<Digest>> FindMissing(absl::Span<const Digest> digests);
  absl::Status UploadMissing(const std::vector<BlobSource>& blobs) override;
  absl::Status UploadTree(const MerkleTree& tree);
  // One blob through ByteStream, whatever its size, without asking FindMissing first.
  absl::Status StreamUpload(const BlobSource& blob);

  absl::StatusOr<std::string> ReadBlob(const Digest& digest);
  // Streams the blob's bytes to `sink` (verified: a mismatch fails after the last piece).
  absl::Status StreamBlob(const Digest& digest,
                          const std::function<absl::Status(absl::string_view)>& sink);
  // Small blobs in one BatchReadBlobs call; every digest must be found.
  absl::StatusOr<std::vector<std::string>> BatchRead(const std::vector<Digest>& digests) override;
  BlobAccess* remote() override { return remote_; }
  absl::StatusOr<DirectoryMap> FetchDirectories(const Digest& root) override {
    return FetchTree(root);
  }
  // The server's max_batch_total_size_bytes, asked once through GetCapabilities (4 MiB when the
  // server sets none or cannot be asked).
  int64_t max_batch_bytes();

  // How blobs travel: each one at or above kStreamThreshold (or half the batch limit, if less)
  // alone through ByteStream, the others in batch calls of at most half the batch limit.
  using TransferPlan = kfarm::TransferPlan;
  TransferPlan PlanTransfers(absl::Span<const Digest> digests) override;
  absl::Status DownloadFile(const Digest& digest, const std::string& path, bool executable);
  // Every Directory of the tree under `root`, by digest. Fetched level by level as the bytes
  // stored, not through GetTree (whose messages the server re-encodes): a digest then holds
  // whatever encoding the uploader used. With `missing`, directories not in the CAS are listed
  // there and their subtrees skipped; without, they fail the call.
  absl::StatusOr<DirectoryMap> FetchTree(const Digest& root, std::vector<Digest>* missing = nullptr);
  // Recreates the tree under `out_dir` (which must not exist yet).
  absl::Status DownloadTree(const Digest& root, const std::string& out_dir);

  // Blobs at or above this size travel through ByteStream.
  static constexpr int64_t kStreamThreshold = 1 << 20;

 private:
  absl::Status BatchUpload(const std::vector<const BlobSource*>& blobs);

  std::shared_ptr<grpc::Channel> channel_;
  std::string instance_;
  std::unique_ptr<reapi::ContentAddressableStorage::Stub> cas_;
  std::unique_ptr<VerifyingBlobAccess> verified_;  // Over remote_, which it owns.
  GrpcBlobAccess* remote_;
  absl::once_flag limits_once_;
  int64_t max_batch_bytes_ = 4 << 20;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_CAS_CLIENT_H_
