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
using ToolProperties = std::vector<std::pair<std::string, std::string>>;

// The modfinal tools of a machine as they are now: a tool installed, upgraded or removed after a
// worker started changes what it may run (a package installed later must not leave the worker
// offering nothing). Refresh compares each tool's file (found on `search_path`, followed through
// symlinks: inode, size, mtime) and runs `--version` only for a tool whose file changed, so it
// is cheap enough for every heartbeat.
class ToolWatch {
 public:
  explicit ToolWatch(std::string search_path);  // A PATH-style list of directories.
  const ToolProperties& properties() const { return properties_; }
  // True when the properties changed since the last call (or construction).
  bool Refresh();

 private:
  struct Tool {
    std::string name, signature, version;
  };
  std::string search_path_;
  std::vector<Tool> tools_;
  ToolProperties properties_;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_TOOL_VERSIONS_H_
