// A FileSystem that fails the way disks do, on cue: the disk filling up after so many bytes
// (ENOSPC), reads failing (EIO), writes that take only a few bytes at a time, a rename that
// fails. Everything else passes through to the real file system. Tests only.
#ifndef KFARM_COMMON_TESTING_FAULTY_FILE_SYSTEM_H_
#define KFARM_COMMON_TESTING_FAULTY_FILE_SYSTEM_H_

#include <atomic>
#include <cerrno>
#include <cstdint>

#include "common/file_system.h"

namespace kfarm {

class FaultyFileSystem : public FileSystem {
 public:
  // Writes succeed for `bytes` more bytes in all, then fail with `err` (a write that would
  // cross the limit writes up to it, as a filling disk does).
  void FailWritesAfter(int64_t bytes, int err = ENOSPC) {
    write_budget_ = bytes;
    write_errno_ = err;
  }
  void HealWrites() { write_budget_ = -1; }
  // Every write takes at most `max` bytes (0: no limit).
  void ShortWrites(size_t max) { short_writes_ = max; }
  // Every read fails with `err` (0: reads work).
  void FailReads(int err) { read_errno_ = err; }
  // Every rename fails with `err` (0: renames work).
  void FailRenames(int err) { rename_errno_ = err; }
  int64_t writes() const { return writes_; }

  int Open(const char* path, int flags, mode_t mode) override {
    return FileSystem::Real()->Open(path, flags, mode);
  }
  ssize_t Read(int fd, void* buf, size_t count) override {
    if (read_errno_ != 0) {
      errno = read_errno_;
      return -1;
    }
    return FileSystem::Real()->Read(fd, buf, count);
  }
  ssize_t Writev(int fd, const struct iovec* iov, int count) override {
    ++writes_;
    if (count <= 0) return 0;
    size_t allowed = iov[0].iov_len;  // One piece at a time keeps the arithmetic plain.
    if (short_writes_ > 0 && allowed > short_writes_) allowed = short_writes_;
    const int64_t budget = write_budget_;
    if (budget >= 0) {
      if (budget == 0) {
        errno = write_errno_;
        return -1;
      }
      if (static_cast<int64_t>(allowed) > budget) allowed = static_cast<size_t>(budget);
    }
    struct iovec one = {iov[0].iov_base, allowed};
    const ssize_t n = FileSystem::Real()->Writev(fd, &one, 1);
    if (n > 0 && budget >= 0) write_budget_ -= n;
    return n;
  }
  int Close(int fd) override { return FileSystem::Real()->Close(fd); }
  int Fstat(int fd, struct stat* st) override { return FileSystem::Real()->Fstat(fd, st); }
  int Fchmod(int fd, mode_t mode) override { return FileSystem::Real()->Fchmod(fd, mode); }
  int Fchown(int fd, uid_t uid, gid_t gid) override {
    return FileSystem::Real()->Fchown(fd, uid, gid);
  }
  int Rename(const char* from, const char* to) override {
    if (rename_errno_ != 0) {
      errno = rename_errno_;
      return -1;
    }
    return FileSystem::Real()->Rename(from, to);
  }
  int Mkdir(const char* path, mode_t mode) override { return FileSystem::Real()->Mkdir(path, mode); }
  int Unlink(const char* path) override { return FileSystem::Real()->Unlink(path); }
  int Stat(const char* path, struct stat* st) override { return FileSystem::Real()->Stat(path, st); }

 private:
  std::atomic<int64_t> write_budget_{-1};
  std::atomic<int> write_errno_{ENOSPC};
  std::atomic<size_t> short_writes_{0};
  std::atomic<int> read_errno_{0};
  std::atomic<int> rename_errno_{0};
  std::atomic<int64_t> writes_{0};
};

}  // namespace kfarm

#endif  // KFARM_COMMON_TESTING_FAULTY_FILE_SYSTEM_H_
