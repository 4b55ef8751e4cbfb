// kbuild's own final-stage recipe for every module, read from the kernel tree itself: a dry run
// of `make modules` with kbuild's `cmd` macro redirected to a file, so each module's commands
// come out exactly as that kernel version expands them (6.1, 6.12 with .module-common.o,
// vmlinux.unstripped as the base on >= 6.15...). Anything not understood stops with the line.
#ifndef KFARM_KBUILD_RECIPE_H_
#define KFARM_KBUILD_RECIPE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

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

struct TreeRecipe {
  std::vector<ModuleRecipe> modules;  // In modules.order order.
  std::string raw_capture;            // What make produced, for error reports.
};

// Runs make in `tree` (`make_args` such as KBUILD_BUILD_TIMESTAMP pass through) and parses
// what it prints for each module in modules.order.
absl::StatusOr<TreeRecipe> ReadTreeRecipe(const std::string& tree,
                                          const std::vector<std::string>& make_args);

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
