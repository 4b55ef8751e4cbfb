#include "common/memory_blob_access.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace kfarm {
namespace {

class MemoryBlobWriter : public BlobWriter {
 public:
  MemoryBlobWriter(MemoryBlobAccess* store, const Digest& digest)
      : store_(store), digest_(digest) {}

  absl::Status Write(absl::string_view data) override {
    buffer_.append(data.data(), data.size());
    return absl::OkStatus();
  }
  int64_t bytes_written() const override { return static_cast<int64_t>(buffer_.size()); }
  absl::Status Commit() override {
    store_->Store(digest_, std::make_shared<const std::string>(std::move(buffer_)));
    return absl::OkStatus();
  }

 private:
  MemoryBlobAccess* store_;
  Digest digest_;
  std::string buffer_;
};

}  // namespace

void MemoryBlobAccess::Store(const Digest& digest, std::shared_ptr<const std::string> data) {
  absl::MutexLock lock(&mu_);
  lru_.Insert(digest, static_cast<int64_t>(data->size()));
  blobs_[digest] = std::move(data);
  while (lru_.total_bytes() > max_bytes_ && lru_.count() > 1) {
    Digest victim = *lru_.Oldest();
    lru_.Remove(victim);
    blobs_.erase(victim);
  }
}

absl::StatusOr<std::unique_ptr<BlobReader>> MemoryBlobAccess::DoOpenRead(const Digest& digest) {
  absl::MutexLock lock(&mu_);
  auto it = blobs_.find(digest);
  if (it == blobs_.end()) {
    return absl::NotFoundError(absl::StrCat("blob ", digest.ToString(), " is not in the CAS"));
  }
  lru_.Touch(digest);
  return std::make_unique<StringBlobReader>(it->second, /*vouched=*/true);
}

absl::StatusOr<std::unique_ptr<BlobWriter>> MemoryBlobAccess::DoOpenWrite(const Digest& digest) {
  return std::make_unique<MemoryBlobWriter>(this, digest);
}

absl::StatusOr<std::vector<Digest>> MemoryBlobAccess::DoFindMissing(
    absl::Span<const Digest> digests) {
  std::vector<Digest> missing;
  absl::MutexLock lock(&mu_);
  for (const Digest& d : digests) {
    if (!lru_.Touch(d)) missing.push_back(d);
  }
  return missing;
}

}  // namespace kfarm
