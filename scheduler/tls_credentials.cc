#include "scheduler/tls_credentials.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <grpcpp/security/tls_certificate_provider.h>
#include <grpcpp/security/tls_credentials_options.h>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status.h"

namespace kfarm {
namespace {

constexpr int kDefaultReloadSeconds = 60;

struct BioFree { void operator()(BIO* b) const { BIO_free(b); } };
struct X509Free { void operator()(X509* x) const { X509_free(x); } };
struct KeyFree { void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); } };

absl::StatusOr<std::string> ReadNamed(const std::string& path, absl::string_view what) {
  auto text = ReadFile(path);
  if (!text.ok()) return Annotate(text.status(), absl::StrCat(what, " ", path));
  return *text;
}

std::unique_ptr<BIO, BioFree> MemBio(const std::string& text) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

}  // namespace

absl::Status CheckKeyPair(const std::string& cert_file, const std::string& key_file) {
  ASSIGN_OR_RETURN(std::string cert_pem, ReadNamed(cert_file, "certificate"));
  ASSIGN_OR_RETURN(std::string key_pem, ReadNamed(key_file, "key"));
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509(MemBio(cert_pem).get(), nullptr, nullptr, nullptr));
  if (!cert) return absl::InvalidArgumentError("certificate " + cert_file + " holds no PEM certificate");
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      PEM_read_bio_PrivateKey(MemBio(key_pem).get(), nullptr, nullptr, nullptr));
  if (!key) {
    return absl::InvalidArgumentError("key " + key_file +
                                      " holds no unencrypted PEM private key");
  }
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("key ", key_file, " does not match certificate ",
                                                   cert_file));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const config::TlsConfig& tls, absl::string_view field) {
  if (tls.cert_file().empty() && tls.key_file().empty()) {
    if (!tls.client_ca_file().empty() || tls.require_client_cert()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ": client certificates need TLS: set cert_file and key_file"));
    }
    return grpc::InsecureServerCredentials();
  }
  if (tls.cert_file().empty() || tls.key_file().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": set both cert_file and key_file"));
  }
  if (auto s = CheckKeyPair(tls.cert_file(), tls.key_file()); !s.ok()) {
    return Annotate(s, field);
  }
  if (tls.require_client_cert() && tls.client_ca_file().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ".require_client_cert needs client_ca_file, the CA that signs them"));
  }
  if (!tls.client_ca_file().empty()) {
    ASSIGN_OR_RETURN(std::string ca, ReadNamed(tls.client_ca_file(), "client CA"));
    std::unique_ptr<X509, X509Free> first(
        PEM_read_bio_X509(MemBio(ca).get(), nullptr, nullptr, nullptr));
    if (!first) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".client_ca_file ",
                                                     tls.client_ca_file(),
                                                     " holds no PEM certificate"));
    }
  }
  if (tls.reload_interval_seconds() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".reload_interval_seconds is negative"));
  }
  const unsigned interval = tls.reload_interval_seconds() > 0
                                ? static_cast<unsigned>(tls.reload_interval_seconds())
                                : kDefaultReloadSeconds;
  auto provider = std::make_shared<grpc::experimental::FileWatcherCertificateProvider>(
      tls.key_file(), tls.cert_file(), tls.client_ca_file(), interval);
  grpc::experimental::TlsServerCredentialsOptions options(provider);
  options.watch_identity_key_cert_pairs();
  if (!tls.client_ca_file().empty()) {
    options.watch_root_certs();
    options.set_cert_request_type(
        tls.require_client_cert() ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                                  : GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_AND_VERIFY);
  }
  return grpc::experimental::TlsServerCredentials(options);
}

}  // namespace kfarm
