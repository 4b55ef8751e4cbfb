#include "common/verifying_blob_access.h"

#include <optional>

#include "absl/strings/str_cat.h"
#include "common/background_stage.h"
#include "common/content_verifier.h"
#include "common/status.h"

namespace kfarm {
namespace {

// Hashes what the base hands out; the verdict comes with the end (an error instead of 0), so a
// caller that holds back its last chunk never delivers wrong bytes as a complete blob.
class VerifyingReader : public BlobReader {
 public:
  VerifyingReader(std::unique_ptr<BlobReader> base, const Digest& digest)
      : base_(std::move(base)), digest_(digest), verifier_(digest) {}

  absl::StatusOr<size_t> Read(char* buf, size_t max) override {
    ASSIGN_OR_RETURN(size_t n, base_->Read(buf, max));
    RETURN_IF_ERROR(Check(absl::string_view(buf, n)));
    return n;
  }

  absl::StatusOr<BlobPiece> ReadPiece(size_t max) override {
    ASSIGN_OR_RETURN(BlobPiece piece, base_->ReadPiece(max));
    RETURN_IF_ERROR(Check(piece.data));
    return piece;
  }

 private:
  absl::Status Check(absl::string_view piece) {
    if (piece.empty()) return base_->Verdict(verifier_.Finish());
    // Bytes beyond the digest's size condemn the blob before they are handed out.
    if (verifier_.size() + static_cast<int64_t>(piece.size()) > digest_.size()) {
      return base_->Verdict(absl::DataLossError(absl::StrCat(
          "blob ", digest_.ToString(), " holds more than its ", digest_.size(), " bytes")));
    }
    verifier_.Update(piece);
    return absl::OkStatus();
  }

  std::unique_ptr<BlobReader> base_;
  Digest digest_;
  ContentVerifier verifier_;
};

// Refuses bytes beyond the digest's size as they arrive, and commits the base only when all of
// them hash to the digest. A large upload that arrives with an owner for its bytes is hashed on a
// thread of its own while the base writes them: SHA-256 is most of an upload's work, and the two
// overlap on two cores.
class VerifyingWriter : public BlobWriter {
 public:
  VerifyingWriter(std::unique_ptr<BlobWriter> base, const Digest& digest)
      : base_(std::move(base)), digest_(digest), verifier_(digest) {}
  ~VerifyingWriter() override { hasher_.reset(); }  // Stops the thread before the verifier goes.

  absl::Status Write(absl::string_view data) override {
    RETURN_IF_ERROR(verifier_.CheckRoom(accepted_, data.size()));
    accepted_ += static_cast<int64_t>(data.size());
    if (hasher_) hasher_->Drain();  // Hashing stays in order.
    verifier_.Update(data);
    return base_->Write(data);
  }

  absl::Status WritePieces(absl::Span<const absl::string_view> pieces,
                           std::shared_ptr<const void> owner) override {
    size_t size = 0;
    for (absl::string_view p : pieces) size += p.size();
    RETURN_IF_ERROR(verifier_.CheckRoom(accepted_, size));
    accepted_ += static_cast<int64_t>(size);
    if (owner != nullptr && digest_.size() >= kHashAsideFrom) {
      if (!hasher_) {
        hasher_ = std::make_unique<BackgroundStage>(
            [this](absl::Span<const absl::string_view> batch) {
              for (absl::string_view p : batch) verifier_.Update(p);
            },
            kMaxPendingMessages);
      }
      hasher_->Push(pieces, owner);
    } else {
      if (hasher_) hasher_->Drain();
      for (absl::string_view p : pieces) verifier_.Update(p);
    }
    return base_->WritePieces(pieces, std::move(owner));
  }

  int64_t bytes_written() const override { return accepted_; }

  absl::Status Commit() override {
    if (hasher_) hasher_->Drain();
    RETURN_IF_ERROR(verifier_.Finish());
    return base_->Commit();
  }

 private:
  static constexpr int64_t kHashAsideFrom = 4 << 20;
  static constexpr size_t kMaxPendingMessages = 8;

  std::unique_ptr<BlobWriter> base_;
  Digest digest_;
  ContentVerifier verifier_;
  int64_t accepted_ = 0;
  std::unique_ptr<BackgroundStage> hasher_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<BlobReader>> VerifyingBlobAccess::DoOpenRead(const Digest& digest) {
  ASSIGN_OR_RETURN(std::unique_ptr<BlobReader> reader, base()->OpenRead(digest));
  if (reader->vouched()) return reader;
  return std::make_unique<VerifyingReader>(std::move(reader), digest);
}

absl::StatusOr<std::unique_ptr<BlobWriter>> VerifyingBlobAccess::DoOpenWrite(
    const Digest& digest) {
  ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer, base()->OpenWrite(digest));
  return std::make_unique<VerifyingWriter>(std::move(writer), digest);
}

}  // namespace kfarm
