#include "worker/file_cache.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace kfarm {

absl::StatusOr<std::unique_ptr<FileCache>> FileCache::Open(const Options& o, CasReader* cas) {
  auto c = std::unique_ptr<FileCache>(new FileCache(cas));
  DiskBlobAccess::Options plain{o.root + "/plain", o.max_bytes * 7 / 8, 0444, o.owner_uid};
  DiskBlobAccess::Options exec{o.root + "/exec", o.max_bytes / 8, 0555, o.owner_uid};
  ASSIGN_OR_RETURN(std::unique_ptr<DiskBlobAccess> plain_disk, DiskBlobAccess::Open(plain));
  ASSIGN_OR_RETURN(std::unique_ptr<DiskBlobAccess> exec_disk, DiskBlobAccess::Open(exec));
  c->plain_ = plain_disk.get();
  c->exec_ = exec_disk.get();
  c->plain_verified_ = std::make_unique<VerifyingBlobAccess>(std::move(plain_disk));
  c->exec_verified_ = std::make_unique<VerifyingBlobAccess>(std::move(exec_disk));
  return c;
}

std::string FileCache::Path(const Digest& digest, bool executable) const {
  return (executable ? exec_ : plain_)->BlobPath(digest);
}

std::vector<Digest> FileCache::LargeBlobs(int64_t min_size) {
  std::vector<Digest> out;
  for (DiskBlobAccess* store : {plain_, exec_}) {
    for (const Digest& d : store->Digests()) {
      if (d.size() >= min_size) out.push_back(d);
    }
  }
  return out;
}

absl::Status FileCache::Ensure(const std::vector<Want>& wants) {
  // Claim the downloads nobody else is doing; wait for the ones in flight elsewhere.
  std::vector<Want> mine;
  std::vector<std::shared_ptr<Flight>> mine_flights, theirs;
  for (bool exec : {false, true}) {
    std::vector<Digest> digests;
    for (const Want& w : wants) {
      if (w.executable == exec) digests.push_back(w.digest);
    }
    if (digests.empty()) continue;
    ASSIGN_OR_RETURN(std::vector<Digest> missing, Store(exec)->FindMissing(digests));
    hits_ += static_cast<int64_t>(digests.size() - missing.size());
    misses_ += static_cast<int64_t>(missing.size());
    absl::MutexLock lock(&mu_);
    for (const Digest& d : missing) {
      auto [it, fresh] = flights_.try_emplace({d, exec});
      if (fresh) {
        it->second = std::make_shared<Flight>();
        mine.push_back({d, exec});
        mine_flights.push_back(it->second);
      } else {
        theirs.push_back(it->second);
      }
    }
  }
  absl::Status status = Fetch(mine);
  {
    absl::MutexLock lock(&mu_);
    for (size_t i = 0; i < mine.size(); ++i) {
      absl::MutexLock flight_lock(&mine_flights[i]->mu);
      mine_flights[i]->done = true;
      mine_flights[i]->status = status;
      flights_.erase({mine[i].digest, mine[i].executable});
    }
  }
  RETURN_IF_ERROR(status);
  for (auto& f : theirs) {
    absl::MutexLock lock(&f->mu);
    f->mu.Await(absl::Condition(&f->done));
    RETURN_IF_ERROR(f->status);
  }
  return absl::OkStatus();
}

absl::Status FileCache::Fetch(const std::vector<Want>& wants) {
  std::vector<Digest> digests;
  for (const Want& w : wants) digests.push_back(w.digest);
  const TransferPlan plan = cas_->PlanTransfers(digests);
  for (size_t i : plan.streamed) RETURN_IF_ERROR(FetchOne(wants[i]));
  for (const std::vector<size_t>& batch : plan.batches) {
    std::vector<Digest> asked;
    for (size_t i : batch) asked.push_back(wants[i].digest);
    // BatchRead has verified these; they go to the disk as they are, not hashed a second time.
    ASSIGN_OR_RETURN(std::vector<std::string> blobs, cas_->BatchRead(asked));
    for (size_t k = 0; k < batch.size(); ++k) {
      const Want& w = wants[batch[k]];
      RETURN_IF_ERROR((w.executable ? exec_ : plain_)->Put(w.digest, blobs[k]));
      bytes_fetched_ += w.digest.size();
    }
  }
  return absl::OkStatus();
}

absl::Status FileCache::FetchOne(const Want& w) {
  // Read unverified, written through the verifying store: each byte is hashed once, and a large
  // blob's hashing overlaps its download (the pieces come with their owner).
  ASSIGN_OR_RETURN(auto reader, cas_->remote()->OpenRead(w.digest));
  ASSIGN_OR_RETURN(auto writer, Store(w.executable)->OpenWrite(w.digest));
  for (;;) {
    ASSIGN_OR_RETURN(BlobPiece piece, reader->ReadPiece(1 << 20));
    if (piece.data.empty()) break;
    RETURN_IF_ERROR(writer->WritePieces({piece.data}, std::move(piece.owner)));
  }
  RETURN_IF_ERROR(writer->Commit());
  bytes_fetched_ += w.digest.size();
  absl::MutexLock lock(&mu_);
  new_large_.push_back(w.digest);  // FetchOne serves exactly the large blobs.
  return absl::OkStatus();
}

std::vector<Digest> FileCache::TakeNewLargeBlobs() {
  absl::MutexLock lock(&mu_);
  std::vector<Digest> out;
  out.swap(new_large_);
  return out;
}

}  // namespace kfarm
