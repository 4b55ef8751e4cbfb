#include "common/tool_versions.h"

#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/host_platform.h"
#include "common/spawn.h"

namespace kfarm {
namespace {

constexpr const char* kModfinalTools[] = {"ld", "objcopy", "pahole"};

}  // namespace

std::string ToolVersion(const std::string& program) {
  // The program's name goes to it as one argument, never through a shell: a tool found in a
  // directory whose name has a space or a quote is still asked, and asked only that.
  absl::StatusOr<Captured> run = RunCapturingStdout({program, "--version"}, 64 << 10);
  if (!run.ok()) return "";  // Not there, or not runnable: no version.
  absl::string_view out = run->out;
  return std::string(absl::StripAsciiWhitespace(out.substr(0, out.find('\n'))));
}

ToolWatch::ToolWatch(std::string search_path) : search_path_(std::move(search_path)) {
  for (const char* name : kModfinalTools) tools_.push_back({name, "", ""});
  Refresh();
}

bool ToolWatch::Refresh() {
  bool changed = false;
  for (Tool& t : tools_) {
    std::string signature;
    const std::string file = FindExecutable(t.name, search_path_);
    struct stat st;
    if (!file.empty() && ::stat(file.c_str(), &st) == 0) {
      signature = absl::StrCat(file, ":", st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".",
                               st.st_mtim.tv_nsec);
    }
    if (signature == t.signature) continue;
    t.signature = signature;
    std::string version = file.empty() ? "" : ToolVersion(file);
    if (version != t.version) changed = true;
    t.version = std::move(version);
  }
  if (!changed) return false;
  properties_.clear();
  for (const Tool& t : tools_) {
    if (!t.version.empty()) properties_.emplace_back(absl::StrCat("kfarm.tool.", t.name), t.version);
  }
  return true;
}

}  // namespace kfarm
