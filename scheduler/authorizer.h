// Who is calling, and may they? Clients authenticate with a bearer token ("authorization: Bearer
// TOKEN" metadata, as Bazel's --remote_header sends it) or a client certificate (its subject's
// common name); grants per instance-name prefix give a principal permissions. Workers prove
// themselves separately (WorkerGate). Services call Check at the top of every RPC, before they
// read anything, and return its status as is.
#ifndef KFARM_SCHEDULER_AUTHORIZER_H_
#define KFARM_SCHEDULER_AUTHORIZER_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/server_context.h>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "common/grpc_status.h"
#include "kfarm/config.pb.h"

namespace kfarm {

// What a call carried, read from its context; separate so the policy is tested without gRPC.
struct CallerCredentials {
  std::optional<std::string> authorization;  // The whole header value.
  std::string cert_common_name;              // Of a client certificate the listener verified.
  bool cert_verified = false;
};
CallerCredentials CredentialsOf(const grpc::ServerContextBase& ctx);

absl::string_view PermissionName(config::Permission p);  // "read", "ac-write", ...

// Calls with no credentials at all act as this principal when a grant names it (as Buildbarn's
// "allow" authenticator does), e.g. a public read-only cache, or Bazel before 3.x, which sends
// no --remote_header over gRPC. "*" grants never cover it; it is no token's or grant-less name.
inline constexpr char kAnonymousPrincipal[] = "anonymous";

class WorkerGate;

class Authorizer {
 public:
  // Validates the config: hex token hashes, known permissions, grants naming known principals
  // (or "*" or a certificate name). Without tokens and grants the authorizer is open: one local
  // principal with every permission (the zero-config loopback default; the server refuses it on
  // other addresses unless --insecure).
  static absl::StatusOr<std::unique_ptr<Authorizer>> Create(const config::AuthConfig& config);

  bool open() const { return open_; }

  // Workers fetch inputs and store outputs through the same CAS and ByteStream services as
  // clients. On a listener they share with clients, a worker token also grants read and write
  // (nothing else); the gate must outlive this authorizer.
  void AdmitWorkerTokens(const WorkerGate* gate) { worker_tokens_ = gate; }
  // For the worker listener's storage services: whoever passes the gate may read and write
  // blobs on any instance, and nothing else.
  static std::unique_ptr<Authorizer> ForWorkerListener(const WorkerGate* gate);

  // The principal's name, or UNAUTHENTICATED saying what was missing or wrong (never the token).
  absl::StatusOr<std::string> Authenticate(const CallerCredentials& c) const;

  // Who the caller is: "local" on an open farm, else its principal, or UNAUTHENTICATED.
  absl::StatusOr<std::string> PrincipalOf(const CallerCredentials& c) const;
  absl::StatusOr<std::string> PrincipalOf(const grpc::ServerContextBase& ctx) const {
    return PrincipalOf(CredentialsOf(ctx));
  }
  // Whether `principal` holds admin on every instance ("local" on an open farm does).
  bool IsAdmin(const std::string& principal) const;

  // OK, UNAUTHENTICATED, or PERMISSION_DENIED naming the principal, permission and instance.
  absl::Status Check(const CallerCredentials& c, config::Permission p,
                     absl::string_view instance) const;
  absl::Status Check(const grpc::ServerContextBase& ctx, config::Permission p,
                     absl::string_view instance) const {
    return Check(CredentialsOf(ctx), p, instance);
  }
  // For calls that name no instance (Capabilities with any permission; operations by name).
  absl::Status CheckAnyInstance(const CallerCredentials& c, config::Permission p) const {
    return CheckImpl(c, p, "", true);
  }
  absl::Status CheckAnyInstance(const grpc::ServerContextBase& ctx, config::Permission p) const {
    return CheckAnyInstance(CredentialsOf(ctx), p);
  }

 private:
  struct Rule {
    std::string principal;
    std::string prefix;
    uint32_t permissions = 0;  // Bit per config::Permission.
  };
  bool Granted(const std::string& principal, config::Permission p,
               absl::string_view instance, bool any_instance) const;
  absl::Status CheckImpl(const CallerCredentials& c, config::Permission p,
                         absl::string_view instance, bool any_instance) const;

  bool open_ = true;
  bool anonymous_granted_ = false;  // Some grant names kAnonymousPrincipal.
  const WorkerGate* worker_tokens_ = nullptr;  // Also admitted for READ and WRITE.
  const WorkerGate* workers_only_ = nullptr;   // Set: only they are admitted.
  absl::flat_hash_map<std::string, std::string> principal_by_token_hash_;  // Hex SHA-256.
  std::vector<Rule> rules_;
};

// Whether a worker may use the worker protocol: a token from worker_listener.token_sha256, or
// the worker listener's verified client certificate. Open only on an open loopback farm.
class WorkerGate {
 public:
  static absl::StatusOr<WorkerGate> Create(const config::WorkerListenerConfig& config, bool open);
  absl::Status Check(const grpc::ServerContextBase& ctx) const { return Check(CredentialsOf(ctx)); }
  absl::Status Check(const CallerCredentials& c) const;
  bool open() const { return open_; }
  // Whether any worker could ever pass: open, or a token or certificate is configured.
  bool admits_someone() const { return open_ || certificates_ || !token_hashes_.empty(); }

 private:
  bool open_ = true;
  bool certificates_ = false;  // The worker listener verifies certificates against the worker CA.
  absl::flat_hash_set<std::string> token_hashes_;
};

// Returns the check's status from an RPC handler when it fails.
#define KFARM_AUTHORIZE(expr)                                  \
  do {                                                         \
    if (absl::Status kfarm_auth_ = (expr); !kfarm_auth_.ok()) { \
      return ToGrpcStatus(kfarm_auth_);                         \
    }                                                          \
  } while (0)

// Hex SHA-256 of a token, as the config stores it.
std::string TokenHash(absl::string_view token);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_AUTHORIZER_H_
