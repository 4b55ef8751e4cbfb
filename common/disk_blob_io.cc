#include "common/disk_blob_io.h"

#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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

// Checks what it reads against the checksum recorded when the blob was committed, and vouches
// for the bytes on that ground. A blob with none recorded (adopted after a crash, journaled by an
// older version) is checked by the verifying layer above, whose verdict records the checksum.
//
// Large blobs are mapped rather than read(2): the kernel's copy into user memory runs at a third
// of memcpy's speed here, and ReadPiece hands out the mapping itself, so a streamed read copies
// nothing in user space. The mapping's page tables are filled 8 MiB ahead of the reader
// (MADV_POPULATE_READ), one call instead of a fault every few pages: faults cost several times
// more on some hosts (docs/benchmarks.md). Blob files are never truncated in place (eviction unlinks), and the
// size was checked before mapping.
class DiskBlobReader : public BlobReader {
 public:
  DiskBlobReader(DiskBlobAccess* store, const Digest& digest, int fd, std::string path,
                 uint64_t checksum, int64_t file_size)
      : store_(store), digest_(digest), fd_(fd), path_(std::move(path)), expected_(checksum) {
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
    if (map_pos_ + piece.size() > populated_) {  // The next window's page tables, in one call.
      map_->Populate(map_pos_, std::max(piece.size(), kPopulateWindow));
      populated_ = map_pos_ + std::max(piece.size(), kPopulateWindow);
    }
    map_pos_ += piece.size();
    RETURN_IF_ERROR(Check(piece));
    return BlobPiece{piece, map_};
  }

  bool vouched() const override { return expected_ != 0; }

  absl::Status Verdict(absl::Status verification) override {
    if (!verification.ok()) return Condemn(verification.message());
    if (expected_ == 0 && at_end_) store_->RecordChecksum(digest_, checksum_.Finish());
    return verification;
  }

 private:
  // Feeds `piece` to the checksum; an empty piece is the end, where the recorded one is compared.
  absl::Status Check(absl::string_view piece) {
    if (!piece.empty()) {
      checksum_.Update(piece);
      return absl::OkStatus();
    }
    at_end_ = true;
    if (expected_ == 0) return absl::OkStatus();
    const uint64_t actual = checksum_.Finish();
    if (actual == expected_) return absl::OkStatus();
    return Condemn(absl::StrFormat(
        "content checksum %016x differs from the %016x recorded when it was committed", actual,
        expected_));
  }

  absl::Status Condemn(absl::string_view why) {
    store_->DropCorrupt(digest_, why);
    return absl::NotFoundError(absl::StrCat("blob ", digest_.ToString(),
                                            " was corrupt on disk and has been removed; "
                                            "upload it again"));
  }

  DiskBlobAccess* store_;
  Digest digest_;
  int fd_;
  std::string path_;
  const uint64_t expected_;
  FastChecksum checksum_;
  bool at_end_ = false;
  static constexpr int64_t kMapThreshold = 1 << 20;
  static constexpr size_t kPopulateWindow = 8 << 20;
  std::shared_ptr<const MappedFile> map_;
  size_t map_pos_ = 0;
  size_t populated_ = 0;  // Page tables are filled up to here.
};

// Writes into a temporary file and commits it through the store, with the checksum of the bytes
// written: whether they are the blob their key names is the verifying layer's question, asked
// before Commit.
class DiskBlobWriter : public BlobWriter {
 public:
  DiskBlobWriter(DiskBlobAccess* store, const Digest& digest, int fd, std::string temp_path)
      : store_(store), digest_(digest), fd_(fd), temp_path_(std::move(temp_path)) {}
  ~DiskBlobWriter() override {
    if (fd_ >= 0) store_->fs()->Close(fd_);
    if (!committed_) store_->fs()->Unlink(temp_path_.c_str());
    if (!reservation_handed_over_) store_->ReleaseWriting(accepted_);
  }

  absl::Status Write(absl::string_view data) override {
    Accept(data.size());
    checksum_.Update(data);
    return Named(WritevFully(store_->fs(), fd_, {data}, temp_path_));
  }

  absl::Status WritePieces(absl::Span<const absl::string_view> pieces,
                           std::shared_ptr<const void>) override {
    size_t size = 0;
    for (absl::string_view p : pieces) {
      size += p.size();
      checksum_.Update(p);
    }
    Accept(size);
    return Named(WritevFully(store_->fs(), fd_, pieces, temp_path_));
  }

  int64_t bytes_written() const override { return accepted_; }

  absl::Status Commit() override {
    // No fsync: a blob torn by power loss fails its checksum on the next read and is dropped.
    int fd = fd_;
    fd_ = -1;
    if (store_->fs()->Close(fd) != 0) return Named(ErrnoError("close", temp_path_));
    reservation_handed_over_ = true;
    RETURN_IF_ERROR(Named(store_->CommitFile(temp_path_, digest_, accepted_, checksum_.Finish())));
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  // A failure of the disk (not of the bytes) says which blob it cost.
  absl::Status Named(absl::Status s) const { return Annotate(s, "blob " + digest_.ToString()); }
  void Accept(size_t size) {
    accepted_ += static_cast<int64_t>(size);
    store_->ReserveWriting(static_cast<int64_t>(size));
  }

  DiskBlobAccess* store_;
  Digest digest_;
  int fd_;
  std::string temp_path_;
  int64_t accepted_ = 0;
  FastChecksum checksum_;
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
