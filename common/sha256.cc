#include "common/sha256.h"

#include <openssl/evp.h>

#include <cstdlib>

namespace kfarm {

namespace {

// Initialised once and copied: with OpenSSL 3 every EVP_DigestInit_ex on EVP_sha256() looks
// the implementation up again in the provider tables (locks, name lookups), a cost paid per
// blob hashed — mostly tiny ones.
const EVP_MD_CTX* Initialised() {
  static const EVP_MD_CTX* const ctx = [] {
    EVP_MD_CTX* c = EVP_MD_CTX_new();
    if (c == nullptr || EVP_DigestInit_ex(c, EVP_sha256(), nullptr) != 1) std::abort();
    return c;
  }();
  return ctx;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  // Allocation or copy failure here means libcrypto itself is unusable: nothing to recover.
  if (ctx_ == nullptr || EVP_MD_CTX_copy_ex(ctx_, Initialised()) != 1) std::abort();
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
