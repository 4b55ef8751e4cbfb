#include "common/host_platform.h"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kfarm {
namespace {

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string IsaOfMachine(absl::string_view machine) {
  struct Name {
    absl::string_view machine, isa;
  };
  // https://github.com/bazelbuild/remote-apis/blob/main/build/bazel/remote/execution/v2/platform.md
  static constexpr Name kNames[] = {
      {"x86_64", "x86-64"},     {"amd64", "x86-64"},       {"i386", "x86-32"},
      {"i486", "x86-32"},       {"i586", "x86-32"},        {"i686", "x86-32"},
      {"aarch64", "arm-a64"},   {"arm64", "arm-a64"},      {"armv7l", "arm-a32"},
      {"armv8l", "arm-a32"},    {"ppc64le", "power-isa-le"}, {"ppc64", "power-isa-be"},
      {"sparc64", "sparc-v9"},
  };
  for (const Name& n : kNames) {
    if (n.machine == machine) return std::string(n.isa);
  }
  return std::string(machine);
}

std::string HostIsa() {
  struct utsname u;
  if (::uname(&u) != 0) return "";
  return IsaOfMachine(u.machine);
}

std::string FindExecutable(absl::string_view name, absl::string_view search_path) {
  if (name.empty()) return "";
  if (name.find('/') != absl::string_view::npos) {
    std::string path(name);
    return IsExecutableFile(path) ? path : "";
  }
  for (absl::string_view dir : absl::StrSplit(search_path, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    if (IsExecutableFile(candidate)) return candidate;
  }
  return "";
}

std::string FindExecutable(absl::string_view name) {
  const char* path = std::getenv("PATH");
  return FindExecutable(name, path != nullptr && *path != '\0' ? path : "/usr/bin:/bin");
}

}  // namespace kfarm
