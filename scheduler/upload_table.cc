#include "scheduler/upload_table.h"

#include "absl/strings/str_cat.h"

namespace kfarm {

absl::StatusOr<std::shared_ptr<Upload>> UploadTable::Acquire(const std::string& name) {
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_();
  SweepLocked(now);
  Entry& e = uploads_[name];
  if (e.busy) {
    return absl::AbortedError(
        absl::StrCat("upload \"", name, "\" is being written by another stream"));
  }
  if (!e.upload) e.upload = std::make_shared<Upload>();
  e.busy = true;
  e.last_active = now;
  return e.upload;
}

void UploadTable::Release(const std::string& name, bool keep) {
  absl::MutexLock lock(&mu_);
  auto it = uploads_.find(name);
  if (it == uploads_.end()) return;
  if (!keep) {
    uploads_.erase(it);
    return;
  }
  it->second.busy = false;
  it->second.last_active = clock_();
  if (it->second.upload->complete) {
    // Finished: only the outcome is needed for QueryWriteStatus.
    it->second.upload->writer.reset();
    it->second.upload->zstd.reset();
  }
}

std::optional<UploadTable::Progress> UploadTable::Query(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = uploads_.find(name);
  if (it == uploads_.end()) return std::nullopt;
  return Progress{it->second.upload->committed, it->second.upload->complete};
}

void UploadTable::SweepLocked(absl::Time now) {
  if (now - last_sweep_ < idle_limit_ / 10) return;
  last_sweep_ = now;
  absl::erase_if(uploads_, [&](const auto& kv) {
    return !kv.second.busy && now - kv.second.last_active > idle_limit_;
  });
}

}  // namespace kfarm
