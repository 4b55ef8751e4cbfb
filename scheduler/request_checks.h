// Validation shared by every service: the checks that turn request fields into trusted values,
// with errors that name the field and the value that was wrong.
#ifndef KFARM_SCHEDULER_REQUEST_CHECKS_H_
#define KFARM_SCHEDULER_REQUEST_CHECKS_H_

#include "absl/status/statusor.h"
#include "common/digest.h"

namespace kfarm {

// Instance names are namespaces for the action cache (the CAS is content-addressed and shared);
// any syntactically valid one is served.
absl::Status CheckInstance(absl::string_view instance);

// UNKNOWN (the client left it unset) and SHA256 are accepted.
absl::Status CheckDigestFunction(reapi::DigestFunction::Value f);

// Parses a digest field, prefixing errors with the field's name.
absl::StatusOr<Digest> ParseDigestField(const reapi::Digest& d, absl::string_view field);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_REQUEST_CHECKS_H_
