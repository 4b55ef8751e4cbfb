#include "common/grpc_blob_access.h"

#include <grpcpp/client_context.h>
#include <grpcpp/support/sync_stream.h>

#include <algorithm>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/bytestream_wire.h"
#include "common/grpc_status.h"
#include "common/resource_name.h"
#include "common/status.h"
#include "google/bytestream/bytestream.pb.h"

namespace kfarm {
namespace {

constexpr int kFindMissingChunk = 10000;

std::string NewUploadId() {
  std::random_device rd;
  std::mt19937_64 rng((uint64_t{rd()} << 32) ^ rd());
  return absl::StrFormat("%016x%016x", rng(), rng());
}

// One ByteStream.Read call, pulled a message at a time; each piece handed out holds the message's
// slices.
class GrpcBlobReader : public BlobReader {
 public:
  GrpcBlobReader(grpc::ChannelInterface* channel, const grpc::internal::RpcMethod& method,
                 const std::string& instance, const Digest& digest)
      : digest_(digest) {
    google::bytestream::ReadRequest req;
    req.set_resource_name(MakeReadResourceName(instance, digest));
    reader_.reset(grpc::internal::ClientReaderFactory<grpc::ByteBuffer>::Create(
        channel, method, &ctx_, req));
  }
  ~GrpcBlobReader() override {
    if (!finished_) {
      ctx_.TryCancel();
      reader_->Finish().ok();  // Cancelled: its status says only that.
    }
  }

  absl::StatusOr<size_t> Read(char* buf, size_t max) override {
    ASSIGN_OR_RETURN(BlobPiece piece, ReadPiece(max));
    if (piece.data.empty()) return 0;  // The end: an empty view may point nowhere.
    std::memcpy(buf, piece.data.data(), piece.data.size());
    return piece.data.size();
  }

  absl::StatusOr<BlobPiece> ReadPiece(size_t max) override {
    while (frame_ == nullptr || next_ == frame_->data.pieces.size()) {
      if (finished_) return BlobPiece{};
      auto frame = std::make_shared<ReadResponseFrame>();
      grpc::ByteBuffer bytes;
      if (!reader_->Read(&bytes)) {
        finished_ = true;
        grpc::Status s = reader_->Finish();
        if (!s.ok()) {
          return Annotate(FromGrpcStatus(s), absl::StrCat("reading blob ", digest_.ToString()));
        }
        return BlobPiece{};
      }
      RETURN_IF_ERROR(Annotate(ParseReadResponse(bytes, frame.get()),
                               absl::StrCat("reading blob ", digest_.ToString())));
      frame_ = std::move(frame);
      next_ = 0;
    }
    absl::string_view& rest = frame_->data.pieces[next_];
    absl::string_view piece = rest.substr(0, max);
    rest.remove_prefix(piece.size());
    if (rest.empty()) ++next_;
    return BlobPiece{piece, frame_};
  }

 private:
  Digest digest_;
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<grpc::ByteBuffer>> reader_;
  std::shared_ptr<ReadResponseFrame> frame_;
  size_t next_ = 0;
  bool finished_ = false;
};

// One ByteStream.Write call. The message that completes the digest's size says finish_write;
// Commit ends the call and checks what the server committed.
class GrpcBlobWriter : public BlobWriter {
 public:
  GrpcBlobWriter(grpc::ChannelInterface* channel, const grpc::internal::RpcMethod& method,
                 const std::string& instance, const Digest& digest)
      : digest_(digest), name_(MakeWriteResourceName(instance, NewUploadId(), digest)) {
    writer_.reset(grpc::internal::ClientWriterFactory<grpc::ByteBuffer>::Create(
        channel, method, &ctx_, &resp_));
  }
  ~GrpcBlobWriter() override {
    if (!finished_) {
      ctx_.TryCancel();
      writer_->Finish().ok();  // Abandoned: the server discards the upload.
    }
  }

  absl::Status Write(absl::string_view data) override {
    return WritePieces({data}, nullptr);
  }

  absl::Status WritePieces(absl::Span<const absl::string_view> pieces,
                           std::shared_ptr<const void> owner) override {
    for (absl::string_view p : pieces) {
      if (owner == nullptr) {  // The bytes must outlive this call: the transport sends later.
        auto copy = std::make_shared<const std::string>(p);
        RETURN_IF_ERROR(Send(*copy, copy));
      } else {
        RETURN_IF_ERROR(Send(p, owner));
      }
    }
    return absl::OkStatus();
  }

  int64_t bytes_written() const override { return offset_; }

  absl::Status Commit() override {
    if (broken_) return status_;
    if (!sent_last_) {  // Fewer bytes than the digest says: the server's answer names it.
      writer_->Write(WriteRequestBytes(offset_ == 0 ? name_ : "", offset_, true, BlobPiece{}));
    }
    writer_->WritesDone();
    finished_ = true;
    grpc::Status s = writer_->Finish();
    if (!s.ok()) return Annotate(FromGrpcStatus(s), What());
    if (resp_.committed_size() != digest_.size()) {
      return absl::DataLossError(absl::StrCat(What(), ": the server committed ",
                                              resp_.committed_size(), " bytes"));
    }
    return absl::OkStatus();
  }

 private:
  std::string What() const { return absl::StrCat("uploading blob ", digest_.ToString()); }

  absl::Status Send(absl::string_view bytes, const std::shared_ptr<const void>& owner) {
    while (!bytes.empty()) {
      if (broken_) return status_;
      if (sent_last_) {
        return absl::InvalidArgumentError(
            absl::StrCat(What(), ": more than ", digest_.size(), " bytes written"));
      }
      const absl::string_view chunk = bytes.substr(0, GrpcBlobAccess::kChunk);
      bytes.remove_prefix(chunk.size());
      const bool last = offset_ + static_cast<int64_t>(chunk.size()) >= digest_.size();
      if (!writer_->Write(WriteRequestBytes(offset_ == 0 ? name_ : "", offset_, last,
                                            BlobPiece{chunk, owner}))) {
        // The server ended the call; its status says why.
        broken_ = true;
        finished_ = true;
        status_ = FromGrpcStatus(writer_->Finish());
        if (status_.ok()) status_ = absl::UnavailableError("the server ended the upload early");
        status_ = Annotate(status_, What());
        return status_;
      }
      offset_ += static_cast<int64_t>(chunk.size());
      sent_last_ = last;
    }
    return absl::OkStatus();
  }

  Digest digest_;
  std::string name_;
  grpc::ClientContext ctx_;
  google::bytestream::WriteResponse resp_;
  std::unique_ptr<grpc::ClientWriter<grpc::ByteBuffer>> writer_;
  int64_t offset_ = 0;
  bool sent_last_ = false;
  bool broken_ = false;
  bool finished_ = false;
  absl::Status status_;
};

}  // namespace

GrpcBlobAccess::GrpcBlobAccess(std::shared_ptr<grpc::Channel> channel, std::string instance)
    : channel_(std::move(channel)),
      instance_(std::move(instance)),
      cas_(reapi::ContentAddressableStorage::NewStub(channel_)),
      raw_read_("/google.bytestream.ByteStream/Read",
                grpc::internal::RpcMethod::SERVER_STREAMING, channel_),
      raw_write_("/google.bytestream.ByteStream/Write",
                 grpc::internal::RpcMethod::CLIENT_STREAMING, channel_) {}

absl::StatusOr<std::unique_ptr<BlobReader>> GrpcBlobAccess::DoOpenRead(const Digest& digest) {
  return std::make_unique<GrpcBlobReader>(channel_.get(), raw_read_, instance_, digest);
}

absl::StatusOr<std::unique_ptr<BlobWriter>> GrpcBlobAccess::DoOpenWrite(const Digest& digest) {
  return std::make_unique<GrpcBlobWriter>(channel_.get(), raw_write_, instance_, digest);
}

absl::StatusOr<std::vector<Digest>> GrpcBlobAccess::DoFindMissing(
    absl::Span<const Digest> digests) {
  std::vector<Digest> missing;
  for (size_t start = 0; start < digests.size(); start += kFindMissingChunk) {
    reapi::FindMissingBlobsRequest req;
    req.set_instance_name(instance_);
    for (const Digest& d : digests.subspan(start, kFindMissingChunk)) {
      d.ToProto(req.add_blob_digests());
    }
    reapi::FindMissingBlobsResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = cas_->FindMissingBlobs(&ctx, req, &resp);
    if (!s.ok()) return Annotate(FromGrpcStatus(s), "FindMissingBlobs");
    for (const auto& p : resp.missing_blob_digests()) {
      ASSIGN_OR_RETURN(Digest d, Digest::FromProto(p));
      missing.push_back(d);
    }
  }
  return missing;
}

}  // namespace kfarm
