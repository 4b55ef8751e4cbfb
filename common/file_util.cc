#include "common/file_util.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <memory>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace kfarm {

std::shared_ptr<const MappedFile> MappedFile::Map(int fd, size_t size) {
  if (size == 0) return std::shared_ptr<const MappedFile>(new MappedFile(nullptr, 0));
  void* m = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
  if (m == MAP_FAILED) return nullptr;
  ::madvise(m, size, MADV_SEQUENTIAL);
  return std::shared_ptr<const MappedFile>(new MappedFile(static_cast<const char*>(m), size));
}

void MappedFile::Populate(size_t offset, size_t length) const {
  if (data_ == nullptr || offset >= size_) return;
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  const size_t start = offset / page * page;
  const size_t end = std::min(size_, offset + length);
  ::madvise(const_cast<char*>(data_) + start, end - start, MADV_POPULATE_READ);
}

MappedFile::~MappedFile() {
  if (size_ > 0) ::munmap(const_cast<char*>(data_), size_);
}

absl::Status ForEachChunk(const std::string& path,
                          const std::function<void(absl::string_view)>& fn) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path);
  // Sized to the file, uninitialised: most files read here (stdout, small outputs) are tiny,
  // and a zeroed 1 MiB buffer per file cost more than hashing them.
  struct stat st;
  size_t size = 1 << 20;
  if (::fstat(fd, &st) == 0) size = std::clamp<size_t>(static_cast<size_t>(st.st_size) + 1, 4096, size);
  std::unique_ptr<char[]> buf(new char[size]);
  for (;;) {
    ssize_t n = ::read(fd, buf.get(), size);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = ErrnoError("read", path);
      ::close(fd);
      return s;
    }
    if (n == 0) break;
    fn(absl::string_view(buf.get(), static_cast<size_t>(n)));
  }
  ::close(fd);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::string out;
  RETURN_IF_ERROR(ForEachChunk(path, [&](absl::string_view c) { out.append(c.data(), c.size()); }));
  return out;
}

absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, bool executable) {
  std::string tmp = absl::StrCat(path, ".kfarm-tmp.", ::getpid());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, executable ? 0755 : 0644);
  if (fd < 0) return ErrnoError("open", tmp);
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status s = ErrnoError("write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return s;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (::close(fd) != 0) return ErrnoError("close", tmp);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status s = ErrnoError("rename", tmp);
    ::unlink(tmp.c_str());
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<Digest> DigestOfFile(const std::string& path) {
  Sha256 hasher;
  int64_t size = 0;
  RETURN_IF_ERROR(ForEachChunk(path, [&](absl::string_view c) {
    hasher.Update(c);
    size += static_cast<int64_t>(c.size());
  }));
  return Digest(hasher.Finish(), size);
}

void UniqueFd::Reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace kfarm
