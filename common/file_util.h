// Small file helpers whose errors always carry the path.
#ifndef KFARM_COMMON_FILE_UTIL_H_
#define KFARM_COMMON_FILE_UTIL_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "common/digest.h"

namespace kfarm {

absl::StatusOr<std::string> ReadFile(const std::string& path);
// Streams the file to `fn` in chunks of up to 1 MiB.
absl::Status ForEachChunk(const std::string& path,
                          const std::function<void(absl::string_view)>& fn);
// Writes via a temp file + rename so readers never see a partial file.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, bool executable);
// A read-only shared mapping of a file's first `size` bytes, unmapped when the last holder lets
// go — so views of it can travel (into gRPC slices) without copies. Null if mmap fails.
class MappedFile {
 public:
  static std::shared_ptr<const MappedFile> Map(int fd, size_t size);
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();
  absl::string_view bytes() const { return {data_, size_}; }
  // Fills the page tables for bytes [offset, offset + length) in one call, so reading them takes
  // no page fault per page. Best effort: kernels before 5.14 lack it, and reads then fault.
  void Populate(size_t offset, size_t length) const;

 private:
  MappedFile(const char* data, size_t size) : data_(data), size_(size) {}
  const char* data_;
  size_t size_;
};

// Owns a file descriptor: closed when it goes.
class UniqueFd {
 public:
  explicit UniqueFd(int fd = -1) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) {
      Reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~UniqueFd() { Reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void Reset();

 private:
  int fd_;
};

// Streams the file through SHA-256.
absl::StatusOr<Digest> DigestOfFile(const std::string& path);

}  // namespace kfarm

#endif  // KFARM_COMMON_FILE_UTIL_H_
