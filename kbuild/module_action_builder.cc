#include "kbuild/module_action_builder.h"

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/host_platform.h"
#include "common/input_tree.h"
#include "common/status.h"
#include "common/tool_versions.h"
#include "kbuild/btf_base.h"

namespace kfarm {

absl::Status ModuleActionBuilder::LoadBase(const std::string& base_file,
                                           std::vector<BlobSource>* uploads) {
  ASSIGN_OR_RETURN(std::string btf, ExtractBtf(base_file));
  auto base = std::make_shared<const std::string>(std::move(btf));
  absl::MutexLock lock(&mu_);
  base_digest_ = Digest::Of(*base);
  have_base_ = true;
  uploads->push_back({base_digest_, "", base});
  return absl::OkStatus();
}

Digest ModuleActionBuilder::base_digest() {
  absl::MutexLock lock(&mu_);
  return base_digest_;
}

ModfinalToolchain ModuleActionBuilder::toolchain() {
  absl::MutexLock lock(&mu_);
  return toolchain_;
}

void ModuleActionBuilder::LearnToolchainLocked(const ModuleRecipe& m) {
  if (have_toolchain_) return;
  have_toolchain_ = true;
  ModfinalToolchain& tc = toolchain_;
  tc.isa = HostIsa();
  tc.ld_version = ToolVersion(m.ld_run.substr(0, m.ld_run.find(' ')));
  tc.objcopy_version = ToolVersion(m.has_btf() ? m.objcopy : "objcopy");
  if (m.has_btf()) {
    tc.pahole_version = ToolVersion(m.pahole);
    tc.drop_pahole_jobs = PaholeNeedsSerialEncoding(tc.pahole_version);
    if (tc.drop_pahole_jobs && notes_ != nullptr) {
      *notes_ << "kfarm modfinal: pahole " << tc.pahole_version
              << " is older than 1.29: -j is left out of PAHOLE_FLAGS so BTF is reproducible\n";
    }
  }
}

absl::StatusOr<BuiltAction> ModuleActionBuilder::Build(const ModuleRecipe& m, ModuleStep step,
                                                       const Digest& linked,
                                                       std::vector<BlobSource>* uploads,
                                                       Digest* base) {
  absl::MutexLock lock(&mu_);
  LearnToolchainLocked(m);
  const bool btf = step == ModuleStep::kBtf;
  if (btf && !m.has_btf()) {
    return absl::InternalError(absl::StrCat(m.ko, " has no BTF step"));
  }
  if (btf && !have_base_) {
    return absl::FailedPreconditionError(
        absl::StrCat("the BTF of ", m.ko, " needs the base BTF of ", m.btf_base, ", not read yet"));
  }
  InputTree tree;
  for (const auto& [path, exec] : ModuleInputs(m, step)) {
    const std::string file = PathOf(m, path);
    auto it = digests_.find(file);
    if (it == digests_.end()) {
      auto d = DigestOfFile(file);
      if (!d.ok()) return Annotate(d.status(), absl::StrCat("input of ", m.ko));
      it = digests_.emplace(file, *d).first;
      uploads->push_back({*d, file, nullptr});
    }
    RETURN_IF_ERROR(tree.AddFile(InRoot(m, path), it->second, exec));
  }
  if (btf) {
    RETURN_IF_ERROR(tree.AddFile(kBaseBtfPath, base_digest_, false));
    if (base != nullptr) *base = base_digest_;
    RETURN_IF_ERROR(tree.AddFile(kLinkedKoPath, linked, false));
  }
  if (btf && m.btf == ModuleRecipe::Btf::kScript) {
    auto config = std::make_shared<const std::string>(m.config_lines);
    const Digest d = Digest::Of(*config);
    uploads->push_back({d, "", config});
    RETURN_IF_ERROR(tree.AddFile(kScriptConfigPath, d, false));
  }
  InputTree::Built built = tree.Build();
  for (auto& [d, bytes] : built.directories) {
    uploads->push_back({d, "", std::make_shared<const std::string>(bytes)});
  }
  ActionSpec spec = ModuleActionSpec(m, toolchain_, step);
  spec.input_root = built.root;
  BuiltAction action = BuildAction(spec);
  uploads->insert(uploads->end(), action.blobs.begin(), action.blobs.end());
  return action;
}

}  // namespace kfarm
