// The system calls a disk store makes for its blobs, behind one interface (as LevelDB's Env):
// the real one passes them through; tests put a fault-injecting one in its place (common/testing/
// faulty_file_system.h) to show that a full disk, an I/O error or a short write costs the one
// operation it hits, with an error naming the blob, and never a stored blob. The calls keep
// POSIX's form (-1 and errno) so the code around them reads as it would without the seam.
#ifndef KFARM_COMMON_FILE_SYSTEM_H_
#define KFARM_COMMON_FILE_SYSTEM_H_

#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>

namespace kfarm {

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  // The process's one pass-through instance.
  static FileSystem* Real();

  virtual int Open(const char* path, int flags, mode_t mode) = 0;
  virtual ssize_t Read(int fd, void* buf, size_t count) = 0;
  virtual ssize_t Writev(int fd, const struct iovec* iov, int count) = 0;
  virtual int Close(int fd) = 0;
  virtual int Fstat(int fd, struct stat* st) = 0;
  virtual int Fchmod(int fd, mode_t mode) = 0;
  virtual int Fchown(int fd, uid_t uid, gid_t gid) = 0;
  virtual int Rename(const char* from, const char* to) = 0;
  virtual int Mkdir(const char* path, mode_t mode) = 0;
  virtual int Unlink(const char* path) = 0;
  virtual int Stat(const char* path, struct stat* st) = 0;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_FILE_SYSTEM_H_
