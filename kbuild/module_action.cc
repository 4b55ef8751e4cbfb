#include "kbuild/module_action.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kfarm {

bool PaholeNeedsSerialEncoding(const std::string& version) {
  absl::string_view v = absl::StripPrefix(absl::StripAsciiWhitespace(version), "v");
  std::vector<absl::string_view> parts = absl::StrSplit(v, '.');
  int major = 0, minor = 0;
  if (parts.size() < 2 || !absl::SimpleAtoi(parts[0], &major) || !absl::SimpleAtoi(parts[1], &minor)) {
    return true;
  }
  return major < 1 || (major == 1 && minor < 29);
}

std::string ModuleScript(const ModuleRecipe& m, const ModfinalToolchain& tc, ModuleStep step) {
  std::vector<std::string> lines = {"set -e"};
  if (step != ModuleStep::kBtf) lines.push_back(m.ld_command);
  if (m.has_btf() && step != ModuleStep::kLink) {
    // pahole and resolve_btfids rewrite the module in place: it must be a file of the action's
    // own, not the read-only input.
    if (step == ModuleStep::kBtf) lines.push_back(absl::StrCat("cat ", kLinkedKoPath, " > ", m.ko));
    std::vector<std::string> flags;
    for (const std::string& f : m.pahole_flags) {
      bool jobs = f == "-j" || f == "--jobs" || absl::StartsWith(f, "--jobs=") ||
                  (absl::StartsWith(f, "-j") && f.size() > 2 && absl::ascii_isdigit(f[2]));
      if (!(jobs && tc.drop_pahole_jobs)) flags.push_back(f);
    }
    lines.push_back(absl::StrCat("LLVM_OBJCOPY=\"", m.objcopy, "\" ", m.pahole, " -J ",
                                 absl::StrJoin(flags, " "), flags.empty() ? "" : " ",
                                 "--btf_base ", kBaseBtfPath, " ", m.ko));
    lines.push_back(absl::StrCat("./", m.resolve_btfids, " -b ", kBaseBtfPath, " ", m.ko));
  }
  return absl::StrJoin(lines, "\n") + "\n";
}

std::vector<std::pair<std::string, bool>> ModuleInputs(const ModuleRecipe& m, ModuleStep step) {
  std::vector<std::pair<std::string, bool>> in;
  if (step != ModuleStep::kBtf) {
    for (const std::string& o : m.ld_objects) in.emplace_back(o, false);
    in.emplace_back(m.linker_script, false);
  }
  if (m.has_btf() && step != ModuleStep::kLink) in.emplace_back(m.resolve_btfids, true);
  return in;
}

ActionSpec ModuleActionSpec(const ModuleRecipe& m, const ModfinalToolchain& tc, ModuleStep step) {
  ActionSpec s;
  s.arguments = {"/bin/sh", "-c", ModuleScript(m, tc, step)};
  // Nothing from the client's environment: the digest must not depend on who asks.
  s.environment = {{"LC_ALL", "C"}, {"PATH", "/usr/bin:/bin"}};
  s.output_paths = {m.ko};
  s.platform = {{"OSFamily", "linux"}, {"ISA", "x86-64"}};
  if (step != ModuleStep::kBtf) s.platform.emplace_back("kfarm.tool.ld", tc.ld_version);
  if (m.has_btf() && step != ModuleStep::kLink) {
    s.platform.emplace_back("kfarm.tool.objcopy", tc.objcopy_version);
    s.platform.emplace_back("kfarm.tool.pahole", tc.pahole_version);
  }
  if (step == ModuleStep::kAll && !m.has_btf()) {
    s.platform.emplace_back("kfarm.tool.objcopy", tc.objcopy_version);
  }
  return s;
}

}  // namespace kfarm
