// SHA-256 through libcrypto's EVP interface (shared by OpenSSL and BoringSSL).
#ifndef KFARM_COMMON_SHA256_H_
#define KFARM_COMMON_SHA256_H_

#include <array>
#include <cstdint>

#include "absl/strings/string_view.h"

typedef struct evp_md_ctx_st EVP_MD_CTX;

namespace kfarm {

using Sha256Bytes = std::array<uint8_t, 32>;

// Incremental hasher; Finish() may be called once.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(absl::string_view data) { Update(data.data(), data.size()); }
  Sha256Bytes Finish();

  static Sha256Bytes Of(absl::string_view data);

 private:
  EVP_MD_CTX* ctx_;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_SHA256_H_
