// kbuild's own final-stage recipe for every module, as that kernel version writes it: the .ko
// rule of scripts/Makefile.modfinal is checked line by line against the forms kfarm knows
// (6.1-6.19: `if_changed_except` with pahole and resolve_btfids inline; 7.x: `if_changed` with
// scripts/gen-btf.sh), and each module's commands come from kbuild's variables as make expands
// them (kbuild/modules_make.h captures them). Anything not understood stops before any module is
// linked, naming the kernel version, the makefile and the line.
#ifndef KFARM_KBUILD_RECIPE_H_
#define KFARM_KBUILD_RECIPE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace kfarm {

struct ModuleRecipe {
  // Paths are as make names them: relative to `dir` (make's working directory: the tree, or the
  // external module's directory on 6.13+ with M=), or absolute.
  std::string dir;
  std::string ko;                       // "net/ipv4/tcp_cubic.ko"
  std::string ld_command;               // cmd_ld_ko_o as kbuild expands it (the .cmd records it).
  std::string ld_run;                   // Its link alone (6.1 appends "; true").
  std::vector<std::string> ld_objects;  // The .o files the link reads.
  std::string linker_script;            // The -T argument.
  std::string saved_cmd_prefix = "savedcmd_";  // How kbuild's .cmd files name it ("cmd_" on 6.1).

  // BTF (CONFIG_DEBUG_INFO_BTF_MODULES).
  enum class Btf { kNone, kInline, kScript };
  Btf btf = Btf::kNone;
  std::string btf_base;                 // The file the recipe names: vmlinux, vmlinux.unstripped.
  std::string pahole;                   // The pahole program.
  std::string objcopy;                  // LLVM_OBJCOPY for pahole (inline), OBJCOPY (script).
  std::string resolve_btfids;           // The tree's resolve_btfids.
  std::vector<std::string> pahole_flags;  // kInline: between -J and --btf_base.
  // kScript: `SHELL SCRIPT --btf_base BASE M.ko`, and what the script reads from kbuild's
  // environment (PAHOLE_FLAGS, RESOLVE_BTFIDS_FLAGS) and from auto.conf (its CONFIG_ lines).
  std::string shell, script, pahole_flags_env, resolve_btfids_flags, config_lines;
  bool has_btf() const { return btf != Btf::kNone; }
};

// What the capture learns once per module besides the two commands: kbuild's exported tools and
// flags, which the script form reads from its environment.
struct KbuildEnv {
  std::string pahole, pahole_flags, resolve_btfids, resolve_btfids_flags, objcopy, shell;
};

// Where kbuild's recipe comes from, for errors: "linux 7.2.13, scripts/Makefile.modfinal".
struct RecipeSource {
  std::string kernel;    // "linux 7.2.13"
  std::string makefile;  // Absolute path of scripts/Makefile.modfinal.
  std::string text;      // Its contents.
  // "scripts/Makefile.modfinal:44 (cmd_btf_ko)", or the makefile alone if not found.
  std::string Where(const std::string& variable) const;
};

// Reads the kernel version (include/config/kernel.release, else the top Makefile) and
// scripts/Makefile.modfinal, and checks every recipe line of its .ko rule against the forms kfarm
// knows; an unknown line is FAILED_PRECONDITION naming the version, the makefile and the line.
absl::StatusOr<RecipeSource> ReadRecipeSource(const std::string& srctree, const std::string& objtree);

// Parses one module's captured cmd_ld_ko_o / cmd_btf_ko into `m` (m->ko and m->dir set).
absl::Status ParseLdCommand(const std::string& text, ModuleRecipe* m);
absl::Status ParseBtfCommand(const std::string& text, const KbuildEnv& env, ModuleRecipe* m);

// The file kfarm opens for `path` as make names it in `dir` (make's working directory).
std::string PathIn(const std::string& dir, const std::string& path);
inline std::string PathOf(const ModuleRecipe& m, const std::string& path) { return PathIn(m.dir, path); }

// modules.order entries as .ko paths (6.12+ lists foo.o; older kernels foo.ko).
absl::StatusOr<std::vector<std::string>> ReadModulesOrder(const std::string& dir);

// The CONFIG_ lines of `auto_conf` whose symbols `script` mentions, sorted: what a script that
// greps auto.conf can see, and nothing else.
std::string ConfigLinesReadBy(const std::string& script, const std::string& auto_conf);

// Quotes one argument for /bin/sh.
std::string ShellQuote(const std::string& s);

// What kbuild writes into .M.ko.cmd for `cmd`: "<prefix><target> := <cmd, $ and # escaped>".
std::string SavedCmdLine(const std::string& prefix, const std::string& target, const std::string& cmd);

}  // namespace kfarm

#endif  // KFARM_KBUILD_RECIPE_H_
