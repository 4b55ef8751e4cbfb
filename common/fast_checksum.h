// A fast non-cryptographic checksum (XXH3-64, libxxhash) of a blob's bytes, recorded when the
// store has verified them against their SHA-256 digest. Later reads check this instead of
// re-hashing: it catches on-disk corruption (bit rot, truncation, an overwritten file) at
// ~20 GB/s instead of SHA-256's ~1.8, so a verified read costs about what an unverified one does.
// It is never a substitute for the digest on anything a client sends.
#ifndef KFARM_COMMON_FAST_CHECKSUM_H_
#define KFARM_COMMON_FAST_CHECKSUM_H_

#include <cstdint>
#include <memory>

#include "absl/strings/string_view.h"

namespace kfarm {

class FastChecksum {
 public:
  FastChecksum();
  ~FastChecksum();
  FastChecksum(const FastChecksum&) = delete;
  FastChecksum& operator=(const FastChecksum&) = delete;

  void Update(absl::string_view data);
  // Never 0: stores use 0 for "no checksum recorded".
  uint64_t Finish() const;

  static uint64_t Of(absl::string_view data);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_FAST_CHECKSUM_H_
