#include "common/disk_blob_io.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/content_verifier.h"
#include "common/fast_checksum.h"
#include "common/status.h"

namespace kfarm {
namespace {

absl::Status WriteFully(int fd, absl::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
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
    if (file_size >= kMapThreshold) {
      void* m = ::mmap(nullptr, static_cast<size_t>(file_size), PROT_READ, MAP_SHARED, fd_, 0);
      if (m != MAP_FAILED) {
        ::madvise(m, static_cast<size_t>(file_size), MADV_SEQUENTIAL);
        map_ = std::make_shared<Mapping>(static_cast<const char*>(m), static_cast<size_t>(file_size));
      }
    }
  }
  ~DiskBlobReader() override { ::close(fd_); }

  absl::StatusOr<size_t> Read(char* buf, size_t max) override {
    if (map_ != nullptr) {
      ASSIGN_OR_RETURN(BlobPiece piece, ReadPiece(max));
      std::memcpy(buf, piece.data.data(), piece.data.size());
      return piece.data.size();
    }
    ssize_t n;
    do {
      n = ::read(fd_, buf, max);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return ErrnoError("read", path_);
    RETURN_IF_ERROR(Check(absl::string_view(buf, static_cast<size_t>(n))));
    return static_cast<size_t>(n);
  }

  absl::StatusOr<BlobPiece> ReadPiece(size_t max) override {
    if (map_ == nullptr) return BlobReader::ReadPiece(max);
    absl::string_view piece(map_->data + map_pos_, std::min(max, map_->size - map_pos_));
    map_pos_ += piece.size();
    RETURN_IF_ERROR(Check(piece));
    return BlobPiece{piece, map_};
  }

 private:
  struct Mapping {
    Mapping(const char* d, size_t n) : data(d), size(n) {}
    ~Mapping() { ::munmap(const_cast<char*>(data), size); }
    const char* data;
    size_t size;
  };

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
  std::shared_ptr<Mapping> map_;
  size_t map_pos_ = 0;
};

class DiskBlobWriter : public BlobWriter {
 public:
  DiskBlobWriter(DiskBlobAccess* store, const Digest& digest, int fd, std::string temp_path)
      : store_(store), digest_(digest), fd_(fd), temp_path_(std::move(temp_path)),
        verifier_(digest) {}
  ~DiskBlobWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(temp_path_.c_str());
  }

  absl::Status Write(absl::string_view data) override {
    if (store_->verify_content()) {
      RETURN_IF_ERROR(verifier_.UpdateWithinSize(data));
    } else {
      verifier_.Update(data);  // Counts the bytes; values under digest-shaped keys.
    }
    if (store_->verify_content()) checksum_.Update(data);
    return WriteFully(fd_, data, temp_path_);
  }

  int64_t bytes_written() const override { return verifier_.size(); }

  absl::Status Commit() override {
    int64_t bytes = verifier_.size();
    if (store_->verify_content()) RETURN_IF_ERROR(verifier_.Finish());
    // No fsync: a blob torn by power loss fails verification on its next read and is dropped.
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return ErrnoError("close", temp_path_);
    RETURN_IF_ERROR(store_->CommitFile(temp_path_, digest_, bytes,
                                       store_->verify_content() ? checksum_.Finish() : 0));
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  DiskBlobAccess* store_;
  Digest digest_;
  int fd_;
  std::string temp_path_;
  ContentVerifier verifier_;
  FastChecksum checksum_;
  bool committed_ = false;
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
