#include "scheduler/cas_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/directory_tree.h"
#include "common/grpc_status.h"
#include "common/status.h"
#include "common/zstd_stream.h"
#include "scheduler/request_checks.h"

namespace kfarm {
namespace {

constexpr int kDefaultTreePageSize = 1000;
constexpr size_t kMaxTreeResponseBytes = 2 << 20;

template <typename Req>
absl::Status CheckCommon(const Req& req) {
  RETURN_IF_ERROR(CheckInstance(req.instance_name()));
  return CheckDigestFunction(req.digest_function());
}

absl::Status TooLarge(int64_t total, int64_t limit) {
  return absl::InvalidArgumentError(absl::StrCat("batch of ", total,
                                                 " bytes exceeds max_batch_total_size_bytes (",
                                                 limit, "); use ByteStream for large blobs"));
}

}  // namespace

grpc::Status CasService::FindMissingBlobs(grpc::ServerContext* ctx,
                                          const reapi::FindMissingBlobsRequest* req,
                                          reapi::FindMissingBlobsResponse* resp) {
  KFARM_AUTHORIZE(auth_->Check(*ctx, config::READ, req->instance_name()));
  if (absl::Status s = CheckCommon(*req); !s.ok()) return ToGrpcStatus(s);
  std::vector<Digest> digests;
  digests.reserve(req->blob_digests_size());
  for (int i = 0; i < req->blob_digests_size(); ++i) {
    auto d = ParseDigestField(req->blob_digests(i), absl::StrCat("blob_digests[", i, "]"));
    if (!d.ok()) return ToGrpcStatus(d.status());
    digests.push_back(*d);
  }
  auto missing = cas_->FindMissing(digests);
  if (!missing.ok()) return ToGrpcStatus(missing.status());
  for (const Digest& d : *missing) d.ToProto(resp->add_missing_blob_digests());
  return grpc::Status::OK;
}

absl::Status CasService::UpdateOne(const reapi::BatchUpdateBlobsRequest::Request& r) {
  ASSIGN_OR_RETURN(Digest d, Digest::FromProto(r.digest()));
  if (limits_.max_cas_blob_size_bytes > 0 && d.size() > limits_.max_cas_blob_size_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("blob ", d.ToString(),
                                                   " exceeds max_cas_blob_size_bytes (",
                                                   limits_.max_cas_blob_size_bytes, ")"));
  }
  ASSIGN_OR_RETURN(auto writer, cas_->OpenWrite(d));
  if (r.compressor() == reapi::Compressor::IDENTITY) {
    RETURN_IF_ERROR(writer->Write(r.data()));
  } else if (r.compressor() == reapi::Compressor::ZSTD) {
    ZstdDecompressor z;
    RETURN_IF_ERROR(Annotate(
        z.Decompress(r.data(), [&](absl::string_view piece) { return writer->Write(piece); }),
        absl::StrCat("blob ", d.ToString())));
    if (!z.at_frame_end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("blob ", d.ToString(), ": zstd data ends in the middle of a frame"));
    }
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("blob ", d.ToString(), ": compressor ",
                     reapi::Compressor::Value_Name(r.compressor()), " is not supported"));
  }
  return writer->Commit();
}

grpc::Status CasService::BatchUpdateBlobs(grpc::ServerContext* ctx,
                                          const reapi::BatchUpdateBlobsRequest* req,
                                          reapi::BatchUpdateBlobsResponse* resp) {
  KFARM_AUTHORIZE(auth_->Check(*ctx, config::WRITE, req->instance_name()));
  if (absl::Status s = CheckCommon(*req); !s.ok()) return ToGrpcStatus(s);
  int64_t total = 0;
  for (const auto& r : req->requests()) total += static_cast<int64_t>(r.data().size());
  if (total > limits_.max_batch_total_size_bytes) {
    return ToGrpcStatus(TooLarge(total, limits_.max_batch_total_size_bytes));
  }
  for (const auto& r : req->requests()) {
    auto* out = resp->add_responses();
    *out->mutable_digest() = r.digest();
    *out->mutable_status() = ToRpcStatus(UpdateOne(r));
  }
  return grpc::Status::OK;
}

grpc::Status CasService::BatchReadBlobs(grpc::ServerContext* ctx,
                                        const reapi::BatchReadBlobsRequest* req,
                                        reapi::BatchReadBlobsResponse* resp) {
  KFARM_AUTHORIZE(auth_->Check(*ctx, config::READ, req->instance_name()));
  if (absl::Status s = CheckCommon(*req); !s.ok()) return ToGrpcStatus(s);
  // Summed with a stop at the limit: a few claimed sizes near 2^63 would otherwise wrap around.
  int64_t total = 0;
  for (const auto& d : req->digests()) {
    const int64_t size = std::max<int64_t>(d.size_bytes(), 0);
    if (size > limits_.max_batch_total_size_bytes - total) {
      return ToGrpcStatus(absl::InvalidArgumentError(absl::StrCat(
          "BatchReadBlobs asks for more than max_batch_total_size_bytes (",
          limits_.max_batch_total_size_bytes, ") in ", req->digests_size(),
          " digests; read large blobs through ByteStream")));
    }
    total += size;
  }
  for (const auto& proto : req->digests()) {
    auto* out = resp->add_responses();
    *out->mutable_digest() = proto;
    auto d = Digest::FromProto(proto);
    absl::StatusOr<std::string> data = d.ok() ? cas_->Get(*d) : d.status();
    if (data.ok()) {
      *out->mutable_data() = std::move(*data);
    } else {
      *out->mutable_status() = ToRpcStatus(data.status());
    }
  }
  return grpc::Status::OK;
}

grpc::Status CasService::GetTree(grpc::ServerContext* ctx, const reapi::GetTreeRequest* req,
                                 grpc::ServerWriter<reapi::GetTreeResponse>* writer) {
  KFARM_AUTHORIZE(auth_->Check(*ctx, config::READ, req->instance_name()));
  if (absl::Status s = CheckCommon(*req); !s.ok()) return ToGrpcStatus(s);
  auto root = ParseDigestField(req->root_digest(), "root_digest");
  if (!root.ok()) return ToGrpcStatus(root.status());
  if (req->page_size() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("page_size ", req->page_size(), " is negative"));
  }
  // The token is how many directories of the breadth-first walk were already returned; the walk
  // is deterministic (children in Directory order, each digest once), so resuming is exact.
  int64_t skip = 0;
  if (!req->page_token().empty() && (!absl::SimpleAtoi(req->page_token(), &skip) || skip < 0)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("page_token \"", req->page_token(), "\" was not issued here"));
  }
  const int page_size = req->page_size() > 0 ? req->page_size() : kDefaultTreePageSize;

  reapi::GetTreeResponse page;
  size_t page_bytes = 0;
  int64_t emitted = 0;
  bool root_absent = false;
  absl::Status walked = WalkTree(
      *root, FetchFrom(cas_),
      [&](WalkedDirectory& w) -> absl::Status {
        if (ctx->IsCancelled()) return absl::CancelledError("client went away");
        if (emitted++ < skip) return absl::OkStatus();
        // A full page goes out only once another directory exists to follow it, so the last
        // page is the one without a token.
        if (page.directories_size() >= page_size || page_bytes >= kMaxTreeResponseBytes) {
          page.set_next_page_token(absl::StrCat(emitted - 1));
          if (!writer->Write(page)) return absl::CancelledError("write failed");
          page.Clear();
          page_bytes = 0;
        }
        page_bytes += w.bytes.size();
        *page.add_directories() = std::move(w.dir);
        return absl::OkStatus();
      },
      // REAPI: missing subtrees are omitted; a missing root is NOT_FOUND.
      [&](const Digest& d, const std::string& prefix) { root_absent |= prefix.empty(); });
  if (root_absent) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND,
                        absl::StrCat("root directory ", root->ToString(), " is not in the CAS"));
  }
  if (!walked.ok()) return ToGrpcStatus(walked);
  writer->Write(page);
  return grpc::Status::OK;
}

}  // namespace kfarm
