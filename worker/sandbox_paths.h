// Where bubblewrap finds the slot directories and kfarm-sandbox-init. A root worker runs
// bubblewrap as the unprivileged action user, and bubblewrap resolves bind sources by path as
// that user; the worker's data directory may sit below one it cannot traverse (/root, a 0700
// test directory). So a root worker takes a private mount namespace (before any thread starts)
// and binds its build root and the init binary on a tmpfs at /run/kfarm-worker, mode 0711: the
// host sees only an empty directory, and nothing the user could not already reach is exposed.
#ifndef KFARM_WORKER_SANDBOX_PATHS_H_
#define KFARM_WORKER_SANDBOX_PATHS_H_

#include <string>

#include "absl/status/statusor.h"

namespace kfarm {

struct SandboxPaths {
  std::string build_root;  // As the worker sees it.
  std::string build_alias; // As bubblewrap reaches it; build_root when no alias is needed.
  std::string init;        // kfarm-sandbox-init as bubblewrap reaches it.

  // `path` below build_root, as bubblewrap reaches it.
  std::string ForSandbox(const std::string& path) const;
};

// Must run while the process has one thread (unshare(CLONE_NEWNS) refuses otherwise).
absl::StatusOr<SandboxPaths> ExposeToActionUser(const std::string& build_root,
                                                const std::string& init);

}  // namespace kfarm

#endif  // KFARM_WORKER_SANDBOX_PATHS_H_
