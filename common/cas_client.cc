#include "common/cas_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/bytestream_wire.h"
#include "common/content_verifier.h"
#include "common/file_util.h"
#include "common/grpc_status.h"
#include "common/resource_name.h"
#include "common/status.h"

namespace kfarm {
namespace {

constexpr size_t kChunk = 1 << 20;

absl::Status RpcError(const grpc::Status& s, absl::string_view what) {
  return Annotate(FromGrpcStatus(s), what);
}

}  // namespace

CasClient::CasClient(std::shared_ptr<grpc::Channel> channel, std::string instance)
    : channel_(std::move(channel)),
      instance_(std::move(instance)),
      cas_(reapi::ContentAddressableStorage::NewStub(channel_)) {
  auto remote = std::make_unique<GrpcBlobAccess>(channel_, instance_);
  remote_ = remote.get();
  verified_ = std::make_unique<VerifyingBlobAccess>(std::move(remote));
}

absl::StatusOr<std::vector<Digest>> CasClient::FindMissing(absl::Span<const Digest> digests) {
  return remote_->FindMissing(digests);
}

absl::Status CasClient::UploadMissing(const std::vector<BlobSource>& blobs) {
  absl::flat_hash_map<Digest, const BlobSource*> by_digest;
  std::vector<Digest> digests;
  for (const BlobSource& b : blobs) {
    if (by_digest.emplace(b.digest, &b).second) digests.push_back(b.digest);
  }
  ASSIGN_OR_RETURN(std::vector<Digest> missing, FindMissing(digests));
  const TransferPlan plan = PlanTransfers(missing);
  for (size_t i : plan.streamed) RETURN_IF_ERROR(StreamUpload(*by_digest.at(missing[i])));
  for (const std::vector<size_t>& indices : plan.batches) {
    std::vector<const BlobSource*> batch;
    for (size_t i : indices) batch.push_back(by_digest.at(missing[i]));
    RETURN_IF_ERROR(BatchUpload(batch));
  }
  return absl::OkStatus();
}

int64_t CasClient::max_batch_bytes() {
  absl::call_once(limits_once_, [this] {
    auto stub = reapi::Capabilities::NewStub(channel_);
    reapi::GetCapabilitiesRequest req;
    req.set_instance_name(instance_);
    reapi::ServerCapabilities caps;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    if (!stub->GetCapabilities(&ctx, req, &caps).ok()) return;
    const int64_t limit = caps.cache_capabilities().max_batch_total_size_bytes();
    // 0 is "no limit"; our channel still takes at most 64 MiB a message (common/dial).
    if (limit > 0) max_batch_bytes_ = std::min<int64_t>(limit, 60 << 20);
  });
  return max_batch_bytes_;
}

CasClient::TransferPlan CasClient::PlanTransfers(absl::Span<const Digest> digests) {
  const int64_t batch_limit = std::max<int64_t>(1, max_batch_bytes() / 2);
  const int64_t stream_at = std::min<int64_t>(kStreamThreshold, batch_limit);
  TransferPlan plan;
  int64_t batch_bytes = 0;
  for (size_t i = 0; i < digests.size(); ++i) {
    const int64_t size = digests[i].size();
    if (size >= stream_at) {
      plan.streamed.push_back(i);
      continue;
    }
    if (plan.batches.empty() || batch_bytes + size > batch_limit) {
      plan.batches.emplace_back();
      batch_bytes = 0;
    }
    plan.batches.back().push_back(i);
    batch_bytes += size;
  }
  return plan;
}

absl::Status CasClient::UploadTree(const MerkleTree& tree) {
  std::vector<BlobSource> blobs;
  for (const auto& [d, bytes] : tree.directories) {
    blobs.push_back({d, "", std::make_shared<const std::string>(bytes)});
  }
  for (const auto& [d, path] : tree.files) blobs.push_back({d, path, nullptr});
  return UploadMissing(blobs);
}

absl::Status CasClient::BatchUpload(const std::vector<const BlobSource*>& blobs) {
  if (blobs.empty()) return absl::OkStatus();
  reapi::BatchUpdateBlobsRequest req;
  req.set_instance_name(instance_);
  for (const BlobSource* b : blobs) {
    auto* r = req.add_requests();
    b->digest.ToProto(r->mutable_digest());
    if (b->data) {
      r->set_data(*b->data);
    } else {
      ASSIGN_OR_RETURN(*r->mutable_data(), ReadFile(b->path));
    }
  }
  reapi::BatchUpdateBlobsResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = cas_->BatchUpdateBlobs(&ctx, req, &resp);
  if (!s.ok()) return RpcError(s, "BatchUpdateBlobs");
  for (int i = 0; i < resp.responses_size(); ++i) {
    const auto& r = resp.responses(i);
    if (r.status().code() != 0) {
      const BlobSource* b = blobs[static_cast<size_t>(i)];
      return absl::Status(static_cast<absl::StatusCode>(r.status().code()),
                          absl::StrCat("uploading ", b->data ? "" : b->path + " as ",
                                       DescribeDigest(r.digest()), ": ", r.status().message()));
    }
  }
  return absl::OkStatus();
}

absl::Status CasClient::StreamUpload(const BlobSource& blob) {
  if (blob.data) {
    ASSIGN_OR_RETURN(auto writer, remote_->OpenWrite(blob.digest));
    RETURN_IF_ERROR(writer->WritePieces({*blob.data}, blob.data));
    return writer->Commit();
  }
  int fd = ::open(blob.path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", blob.path);
  absl::Status s = [&]() -> absl::Status {
    ASSIGN_OR_RETURN(auto writer, remote_->OpenWrite(blob.digest));
    // Each message's data is a slice of a buffer the file was read into, reused once the
    // transport has let go of it, so nothing is copied after read(2). (Not a mapping of the
    // file: one truncated by a build meanwhile would be a SIGBUS.)
    std::shared_ptr<std::string> buffer;
    for (;;) {
      if (buffer == nullptr || buffer.use_count() > 1) buffer = std::make_shared<std::string>();
      buffer->resize(kChunk);
      ssize_t got;
      do {
        got = ::read(fd, buffer->data(), buffer->size());
      } while (got < 0 && errno == EINTR);
      if (got < 0) return ErrnoError("read", blob.path);
      if (got == 0) break;
      RETURN_IF_ERROR(writer->WritePieces({absl::string_view(buffer->data(), got)}, buffer));
    }
    return writer->Commit();
  }();
  ::close(fd);
  // The file is named once: a read error names it already.
  return s.ok() || absl::StrContains(s.message(), blob.path) ? s : Annotate(s, blob.path);
}

absl::StatusOr<std::string> CasClient::ReadBlob(const Digest& digest) {
  return verified_->Get(digest);
}

absl::Status CasClient::StreamBlob(const Digest& digest,
                                   const std::function<absl::Status(absl::string_view)>& sink) {
  ASSIGN_OR_RETURN(auto reader, verified_->OpenRead(digest));
  for (;;) {
    ASSIGN_OR_RETURN(BlobPiece piece, reader->ReadPiece(kChunk));
    if (piece.data.empty()) return absl::OkStatus();
    RETURN_IF_ERROR(sink(piece.data));
  }
}

absl::StatusOr<std::vector<std::string>> CasClient::BatchRead(const std::vector<Digest>& digests) {
  reapi::BatchReadBlobsRequest req;
  req.set_instance_name(instance_);
  for (const Digest& d : digests) d.ToProto(req.add_digests());
  reapi::BatchReadBlobsResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = cas_->BatchReadBlobs(&ctx, req, &resp);
  if (!s.ok()) return RpcError(s, "BatchReadBlobs");
  if (resp.responses_size() != static_cast<int>(digests.size())) {
    return absl::InternalError(absl::StrCat("BatchReadBlobs answered ", resp.responses_size(),
                                            " of ", digests.size(), " blobs"));
  }
  std::vector<std::string> out;
  for (int i = 0; i < resp.responses_size(); ++i) {
    auto* r = resp.mutable_responses(i);
    const Digest& d = digests[static_cast<size_t>(i)];
    if (r->status().code() != 0) {
      return absl::Status(static_cast<absl::StatusCode>(r->status().code()),
                          absl::StrCat("reading ", d.ToString(), ": ", r->status().message()));
    }
    if (Digest::Of(r->data()) != d) {
      return absl::DataLossError(absl::StrCat("BatchReadBlobs returned wrong bytes for ", d.ToString()));
    }
    out.push_back(std::move(*r->mutable_data()));
  }
  return out;
}

absl::Status CasClient::DownloadFile(const Digest& digest, const std::string& path,
                                     bool executable) {
  std::string tmp = absl::StrCat(path, ".kfarm-tmp.", ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
                  executable ? 0755 : 0644);
  if (fd < 0) return ErrnoError("open", tmp);
  absl::Status s = StreamBlob(digest, [&](absl::string_view piece) -> absl::Status {
    if (::write(fd, piece.data(), piece.size()) != static_cast<ssize_t>(piece.size())) {
      return ErrnoError("write", tmp);
    }
    return absl::OkStatus();
  });
  ::close(fd);
  s = Annotate(s, path);
  if (s.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) s = ErrnoError("rename", tmp);
  if (!s.ok()) ::unlink(tmp.c_str());
  return s;
}

absl::StatusOr<DirectoryMap> CasClient::FetchTree(const Digest& root,
                                                  std::vector<Digest>* missing) {
  DirectoryMap tree;
  auto fetch = [&](absl::Span<const Digest> level)
      -> absl::StatusOr<std::vector<std::optional<std::string>>> {
    std::vector<std::optional<std::string>> out(level.size());
    std::vector<Digest> present(level.begin(), level.end());
    std::vector<size_t> index(level.size());
    for (size_t i = 0; i < index.size(); ++i) index[i] = i;
    if (missing != nullptr) {  // Else an absent directory fails its read, naming it.
      ASSIGN_OR_RETURN(std::vector<Digest> absent, FindMissing(level));
      absl::flat_hash_set<Digest> gone(absent.begin(), absent.end());
      present.clear();
      index.clear();
      for (size_t i = 0; i < level.size(); ++i) {
        if (gone.contains(level[i])) continue;
        present.push_back(level[i]);
        index.push_back(i);
      }
    }
    const TransferPlan plan = PlanTransfers(present);
    for (size_t i : plan.streamed) {
      ASSIGN_OR_RETURN(out[index[i]], ReadBlob(present[i]));
    }
    for (const std::vector<size_t>& batch : plan.batches) {
      std::vector<Digest> asked;
      for (size_t i : batch) asked.push_back(present[i]);
      ASSIGN_OR_RETURN(std::vector<std::string> got, BatchRead(asked));
      for (size_t k = 0; k < batch.size(); ++k) out[index[batch[k]]] = std::move(got[k]);
    }
    return out;
  };
  RETURN_IF_ERROR(WalkTree(
      root, fetch,
      [&](WalkedDirectory& w) {
        tree.emplace(w.digest, std::move(w.dir));
        return absl::OkStatus();
      },
      [&](const Digest& d, const std::string&) { missing->push_back(d); }));
  return tree;
}

absl::Status CasClient::DownloadTree(const Digest& root, const std::string& out_dir) {
  ASSIGN_OR_RETURN(const DirectoryMap by_digest, FetchTree(root));
  return ExpandTree(root, by_digest, out_dir,
                    [&](const std::string& path, const Digest& digest,
                        const reapi::Directory* dir) -> absl::Status {
    if (dir == nullptr) {
      return absl::NotFoundError(absl::StrCat("directory ", digest.ToString(), " for ", path,
                                              " is not in the CAS"));
    }
    RETURN_IF_ERROR(ValidateDirectory(*dir, digest));
    if (::mkdir(path.c_str(), 0755) != 0) return ErrnoError("mkdir", path);
    for (const auto& f : dir->files()) {
      ASSIGN_OR_RETURN(Digest d, Digest::FromProto(f.digest()));
      std::string file_path = path + "/" + f.name();
      if (d.size() >= kStreamThreshold) {
        RETURN_IF_ERROR(DownloadFile(d, file_path, f.is_executable()));
      } else {
        ASSIGN_OR_RETURN(std::string bytes, ReadBlob(d));
        RETURN_IF_ERROR(WriteFileAtomic(file_path, bytes, f.is_executable()));
      }
    }
    for (const auto& s : dir->symlinks()) {
      std::string link = path + "/" + s.name();
      if (::symlink(s.target().c_str(), link.c_str()) != 0) return ErrnoError("symlink", link);
    }
    return absl::OkStatus();
  });
}

}  // namespace kfarm
