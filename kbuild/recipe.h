// kbuild's own final-stage recipe for every module, read from the kernel tree itself: `make
// modules` with the .ko rule's commands redirected to a file, so each module's commands come out
// exactly as that kernel version expands them (6.1, 6.12 with .module-common.o,
// vmlinux.unstripped as the base on >= 6.15...). Anything not understood stops with the line.
#ifndef KFARM_KBUILD_RECIPE_H_
#define KFARM_KBUILD_RECIPE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kbuild/background_make.h"
#include "kbuild/make_env_cache.h"

namespace kfarm {

struct ModuleRecipe {
  std::string ko;                       // "net/ipv4/tcp_cubic.ko"
  std::string ld_command;               // cmd_ld_ko_o as kbuild expands it.
  std::vector<std::string> ld_objects;  // The .o files the link reads.
  std::string linker_script;            // The -T argument.
  // BTF (CONFIG_DEBUG_INFO_BTF_MODULES): empty when the kernel builds no module BTF.
  std::string objcopy;                  // LLVM_OBJCOPY for pahole.
  std::string pahole;                   // The pahole program.
  std::vector<std::string> pahole_flags;  // Between -J and --btf_base.
  std::string resolve_btfids;           // Path of the tree's resolve_btfids.
  std::string btf_base;                 // "vmlinux" or "vmlinux.unstripped".
  bool has_btf() const { return !pahole.empty(); }
};

// One `make modules` in the tree: kbuild's own rules compile the .mod.o and .module-common.o
// files (and run modpost) for real, while each .ko's final link and BTF are captured instead of
// run — kbuild's `if_changed_except` for the link is redirected to append the link and BTF
// commands, as that kernel version expands them, to a file, and the BTF step itself is made a
// no-op. Recipes come out while make is still compiling, so the farm can start on the first
// module before the last .mod.o exists.
class ModulesMake {
 public:
  enum class Scope {
    kModules,        // `make modules`: make walks the tree first, as kbuild's own modfinal does.
    kModfinalOnly,   // Only kbuild's modfinal makefile: the objects and modpost are current.
    kBeforeVmlinux,  // kModfinalOnly, not waiting for vmlinux (--follow links it alongside).
  };
  // `make_args` such as KBUILD_BUILD_TIMESTAMP=... pass through to make.
  static absl::StatusOr<std::unique_ptr<ModulesMake>> Start(const std::string& tree, int jobs,
                                                            const std::vector<std::string>& make_args,
                                                            Scope scope = Scope::kModules);
  ~ModulesMake();

  // Waits up to `wait` for more; returns the modules captured since the last call. Once make has
  // exited and everything is returned, sets *finished (make failing is an error with its output).
  absl::StatusOr<std::vector<ModuleRecipe>> Next(absl::Duration wait, bool* finished);
  const std::string& command() const;
  // The modfinal makefile was started directly, in the environment kept from an earlier run.
  bool top_makefile_skipped() const { return top_makefile_skipped_; }

 private:
  ModulesMake() = default;
  absl::Status Drain(std::vector<ModuleRecipe>* out);

  std::unique_ptr<BackgroundMake> make_;
  std::string capture_;
  std::string order_mk_;  // Build-order rules for the modfinal makefile; "" when none.
  int capture_fd_ = -1;
  std::string partial_;                       // An incomplete last line.
  std::map<std::string, ModuleRecipe> btf_;   // BTF commands waiting for their link line.
  std::unique_ptr<MakeEnvCache> env_cache_;   // Set while a run is capturing the environment.
  bool top_makefile_skipped_ = false;
};

// Writes to `path` the order-only rules that keep the modfinal makefile's .mod.o compiles at most
// `jobs` modules ahead of the links it emits (see recipe.cc); returns `path`, or "" when a name in
// modules.order would need quoting as a make target.
absl::StatusOr<std::string> WriteBuildOrder(const std::string& tree, int jobs,
                                            const std::string& path);

// Parses one captured cmd_btf_ko into `m`; exposed for tests.
absl::Status ParseBtfCommand(const std::string& text, ModuleRecipe* m);
// Parses one captured cmd_ld_ko_o into `m`.
absl::Status ParseLdCommand(const std::string& text, ModuleRecipe* m);

// modules.order entries as .ko paths (6.12+ lists foo.o; older kernels foo.ko).
absl::StatusOr<std::vector<std::string>> ReadModulesOrder(const std::string& tree);

// Quotes one argument for /bin/sh.
std::string ShellQuote(const std::string& s);

// What kbuild writes into .M.ko.cmd for `cmd`: "savedcmd_<target> := <cmd, $ and # escaped>".
std::string SavedCmdLine(const std::string& target, const std::string& cmd, bool savedcmd_prefix);

}  // namespace kfarm

#endif  // KFARM_KBUILD_RECIPE_H_
