// Pure functions from one module's kbuild recipe and the toolchain to the two remote actions of
// its final stage: the link (kbuild's `ld -r`, which needs no vmlinux) and the BTF step (pahole
// and resolve_btfids inline on 6.x, scripts/gen-btf.sh on 7.x, against the raw base BTF): the
// command, its environment and platform, and the exact files each reads. Golden-tested; no I/O.
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
  // The ISA of the machine the tree was built on: the tree's own tools (resolve_btfids) run in
  // the action, so only such workers can run it.
  std::string isa;
  bool drop_pahole_jobs = true;  // pahole < 1.29 orders BTF types by thread timing with -j.
};

// Where the raw base BTF sits inside every BTF step's input root.
inline constexpr char kBaseBtfPath[] = ".kfarm/base.btf";
// Where the BTF step finds the linked, BTF-less module in its input root.
inline constexpr char kLinkedKoPath[] = ".kfarm/linked.ko";
// gen-btf.sh's ${objtree}, and the auto.conf there: only the lines the script reads.
inline constexpr char kScriptObjtree[] = ".kfarm/objtree";
inline constexpr char kScriptConfigPath[] = ".kfarm/objtree/include/config/auto.conf";

// A module's final stage is two actions. The link reads only the module's objects and modpost's
// output, so a changed vmlinux leaves it an action-cache hit and it can run while vmlinux links;
// the BTF step reads the linked module and the base BTF. Kernels without module BTF have only
// the link.
enum class ModuleStep { kLink, kBtf };

// Where a path as make names it (relative to the recipe's directory, or absolute) sits in the
// input root: the recipe's directory is the root; paths outside it go under .kfarm/root.
std::string InRoot(const ModuleRecipe& m, const std::string& path);

// The shell script of the action.
std::string ModuleScript(const ModuleRecipe& m, const ModfinalToolchain& tc, ModuleStep step);

// The files the action reads, as make names them, with their executable bit (the base BTF, the
// linked module and the script's auto.conf excluded: the caller adds them by digest).
std::vector<std::pair<std::string, bool>> ModuleInputs(const ModuleRecipe& m, ModuleStep step);

// Everything but the input root, which the caller builds from ModuleInputs' digests.
ActionSpec ModuleActionSpec(const ModuleRecipe& m, const ModfinalToolchain& tc, ModuleStep step);

// "v1.24" -> true when older than 1.29 (or unparsable: the safe answer).
bool PaholeNeedsSerialEncoding(const std::string& version);

}  // namespace kfarm

#endif  // KFARM_KBUILD_MODULE_ACTION_H_
