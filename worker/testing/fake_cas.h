// A remote CAS in memory for the worker's unit tests: it counts each blob's fetches, can hold
// them until released (so several actions want a blob at once) and fail the next few. Tests only.
#ifndef KFARM_WORKER_TESTING_FAKE_CAS_H_
#define KFARM_WORKER_TESTING_FAKE_CAS_H_

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "common/cas_reader.h"
#include "common/directory_tree.h"
#include "common/status.h"

namespace kfarm {

class FakeCas : public CasReader {
 public:
  // Serves `bytes` under their digest; returns it.
  Digest Add(const std::string& bytes) {
    const Digest d = Digest::Of(bytes);
    blobs_[d] = bytes;
    return d;
  }
  // Fetches wait until Release (to have several actions want a blob at once).
  void Hold() { held_ = std::make_unique<absl::Notification>(); }
  void Release() { held_->Notify(); }
  void FailNext(int n) { fail_ = n; }
  int fetches(const Digest& d) {
    absl::MutexLock lock(&mu_);
    return fetches_[d];
  }
  int calls() const { return calls_; }

  TransferPlan PlanTransfers(absl::Span<const Digest> digests) override {
    TransferPlan plan;
    std::vector<size_t> batch;
    for (size_t i = 0; i < digests.size(); ++i) {
      (digests[i].size() >= (1 << 20) ? plan.streamed : batch).push_back(i);
    }
    if (!batch.empty()) plan.batches.push_back(batch);
    return plan;
  }
  absl::StatusOr<std::vector<std::string>> BatchRead(const std::vector<Digest>& digests) override {
    RETURN_IF_ERROR(Begin(digests));
    std::vector<std::string> out;
    for (const Digest& d : digests) {
      ASSIGN_OR_RETURN(std::string bytes, Find(d));
      out.push_back(std::move(bytes));
    }
    return out;
  }
  BlobAccess* remote() override { return &remote_; }
  absl::StatusOr<DirectoryMap> FetchDirectories(const Digest& root) override {
    DirectoryMap tree;
    std::vector<std::string> absent;
    RETURN_IF_ERROR(WalkTree(
        root, FetchFrom(&remote_),
        [&](WalkedDirectory& w) {
          tree.emplace(w.digest, std::move(w.dir));
          return absl::OkStatus();
        },
        [&](const Digest& d, const std::string& prefix) {
          absent.push_back(absl::StrCat("directory \"", prefix, "\" (", d.ToString(), ")"));
        }));
    if (!absent.empty()) return absl::NotFoundError(absl::StrCat(absent[0], " is not in the CAS"));
    return tree;
  }

 private:
  absl::StatusOr<std::string> Find(const Digest& d) const {
    auto it = blobs_.find(d);
    if (it == blobs_.end()) {
      return absl::NotFoundError(absl::StrCat("blob ", d.ToString(), " is not in the CAS"));
    }
    return it->second;
  }
  absl::Status Begin(const std::vector<Digest>& digests) {
    ++calls_;
    if (held_) held_->WaitForNotification();
    {
      absl::MutexLock lock(&mu_);
      for (const Digest& d : digests) fetches_[d]++;
    }
    if (fail_ > 0) {
      --fail_;
      return absl::UnavailableError("the scheduler went away");
    }
    return absl::OkStatus();
  }

  // Streamed reads of the same blobs, counted, held and failed like batch reads.
  class Remote : public BlobAccess {
   public:
    explicit Remote(FakeCas* cas) : cas_(cas) {}

   protected:
    absl::StatusOr<std::unique_ptr<BlobReader>> DoOpenRead(const Digest& d) override {
      RETURN_IF_ERROR(cas_->Begin({d}));
      ASSIGN_OR_RETURN(std::string bytes, cas_->Find(d));
      return std::make_unique<StringBlobReader>(
          std::make_shared<const std::string>(std::move(bytes)));
    }
    absl::StatusOr<std::unique_ptr<BlobWriter>> DoOpenWrite(const Digest&) override {
      return absl::UnimplementedError("the fake CAS is read-only");
    }
    absl::StatusOr<std::vector<Digest>> DoFindMissing(absl::Span<const Digest> ds) override {
      std::vector<Digest> missing;
      for (const Digest& d : ds) {
        if (!cas_->blobs_.contains(d)) missing.push_back(d);
      }
      return missing;
    }

   private:
    FakeCas* cas_;
  };

  absl::flat_hash_map<Digest, std::string> blobs_;
  Remote remote_{this};
  std::unique_ptr<absl::Notification> held_;
  std::atomic<int> fail_{0};
  std::atomic<int> calls_{0};
  absl::Mutex mu_;
  absl::flat_hash_map<Digest, int> fetches_ ABSL_GUARDED_BY(mu_);
};

}  // namespace kfarm

#endif  // KFARM_WORKER_TESTING_FAKE_CAS_H_
