#include "common/file_system.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

namespace kfarm {
namespace {

class RealFileSystem : public FileSystem {
 public:
  int Open(const char* path, int flags, mode_t mode) override { return ::open(path, flags, mode); }
  ssize_t Read(int fd, void* buf, size_t count) override { return ::read(fd, buf, count); }
  ssize_t Writev(int fd, const struct iovec* iov, int count) override {
    return ::writev(fd, iov, count);
  }
  int Close(int fd) override { return ::close(fd); }
  int Fstat(int fd, struct stat* st) override { return ::fstat(fd, st); }
  int Fchmod(int fd, mode_t mode) override { return ::fchmod(fd, mode); }
  int Fchown(int fd, uid_t uid, gid_t gid) override { return ::fchown(fd, uid, gid); }
  int Rename(const char* from, const char* to) override { return ::rename(from, to); }
  int Mkdir(const char* path, mode_t mode) override { return ::mkdir(path, mode); }
  int Unlink(const char* path) override { return ::unlink(path); }
  int Stat(const char* path, struct stat* st) override { return ::stat(path, st); }
};

}  // namespace

FileSystem* FileSystem::Real() {
  static FileSystem* real = new RealFileSystem();  // Never destroyed: used until exit.
  return real;
}

}  // namespace kfarm
