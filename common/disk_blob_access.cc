#include "common/disk_blob_access.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/disk_blob_io.h"
#include "common/log.h"
#include "common/status.h"

namespace kfarm {
namespace {

// Where a journal write cannot fail the caller (a destructor, a background pass), it is logged:
// the next start-up then reconciles the store with its files, and an operator knows why.
void LogIfFailed(const absl::Status& s, const std::string& root) {
  if (!s.ok()) LogError("CAS ", root, ": journal not written (", s.message(), "); the next start reconciles it");
}

namespace fs = std::filesystem;

absl::Status MakeDirs(const std::string& path) {
  std::error_code ec;
  fs::create_directories(path, ec);
  if (ec) return ErrnoError("mkdir", path, ec.value());
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<DiskBlobAccess>> DiskBlobAccess::Open(const Options& options) {
  auto store = std::unique_ptr<DiskBlobAccess>(new DiskBlobAccess(options));
  RETURN_IF_ERROR(MakeDirs(options.root));
  std::string lock_path = options.root + "/LOCK";
  store->lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (store->lock_fd_ < 0) return ErrnoError("open", lock_path);
  if (::flock(store->lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("store ", options.root, " is in use by another process (", lock_path,
                     " is locked)"));
  }
  // The 256 shard directories are made as blobs first land in them (CommitFile): a worker starts
  // without 256 mkdirs, which on an ext4 that just freed many inodes cost it ~50 ms of CPU.
  RETURN_IF_ERROR(MakeDirs(options.root + "/blobs"));
  store->temp_dir_ = absl::StrCat(options.root, "/tmp/", ::getpid(), "-",
                                  absl::ToUnixNanos(absl::Now()));
  RETURN_IF_ERROR(MakeDirs(store->temp_dir_));
  {
    absl::MutexLock lock(&store->mu_);
    ASSIGN_OR_RETURN(store->journal_, DiskJournal::Open(options.root + "/journal", &store->lru_));
    store->EvictLocked();  // The cap may have shrunk since the last run.
  }
  store->reconciler_ = std::thread([s = store.get()] { s->Reconcile(); });
  return store;
}

DiskBlobAccess::~DiskBlobAccess() {
  stopping_ = true;
  if (reconciler_.joinable()) reconciler_.join();
  {
    absl::MutexLock lock(&mu_);
    if (journal_) LogIfFailed(journal_->Flush(), options_.root);
  }
  std::error_code ec;
  if (!temp_dir_.empty()) fs::remove_all(temp_dir_, ec);
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

void DiskBlobAccess::WaitForReconcile() {
  if (reconciler_.joinable()) reconciler_.join();
}

int64_t DiskBlobAccess::total_bytes() {
  absl::MutexLock lock(&mu_);
  return lru_.total_bytes();
}

size_t DiskBlobAccess::blob_count() {
  absl::MutexLock lock(&mu_);
  return lru_.count();
}

std::vector<Digest> DiskBlobAccess::Digests() {
  absl::MutexLock lock(&mu_);
  std::vector<Digest> out;
  out.reserve(lru_.count());
  lru_.ForEach([&](const Digest& d, int64_t) { out.push_back(d); });
  return out;
}

std::string DiskBlobAccess::BlobPath(const Digest& d) const {
  return absl::StrFormat("%s/blobs/%02x/%s-%d", options_.root, d.hash()[0], d.hex(), d.size());
}

std::string DiskBlobAccess::NewTempPath() {
  return absl::StrCat(temp_dir_, "/", temp_counter_.fetch_add(1));
}

absl::Status DiskBlobAccess::CommitFile(const std::string& temp_path, const Digest& d,
                                        int64_t bytes, uint64_t checksum) {
  std::string path = BlobPath(d);
  absl::MutexLock lock(&mu_);
  ReleaseWriting(bytes);  // Counted as stored from here on, whether or not the rename works.
  // Renaming under the lock keeps eviction's unlink from racing a re-upload of the same blob.
  int renamed = fs_->Rename(temp_path.c_str(), path.c_str());
  if (renamed != 0 && errno == ENOENT) {
    const std::string shard = path.substr(0, path.rfind('/'));
    if (fs_->Mkdir(shard.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoError("mkdir", shard);
    renamed = fs_->Rename(temp_path.c_str(), path.c_str());
  }
  if (renamed != 0) return ErrnoError("rename", temp_path);
  lru_.Insert(d, bytes, checksum);
  journal_->RecordAdd(d, bytes, checksum);
  EvictLocked();
  if (journal_->NeedsCompaction(lru_)) {
    absl::Status s = journal_->Compact(lru_);
    if (!s.ok()) LogWarning("CAS journal compaction failed: ", s.message());
  }
  return journal_->Flush();
}

void DiskBlobAccess::RemoveLocked(const Digest& d) {
  std::optional<int64_t> bytes = lru_.Remove(d);
  if (!bytes) return;
  journal_->RecordRemove(d, *bytes);
  fs_->Unlink(BlobPath(d).c_str());
}

void DiskBlobAccess::EvictLocked() {
  // The newest blob is never evicted, so a blob larger than the cap is still usable once.
  while (lru_.total_bytes() + writing_bytes_.load() > options_.max_bytes && lru_.count() > 1) {
    RemoveLocked(*lru_.Oldest());
    evictions_.fetch_add(1);
  }
  stored_bytes_.store(lru_.total_bytes());
}

void DiskBlobAccess::ReserveWriting(int64_t bytes) {
  const int64_t writing = writing_bytes_.fetch_add(bytes) + bytes;
  if (writing + stored_bytes_.load() <= options_.max_bytes) return;
  absl::MutexLock lock(&mu_);
  EvictLocked();
}

void DiskBlobAccess::ReleaseWriting(int64_t bytes) { writing_bytes_.fetch_sub(bytes); }

void DiskBlobAccess::RecordChecksum(const Digest& d, uint64_t checksum) {
  absl::MutexLock lock(&mu_);
  if (!lru_.Contains(d) || lru_.Checksum(d) != 0) return;
  lru_.SetChecksum(d, checksum);
  std::optional<int64_t> bytes = lru_.Touch(d);
  journal_->RecordAdd(d, *bytes, checksum);
}

void DiskBlobAccess::DropCorrupt(const Digest& d, absl::string_view why) {
  LogError("store ", options_.root, ": blob ", d.ToString(), " at ", BlobPath(d), " is corrupt (",
           why, "); removed");
  absl::MutexLock lock(&mu_);
  RemoveLocked(d);
  LogIfFailed(journal_->Flush(), options_.root);
}

absl::StatusOr<std::unique_ptr<BlobReader>> DiskBlobAccess::DoOpenRead(const Digest& digest) {
  std::string path = BlobPath(digest);
  uint64_t checksum = 0;
  int64_t bytes = 0;
  {
    absl::MutexLock lock(&mu_);
    std::optional<int64_t> indexed = lru_.Touch(digest);
    if (!indexed) {
      return absl::NotFoundError(absl::StrCat("blob ", digest.ToString(), " is not in the CAS"));
    }
    bytes = *indexed;
    journal_->RecordAdd(digest, bytes);
    checksum = lru_.Checksum(digest);
  }
  int fd = fs_->Open(path.c_str(), O_RDONLY | O_CLOEXEC, 0);
  if (fd < 0) {
    if (errno != ENOENT) return ErrnoError("open", path);
    LogWarning("CAS: blob ", digest.ToString(), " is indexed but ", path,
               " is gone; dropping it from the index");
    absl::MutexLock lock(&mu_);
    RemoveLocked(digest);
    return absl::NotFoundError(absl::StrCat("blob ", digest.ToString(), " is not in the CAS"));
  }
  struct stat st;
  if (fs_->Fstat(fd, &st) != 0) {
    absl::Status s = ErrnoError("stat", path);
    fs_->Close(fd);
    return s;
  }
  if (st.st_size != bytes) {
    fs_->Close(fd);
    DropCorrupt(digest, absl::StrCat("file has ", st.st_size, " bytes, ", bytes, " were stored"));
    return absl::NotFoundError(absl::StrCat("blob ", digest.ToString(),
                                            " was corrupt on disk and has been removed; "
                                            "upload it again"));
  }
  return NewDiskBlobReader(this, digest, fd, std::move(path), checksum, st.st_size);
}

absl::StatusOr<std::unique_ptr<BlobWriter>> DiskBlobAccess::DoOpenWrite(const Digest& digest) {
  std::string temp = NewTempPath();
  int fd = fs_->Open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, options_.file_mode);
  if (fd < 0) return Annotate(ErrnoError("open", temp), "blob " + digest.ToString());
  // The umask must not decide who can read or execute a cached input.
  if (fs_->Fchmod(fd, options_.file_mode) != 0 ||
      (options_.owner_uid >= 0 && fs_->Fchown(fd, options_.owner_uid, options_.owner_uid) != 0)) {
    absl::Status s = ErrnoError("chmod/chown", temp);
    fs_->Close(fd);
    fs_->Unlink(temp.c_str());
    return Annotate(s, "blob " + digest.ToString());
  }
  return NewDiskBlobWriter(this, digest, fd, std::move(temp));
}

absl::StatusOr<std::vector<Digest>> DiskBlobAccess::DoFindMissing(
    absl::Span<const Digest> digests) {
  std::vector<Digest> missing;
  absl::MutexLock lock(&mu_);
  for (const Digest& d : digests) {
    if (std::optional<int64_t> bytes = lru_.Touch(d)) {
      journal_->RecordAdd(d, *bytes);
    } else {
      missing.push_back(d);
    }
  }
  return missing;
}

void DiskBlobAccess::Reconcile() {
  // Leftovers of earlier processes: partial uploads that never committed.
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(options_.root + "/tmp", ec)) {
    if (entry.path().string() != temp_dir_) fs::remove_all(entry.path(), ec);
  }
  size_t adopted = 0, dropped = 0;
  for (int i = 0; i < 256 && !stopping_; ++i) {
    std::string dir = absl::StrFormat("%s/blobs/%02x", options_.root, i);
    std::vector<std::pair<Digest, int64_t>> found;
    if (DIR* dp = ::opendir(dir.c_str())) {
      while (struct dirent* e = ::readdir(dp)) {
        absl::string_view name(e->d_name);
        size_t dash = name.find('-');
        int64_t size = 0;
        if (dash == absl::string_view::npos || !absl::SimpleAtoi(name.substr(dash + 1), &size)) {
          continue;
        }
        auto d = Digest::FromHexAndSize(name.substr(0, dash), size);
        if (d.ok()) found.emplace_back(*d, size);
      }
      ::closedir(dp);
    }
    absl::MutexLock lock(&mu_);
    for (auto& [d, size] : found) {
      if (lru_.Contains(d)) continue;
      // What the file holds, not what its name says: a torn file is then caught by its size
      // or by verification on its first read.
      struct stat st;
      if (fs_->Stat(BlobPath(d).c_str(), &st) != 0) continue;
      lru_.InsertOldest(d, st.st_size);
      ++adopted;
    }
  }
  // Entries whose file is gone (deleted by hand, lost in a crash) must not be reported present.
  std::vector<Digest> known;
  {
    absl::MutexLock lock(&mu_);
    known.reserve(lru_.count());
    lru_.ForEach([&](const Digest& d, int64_t) { known.push_back(d); });
  }
  for (const Digest& d : known) {
    if (stopping_) break;
    if (::access(BlobPath(d).c_str(), F_OK) == 0) continue;
    absl::MutexLock lock(&mu_);
    if (::access(BlobPath(d).c_str(), F_OK) != 0 && lru_.Contains(d)) {
      RemoveLocked(d);
      ++dropped;
    }
  }
  absl::MutexLock lock(&mu_);
  if (adopted > 0 || dropped > 0) {
    // Adopted entries go into the journal at the old end, as a compaction writes them.
    LogIfFailed(journal_->Compact(lru_), options_.root);
    LogInfo("CAS ", options_.root, ": adopted ", adopted, " unjournaled blobs, dropped ",
            dropped, " missing ones");
  }
  EvictLocked();
  LogIfFailed(journal_->Flush(), options_.root);
}

}  // namespace kfarm
