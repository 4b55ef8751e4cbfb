#include "common/disk_blob_io.h"

#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/background_stage.h"
#include "common/content_verifier.h"
#include "common/fast_checksum.h"
#include "common/file_util.h"
#include "common/status.h"

namespace kfarm {
namespace {

// writev(2) of all the pieces, resumed after short writes.
absl::Status WritevFully(FileSystem* fs, int fd, absl::Span<const absl::string_view> pieces,
                         const std::string& path) {
  std::vector<struct iovec> iov;
  iov.reserve(pieces.size());
  for (absl::string_view p : pieces) {
    if (!p.empty()) iov.push_back({const_cast<char*>(p.data()), p.size()});
  }
  size_t first = 0;
  while (first < iov.size()) {
    const int count = static_cast<int>(std::min<size_t>(iov.size() - first, IOV_MAX));
    ssize_t n = fs->Writev(fd, &iov[first], count);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write", path);
    }
    for (size_t done = static_cast<size_t>(n); done > 0;) {  // Drop what was written.
      const size_t k = std::min(done, iov[first].iov_len);
      iov[first].iov_base = static_cast<char*>(iov[first].iov_base) + k;
      iov[first].iov_len -= k;
      done -= k;
      if (iov[first].iov_len == 0) ++first;
    }
  }
  return absl::OkStatus();
}

// Verifies as it reads: against the checksum recorded when the store last verified the bytes
// (cheap), or, for a blob the store never verified itself (adopted after a crash, or journaled by
// an older version), against its SHA-256 digest — recording the checksum once that passes.
//
// Large blobs are mapped rather than read(2): the kernel's copy into user memory runs at a third
// of memcpy's speed here, and ReadPiece hands out the mapping itself, so a streamed read copies
// nothing in user space. Blob files are never truncated in place (eviction unlinks), and the
// size was checked before mapping.
class DiskBlobReader : public BlobReader {
 public:
  DiskBlobReader(DiskBlobAccess* store, const Digest& digest, int fd, std::string path,
                 uint64_t checksum, int64_t file_size)
      : store_(store), digest_(digest), fd_(fd), path_(std::move(path)), expected_(checksum) {
    if (store_->verify_content()) {
      checksum_.emplace();
      if (expected_ == 0) verifier_.emplace(digest);
    }
    if (file_size >= kMapThreshold) map_ = MappedFile::Map(fd_, static_cast<size_t>(file_size));
  }
  ~DiskBlobReader() override { store_->fs()->Close(fd_); }

  absl::StatusOr<size_t> Read(char* buf, size_t max) override {
    if (map_ != nullptr) {
      ASSIGN_OR_RETURN(BlobPiece piece, ReadPiece(max));
      std::memcpy(buf, piece.data.data(), piece.data.size());
      return piece.data.size();
    }
    ssize_t n;
    do {
      n = store_->fs()->Read(fd_, buf, max);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return Annotate(ErrnoError("read", path_), "blob " + digest_.ToString());
    RETURN_IF_ERROR(Check(absl::string_view(buf, static_cast<size_t>(n))));
    return static_cast<size_t>(n);
  }

  absl::StatusOr<BlobPiece> ReadPiece(size_t max) override {
    if (map_ == nullptr) return BlobReader::ReadPiece(max);
    absl::string_view piece = map_->bytes().substr(map_pos_, max);
    map_pos_ += piece.size();
    RETURN_IF_ERROR(Check(piece));
    return BlobPiece{piece, map_};
  }

 private:
  // Feeds `piece` to the verification; an empty piece is the end, where the verdict is given.
  absl::Status Check(absl::string_view piece) {
    if (!checksum_) return absl::OkStatus();
    if (!piece.empty()) {
      checksum_->Update(piece);
      if (verifier_) verifier_->Update(piece);
      return absl::OkStatus();
    }
    absl::Status ok = absl::OkStatus();
    const uint64_t actual = checksum_->Finish();
    if (verifier_) {
      ok = verifier_->Finish();
      if (ok.ok()) store_->RecordChecksum(digest_, actual);
    } else if (actual != expected_) {
      ok = absl::DataLossError(absl::StrFormat(
          "content checksum %016x differs from the %016x recorded when it was verified", actual,
          expected_));
    }
    if (ok.ok()) return ok;
    store_->DropCorrupt(digest_, ok.message());
    return absl::NotFoundError(absl::StrCat("blob ", digest_.ToString(),
                                            " was corrupt on disk and has been removed; "
                                            "upload it again"));
  }

  DiskBlobAccess* store_;
  Digest digest_;
  int fd_;
  std::string path_;
  const uint64_t expected_;
  std::optional<FastChecksum> checksum_;
  std::optional<ContentVerifier> verifier_;
  static constexpr int64_t kMapThreshold = 1 << 20;
  std::shared_ptr<const MappedFile> map_;
  size_t map_pos_ = 0;
};

// Verifies every byte against the digest before the blob becomes visible. A large upload that
// arrives with an owner for its bytes is hashed on a thread of its own while this one writes the
// file: SHA-256 is two thirds of an upload's work here, and the two overlap on two cores.
class DiskBlobWriter : public BlobWriter {
 public:
  DiskBlobWriter(DiskBlobAccess* store, const Digest& digest, int fd, std::string temp_path)
      : store_(store), digest_(digest), fd_(fd), temp_path_(std::move(temp_path)),
        verifier_(digest) {}
  ~DiskBlobWriter() override {
    hasher_.reset();  // Stops the thread before the verifier it feeds goes away.
    if (fd_ >= 0) store_->fs()->Close(fd_);
    if (!committed_) store_->fs()->Unlink(temp_path_.c_str());
    if (!reservation_handed_over_) store_->ReleaseWriting(accepted_);
  }

  absl::Status Write(absl::string_view data) override {
    RETURN_IF_ERROR(Accept(data.size()));
    if (hasher_) hasher_->Drain();  // Hashing stays in order.
    Hash(data);
    return Named(WritevFully(store_->fs(), fd_, {data}, temp_path_));
  }

  absl::Status WritePieces(absl::Span<const absl::string_view> pieces,
                           std::shared_ptr<const void> owner) override {
    size_t size = 0;
    for (absl::string_view p : pieces) size += p.size();
    RETURN_IF_ERROR(Accept(size));
    if (owner != nullptr && store_->verify_content() && digest_.size() >= kHashAsideFrom) {
      if (!hasher_) {
        hasher_ = std::make_unique<BackgroundStage>(
            [this](absl::Span<const absl::string_view> batch) {
              for (absl::string_view p : batch) Hash(p);
            },
            kMaxPendingMessages);
      }
      hasher_->Push(pieces, std::move(owner));
    } else {
      if (hasher_) hasher_->Drain();
      for (absl::string_view p : pieces) Hash(p);
    }
    return Named(WritevFully(store_->fs(), fd_, pieces, temp_path_));
  }

  int64_t bytes_written() const override { return accepted_; }

  absl::Status Commit() override {
    if (hasher_) hasher_->Drain();
    if (store_->verify_content()) RETURN_IF_ERROR(verifier_.Finish());
    // No fsync: a blob torn by power loss fails verification on its next read and is dropped.
    int fd = fd_;
    fd_ = -1;
    if (store_->fs()->Close(fd) != 0) return Named(ErrnoError("close", temp_path_));
    reservation_handed_over_ = true;
    RETURN_IF_ERROR(Named(store_->CommitFile(temp_path_, digest_, accepted_,
                                             store_->verify_content() ? checksum_.Finish() : 0)));
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  static constexpr int64_t kHashAsideFrom = 4 << 20;
  static constexpr size_t kMaxPendingMessages = 8;

  // A failure of the disk (not of the bytes) says which blob it cost.
  absl::Status Named(absl::Status s) const { return Annotate(s, "blob " + digest_.ToString()); }
  // Refuses bytes beyond the digest's size (values under digest-shaped keys have no such limit).
  absl::Status Accept(size_t size) {
    if (store_->verify_content()) RETURN_IF_ERROR(verifier_.CheckRoom(accepted_, size));
    accepted_ += static_cast<int64_t>(size);
    store_->ReserveWriting(static_cast<int64_t>(size));
    return absl::OkStatus();
  }
  // Both hashes a piece at a time: the checksum's pass then finds the bytes in cache.
  void Hash(absl::string_view data) {
    if (!store_->verify_content()) return;
    verifier_.Update(data);
    checksum_.Update(data);
  }

  DiskBlobAccess* store_;
  Digest digest_;
  int fd_;
  std::string temp_path_;
  int64_t accepted_ = 0;
  ContentVerifier verifier_;
  FastChecksum checksum_;
  std::unique_ptr<BackgroundStage> hasher_;
  bool committed_ = false;
  bool reservation_handed_over_ = false;  // CommitFile took accepted_ off writing_bytes().
};

}  // namespace

std::unique_ptr<BlobReader> NewDiskBlobReader(DiskBlobAccess* store, const Digest& digest, int fd,
                                              std::string path, uint64_t checksum,
                                              int64_t file_size) {
  return std::make_unique<DiskBlobReader>(store, digest, fd, std::move(path), checksum, file_size);
}

std::unique_ptr<BlobWriter> NewDiskBlobWriter(DiskBlobAccess* store, const Digest& digest, int fd,
                                              std::string temp_path) {
  return std::make_unique<DiskBlobWriter>(store, digest, fd, std::move(temp_path));
}

}  // namespace kfarm
