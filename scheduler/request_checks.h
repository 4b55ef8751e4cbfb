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

// An ActionResult a client stores (UpdateActionResult): every output path relative and clean,
// every symlink target inside the output tree (absolute only when the server allows it, as its
// Capabilities say), every digest well-formed, so no cached result can make a client that trusts
// it write outside its output directory. Errors name the field ("output_files[2].path").
absl::Status CheckActionResult(const reapi::ActionResult& r, bool allow_absolute_symlinks);

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_REQUEST_CHECKS_H_
