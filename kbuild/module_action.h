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

// Where the BTF step finds the linked, BTF-less module in its input root.
inline constexpr char kLinkedKoPath[] = ".kfarm/linked.ko";

// Which part of a module's final stage an action runs. kAll is the usual one action; pipelined
// with the vmlinux link (`--follow`), the link needs only modpost's output and runs while vmlinux
// links, and the BTF step follows once the base exists. Both paths run the same commands on the
// same bytes, so the .ko files are identical.
enum class ModuleStep { kAll, kLink, kBtf };

// The shell script of the action: kbuild's ld line, then pahole and resolve_btfids with the raw
// base BTF in place of vmlinux.
std::string ModuleScript(const ModuleRecipe& m, const ModfinalToolchain& tc,
                         ModuleStep step = ModuleStep::kAll);

// The tree-relative files the action reads, with their executable bit (the base BTF and, for
// kBtf, the linked module excluded: the caller adds them by digest).
std::vector<std::pair<std::string, bool>> ModuleInputs(const ModuleRecipe& m,
                                                       ModuleStep step = ModuleStep::kAll);

// Everything but the input root, which the caller builds from ModuleInputs' digests.
ActionSpec ModuleActionSpec(const ModuleRecipe& m, const ModfinalToolchain& tc,
                            ModuleStep step = ModuleStep::kAll);

// "v1.24" -> true when older than 1.29 (or unparsable: the safe answer).
bool PaholeNeedsSerialEncoding(const std::string& version);

}  // namespace kfarm

#endif  // KFARM_KBUILD_MODULE_ACTION_H_
