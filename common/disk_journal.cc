#include "common/disk_journal.h"

#include <cstdio>
#include <cstring>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace kfarm {
namespace {

// Parses one record; false for a torn or foreign line, which replay skips.
bool ParseRecord(absl::string_view line, char* op, Digest* d, int64_t* bytes,
                 uint64_t* checksum) {
  if (line.size() < 2 || (line[0] != '+' && line[0] != '-')) return false;
  std::vector<absl::string_view> f = absl::StrSplit(line.substr(1), ' ');
  int64_t size = 0;
  if ((f.size() != 3 && f.size() != 4) || !absl::SimpleAtoi(f[1], &size) ||
      !absl::SimpleAtoi(f[2], bytes) || *bytes < 0) {
    // A damaged line is skipped: a negative size would drive the store's byte count (and so
    // its eviction) wrong. Found by tests/fuzz/journal_fuzz.cc.
    return false;
  }
  *checksum = 0;
  if (f.size() == 4 && !absl::SimpleHexAtoi(f[3], checksum)) return false;
  auto digest = Digest::FromHexAndSize(f[0], size);
  if (!digest.ok()) return false;
  *op = line[0];
  *d = *digest;
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<DiskJournal>> DiskJournal::Open(const std::string& path,
                                                               LruIndex* index) {
  size_t records = 0;
  if (FILE* in = std::fopen(path.c_str(), "re")) {
    char line[256];
    while (std::fgets(line, sizeof line, in) != nullptr) {
      size_t len = std::strlen(line);
      if (len == 0 || line[len - 1] != '\n') break;  // Torn tail from a crash.
      char op;
      Digest d;
      int64_t bytes;
      uint64_t checksum;
      if (!ParseRecord(absl::string_view(line, len - 1), &op, &d, &bytes, &checksum)) continue;
      ++records;
      if (op == '+') {
        index->Insert(d, bytes, checksum);
      } else {
        index->Remove(d);
      }
    }
    std::fclose(in);
  } else if (errno != ENOENT) {
    return ErrnoError("open", path);
  }
  FILE* out = std::fopen(path.c_str(), "ae");
  if (out == nullptr) return ErrnoError("open", path);
  auto journal = std::unique_ptr<DiskJournal>(new DiskJournal(path, out, records));
  // A torn tail would glue itself onto the next record; start on a fresh line.
  std::fputc('\n', out);
  return journal;
}

DiskJournal::~DiskJournal() {
  if (file_ != nullptr) std::fclose(file_);
}

void DiskJournal::Append(char op, const Digest& d, int64_t bytes, uint64_t checksum) {
  // Formatted in place: FindMissing journals one touch per digest, 10k per call.
  static const char kHex[] = "0123456789abcdef";
  char rec[1 + 64 + 3 + 2 * absl::numbers_internal::kFastToBufferSize + 16];
  char* p = rec;
  *p++ = op;
  for (uint8_t b : d.hash()) {
    *p++ = kHex[b >> 4];
    *p++ = kHex[b & 15];
  }
  *p++ = ' ';
  p = absl::numbers_internal::FastIntToBuffer(d.size(), p);
  *p++ = ' ';
  p = absl::numbers_internal::FastIntToBuffer(bytes, p);
  if (checksum != 0) {
    *p++ = ' ';
    for (int shift = 60; shift >= 0; shift -= 4) *p++ = kHex[(checksum >> shift) & 15];
  }
  *p++ = '\n';
  std::fwrite(rec, 1, static_cast<size_t>(p - rec), file_);
  ++records_;
}

void DiskJournal::RecordAdd(const Digest& d, int64_t bytes, uint64_t checksum) {
  Append('+', d, bytes, checksum);
}
void DiskJournal::RecordRemove(const Digest& d, int64_t bytes) { Append('-', d, bytes, 0); }

absl::Status DiskJournal::Flush() {
  if (std::fflush(file_) != 0) return ErrnoError("write", path_);
  return absl::OkStatus();
}

bool DiskJournal::NeedsCompaction(const LruIndex& index) const {
  return records_ > 4 * index.count() + 4096;
}

absl::Status DiskJournal::Compact(const LruIndex& index) {
  std::string tmp = path_ + ".compact";
  FILE* out = std::fopen(tmp.c_str(), "we");
  if (out == nullptr) return ErrnoError("open", tmp);
  index.ForEachWithChecksum([&](const Digest& d, int64_t bytes, uint64_t checksum) {
    std::string rec = absl::StrCat("+", d.hex(), " ", d.size(), " ", bytes);
    if (checksum != 0) absl::StrAppend(&rec, " ", absl::Hex(checksum, absl::kZeroPad16));
    rec += "\n";
    std::fwrite(rec.data(), 1, rec.size(), out);
  });
  if (std::fclose(out) != 0) return ErrnoError("write", tmp);
  if (std::rename(tmp.c_str(), path_.c_str()) != 0) return ErrnoError("rename", tmp);
  FILE* reopened = std::fopen(path_.c_str(), "ae");
  if (reopened == nullptr) return ErrnoError("open", path_);
  std::fclose(file_);
  file_ = reopened;
  records_ = index.count();
  return absl::OkStatus();
}

}  // namespace kfarm
