#include "scheduler/request_checks.h"

#include "absl/strings/str_cat.h"
#include "common/resource_name.h"
#include "common/status.h"

namespace kfarm {

absl::Status CheckInstance(absl::string_view instance) { return ValidateInstanceName(instance); }

absl::Status CheckDigestFunction(reapi::DigestFunction::Value f) {
  if (f == reapi::DigestFunction::UNKNOWN || f == reapi::DigestFunction::SHA256) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("digest_function ", reapi::DigestFunction::Value_Name(f),
                   " is not supported; this server uses SHA256"));
}

absl::StatusOr<Digest> ParseDigestField(const reapi::Digest& d, absl::string_view field) {
  auto parsed = Digest::FromProto(d);
  if (!parsed.ok()) return Annotate(parsed.status(), field);
  return parsed;
}

}  // namespace kfarm
