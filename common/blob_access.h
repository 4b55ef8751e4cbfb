// The storage interface every backend implements (disk, memory) and every decorator wraps
// (verification, the action cache's completeness check). Modeled on Buildbarn's BlobAccess: get,
// put, find-missing — streaming, so blobs larger than memory pass through without being held
// whole. A backend stores bytes under digest-shaped keys and checks nothing about them; the CAS is
// a backend inside VerifyingBlobAccess, the action cache one inside CompletenessCheckingBlobAccess.
#ifndef KFARM_COMMON_BLOB_ACCESS_H_
#define KFARM_COMMON_BLOB_ACCESS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/digest.h"

namespace kfarm {

// Up to `max` bytes of a blob read without copying: `data` stays valid while `owner` is held,
// even after the reader is gone.
struct BlobPiece {
  absl::string_view data;
  std::shared_ptr<const void> owner;
};

class BlobReader {
 public:
  virtual ~BlobReader() = default;
  // Fills up to `max` bytes; 0 means the end. A verifying store reports corruption at the end
  // (an error instead of 0), so callers hold back the last chunk until Read returns 0: nothing
  // corrupt is ever delivered as a complete blob.
  virtual absl::StatusOr<size_t> Read(char* buf, size_t max) = 0;
  // Like Read (an empty piece is the end, the same hold-back rule applies), but a reader whose
  // bytes are already in memory — a mapped file, a memory store — hands them out uncopied.
  virtual absl::StatusOr<BlobPiece> ReadPiece(size_t max);

  // True when the store checks these bytes itself, against a record it made when they were
  // committed (a checksum on disk; bytes that never left memory): a verifying layer above
  // (verifying_blob_access.h) then need not hash them again.
  virtual bool vouched() const { return false; }
  // A verifying layer's verdict on the bytes this reader delivered, given at their end; returns
  // what the caller is told. A store may remember a good verdict (and vouch from then on) or
  // remove a copy found wrong.
  virtual absl::Status Verdict(absl::Status verification) { return verification; }
};

class BlobWriter {
 public:
  virtual ~BlobWriter() = default;  // Without Commit, everything written is discarded.
  virtual absl::Status Write(absl::string_view data) = 0;
  // The pieces in order, as one write where the store can: a message off the network arrives
  // in many small slices, and a system call for each costs more than the bytes. `owner`, when
  // given, keeps the pieces valid after the call, so a store may finish with them later (Commit
  // waits for that).
  virtual absl::Status WritePieces(absl::Span<const absl::string_view> pieces,
                                   std::shared_ptr<const void> owner);
  virtual int64_t bytes_written() const = 0;
  // Makes the blob visible, atomically; a verifying layer first checks the bytes against the
  // digest (a mismatch is INVALID_ARGUMENT naming both digests, and nothing is stored).
  virtual absl::Status Commit() = 0;
};

class BlobAccess {
 public:
  virtual ~BlobAccess() = default;

  // NOT_FOUND when absent. The empty blob is always present.
  absl::StatusOr<std::unique_ptr<BlobReader>> OpenRead(const Digest& digest);
  absl::StatusOr<std::unique_ptr<BlobWriter>> OpenWrite(const Digest& digest);
  // The subset of `digests` not present, in request order; present ones have their lifetime
  // extended (they become most recently used).
  absl::StatusOr<std::vector<Digest>> FindMissing(absl::Span<const Digest> digests);

  // Whole-blob helpers for small blobs (protos, batch calls). Get verifies like OpenRead.
  absl::StatusOr<std::string> Get(const Digest& digest);
  absl::Status Put(const Digest& digest, absl::string_view data);

 protected:
  virtual absl::StatusOr<std::unique_ptr<BlobReader>> DoOpenRead(const Digest& digest) = 0;
  virtual absl::StatusOr<std::unique_ptr<BlobWriter>> DoOpenWrite(const Digest& digest) = 0;
  virtual absl::StatusOr<std::vector<Digest>> DoFindMissing(absl::Span<const Digest> digests) = 0;
};

// A layer over another store (verification, completeness, metrics): whatever it does not
// override passes through to the store beneath, which it owns.
class BlobAccessDecorator : public BlobAccess {
 public:
  explicit BlobAccessDecorator(std::unique_ptr<BlobAccess> base) : base_(std::move(base)) {}
  BlobAccess* base() const { return base_.get(); }

 protected:
  absl::StatusOr<std::unique_ptr<BlobReader>> DoOpenRead(const Digest& digest) override {
    return base_->OpenRead(digest);
  }
  absl::StatusOr<std::unique_ptr<BlobWriter>> DoOpenWrite(const Digest& digest) override {
    return base_->OpenWrite(digest);
  }
  absl::StatusOr<std::vector<Digest>> DoFindMissing(absl::Span<const Digest> digests) override {
    return base_->FindMissing(digests);
  }

 private:
  std::unique_ptr<BlobAccess> base_;
};

// Reads a reader to its end into memory.
// `expected` (the digest's size) sizes the first read: a small blob costs no 64 KiB buffer.
absl::StatusOr<std::string> ReadAll(BlobReader& reader, size_t expected = 64 << 10);

// Reader over bytes held in memory (shared, so a store may hand out its buffer without copying).
// `vouched`: the bytes were checked when they were stored and have not left memory since.
class StringBlobReader : public BlobReader {
 public:
  explicit StringBlobReader(std::shared_ptr<const std::string> data, bool vouched = false)
      : data_(std::move(data)), vouched_(vouched) {}
  absl::StatusOr<size_t> Read(char* buf, size_t max) override;
  absl::StatusOr<BlobPiece> ReadPiece(size_t max) override;
  bool vouched() const override { return vouched_; }

 private:
  std::shared_ptr<const std::string> data_;
  const bool vouched_;
  size_t pos_ = 0;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_BLOB_ACCESS_H_
