#include "scheduler/bytestream_service.h"

#include <grpcpp/support/byte_buffer.h>

#include "absl/strings/str_cat.h"
#include "common/bytestream_wire.h"
#include "common/grpc_status.h"
#include "common/status.h"
#include "scheduler/request_checks.h"

namespace kfarm {
namespace {

using google::bytestream::WriteResponse;

constexpr size_t kChunk = 1 << 20;

bool Compressed(const ResourceName& r) { return r.compressor != reapi::Compressor::IDENTITY; }

}  // namespace

ByteStreamService::ByteStreamService(BlobAccess* cas, int64_t max_blob_size, UploadTable* uploads,
                                     const Authorizer* auth)
    : cas_(cas), max_blob_size_(max_blob_size), auth_(auth), uploads_(*uploads) {
  MarkMethodStreamed(0, new grpc::internal::SplitServerStreamingHandler<
                            google::bytestream::ReadRequest, grpc::ByteBuffer>(
                            [this](grpc::ServerContext* ctx, RawReadStream* stream) {
                              return RawRead(ctx, stream);
                            }));
  MarkMethodStreamed(1, new grpc::internal::ClientStreamingHandler<ByteStreamService,
                                                                  grpc::ByteBuffer, WriteResponse>(
                            [](ByteStreamService* self, grpc::ServerContext* ctx,
                               RawWriteStream* stream, WriteResponse* resp) {
                              return self->RawWrite(ctx, stream, resp);
                            },
                            this));
}

absl::Status ByteStreamService::CheckResource(const ResourceName& r) {
  RETURN_IF_ERROR(CheckInstance(r.instance_name));
  if (r.compressor != reapi::Compressor::IDENTITY && r.compressor != reapi::Compressor::ZSTD) {
    return absl::InvalidArgumentError(absl::StrCat("compressor \"", CompressorName(r.compressor),
                                                   "\" is not supported; use zstd"));
  }
  if (max_blob_size_ > 0 && r.digest.size() > max_blob_size_) {
    return absl::InvalidArgumentError(absl::StrCat("blob ", r.digest.ToString(),
                                                   " exceeds max_cas_blob_size_bytes (",
                                                   max_blob_size_, ")"));
  }
  return absl::OkStatus();
}

grpc::Status ByteStreamService::RawRead(grpc::ServerContext* ctx, RawReadStream* stream) {
  google::bytestream::ReadRequest read_request;
  if (!stream->Read(&read_request)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "read call carried no request");
  }
  const google::bytestream::ReadRequest* req = &read_request;  // As the generated API hands it.
  auto r = ParseReadResourceName(req->resource_name());
  if (!r.ok()) return ToGrpcStatus(r.status());
  KFARM_AUTHORIZE(auth_->Check(*ctx, config::READ, r->instance_name));
  absl::Status s = CheckResource(*r);
  if (!s.ok()) return ToGrpcStatus(s);
  if (req->read_offset() < 0 || req->read_offset() > r->digest.size()) {
    return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                        absl::StrCat("read_offset ", req->read_offset(), " is outside blob ",
                                     r->digest.ToString()));
  }
  if (req->read_limit() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("read_limit ", req->read_limit(), " is negative"));
  }
  if (Compressed(*r) && req->read_limit() != 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "read_limit must be 0 for compressed-blobs reads");
  }
  return ToGrpcStatus(ReadBlob(ctx, *r, req->read_offset(), req->read_limit(), stream));
}

absl::Status ByteStreamService::ReadBlob(grpc::ServerContext* ctx, const ResourceName& r,
                                         int64_t offset, int64_t limit, RawReadStream* stream) {
  ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader, cas_->OpenRead(r.digest));
  if (Compressed(r)) return ReadCompressed(ctx, *reader, r.digest.size(), stream);
  int64_t remaining = limit > 0 ? limit : r.digest.size() - offset;
  int64_t skip = offset;
  // A small blob comes whole in one piece, its end in the next: no 1 MiB buffer for 100 bytes.
  const size_t piece_size = static_cast<size_t>(std::min<int64_t>(kChunk, r.digest.size() + 1));
  // The last piece is held back until the reader reports a clean end: a store that finds the
  // blob corrupt says so only then, and the client must never receive the whole corrupt blob.
  grpc::ByteBuffer pending;
  bool have_pending = false;
  for (;;) {
    if (ctx->IsCancelled()) return absl::CancelledError("client went away");
    ASSIGN_OR_RETURN(BlobPiece piece, reader->ReadPiece(piece_size));
    const bool end = piece.data.empty();
    size_t drop = static_cast<size_t>(std::min<int64_t>(skip, static_cast<int64_t>(piece.data.size())));
    skip -= static_cast<int64_t>(drop);
    piece.data.remove_prefix(drop);
    piece.data = piece.data.substr(0, static_cast<size_t>(std::min<int64_t>(remaining, piece.data.size())));
    remaining -= static_cast<int64_t>(piece.data.size());
    if (!end && piece.data.empty()) continue;  // Skipping, or past the limit.
    if (have_pending && !stream->Write(pending)) return absl::CancelledError("client went away");
    if (end) return absl::OkStatus();
    pending = ReadResponseBytes(std::move(piece));
    have_pending = true;
  }
}

absl::Status ByteStreamService::ReadCompressed(grpc::ServerContext* ctx, BlobReader& reader,
                                               int64_t size, RawReadStream* stream) {
  ZstdCompressor zstd;
  std::string buf(static_cast<size_t>(std::min<int64_t>(kChunk, size + 1)), '\0');
  // Held back until the reader reports a clean end, as for plain reads.
  std::shared_ptr<std::string> pending;
  for (;;) {
    if (ctx->IsCancelled()) return absl::CancelledError("client went away");
    ASSIGN_OR_RETURN(size_t n, reader.Read(buf.data(), buf.size()));
    if (pending && !pending->empty() && !stream->Write(ReadResponseBytes({*pending, pending}))) {
      return absl::CancelledError("client went away");
    }
    pending = std::make_shared<std::string>();
    RETURN_IF_ERROR(zstd.Compress(absl::string_view(buf.data(), n), /*last=*/n == 0, pending.get()));
    if (n == 0) break;
  }
  if (!pending->empty() && !stream->Write(ReadResponseBytes({*pending, pending}))) {
    return absl::CancelledError("client went away");
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> ByteStreamService::AlreadyStored(const Digest& d) {
  ASSIGN_OR_RETURN(std::vector<Digest> missing, cas_->FindMissing({d}));
  return missing.empty();
}

absl::Status ByteStreamService::Accept(Upload& up, const ResourceName& r, WriteRequestFrame& req) {
  if (up.zstd) {
    for (absl::string_view piece : req.data.pieces) {
      RETURN_IF_ERROR(Annotate(
          up.zstd->Decompress(piece, [&](absl::string_view p) { return up.writer->Write(p); }),
          absl::StrCat("blob ", r.digest.ToString())));
    }
  } else {
    // The store may hash the pieces after this returns: it gets the slices they point into.
    auto owner = std::make_shared<std::vector<grpc::Slice>>(std::move(req.slices));
    RETURN_IF_ERROR(up.writer->WritePieces(req.data.pieces, std::move(owner)));
  }
  up.committed += req.data.size;
  if (!req.finish_write) return absl::OkStatus();
  if (up.zstd && !up.zstd->at_frame_end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("blob ", r.digest.ToString(), ": zstd data ends in the middle of a frame"));
  }
  RETURN_IF_ERROR(up.writer->Commit());
  up.complete = true;
  return absl::OkStatus();
}

// The next request of the stream: false at its end, INVALID_ARGUMENT if it does not parse.
absl::StatusOr<bool> ByteStreamService::NextRequest(RawWriteStream* stream,
                                                    grpc::ByteBuffer* buffer,
                                                    WriteRequestFrame* req) {
  if (!stream->Read(buffer)) return false;
  RETURN_IF_ERROR(ParseWriteRequest(*buffer, req));
  return true;
}

grpc::Status ByteStreamService::RawWrite(grpc::ServerContext* ctx, RawWriteStream* stream,
                                         WriteResponse* resp) {
  grpc::ByteBuffer buffer;
  WriteRequestFrame req;
  auto first = NextRequest(stream, &buffer, &req);
  if (!first.ok()) return ToGrpcStatus(first.status());
  if (!*first) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "write stream carried no request");
  }
  const std::string name = req.resource_name;
  auto r = ParseWriteResourceName(name);
  if (!r.ok()) return ToGrpcStatus(r.status());
  KFARM_AUTHORIZE(auth_->Check(*ctx, config::WRITE, r->instance_name));
  if (absl::Status s = CheckResource(*r); !s.ok()) return ToGrpcStatus(s);
  const int64_t full_size = Compressed(*r) ? -1 : r->digest.size();

  // A blob that is already stored needs none of the client's bytes.
  auto stored = AlreadyStored(r->digest);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  if (*stored) {
    resp->set_committed_size(full_size);
    return grpc::Status::OK;
  }

  auto acquired = uploads_.Acquire(name);
  if (!acquired.ok()) return ToGrpcStatus(acquired.status());
  Upload& up = **acquired;
  if (up.complete) {
    uploads_.Release(name, true);
    resp->set_committed_size(Compressed(*r) ? up.committed : full_size);
    return grpc::Status::OK;
  }
  if (!up.writer || req.write_offset == 0) {  // New upload, or the client starts over.
    auto w = cas_->OpenWrite(r->digest);
    if (!w.ok()) {
      uploads_.Release(name, false);
      return ToGrpcStatus(w.status());
    }
    up.writer = std::move(*w);
    up.zstd = Compressed(*r) ? std::make_unique<ZstdDecompressor>() : nullptr;
    up.committed = 0;
  }
  for (;;) {
    if (!req.resource_name.empty() && req.resource_name != name) {
      uploads_.Release(name, false);
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("resource_name changed mid-stream from ", Quoted(name),
                                       " to ", Quoted(req.resource_name)));
    }
    if (req.write_offset != up.committed) {
      uploads_.Release(name, true);  // Nothing was written: the upload stays resumable.
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("write_offset ", req.write_offset, " for blob ",
                                       r->digest.ToString(), " but ", up.committed,
                                       " bytes were committed; resume at the committed size"));
    }
    absl::Status s = Accept(up, *r, req);
    if (!s.ok()) {
      uploads_.Release(name, false);
      return ToGrpcStatus(s);
    }
    if (up.complete) break;
    auto next = NextRequest(stream, &buffer, &req);
    if (!next.ok() || !*next) {
      uploads_.Release(name, true);  // Resumable from up.committed.
      if (!next.ok()) return ToGrpcStatus(Annotate(next.status(), Quoted(name)));
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          absl::StrCat("write stream for ", Quoted(name), " ended without finish_write after ",
                                       up.committed, " bytes; resume with QueryWriteStatus"));
    }
  }
  const int64_t committed = up.committed;
  uploads_.Release(name, true);
  auto extra = NextRequest(stream, &buffer, &req);
  if (!extra.ok() || *extra) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat(Quoted(name), ": a request followed finish_write"));
  }
  resp->set_committed_size(Compressed(*r) ? committed : full_size);
  return grpc::Status::OK;
}

grpc::Status ByteStreamService::QueryWriteStatus(
    grpc::ServerContext* ctx, const google::bytestream::QueryWriteStatusRequest* req,
    google::bytestream::QueryWriteStatusResponse* resp) {
  auto r = ParseWriteResourceName(req->resource_name());
  if (!r.ok()) return ToGrpcStatus(r.status());
  KFARM_AUTHORIZE(auth_->Check(*ctx, config::WRITE, r->instance_name));
  if (auto p = uploads_.Query(req->resource_name())) {
    resp->set_committed_size(p->complete && !Compressed(*r) ? r->digest.size() : p->committed);
    resp->set_complete(p->complete);
    return grpc::Status::OK;
  }
  auto stored = AlreadyStored(r->digest);
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  if (*stored) {
    resp->set_committed_size(Compressed(*r) ? -1 : r->digest.size());
    resp->set_complete(true);
    return grpc::Status::OK;
  }
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("no upload ", Quoted(req->resource_name()), " is in progress"));
}

}  // namespace kfarm
