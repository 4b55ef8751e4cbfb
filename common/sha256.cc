#include "common/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace kfarm {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  // Allocation or init failure here means libcrypto itself is unusable: nothing to recover.
  if (ctx_ == nullptr || EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) != 1) std::abort();
}

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::Update(const void* data, size_t size) {
  if (size > 0) EVP_DigestUpdate(ctx_, data, size);
}

Sha256Bytes Sha256::Finish() {
  Sha256Bytes out;
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_, out.data(), &len);
  return out;
}

Sha256Bytes Sha256::Of(absl::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

}  // namespace kfarm
