// A validated SHA-256 content digest: the only form in which digests travel inside kfarm.
// Wire digests (REAPI Digest messages) become Digests at the service edge via FromProto, which
// rejects anything malformed with a message naming the offending value.
#ifndef KFARM_COMMON_DIGEST_H_
#define KFARM_COMMON_DIGEST_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "build/bazel/remote/execution/v2/remote_execution.pb.h"
#include "common/sha256.h"

namespace kfarm {

namespace reapi = build::bazel::remote::execution::v2;

class Digest {
 public:
  Digest() : hash_{}, size_(-1) {}  // Invalid until assigned; see valid().
  Digest(const Sha256Bytes& hash, int64_t size) : hash_(hash), size_(size) {}

  static Digest Of(absl::string_view data);
  static const Digest& Empty();

  // Accepts exactly 64 lowercase hex characters and a size >= 0.
  static absl::StatusOr<Digest> FromProto(const reapi::Digest& proto);
  static absl::StatusOr<Digest> FromHexAndSize(absl::string_view hex, int64_t size);
  // "HASH/SIZE", the form the CLI prints and REAPI resource names use.
  static absl::StatusOr<Digest> Parse(absl::string_view text);
  // A size as resource names and HASH/SIZE text write it: decimal digits only, within int64. No
  // sign, space or padding: " 5 " and "+5" would otherwise name blob 5 under other spellings.
  static bool ParseSize(absl::string_view text, int64_t* size);

  reapi::Digest ToProto() const;
  void ToProto(reapi::Digest* out) const;
  std::string hex() const;
  std::string ToString() const;  // "HASH/SIZE"

  const Sha256Bytes& hash() const { return hash_; }
  int64_t size() const { return size_; }
  bool valid() const { return size_ >= 0; }
  bool empty_blob() const { return size_ == 0 && *this == Empty(); }

  bool operator==(const Digest& o) const { return size_ == o.size_ && hash_ == o.hash_; }
  bool operator!=(const Digest& o) const { return !(*this == o); }
  bool operator<(const Digest& o) const {
    return hash_ != o.hash_ ? hash_ < o.hash_ : size_ < o.size_;
  }

  template <typename H>
  friend H AbslHashValue(H h, const Digest& d) {
    // The whole hash: clients choose the digests they ask about (FindMissing, BatchRead), and
    // 8 chosen bytes would let them pile every key into one bucket.
    return H::combine(std::move(h),
                      absl::string_view(reinterpret_cast<const char*>(d.hash_.data()), d.hash_.size()),
                      d.size_);
  }

 private:
  Sha256Bytes hash_;
  int64_t size_;
};

// "HASH/SIZE" of a wire digest without validating it, for error messages about bad input.
std::string DescribeDigest(const reapi::Digest& proto);

}  // namespace kfarm

#endif  // KFARM_COMMON_DIGEST_H_
