#include "common/tool_versions.h"

#include <cstdio>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace kfarm {

std::string ToolVersion(const std::string& program) {
  std::string cmd = absl::StrCat(program, " --version 2>/dev/null");
  FILE* p = popen(cmd.c_str(), "re");
  if (p == nullptr) return "";
  char line[512] = {0};
  std::string out;
  if (fgets(line, sizeof line, p) != nullptr) out = line;
  while (fgets(line, sizeof line, p) != nullptr) {
  }
  pclose(p);
  return std::string(absl::StripAsciiWhitespace(out));
}

std::vector<std::pair<std::string, std::string>> ModfinalToolProperties() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const char* tool : {"ld", "objcopy", "pahole"}) {
    std::string v = ToolVersion(tool);
    if (!v.empty()) out.emplace_back(absl::StrCat("kfarm.tool.", tool), v);
  }
  return out;
}

}  // namespace kfarm
