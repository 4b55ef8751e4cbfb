#include "scheduler/authorizer.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/sha256.h"

namespace kfarm {
namespace {

constexpr char kLocalPrincipal[] = "local";

bool IsHexSha256(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(c) || absl::ascii_isupper(c)) return false;
  }
  return true;
}

// "a" covers "a" and "a/b", not "ab"; "" covers everything.
bool PrefixCovers(absl::string_view prefix, absl::string_view instance) {
  if (prefix.empty() || prefix == instance) return true;
  return absl::StartsWith(instance, prefix) && instance[prefix.size()] == '/';
}

absl::Status NoCredentials() {
  return absl::UnauthenticatedError(
      "no credentials: send \"authorization: Bearer TOKEN\" metadata (Bazel: "
      "--remote_header=authorization=Bearer TOKEN) or a client certificate");
}

}  // namespace

std::string TokenHash(absl::string_view token) {
  Sha256Bytes h = Sha256::Of(token);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
}

absl::string_view PermissionName(config::Permission p) {
  switch (p) {
    case config::READ: return "read";
    case config::WRITE: return "write";
    case config::EXECUTE: return "execute";
    case config::AC_WRITE: return "ac-write";
    case config::ADMIN: return "admin";
    case config::STATUS: return "status";
    default: return "unknown";
  }
}

CallerCredentials CredentialsOf(const grpc::ServerContextBase& ctx) {
  CallerCredentials c;
  const auto& md = ctx.client_metadata();
  if (auto it = md.find("authorization"); it != md.end()) {
    c.authorization = std::string(it->second.data(), it->second.size());
  }
  auto auth = ctx.auth_context();
  if (auth && auth->IsPeerAuthenticated()) {
    c.cert_verified = true;
    auto names = auth->FindPropertyValues("x509_common_name");
    if (!names.empty()) c.cert_common_name = std::string(names[0].data(), names[0].size());
  }
  return c;
}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::Create(const config::AuthConfig& config) {
  auto a = std::unique_ptr<Authorizer>(new Authorizer());
  a->open_ = config.tokens_size() == 0 && config.grants_size() == 0;
  for (int i = 0; i < config.tokens_size(); ++i) {
    const auto& t = config.tokens(i);
    std::string field = absl::StrCat("auth.tokens[", i, "]");
    if (t.principal().empty()) return absl::InvalidArgumentError(field + ".principal is empty");
    if (t.principal() == kAnonymousPrincipal) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".principal \"", kAnonymousPrincipal,
          "\" is reserved for calls without credentials; name the token's principal otherwise"));
    }
    if (!IsHexSha256(t.token_sha256())) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, ".token_sha256 (principal ", t.principal(),
          ") is not 64 lowercase hex digits: store `printf %s TOKEN | sha256sum`, not the token"));
    }
    if (!a->principal_by_token_hash_.emplace(t.token_sha256(), t.principal()).second) {
      return absl::InvalidArgumentError(field + ": the same token is configured twice");
    }
  }
  for (int i = 0; i < config.grants_size(); ++i) {
    const auto& g = config.grants(i);
    std::string field = absl::StrCat("auth.grants[", i, "]");
    if (g.principal().empty()) return absl::InvalidArgumentError(field + ".principal is empty");
    Rule rule{g.principal(), g.instance_prefix(), 0};
    if (absl::EndsWith(rule.prefix, "/")) {
      return absl::InvalidArgumentError(absl::StrCat(field, ".instance_prefix \"", rule.prefix,
                                                     "\" ends in '/'"));
    }
    for (int p : g.permissions()) {
      if (p <= config::PERMISSION_UNSPECIFIED || p > config::STATUS) {
        return absl::InvalidArgumentError(absl::StrCat(field, ".permissions: unknown value ", p));
      }
      rule.permissions |= 1u << p;
    }
    if (rule.permissions == 0) {
      return absl::InvalidArgumentError(field + " grants no permission");
    }
    if (rule.principal == kAnonymousPrincipal) a->anonymous_granted_ = true;
    a->rules_.push_back(std::move(rule));
  }
  return a;
}

absl::StatusOr<std::string> Authorizer::Authenticate(const CallerCredentials& c) const {
  if (open_) return std::string(kLocalPrincipal);
  if (c.authorization) {
    absl::string_view v = absl::StripAsciiWhitespace(*c.authorization);
    if (!absl::StartsWithIgnoreCase(v, "bearer ")) {
      return absl::UnauthenticatedError(
          "the authorization header is not \"Bearer TOKEN\"");
    }
    auto it = principal_by_token_hash_.find(TokenHash(absl::StripAsciiWhitespace(v.substr(7))));
    if (it == principal_by_token_hash_.end()) {
      return absl::UnauthenticatedError("the bearer token matches no configured token");
    }
    return it->second;
  }
  if (c.cert_verified && !c.cert_common_name.empty()) return c.cert_common_name;
  if (anonymous_granted_ && !c.cert_verified) return std::string(kAnonymousPrincipal);
  return NoCredentials();
}

bool Authorizer::Granted(const std::string& principal, config::Permission p,
                         absl::string_view instance, bool any_instance) const {
  for (const Rule& r : rules_) {
    const bool anyone = r.principal == "*" && principal != kAnonymousPrincipal;
    if (!anyone && r.principal != principal) continue;
    // Admin sees everything the status page shows anyway.
    const uint32_t wanted = p == config::STATUS ? (1u << p) | (1u << config::ADMIN) : 1u << p;
    if (!(r.permissions & wanted)) continue;
    if (any_instance || PrefixCovers(r.prefix, instance)) return true;
  }
  return false;
}

std::unique_ptr<Authorizer> Authorizer::ForWorkerListener(const WorkerGate* gate) {
  auto a = std::unique_ptr<Authorizer>(new Authorizer());
  a->open_ = false;
  a->workers_only_ = gate;
  return a;
}

absl::Status Authorizer::CheckImpl(const CallerCredentials& c, config::Permission p,
                                   absl::string_view instance, bool any_instance) const {
  if (open_) return absl::OkStatus();
  const bool blob_access = p == config::READ || p == config::WRITE;
  if (workers_only_) {
    if (absl::Status s = workers_only_->Check(c); !s.ok()) return s;
    if (blob_access) return absl::OkStatus();
    return absl::PermissionDeniedError(absl::StrCat(
        "the worker listener serves workers, who may read and write blobs; the ",
        PermissionName(p), " permission is for the client listener"));
  }
  absl::StatusOr<std::string> principal = Authenticate(c);
  if (!principal.ok()) {
    if (worker_tokens_ && blob_access && c.authorization && worker_tokens_->Check(c).ok()) {
      return absl::OkStatus();
    }
    return principal.status();
  }
  if (Granted(*principal, p, instance, any_instance)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "principal \"", *principal, "\" lacks the ", PermissionName(p), " permission",
      any_instance ? " on any instance"
                   : absl::StrCat(" on instance \"", instance, "\"")));
}

absl::StatusOr<std::string> Authorizer::PrincipalOf(const CallerCredentials& c) const {
  if (open_) return std::string("local");
  if (workers_only_) {
    if (absl::Status s = workers_only_->Check(c); !s.ok()) return s;
    return std::string("worker");
  }
  return Authenticate(c);
}

bool Authorizer::IsAdmin(const std::string& principal) const {
  return open_ || Granted(principal, config::ADMIN, "", /*any_instance=*/false);
}

absl::Status Authorizer::Check(const CallerCredentials& c, config::Permission p,
                               absl::string_view instance) const {
  return CheckImpl(c, p, instance, false);
}

absl::StatusOr<WorkerGate> WorkerGate::Create(const config::WorkerListenerConfig& config,
                                              bool open) {
  WorkerGate g;
  for (int i = 0; i < config.token_sha256_size(); ++i) {
    if (!IsHexSha256(config.token_sha256(i))) {
      return absl::InvalidArgumentError(absl::StrCat(
          "worker_listener.token_sha256[", i, "] is not 64 lowercase hex digits"));
    }
    g.token_hashes_.insert(config.token_sha256(i));
  }
  g.certificates_ = !config.listen_address().empty() && !config.tls().client_ca_file().empty() &&
                    config.tls().require_client_cert();
  g.open_ = open && g.token_hashes_.empty() && !g.certificates_;
  return g;
}

absl::Status WorkerGate::Check(const CallerCredentials& c) const {
  if (open_) return absl::OkStatus();
  if (c.authorization) {
    absl::string_view v = absl::StripAsciiWhitespace(*c.authorization);
    if (absl::StartsWithIgnoreCase(v, "bearer ") &&
        token_hashes_.contains(TokenHash(absl::StripAsciiWhitespace(v.substr(7))))) {
      return absl::OkStatus();
    }
    if (!certificates_) {
      return absl::UnauthenticatedError("the worker token matches no configured worker token");
    }
  }
  if (certificates_ && c.cert_verified) return absl::OkStatus();
  return absl::UnauthenticatedError(
      "workers must present a worker token (worker credentials.token_file) or a certificate "
      "signed by the worker CA");
}

}  // namespace kfarm
