// The exact versions of the tools a kernel module's final stage runs (ld, objcopy, pahole), as
// platform properties: clients put them on actions, workers advertise what they have, and the
// scheduler never sends a module to a worker whose tools would produce different bytes.
#ifndef KFARM_COMMON_TOOL_VERSIONS_H_
#define KFARM_COMMON_TOOL_VERSIONS_H_

#include <string>
#include <utility>
#include <vector>

namespace kfarm {

// First line of `program --version`, or "" when it cannot be run.
std::string ToolVersion(const std::string& program);

// {"kfarm.tool.ld", "GNU ld (GNU Binutils for Debian) 2.40"}, ... for each tool found.
std::vector<std::pair<std::string, std::string>> ModfinalToolProperties();

}  // namespace kfarm

#endif  // KFARM_COMMON_TOOL_VERSIONS_H_
