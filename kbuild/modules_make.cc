#include "kbuild/modules_make.h"

#include <fcntl.h>
#include <unistd.h>

#include <string_view>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/status.h"

namespace kfarm {
std::string HooksMakefile(const std::string& capture, const std::string& order_rules) {
  // One record per line: KFARM <tab> target <tab> key <tab> value. Make splits a function's
  // arguments before expanding them, so commas in a command stay in `value`. The originals are
  // copied unexpanded (`value`, with `#` escaped for eval) and still run for everything but a .ko.
  return absl::StrCat(
      "# kfarm modfinal: read after scripts/Makefile.modfinal (kbuild/modules_make.h).\n"
      "kfarm-rec = $(file >>", capture, ",KFARM\t$@\t$(1)\t$(2))\n"
      "kfarm-capture = $(call kfarm-rec,dir,$(CURDIR))$(call kfarm-rec,objtree,$(objtree))"
      "$(call kfarm-rec,prefix,$(if $(findstring savedcmd_,$(value cmd-check)),savedcmd_,cmd_))"
      "$(call kfarm-rec,PAHOLE,$(PAHOLE))$(call kfarm-rec,PAHOLE_FLAGS,$(PAHOLE_FLAGS))"
      "$(call kfarm-rec,RESOLVE_BTFIDS,$(RESOLVE_BTFIDS))"
      "$(call kfarm-rec,RESOLVE_BTFIDS_FLAGS,$(RESOLVE_BTFIDS_FLAGS))"
      "$(call kfarm-rec,OBJCOPY,$(OBJCOPY))$(call kfarm-rec,CONFIG_SHELL,$(CONFIG_SHELL))"
      "$(call kfarm-rec,btf_modules,$(CONFIG_DEBUG_INFO_BTF_MODULES))"
      "$(call kfarm-rec,btf,$(if $(CONFIG_DEBUG_INFO_BTF_MODULES),$(cmd_btf_ko)))"
      "$(call kfarm-rec,ld,$(cmd_ld_ko_o))\n"
      "kfarm-link = $(and $(filter %.ko,$@),$(filter ld_ko_o,$(1)))\n"
      "$(eval kfarm-if_changed = $(subst #,\\#,$(value if_changed)))\n"
      "$(eval kfarm-if_changed_except = $(subst #,\\#,$(value if_changed_except)))\n"
      "$(eval kfarm-cmd = $(subst #,\\#,$(value cmd)))\n"
      "if_changed = $(if $(kfarm-link),$(kfarm-capture)@:,$(kfarm-if_changed))\n"
      "if_changed_except = $(if $(kfarm-link),$(kfarm-capture)@:,$(kfarm-if_changed_except))\n"
      "cmd = $(if $(and $(filter %.ko,$@),$(filter btf_ko,$(1))),@:,$(kfarm-cmd))\n",
      order_rules);
}

// Left to itself, make queues every .mod.o compile before it considers any .ko (it walks all of
// __modfinal's prerequisites first), so the farm would get nothing until the last compile ended;
// with `.mod.o #k: | .ko #(k - jobs)` (modules.order, the order __modfinal lists them in) the
// compiles stay at most `jobs` modules ahead of the links. Order only: the same commands, bytes.
std::string BuildOrderRules(const std::vector<std::string>& kos, int jobs) {
  std::string rules;
  const size_t lag = static_cast<size_t>(std::max(1, jobs));
  for (size_t k = 0; k < kos.size(); ++k) {
    for (char c : kos[k]) {
      if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
          std::string_view("_-./+,").find(c) == std::string_view::npos) {
        return std::string();
      }
    }
    if (k < lag) continue;
    absl::StrAppend(&rules, absl::StripSuffix(kos[k], ".ko"), ".mod.o: | ", kos[k - lag], "\n");
  }
  return rules;
}

absl::StatusOr<std::unique_ptr<ModulesMake>> ModulesMake::Start(
    const std::string& tree, const std::string& extmod, int jobs,
    const std::vector<std::string>& make_args, Scope scope) {
  auto m = std::unique_ptr<ModulesMake>(new ModulesMake());
  // An unknown .ko rule stops here, before make links or writes anything.
  ASSIGN_OR_RETURN(m->source_, ReadRecipeSource(tree, tree));
  ASSIGN_OR_RETURN(std::vector<std::string> kos, ReadModulesOrder(extmod.empty() ? tree : extmod));
  char tmpl[] = "/tmp/kfarm-recipe-XXXXXX";
  m->capture_fd_ = mkostemp(tmpl, O_CLOEXEC);
  if (m->capture_fd_ < 0) return ErrnoError("mkstemp", tmpl);
  m->capture_ = tmpl;
  m->events_.Watch(m->capture_);
  m->hooks_mk_ = m->capture_ + ".mk";
  RETURN_IF_ERROR(WriteFileAtomic(m->hooks_mk_, HooksMakefile(m->capture_, BuildOrderRules(kos, jobs)), false));
  std::vector<std::string> args = {
      "-s", absl::StrCat("-j", jobs),
      // kModules: `modules` stops after modpost; our goal below runs the modfinal makefile.
      absl::StrCat("KBUILD_MODPOST_NOFINAL=", scope == Scope::kModules ? "1" : "")};
  if (!extmod.empty()) args.push_back("M=" + extmod);
  const std::string modfinal_make = absl::StrCat(
      "$(MAKE) -f $(srctree)/scripts/Makefile.modfinal -f ", m->hooks_mk_, " __modfinal");
  if (scope == Scope::kModfinalOnly && extmod.empty()) {
    // The top Makefile is read (it exports the toolchain and flags) but not walked: a goal of
    // our own runs the modfinal makefile, as kbuild's `modules` recipe does after modpost — or,
    // when nothing the Makefile reads has changed since the last run, the modfinal makefile is
    // started directly in the environment that run saw (kbuild/make_env_cache.h).
    std::vector<std::string> key_args = make_args;
    key_args.push_back("modfinal-only");
    m->env_cache_ = std::make_unique<MakeEnvCache>(tree, key_args);
    if (auto env = m->env_cache_->Load()) {
      args.insert(args.end(), {"--no-print-directory", "-f",
                               EnvValue(*env, "srctree") + "/scripts/Makefile.modfinal", "-f",
                               m->hooks_mk_, "__modfinal"});
      args.insert(args.end(), make_args.begin(), make_args.end());
      m->env_cache_.reset();  // Nothing to commit.
      m->top_makefile_skipped_ = true;
      ASSIGN_OR_RETURN(m->make_, BackgroundMake::Start(tree, args, &*env));
      return m;
    }
    args.insert(args.end(),
                {"--no-print-directory",
                 absl::StrCat("--eval=kfarm-modfinal: ; $(Q)", m->env_cache_->CaptureCommands(),
                              modfinal_make),
                 "kfarm-modfinal"});
  } else if (scope != Scope::kModules) {
    // As above, always through the top Makefile; kBeforeVmlinux drops each .ko's dependency on
    // vmlinux (Makefile.modfinal, through KBUILD_BUILTIN): the pipelined mode links it alongside.
    args.insert(args.end(), {"--no-print-directory",
                             absl::StrCat("--eval=kfarm-modfinal: ; $(Q)", modfinal_make),
                             "kfarm-modfinal"});
    if (scope == Scope::kBeforeVmlinux) args.push_back("KBUILD_BUILTIN=");
  } else {
    // kbuild's own `modules` recipe would run the modfinal makefile without the build-order
    // rules, so the farm would get nothing until the last .mod.o compile: it is told to stop
    // after modpost, and our goal runs the modfinal makefile once `modules` is made. The goal's
    // name starts with a dot: --eval reaches every sub-make of the walk, and there a first rule
    // with any other name would become the default goal.
    args.insert(args.end(),
                {"--no-print-directory",
                 absl::StrCat("--eval=.kfarm-modfinal: modules ; $(Q)", modfinal_make), "modules",
                 ".kfarm-modfinal"});
  }
  args.insert(args.end(), make_args.begin(), make_args.end());
  ASSIGN_OR_RETURN(m->make_, BackgroundMake::Start(tree, args));
  return m;
}

ModulesMake::~ModulesMake() {
  make_.reset();
  if (capture_fd_ >= 0) ::close(capture_fd_);
  if (!capture_.empty()) ::unlink(capture_.c_str());
  if (!hooks_mk_.empty()) ::unlink(hooks_mk_.c_str());
}

const std::string& ModulesMake::command() const { return make_->command(); }

absl::StatusOr<ModuleRecipe> ModulesMake::Complete(const std::string& ko,
                                                   std::map<std::string, std::string> f) {
  ModuleRecipe m;
  m.ko = ko;
  m.dir = f["dir"];
  m.saved_cmd_prefix = f["prefix"];
  const KbuildEnv env{f["PAHOLE"], f["PAHOLE_FLAGS"], f["RESOLVE_BTFIDS"],
                      f["RESOLVE_BTFIDS_FLAGS"], f["OBJCOPY"], f["CONFIG_SHELL"]};
  if (!f["btf_modules"].empty() && f["btf"].empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        source_.Where("cmd_btf_ko"), ": CONFIG_DEBUG_INFO_BTF_MODULES is set but the BTF command "
        "of ", ko, " is empty; stopping rather than making a module without BTF"));
  }
  if (!f["btf"].empty()) {
    absl::Status s = ParseBtfCommand(f["btf"], env, &m);
    if (!s.ok()) return Annotate(s, source_.Where("cmd_btf_ko"));
  }
  absl::Status s = ParseLdCommand(f["ld"], &m);
  if (!s.ok()) return Annotate(s, source_.Where("cmd_ld_ko_o"));
  if (m.btf == ModuleRecipe::Btf::kScript) {
    auto it = config_read_by_.find(m.script);
    if (it == config_read_by_.end()) {
      ASSIGN_OR_RETURN(std::string script, ReadFile(PathOf(m, m.script)));
      const std::string auto_conf = PathIn(PathOf(m, f["objtree"]), "include/config/auto.conf");
      ASSIGN_OR_RETURN(std::string config, ReadFile(auto_conf));
      it = config_read_by_.emplace(m.script, ConfigLinesReadBy(script, config)).first;
    }
    m.config_lines = it->second;
  }
  return m;
}

absl::Status ModulesMake::Drain(std::vector<ModuleRecipe>* out) {
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(capture_fd_, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoError("read", capture_);
    if (n == 0) break;
    partial_.append(buf, static_cast<size_t>(n));
  }
  size_t begin = 0;
  for (size_t nl; (nl = partial_.find('\n', begin)) != std::string::npos; begin = nl + 1) {
    absl::string_view line(partial_.data() + begin, nl - begin);
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits('\t', 3));
    if (f.size() != 4 || f[0] != "KFARM") continue;
    auto& fields = fields_[f[1]];
    fields[f[2]] = f[3];
    if (f[2] != "ld") continue;  // The link is the module's last record.
    auto recipe = Complete(f[1], std::move(fields));
    fields_.erase(f[1]);
    if (!recipe.ok()) return recipe.status();
    out->push_back(std::move(*recipe));
  }
  partial_.erase(0, begin);
  return absl::OkStatus();
}

absl::StatusOr<std::vector<ModuleRecipe>> ModulesMake::Next(absl::Duration wait, bool* finished) {
  *finished = false;
  std::vector<ModuleRecipe> out;
  const absl::Time deadline = absl::Now() + wait;
  for (;;) {
    std::optional<absl::Status> exited = make_->Poll();
    RETURN_IF_ERROR(Drain(&out));  // After the exit check: nothing written before it is missed.
    if (exited) {
      if (env_cache_) {
        if (exited->ok()) {
          // Only a cache; a run that cannot keep it reads the Makefile next time.
          env_cache_->Commit().IgnoreError();
        } else {
          env_cache_->Discard();
        }
        env_cache_.reset();
      }
      RETURN_IF_ERROR(*exited);
      *finished = true;
      return out;
    }
    const absl::Time now = absl::Now();
    if (!out.empty() || now >= deadline) return out;
    // Until make appends to the capture file or exits.
    const int exit_fd = make_->exit_fd();
    events_.Wait(absl::MakeConstSpan(&exit_fd, 1), deadline - now);
  }
}

}  // namespace kfarm
