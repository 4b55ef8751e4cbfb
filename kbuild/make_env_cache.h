// What kbuild's top Makefile hands the modfinal makefile — its exported environment and
// MAKEFLAGS — kept from the last run, so that a run whose inputs are all unchanged can start the
// modfinal makefile directly. Reading the top Makefile costs ~0.6 s on the 2-core machines here,
// nearly all of it compiler probes (cc-option, as-instr: 31 gcc runs), and kbuild's own modfinal
// pays it too; a warm modfinal is otherwise a tenth of that.
//
// The answers can only change when what the Makefiles read changes, so that is the key: every
// makefile make read (MAKEFILE_LIST, which includes auto.conf), the config, the scripts/*.sh the
// probes run, the toolchain programs the environment names (resolved on its PATH), kfarm's whole
// environment, the make arguments and the tree's path. Files are compared by inode, size, mtime
// and ctime — a copy, checkout or touch is a miss. Any miss, or any doubt, reads the Makefile.
#ifndef KFARM_KBUILD_MAKE_ENV_CACHE_H_
#define KFARM_KBUILD_MAKE_ENV_CACHE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace kfarm {

// The value of `name` in an environment of NAME=VALUE strings; empty if unset.
std::string EnvValue(const std::vector<std::string>& env, absl::string_view name);

class MakeEnvCache {
 public:
  // `key_args`: everything on make's command line that shapes what the Makefile exports.
  MakeEnvCache(std::string tree, std::vector<std::string> key_args);

  // The saved environment (NAME=VALUE each, MAKEFLAGS without the old jobserver) when the key
  // still matches; nullopt when there is none or anything changed.
  std::optional<std::vector<std::string>> Load() const;

  // Make text for the start of a recipe run by the top Makefile: saves its environment and
  // MAKEFILE_LIST beside the cache, for Commit.
  std::string CaptureCommands() const;
  // After that make succeeded: keys what it saved and makes it the cache. The saved files are
  // removed either way.
  absl::Status Commit() const;
  void Discard() const;

  const std::string& path() const { return path_; }

 private:
  std::string KeyOf(const std::vector<std::string>& files) const;

  std::string tree_;
  std::vector<std::string> key_args_;
  std::string path_;  // <tree>/.kfarm-make-env
};

}  // namespace kfarm

#endif  // KFARM_KBUILD_MAKE_ENV_CACHE_H_
