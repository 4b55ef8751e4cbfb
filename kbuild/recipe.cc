#include "kbuild/recipe.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string_view>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "common/file_util.h"
#include "common/status.h"

namespace kfarm {
namespace {

std::vector<std::string> Words(absl::string_view s) {
  return absl::StrSplit(s, absl::ByAnyChar(" \t"), absl::SkipEmpty());
}

absl::Status NotUnderstood(const std::string& what, const std::string& ko, absl::string_view line) {
  return absl::FailedPreconditionError(absl::StrCat(
      "kfarm does not understand kbuild's ", what, " recipe for ", ko, ": \"", line,
      "\"; stopping rather than guessing"));
}

}  // namespace

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

absl::StatusOr<std::vector<std::string>> ReadModulesOrder(const std::string& tree) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(tree + "/modules.order"));
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::ConsumeSuffix(&line, ".o") || absl::ConsumeSuffix(&line, ".ko")) {
      out.push_back(absl::StrCat(line, ".ko"));
    } else {
      return absl::FailedPreconditionError(
          absl::StrCat(tree, "/modules.order: unexpected line \"", line, "\""));
    }
  }
  return out;
}

absl::Status ParseLdCommand(const std::string& text, ModuleRecipe* m) {
  std::vector<std::string> w = Words(text);
  bool saw_r = false, saw_o = false;
  for (size_t i = 0; i < w.size(); ++i) {
    if (w[i] == "-r") saw_r = true;
    if (w[i] == "-T" && i + 1 < w.size()) m->linker_script = w[++i];
    else if (w[i] == "-o" && i + 1 < w.size()) saw_o = w[++i] == m->ko;
    else if (absl::EndsWith(w[i], ".o") && w[i][0] != '-') m->ld_objects.push_back(w[i]);
  }
  if (w.empty() || !saw_r || !saw_o || m->linker_script.empty() || m->ld_objects.empty()) {
    return NotUnderstood("link", m->ko, text);
  }
  m->ld_command = std::string(absl::StripAsciiWhitespace(text));
  return absl::OkStatus();
}

absl::Status ParseBtfCommand(const std::string& text, ModuleRecipe* m) {
  // 6.1 .. 6.19: if [ ! -f BASE ]; then printf "Skipping ..."; else
  //   LLVM_OBJCOPY="objcopy" pahole -J FLAGS --btf_base BASE M.ko; RESOLVE_BTFIDS -b BASE M.ko; fi;
  size_t else_pos = text.find("; else ");
  size_t fi_pos = text.rfind("; fi");
  if (!absl::StartsWith(absl::StripLeadingAsciiWhitespace(text), "if [ ! -f ") ||
      else_pos == std::string::npos || fi_pos == std::string::npos || fi_pos < else_pos) {
    return NotUnderstood("BTF", m->ko, text);
  }
  std::vector<std::string> stmts =
      absl::StrSplit(text.substr(else_pos + 7, fi_pos - else_pos - 7), ';', absl::SkipWhitespace());
  if (stmts.size() != 2) return NotUnderstood("BTF", m->ko, text);
  std::vector<std::string> p = Words(stmts[0]), r = Words(stmts[1]);
  if (p.size() < 5 || !absl::StartsWith(p[0], "LLVM_OBJCOPY=") || p[2] != "-J" ||
      p[p.size() - 3] != "--btf_base" || p.back() != m->ko) {
    return NotUnderstood("BTF (pahole)", m->ko, stmts[0]);
  }
  m->objcopy = std::string(absl::StripSuffix(absl::StripPrefix(p[0].substr(13), "\""), "\""));
  m->pahole = p[1];
  m->pahole_flags.assign(p.begin() + 3, p.end() - 3);
  m->btf_base = p[p.size() - 2];
  if (r.size() != 4 || r[1] != "-b" || r[2] != m->btf_base || r[3] != m->ko) {
    return NotUnderstood("BTF (resolve_btfids)", m->ko, stmts[1]);
  }
  m->resolve_btfids = std::string(absl::StripPrefix(r[0], "./"));
  return absl::OkStatus();
}

// Order-only prerequisites that make kbuild's modfinal makefile emit each module's link as soon
// as that module's .mod.o is compiled. Left alone, make queues every .mod.o compile before it
// considers any .ko (it walks all of __modfinal's prerequisites first), so the farm would get
// nothing until the last compile ended; with `.mod.o #k: | .ko #(k - jobs)` (modules.order, the
// order __modfinal lists them in) the compiles stay at most `jobs` modules ahead of the links.
// Order only: the same commands, the same bytes. Returns "" (no reordering) when a module's
// name would need quoting to be a make target.
absl::StatusOr<std::string> WriteBuildOrder(const std::string& tree, int jobs,
                                            const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<std::string> kos, ReadModulesOrder(tree));
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
  RETURN_IF_ERROR(WriteFileAtomic(path, rules, false));
  return path;
}

absl::StatusOr<std::unique_ptr<ModulesMake>> ModulesMake::Start(
    const std::string& tree, int jobs, const std::vector<std::string>& make_args,
    Scope scope) {
  auto m = std::unique_ptr<ModulesMake>(new ModulesMake());
  char tmpl[] = "/tmp/kfarm-recipe-XXXXXX";
  m->capture_fd_ = mkostemp(tmpl, O_CLOEXEC);
  if (m->capture_fd_ < 0) return ErrnoError("mkstemp", tmpl);
  m->capture_ = tmpl;
  const std::string& cap = m->capture_;
  // The .ko rule is `$(call if_changed_except,ld_ko_o,vmlinux)` then, with module BTF,
  // `$(if $(newer-prereqs),$(call cmd,btf_ko))`. The first becomes a capture of both commands
  // (BTF first, so a link line completes its module); the second is neutralised through
  // `delete-on-interrupt`, which kbuild's `cmd` expands just before the command itself — for
  // every other command it keeps kbuild's own definition.
  std::vector<std::string> args = {
      "-s", absl::StrCat("-j", jobs),
      // kModules: `modules` stops after modpost; our goal below runs the modfinal makefile.
      absl::StrCat("KBUILD_MODPOST_NOFINAL=", scope == Scope::kModules ? "1" : ""),
      absl::StrCat("if_changed_except=$(file >>", cap, ",KFARM\tbtf_ko\t$@\t",
                   "$(if $(CONFIG_DEBUG_INFO_BTF_MODULES),$(cmd_btf_ko)))",
                   "$(file >>", cap, ",KFARM\t$(1)\t$@\t$(cmd_$(1))):"),
      "delete-on-interrupt=$(if $(filter btf_ko,$(1)),exit 0;,$(if $(filter-out $(PHONY), $@),"
      "$(foreach sig, HUP INT QUIT TERM PIPE, trap 'rm -f $@; trap - $(sig); kill -s $(sig) "
      "$$$$' $(sig);)))"};
  // Every scope runs the modfinal makefile itself, with the build-order rules.
  ASSIGN_OR_RETURN(m->order_mk_, WriteBuildOrder(tree, jobs, cap + ".order.mk"));
  const std::string modfinal_make =
      absl::StrCat("$(MAKE) -f $(srctree)/scripts/Makefile.modfinal",
                   m->order_mk_.empty() ? "" : " -f " + m->order_mk_, " __modfinal");
  if (scope == Scope::kModfinalOnly) {
    // The top Makefile is read (it exports the toolchain and flags) but not walked: a goal of
    // our own runs the modfinal makefile, as kbuild's `modules` recipe does after modpost — or,
    // when nothing the Makefile reads has changed since the last run, the modfinal makefile is
    // started directly in the environment that run saw (kbuild/make_env_cache.h).
    std::vector<std::string> key_args = make_args;
    key_args.push_back("modfinal-only");
    m->env_cache_ = std::make_unique<MakeEnvCache>(tree, key_args);
    if (auto env = m->env_cache_->Load()) {
      args.insert(args.end(), {"--no-print-directory", "-f",
                               EnvValue(*env, "srctree") + "/scripts/Makefile.modfinal"});
      if (!m->order_mk_.empty()) args.insert(args.end(), {"-f", m->order_mk_});
      args.push_back("__modfinal");
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
  } else if (scope == Scope::kBeforeVmlinux) {
    // As above, always through the top Makefile; with module BTF each .ko depends on vmlinux
    // (Makefile.modfinal, through KBUILD_BUILTIN): the pipelined mode links it alongside instead.
    args.insert(args.end(), {"--no-print-directory",
                             absl::StrCat("--eval=kfarm-modfinal: ; $(Q)", modfinal_make),
                             "kfarm-modfinal", "KBUILD_BUILTIN="});
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
  if (!order_mk_.empty()) ::unlink(order_mk_.c_str());
}

const std::string& ModulesMake::command() const { return make_->command(); }

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
    const std::string &what = f[1], &ko = f[2], &command = f[3];
    ModuleRecipe& m = btf_[ko];
    m.ko = ko;
    if (what == "btf_ko") {
      if (!command.empty()) RETURN_IF_ERROR(ParseBtfCommand(command, &m));
    } else if (what == "ld_ko_o") {
      RETURN_IF_ERROR(ParseLdCommand(command, &m));
      out->push_back(std::move(m));
      btf_.erase(ko);
    }
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
    if (!out.empty() || absl::Now() >= deadline) return out;
    absl::SleepFor(absl::Milliseconds(10));
  }
}

std::string SavedCmdLine(const std::string& target, const std::string& cmd, bool savedcmd_prefix) {
  std::string escaped;
  for (char c : cmd) {
    if (c == '$') {
      escaped += "$$";
    } else if (c == '#') {
      escaped += "$(pound)";
    } else {
      escaped += c;
    }
  }
  return absl::StrCat(savedcmd_prefix ? "savedcmd_" : "cmd_", target, " := ", escaped, "\n");
}

}  // namespace kfarm
