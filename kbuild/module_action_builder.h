// Turns captured module recipes into farm actions for one tree: each input file hashed once
// however many modules read it, the raw base BTF read once per vmlinux, the toolchain versions
// read once. Lists what the CAS may lack so the caller uploads it in batches. Thread-safe: the
// pipelined mode builds BTF actions from the threads that saw the links finish.
#ifndef KFARM_KBUILD_MODULE_ACTION_BUILDER_H_
#define KFARM_KBUILD_MODULE_ACTION_BUILDER_H_

#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/cas_client.h"
#include "common/execution_client.h"
#include "kbuild/module_action.h"
#include "kbuild/recipe.h"

namespace kfarm {

class ModuleActionBuilder {
 public:
  // Notes (such as pahole's -j being dropped) go to `notes`.
  explicit ModuleActionBuilder(std::ostream* notes) : notes_(notes) {}

  // Reads the raw base BTF from `base_file` (the recipe's vmlinux, or vmlinux.unstripped); adds
  // it to `uploads`.
  absl::Status LoadBase(const std::string& base_file, std::vector<BlobSource>* uploads);
  Digest base_digest();

  // Input files are read where make names them (ModuleRecipe::dir); kBtf reads the linked module
  // by its digest `linked`. Blobs the action needs are appended to `uploads`; the base BTF the action
  // uses, if any, is set in `base` (LoadBase may switch it between two calls).
  absl::StatusOr<BuiltAction> Build(const ModuleRecipe& m, ModuleStep step, const Digest& linked,
                                    std::vector<BlobSource>* uploads, Digest* base = nullptr);

  ModfinalToolchain toolchain();

 private:
  void LearnToolchainLocked(const ModuleRecipe& m) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::ostream* notes_;
  absl::Mutex mu_;
  bool have_toolchain_ ABSL_GUARDED_BY(mu_) = false;
  ModfinalToolchain toolchain_ ABSL_GUARDED_BY(mu_);
  Digest base_digest_ ABSL_GUARDED_BY(mu_);
  bool have_base_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_map<std::string, Digest> digests_ ABSL_GUARDED_BY(mu_);  // File -> digest.
};

}  // namespace kfarm

#endif  // KFARM_KBUILD_MODULE_ACTION_BUILDER_H_
