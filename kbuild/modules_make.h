// One `make modules` (or only kbuild's modfinal makefile) in the tree: kbuild's own rules compile
// the .mod.o and .module-common.o files (and run modpost) for real, while each .ko's link and BTF
// commands are captured instead of run, exactly as that kernel version expands them. Recipes come
// out while make is still compiling, so the farm can start on the first module before the last
// .mod.o exists.
#ifndef KFARM_KBUILD_MODULES_MAKE_H_
#define KFARM_KBUILD_MODULES_MAKE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kbuild/background_make.h"
#include "kbuild/event_wait.h"
#include "kbuild/make_env_cache.h"
#include "kbuild/recipe.h"

namespace kfarm {

class ModulesMake {
 public:
  enum class Scope {
    kModules,        // `make modules`: make walks the tree first, as kbuild's own modfinal does.
    kModfinalOnly,   // Only kbuild's modfinal makefile: the objects and modpost are current.
    kBeforeVmlinux,  // kModfinalOnly, not waiting for vmlinux (--follow links it alongside).
  };
  // `tree` is the kernel's (make -C); `extmod` the external module's directory (M=) or "".
  // `make_args` such as KBUILD_BUILD_TIMESTAMP=... pass through to make.
  static absl::StatusOr<std::unique_ptr<ModulesMake>> Start(const std::string& tree,
                                                            const std::string& extmod, int jobs,
                                                            const std::vector<std::string>& make_args,
                                                            Scope scope = Scope::kModules);
  ~ModulesMake();

  // Waits up to `wait` for more; returns the modules captured since the last call. Once make has
  // exited and everything is returned, sets *finished (make failing is an error with its output).
  absl::StatusOr<std::vector<ModuleRecipe>> Next(absl::Duration wait, bool* finished);
  const std::string& command() const;
  const RecipeSource& source() const { return source_; }
  // The modfinal makefile was started directly, in the environment kept from an earlier run.
  bool top_makefile_skipped() const { return top_makefile_skipped_; }

 private:
  ModulesMake() = default;
  absl::Status Drain(std::vector<ModuleRecipe>* out);
  absl::StatusOr<ModuleRecipe> Complete(const std::string& ko, std::map<std::string, std::string> f);

  RecipeSource source_;
  std::unique_ptr<BackgroundMake> make_;
  std::string capture_;
  std::string hooks_mk_;  // Read after kbuild's modfinal makefile.
  int capture_fd_ = -1;
  EventWait events_;  // Wakes Next when the capture file grows or make exits.
  std::string partial_;                                            // An incomplete last line.
  std::map<std::string, std::map<std::string, std::string>> fields_;  // Per .ko, until its link.
  std::map<std::string, std::string> config_read_by_;  // Script -> the auto.conf lines it reads.
  std::unique_ptr<MakeEnvCache> env_cache_;  // Set while a run is capturing the environment.
  bool top_makefile_skipped_ = false;
};

// The makefile kfarm reads after kbuild's modfinal makefile: `if_changed`/`if_changed_except`
// for a .ko's link append the module's commands and kbuild's tools (as make expands them) to
// `capture` and run nothing, `cmd` skips the BTF step, all else stays kbuild's; then the
// build-order rules (see WriteBuildOrder).
std::string HooksMakefile(const std::string& capture, const std::string& order_rules);

// Order-only rules that keep the modfinal makefile's .mod.o compiles at most `jobs` modules ahead
// of the links it emits, in the order of `kos` (modules.order); "" when a name would need quoting
// as a make target.
std::string BuildOrderRules(const std::vector<std::string>& kos, int jobs);

}  // namespace kfarm

#endif  // KFARM_KBUILD_MODULES_MAKE_H_
