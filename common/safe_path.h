// Paths that come from the network (output paths, working directories, symlink targets in an
// ActionResult or Command) checked before anything touches the filesystem with them, so that no
// result, however forged, makes a client or worker write outside the directory it owns.
#ifndef KFARM_COMMON_SAFE_PATH_H_
#define KFARM_COMMON_SAFE_PATH_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace kfarm {

// A relative, '/'-separated path without empty, "." or ".." segments. `field` names the message
// field in the error ("output_files[3].path").
absl::Status CheckRelativePath(absl::string_view path, absl::string_view field);

// A symlink at `link_path` (relative to some root) pointing to `target` stays inside that root:
// relative targets may use ".." but never climb above the root; absolute targets only when
// allowed (REAPI's symlink_absolute_path_strategy ALLOWED).
absl::Status CheckSymlinkTarget(absl::string_view link_path, absl::string_view target,
                                bool allow_absolute, absl::string_view field);

// root + "/" + rel, after CheckRelativePath, refusing when a directory on the way that already
// exists below root is a symlink: writing through it could land anywhere.
absl::StatusOr<std::string> PathUnder(const std::string& root, absl::string_view rel,
                                      absl::string_view field);

}  // namespace kfarm

#endif  // KFARM_COMMON_SAFE_PATH_H_
