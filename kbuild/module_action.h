// A pure function from one module's kbuild recipe and the toolchain to the remote action that
// runs all of its final steps (link, BTF against the raw base, BTF id patching): the command,
// its environment and platform, and the exact files it reads. Golden-tested; no I/O here.
#ifndef KFARM_KBUILD_MODULE_ACTION_H_
#define KFARM_KBUILD_MODULE_ACTION_H_

#include <string>
#include <utility>
#include <vector>

#include "common/execution_client.h"
#include "kbuild/recipe.h"

namespace kfarm {

struct ModfinalToolchain {
  std::string ld_version;       // First lines of --version, as the platform properties carry them.
  std::string objcopy_version;
  std::string pahole_version;
  bool drop_pahole_jobs = true;  // pahole < 1.29 orders BTF types by thread timing with -j.
};

// Where the raw base BTF sits inside every module's input root.
inline constexpr char kBaseBtfPath[] = ".kfarm/base.btf";

// The shell script of the action: kbuild's ld line, then pahole and resolve_btfids with the raw
// base BTF in place of vmlinux.
std::string ModuleScript(const ModuleRecipe& m, const ModfinalToolchain& tc);

// The tree-relative files the action reads, with their executable bit (the base BTF excluded).
std::vector<std::pair<std::string, bool>> ModuleInputs(const ModuleRecipe& m);

// Everything but the input root, which the caller builds from ModuleInputs' digests.
ActionSpec ModuleActionSpec(const ModuleRecipe& m, const ModfinalToolchain& tc);

// "v1.24" -> true when older than 1.29 (or unparsable: the safe answer).
bool PaholeNeedsSerialEncoding(const std::string& version);

}  // namespace kfarm

#endif  // KFARM_KBUILD_MODULE_ACTION_H_
