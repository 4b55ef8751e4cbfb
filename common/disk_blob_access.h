// The embedded default store: one file per blob under {root}/blobs/{hh}/{hash}-{size}, a size cap
// with LRU eviction, and a journal (disk_journal.h) so a restart replays one file instead of
// rescanning. Writes go to {root}/tmp and are renamed into place only on Commit, so no partial
// blob is ever visible. Each blob's checksum (fast_checksum.h) is recorded at commit and checked
// on every read: a blob found corrupt is removed and reported NOT_FOUND. A background pass after
// Open adopts blob files the journal missed (a crash between rename and journal write) and drops
// entries whose files vanished.
//
// It stores bytes under digest-shaped keys and checks nothing about them against the key: the
// CAS wraps it in VerifyingBlobAccess, the action cache (whose keys are not content digests) does
// not.
#ifndef KFARM_COMMON_DISK_BLOB_ACCESS_H_
#define KFARM_COMMON_DISK_BLOB_ACCESS_H_

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/blob_access.h"
#include "common/disk_journal.h"
#include "common/file_system.h"
#include "common/lru_index.h"

namespace kfarm {

class DiskBlobAccess : public BlobAccess {
 public:
  struct Options {
    std::string root;
    int64_t max_bytes = int64_t{10} << 30;
    int file_mode = 0444;   // Blob files are never writable: they may be hardlinked into sandboxes.
    int owner_uid = -1;     // When >= 0 (and running as root), blob files are chowned to it.
    FileSystem* fs = nullptr;  // The blobs' system calls; null: the real ones.
  };

  // Fails if another process holds the store (a lock file guards it).
  static absl::StatusOr<std::unique_ptr<DiskBlobAccess>> Open(const Options& options);
  ~DiskBlobAccess() override;

  // Blocks until the post-open reconciliation pass has finished (tests, benchmarks).
  void WaitForReconcile();
  int64_t total_bytes();
  size_t blob_count();
  std::vector<Digest> Digests();  // Oldest first.

  // Internal to the store's readers and writers.
  std::string BlobPath(const Digest& d) const;
  absl::Status CommitFile(const std::string& temp_path, const Digest& d, int64_t bytes,
                          uint64_t checksum);
  void RecordChecksum(const Digest& d, uint64_t checksum);
  void DropCorrupt(const Digest& d, absl::string_view why);
  std::string NewTempPath();
  // Bytes written to blobs not yet committed use the disk as much as stored blobs do, so they
  // count toward max_bytes: uploads in flight (and abandoned ones, until they expire) make the
  // least recently used blobs go, and the store never holds more than its cap on disk. A writer
  // reserves as it writes; CommitFile takes its reservation over, or the writer releases it.
  void ReserveWriting(int64_t bytes);
  void ReleaseWriting(int64_t bytes);
  int64_t writing_bytes() const { return writing_bytes_.load(); }
  int64_t evictions() const { return evictions_.load(); }  // Blobs removed to stay in the cap.
  FileSystem* fs() const { return fs_; }

 protected:
  absl::StatusOr<std::unique_ptr<BlobReader>> DoOpenRead(const Digest& digest) override;
  absl::StatusOr<std::unique_ptr<BlobWriter>> DoOpenWrite(const Digest& digest) override;
  absl::StatusOr<std::vector<Digest>> DoFindMissing(absl::Span<const Digest> digests) override;

 private:
  explicit DiskBlobAccess(Options options) : options_(std::move(options)) {}
  void Reconcile();
  void RemoveLocked(const Digest& d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  FileSystem* const fs_ = options_.fs != nullptr ? options_.fs : FileSystem::Real();
  std::string temp_dir_;
  int lock_fd_ = -1;
  std::atomic<uint64_t> temp_counter_{0};
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> writing_bytes_{0};
  std::atomic<int64_t> evictions_{0};
  // lru_.total_bytes() after the last eviction pass: lets ReserveWriting skip the lock while the
  // store is below its cap.
  std::atomic<int64_t> stored_bytes_{0};
  std::thread reconciler_;

  absl::Mutex mu_;
  LruIndex lru_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<DiskJournal> journal_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kfarm

#endif  // KFARM_COMMON_DISK_BLOB_ACCESS_H_
