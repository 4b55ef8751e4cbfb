// Status plumbing. Library code returns absl::Status / absl::StatusOr with context added at each
// layer; grpc::Status appears only at the service edge (see grpc_status.h).
#ifndef KFARM_COMMON_STATUS_H_
#define KFARM_COMMON_STATUS_H_

#include <cerrno>
#include <cstring>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

#define KFARM_CONCAT_INNER(a, b) a##b
#define KFARM_CONCAT(a, b) KFARM_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                      \
  do {                                             \
    ::absl::Status kfarm_status_ = (expr);         \
    if (!kfarm_status_.ok()) return kfarm_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(KFARM_CONCAT(kfarm_statusor_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()

namespace kfarm {

// "what(path): strerror" — the form every filesystem error takes, so the path is never lost.
inline absl::Status ErrnoError(absl::string_view what, absl::string_view path, int err = errno) {
  std::string msg = absl::StrCat(what, "(", path, "): ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

// A client-supplied value for an error message: quoted, and cut to 200 bytes with its length
// when longer. Errors travel in gRPC trailers, where a whole 1 MiB value would turn the client's
// INVALID_ARGUMENT into RESOURCE_EXHAUSTED.
inline std::string Quoted(absl::string_view s) {
  constexpr size_t kShown = 200;
  if (s.size() <= kShown) return absl::StrCat("\"", s, "\"");
  return absl::StrCat("\"", s.substr(0, kShown), "...\" (", s.size(), " bytes)");
}

// Prefixes a status message with context while keeping its code.
inline absl::Status Annotate(const absl::Status& s, absl::string_view context) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
}

}  // namespace kfarm

#endif  // KFARM_COMMON_STATUS_H_
