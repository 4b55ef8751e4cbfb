// What a kbuild tree says about its last build: the `.cmd` files kbuild leaves beside every
// target (the command, and the dependencies fixdep listed), and `include/config/auto.conf.cmd`
// (what the configuration was made with, from which Kconfig files). Read by the walk record.
#ifndef KFARM_KBUILD_CMD_FILES_H_
#define KFARM_KBUILD_CMD_FILES_H_

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace kfarm {

// `path` in `tree` (an absolute path as it is).
std::string Under(const std::string& tree, const std::string& path);

struct FileStat {
  bool exists = false;
  int64_t mtime_ns = 0;
  int64_t size = 0;
  uint64_t inode = 0;
};

FileStat StatOf(const std::string& path);

// Stat results by path: the .cmd files of one tree name the same headers thousands of times.
class StatCache {
 public:
  explicit StatCache(std::string tree) : tree_(std::move(tree)) {}
  const FileStat& Get(const std::string& path) {
    auto [it, fresh] = stats_.try_emplace(path);
    if (fresh) it->second = StatOf(Under(tree_, path));
    return it->second;
  }

 private:
  const std::string tree_;
  std::unordered_map<std::string, FileStat> stats_;
};

// The whole file; empty when it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

// One kbuild .cmd file: its target, and what fixdep listed (`deps_T := \` and its continuation
// lines; `$(wildcard X)` for a file that may not exist) plus `T: $(wildcard X)` lines.
struct CmdFile {
  std::string target;
  std::vector<std::pair<std::string, bool>> deps;  // Path, wildcard.
};

CmdFile ParseCmdFile(const std::string& text);

// Every kbuild .cmd file under `tree`, relative to it, sorted; `.git` is not entered.
std::vector<std::string> FindCmdFiles(const std::string& tree);

// `ifneq "$(VAR)" "VALUE"` lines of include/config/auto.conf.cmd: the configuration was made
// with these; kbuild configures again when one differs.
std::map<std::string, std::string> ConfiguredWith(const std::string& tree);

// The Kconfig files the configuration was read from (`deps_config` of auto.conf.cmd).
std::vector<std::string> KconfigFiles(const std::string& tree);

// The files a path in a .cmd file may name. Kbuild's are relative to the tree. The tools/ build
// (objtool, resolve_btfids) runs make in its own directories and writes its objects elsewhere:
// its relative paths are those of the .cmd file's directory or one above it, or, for a source
// compiled from a library's directory, of some directory under the same top one, where every
// file ending so is taken (conservative: any of them changing walks).
class PathResolver {
 public:
  PathResolver(std::string tree, StatCache* stats) : tree_(std::move(tree)), stats_(stats) {}

  // Every existing file `path`, as listed in `cmd_file`, may name; empty when none.
  std::vector<std::string> Resolve(const std::string& cmd_file, const std::string& path);


 private:
  const std::string tree_;
  StatCache* const stats_;
  std::map<std::string, std::multimap<std::string, std::string>> by_name_;  // Top dir -> files.
};

}  // namespace kfarm

#endif  // KFARM_KBUILD_CMD_FILES_H_
