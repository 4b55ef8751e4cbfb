// The disk store's memory across restarts: an append-only log of which blobs exist and in what
// order they were last used, so opening a store of 100k blobs replays one file instead of
// scanning and stat-ing every blob. Records are text lines, "+HASH SIZE BYTES [CHECKSUM]" (stored
// or used; CHECKSUM is the content's FastChecksum in hex, written when the store verified the
// bytes) and "-HASH SIZE BYTES" (removed); a torn last line from a crash is ignored.
#ifndef KFARM_COMMON_DISK_JOURNAL_H_
#define KFARM_COMMON_DISK_JOURNAL_H_

#include <cstdio>
#include <string>

#include "absl/status/statusor.h"
#include "common/lru_index.h"

namespace kfarm {

class DiskJournal {
 public:
  // Replays `path` (if it exists) into `index` and opens it for appending.
  static absl::StatusOr<std::unique_ptr<DiskJournal>> Open(const std::string& path,
                                                           LruIndex* index);
  ~DiskJournal();

  // Buffered; Flush() pushes records to the kernel. Losing unflushed touches on a crash costs
  // only LRU precision; stores flush after every add and remove.
  void RecordAdd(const Digest& d, int64_t bytes, uint64_t checksum = 0);
  void RecordRemove(const Digest& d, int64_t bytes);
  absl::Status Flush();

  // True when the log has grown well past the live entries and should be rewritten.
  bool NeedsCompaction(const LruIndex& index) const;
  // Rewrites the log as one "+" line per live entry, oldest first (temp file + rename).
  absl::Status Compact(const LruIndex& index);

 private:
  DiskJournal(std::string path, FILE* file, size_t records)
      : path_(std::move(path)), file_(file), records_(records) {}
  void Append(char op, const Digest& d, int64_t bytes, uint64_t checksum);

  std::string path_;
  FILE* file_;
  size_t records_;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_DISK_JOURNAL_H_
