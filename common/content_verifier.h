// Hashes bytes as they stream past and checks them against the digest they claim to be.
// The one place where "the client's hash is never trusted" is enforced, for every store.
#ifndef KFARM_COMMON_CONTENT_VERIFIER_H_
#define KFARM_COMMON_CONTENT_VERIFIER_H_

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/sha256.h"

namespace kfarm {

class ContentVerifier {
 public:
  explicit ContentVerifier(const Digest& expected) : expected_(expected) {}

  void Update(absl::string_view data) {
    hasher_.Update(data);
    size_ += static_cast<int64_t>(data.size());
  }
  int64_t size() const { return size_; }

  // Update, refusing bytes beyond the digest's size: INVALID_ARGUMENT naming the digest.
  absl::Status UpdateWithinSize(absl::string_view data) {
    if (absl::Status s = CheckRoom(size_, data.size()); !s.ok()) return s;
    Update(data);
    return absl::OkStatus();
  }
  // The same refusal for a writer that hashes elsewhere (later, on another thread) than where
  // it accepts bytes: `already` accepted, `more` offered.
  absl::Status CheckRoom(int64_t already, size_t more) const {
    if (already + static_cast<int64_t>(more) <= expected_.size()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat("blob ", expected_.ToString(), ": more than ",
                                                   expected_.size(), " bytes sent"));
  }

  // INVALID_ARGUMENT naming the expected digest and what the bytes really are.
  absl::Status Finish() {
    Digest actual(hasher_.Finish(), size_);
    if (actual == expected_) return absl::OkStatus();
    if (actual.size() != expected_.size()) {
      return absl::InvalidArgumentError(absl::StrCat("blob ", expected_.ToString(), ": received ",
                                                     size_, " bytes, digest says ",
                                                     expected_.size(), " (content is ",
                                                     actual.ToString(), ")"));
    }
    return absl::InvalidArgumentError(absl::StrCat("blob ", expected_.ToString(),
                                                   ": content hashes to ", actual.ToString()));
  }

 private:
  Digest expected_;
  Sha256 hasher_;
  int64_t size_ = 0;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_CONTENT_VERIFIER_H_
