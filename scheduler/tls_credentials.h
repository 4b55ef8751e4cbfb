// Server credentials from a TlsConfig: plaintext when no certificate is configured, TLS
// otherwise. The files are checked at startup (readable, PEM, key matching certificate) so a
// mistake stops the server with the file's name, and then watched: a rotated certificate, key or
// CA bundle is served to new connections without a restart.
#ifndef KFARM_SCHEDULER_TLS_CREDENTIALS_H_
#define KFARM_SCHEDULER_TLS_CREDENTIALS_H_

#include <memory>

#include <grpcpp/security/server_credentials.h>

#include "absl/status/statusor.h"
#include "kfarm/config.pb.h"

namespace kfarm {

// `field` names the config section in errors ("tls", "worker_listener.tls").
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const config::TlsConfig& tls, absl::string_view field);

// Checks that cert_file holds a PEM certificate and key_file the PEM key that matches it.
absl::Status CheckKeyPair(const std::string& cert_file, const std::string& key_file);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_TLS_CREDENTIALS_H_
