#include "scheduler/upload_table.h"

#include <algorithm>
#include <vector>

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
  UncountLocked(e);
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
  Entry& e = it->second;
  e.busy = false;
  e.last_active = clock_();
  if (e.upload->complete) {
    // Finished: only the outcome is needed for QueryWriteStatus.
    e.upload->writer.reset();
    e.upload->zstd.reset();
    return;
  }
  e.idle_unfinished = true;
  ++idle_count_;
  idle_bytes_ += e.upload->committed;
  EnforceLimitsLocked();
}

std::optional<UploadTable::Progress> UploadTable::Query(const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = uploads_.find(name);
  if (it == uploads_.end()) return std::nullopt;
  return Progress{it->second.upload->committed, it->second.upload->complete};
}

void UploadTable::UncountLocked(Entry& e) {
  if (!e.idle_unfinished) return;
  e.idle_unfinished = false;
  --idle_count_;
  idle_bytes_ -= e.upload->committed;
}

void UploadTable::EnforceLimitsLocked() {
  if (idle_count_ <= limits_.max_idle && idle_bytes_ <= limits_.max_idle_bytes) return;
  std::vector<std::pair<absl::Time, std::string>> idle;
  for (const auto& [name, e] : uploads_) {
    if (e.idle_unfinished) idle.emplace_back(e.last_active, name);
  }
  std::sort(idle.begin(), idle.end());
  for (const auto& [when, name] : idle) {
    if (idle_count_ <= limits_.max_idle && idle_bytes_ <= limits_.max_idle_bytes) break;
    auto it = uploads_.find(name);
    UncountLocked(it->second);
    uploads_.erase(it);
  }
}

void UploadTable::SweepLocked(absl::Time now) {
  if (now - last_sweep_ < limits_.idle_limit / 10) return;
  last_sweep_ = now;
  absl::erase_if(uploads_, [&](auto& kv) {
    if (kv.second.busy || now - kv.second.last_active <= limits_.idle_limit) return false;
    UncountLocked(kv.second);
    return true;
  });
}

}  // namespace kfarm
