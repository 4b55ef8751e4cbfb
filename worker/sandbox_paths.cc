#include "worker/sandbox_paths.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace kfarm {
namespace {

constexpr char kAliasRoot[] = "/run/kfarm-worker";

}  // namespace

std::string SandboxPaths::ForSandbox(const std::string& path) const {
  if (build_alias == build_root || !absl::StartsWith(path, build_root)) return path;
  return build_alias + path.substr(build_root.size());
}

absl::StatusOr<SandboxPaths> ExposeToActionUser(const std::string& build_root,
                                                const std::string& init) {
  SandboxPaths p{build_root, absl::StrCat(kAliasRoot, "/build"), absl::StrCat(kAliasRoot, "/init")};
  if (::mkdir("/run", 0755) != 0 && errno != EEXIST) return ErrnoError("mkdir", "/run");
  if (::mkdir(kAliasRoot, 0755) != 0 && errno != EEXIST) return ErrnoError("mkdir", kAliasRoot);
  if (::unshare(CLONE_NEWNS) != 0) return ErrnoError("unshare a mount namespace for", kAliasRoot);
  // Nothing mounted from here on propagates back to the host.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return ErrnoError("make mounts private for", kAliasRoot);
  }
  if (::mount("kfarm-worker", kAliasRoot, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0711,size=64k") != 0) {
    return ErrnoError("mount a tmpfs on", kAliasRoot);
  }
  if (::mkdir(p.build_alias.c_str(), 0711) != 0) return ErrnoError("mkdir", p.build_alias);
  int fd = ::open(p.init.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0755);
  if (fd < 0) return ErrnoError("create", p.init);
  ::close(fd);
  if (::mount(build_root.c_str(), p.build_alias.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return ErrnoError(absl::StrCat("bind ", build_root, " on"), p.build_alias);
  }
  if (::mount(init.c_str(), p.init.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return ErrnoError(absl::StrCat("bind ", init, " on"), p.init);
  }
  return p;
}

}  // namespace kfarm
