#include "kbuild/module_action.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kfarm {
namespace {

bool IsJobsFlag(const std::string& f) {
  return f == "-j" || f == "--jobs" || absl::StartsWith(f, "--jobs=") ||
         (absl::StartsWith(f, "-j") && f.size() > 2 && absl::ascii_isdigit(f[2]));
}

std::vector<std::string> PaholeFlags(const std::vector<std::string>& flags, const ModfinalToolchain& tc) {
  std::vector<std::string> out;
  for (const std::string& f : flags) {
    if (!(IsJobsFlag(f) && tc.drop_pahole_jobs)) out.push_back(f);
  }
  return out;
}

// A program as the recipe runs it: a path in the root runs as ./path, a bare name from PATH.
std::string Program(const ModuleRecipe& m, const std::string& program) {
  if (program.find('/') == std::string::npos) return program;
  return "./" + InRoot(m, program);
}

// `words` with every absolute path moved into the root; the text itself when there is none, so
// an in-tree recipe runs exactly as kbuild wrote it.
std::string InRootCommand(const ModuleRecipe& m, const std::string& text) {
  std::vector<std::string> w = absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  bool moved = false;
  for (std::string& word : w) {
    if (word[0] == '/') {
      word = InRoot(m, word);
      moved = true;
    }
  }
  return moved ? absl::StrJoin(w, " ") : text;
}

}  // namespace

bool PaholeNeedsSerialEncoding(const std::string& version) {
  absl::string_view v = absl::StripPrefix(absl::StripAsciiWhitespace(version), "v");
  std::vector<absl::string_view> parts = absl::StrSplit(v, '.');
  int major = 0, minor = 0;
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &major) || !absl::SimpleAtoi(parts[1], &minor)) {
    return true;
  }
  return major < 1 || (major == 1 && minor < 29);
}

std::string InRoot(const ModuleRecipe& m, const std::string& path) {
  absl::string_view p = path;
  if (!p.empty() && p[0] == '/') {
    if (!m.dir.empty() && absl::ConsumePrefix(&p, m.dir + "/")) return InRoot(m, std::string(p));
    return absl::StrCat(".kfarm/root", p);
  }
  while (absl::ConsumePrefix(&p, "./")) {
  }
  return std::string(p);
}

std::string ModuleScript(const ModuleRecipe& m, const ModfinalToolchain& tc, ModuleStep step) {
  std::vector<std::string> lines = {"set -e"};
  const std::string ko = InRoot(m, m.ko);
  if (step == ModuleStep::kLink) {
    lines.push_back(InRootCommand(m, m.ld_run));
  } else if (m.btf == ModuleRecipe::Btf::kInline) {
    // pahole and resolve_btfids rewrite the module in place: it must be a file of the action's
    // own, not the read-only input.
    lines.push_back(absl::StrCat("cat ", kLinkedKoPath, " > ", ko));
    const std::vector<std::string> flags = PaholeFlags(m.pahole_flags, tc);
    lines.push_back(absl::StrCat("LLVM_OBJCOPY=\"", m.objcopy, "\" ", m.pahole, " -J ",
                                 absl::StrJoin(flags, " "), flags.empty() ? "" : " ",
                                 "--btf_base ", kBaseBtfPath, " ", ko));
    lines.push_back(absl::StrCat(Program(m, m.resolve_btfids), " -b ", kBaseBtfPath, " ", ko));
  } else if (m.btf == ModuleRecipe::Btf::kScript) {
    // The script's programs and flags come from the action's environment, as kbuild exports them.
    lines.push_back(absl::StrCat("cat ", kLinkedKoPath, " > ", ko));
    lines.push_back(absl::StrCat(m.shell, " ", InRoot(m, m.script), " --btf_base ", kBaseBtfPath,
                                 " ", ko));
  }
  return absl::StrJoin(lines, "\n") + "\n";
}

std::vector<std::pair<std::string, bool>> ModuleInputs(const ModuleRecipe& m, ModuleStep step) {
  std::vector<std::pair<std::string, bool>> in;
  if (step == ModuleStep::kLink) {
    for (const std::string& o : m.ld_objects) in.emplace_back(o, false);
    in.emplace_back(m.linker_script, false);
    return in;
  }
  if (m.has_btf()) in.emplace_back(m.resolve_btfids, true);
  if (m.btf == ModuleRecipe::Btf::kScript) in.emplace_back(m.script, false);
  return in;
}

ActionSpec ModuleActionSpec(const ModuleRecipe& m, const ModfinalToolchain& tc, ModuleStep step) {
  ActionSpec s;
  s.arguments = {"/bin/sh", "-c", ModuleScript(m, tc, step)};
  // Nothing from the client's environment: the digest must not depend on who asks.
  s.environment = {{"LC_ALL", "C"}, {"PATH", "/usr/bin:/bin"}};
  s.output_paths = {InRoot(m, m.ko)};
  s.platform = {{"OSFamily", "linux"}, {"ISA", tc.isa}};
  if (step == ModuleStep::kLink) {
    s.platform.emplace_back("kfarm.tool.ld", tc.ld_version);
    return s;
  }
  s.platform.emplace_back("kfarm.tool.objcopy", tc.objcopy_version);
  s.platform.emplace_back("kfarm.tool.pahole", tc.pahole_version);
  if (m.btf == ModuleRecipe::Btf::kScript) {
    std::vector<std::string> flags = absl::StrSplit(m.pahole_flags_env, ' ', absl::SkipEmpty());
    s.environment.insert(s.environment.end(),
                         {{"PAHOLE", m.pahole},
                          {"PAHOLE_FLAGS", absl::StrJoin(PaholeFlags(flags, tc), " ")},
                          {"RESOLVE_BTFIDS", Program(m, m.resolve_btfids)},
                          {"RESOLVE_BTFIDS_FLAGS", m.resolve_btfids_flags},
                          {"OBJCOPY", m.objcopy},
                          {"objtree", kScriptObjtree}});
  }
  return s;
}

}  // namespace kfarm
