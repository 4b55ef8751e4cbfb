#include "kbuild/recipe.h"

#include <algorithm>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/status.h"

namespace kfarm {
namespace {

std::vector<std::string> Words(absl::string_view s) {
  return absl::StrSplit(s, absl::ByAnyChar(" \t"), absl::SkipEmpty());
}

std::string Collapsed(absl::string_view s) { return absl::StrJoin(Words(s), " "); }

absl::Status NotUnderstood(const std::string& what, const std::string& ko, absl::string_view text) {
  return absl::FailedPreconditionError(absl::StrCat(
      "kfarm does not understand kbuild's ", what, " recipe for ", ko, ": \"", text,
      "\"; stopping rather than guessing"));
}

// The recipe lines of the .ko rule that kfarm knows, whitespace collapsed: the link (6.x's
// if_changed_except skips a newer vmlinux, 7.x's if_changed does not), the BTF step, and 7.x's
// tracepoint check, which only reads the module's .o and runs locally as kbuild runs it.
const std::set<std::string>& KnownKoRecipeLines() {
  static const auto* lines = new std::set<std::string>{
      "+$(call if_changed_except,ld_ko_o,vmlinux)",
      "+$(call if_changed,ld_ko_o)",
      "+$(if $(newer-prereqs),$(call cmd,btf_ko))",
      "+$(call cmd,check_tracepoint)",
  };
  return *lines;
}

std::string KernelVersion(const std::string& srctree, const std::string& objtree) {
  if (auto r = ReadFile(objtree + "/include/config/kernel.release"); r.ok()) {
    return absl::StrCat("linux ", absl::StripAsciiWhitespace(*r));
  }
  std::map<std::string, std::string> v;
  for (absl::string_view line : absl::StrSplit(ReadFile(srctree + "/Makefile").value_or(""), '\n')) {
    std::vector<std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
    if (kv.size() == 2) v.emplace(Collapsed(kv[0]), Collapsed(kv[1]));
    if (v.size() > 8) break;
  }
  if (v["VERSION"].empty()) return "linux of unknown version";
  return absl::StrCat("linux ", v["VERSION"], ".", v["PATCHLEVEL"], ".", v["SUBLEVEL"], v["EXTRAVERSION"]);
}

}  // namespace

std::string RecipeSource::Where(const std::string& variable) const {
  int n = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++n;
    absl::string_view l = absl::StripLeadingAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&l, variable)) continue;
    l = absl::StripLeadingAsciiWhitespace(l);
    if (absl::StartsWith(l, "=") || absl::StartsWith(l, "+=") || absl::StartsWith(l, ":=")) {
      return absl::StrCat(kernel, ", ", makefile, ":", n, " (", variable, ")");
    }
  }
  return absl::StrCat(kernel, ", ", makefile, " (", variable, ")");
}

absl::StatusOr<RecipeSource> ReadRecipeSource(const std::string& srctree, const std::string& objtree) {
  RecipeSource src;
  src.kernel = KernelVersion(srctree, objtree);
  src.makefile = srctree + "/scripts/Makefile.modfinal";
  auto text = ReadFile(src.makefile);
  if (!text.ok()) {
    return absl::FailedPreconditionError(absl::StrCat(
        src.kernel, ": cannot read ", src.makefile, " (", text.status().message(), ")"));
  }
  src.text = std::move(*text);
  auto unknown = [&](int n, absl::string_view line, absl::string_view why) {
    return absl::FailedPreconditionError(absl::StrCat(
        "kfarm does not understand the module recipe of ", src.kernel, ": ", src.makefile, ":", n,
        ": \"", line, "\" (", why, "); stopping before any module is linked"));
  };
  std::vector<absl::string_view> lines = absl::StrSplit(src.text, '\n');
  int rule = -1, links = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (!absl::StartsWith(lines[i], "\t") && !absl::StartsWith(lines[i], "#") &&
        absl::StrContains(lines[i], "%.ko:")) {
      if (rule >= 0) return unknown(i + 1, lines[i], "a second rule for .ko files");
      rule = static_cast<int>(i);
    }
  }
  if (rule < 0) return unknown(0, "", "no rule for %.ko");
  for (size_t i = rule + 1; i < lines.size(); ++i) {
    absl::string_view l = lines[i];
    const std::string c = Collapsed(l);
    if (absl::StartsWith(l, "\t")) {
      if (!KnownKoRecipeLines().count(c)) return unknown(i + 1, c, "a recipe line kfarm does not know");
      if (absl::StrContains(c, ",ld_ko_o")) links++;
    } else if (absl::StartsWith(c, "#") || absl::StartsWith(c, "ifdef ") ||
               absl::StartsWith(c, "ifndef ") || absl::StartsWith(c, "ifeq ") ||
               absl::StartsWith(c, "ifneq ") || c == "else" || c == "endif") {
      continue;
    } else {
      break;  // The rule ends.
    }
  }
  if (links != 1) return unknown(rule + 1, Collapsed(lines[rule]), "its recipe has no link line kfarm knows");
  return src;
}

std::string PathIn(const std::string& dir, const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  absl::string_view p = path;
  while (absl::ConsumePrefix(&p, "./")) {
  }
  return absl::StrCat(dir, "/", p);
}

absl::StatusOr<std::vector<std::string>> ReadModulesOrder(const std::string& dir) {
  ASSIGN_OR_RETURN(std::string text, ReadFile(dir + "/modules.order"));
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipWhitespace())) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::ConsumeSuffix(&line, ".o") || absl::ConsumeSuffix(&line, ".ko")) {
      out.push_back(absl::StrCat(line, ".ko"));
    } else {
      return absl::FailedPreconditionError(
          absl::StrCat(dir, "/modules.order: unexpected line \"", line, "\""));
    }
  }
  return out;
}

absl::Status ParseLdCommand(const std::string& text, ModuleRecipe* m) {
  // 6.1 appends "; $(if $(ARCH_POSTLINK), $(MAKE) -f $(ARCH_POSTLINK) $@, true)": the link is
  // the first statement, and only an empty postlink (`true`) is understood.
  std::vector<std::string> stmts = absl::StrSplit(text, ';', absl::SkipWhitespace());
  for (size_t i = 1; i < stmts.size(); ++i) {
    if (Collapsed(stmts[i]) != "true") return NotUnderstood("link (postlink)", m->ko, text);
  }
  std::vector<std::string> w = stmts.empty() ? std::vector<std::string>() : Words(stmts[0]);
  bool saw_r = false, saw_o = false;
  m->ld_objects.clear();
  m->linker_script.clear();
  for (size_t i = 1; i < w.size(); ++i) {
    if (w[i] == "-r") saw_r = true;
    if (w[i] == "-T" && i + 1 < w.size()) m->linker_script = w[++i];
    else if (w[i] == "-o" && i + 1 < w.size()) saw_o = w[++i] == m->ko;
    else if (absl::EndsWith(w[i], ".o") && w[i][0] != '-') m->ld_objects.push_back(w[i]);
  }
  if (w.empty() || !saw_r || !saw_o || m->linker_script.empty() || m->ld_objects.empty()) {
    return NotUnderstood("link", m->ko, text);
  }
  m->ld_command = std::string(absl::StripAsciiWhitespace(text));
  m->ld_run = std::string(absl::StripAsciiWhitespace(stmts[0]));
  return absl::OkStatus();
}

absl::Status ParseBtfCommand(const std::string& text, const KbuildEnv& env, ModuleRecipe* m) {
  // Every version: if [ ! -f BASE ]; then printf "Skipping ..." M.ko 1>&2; else BODY; fi;
  // BODY is 6.x's `LLVM_OBJCOPY="objcopy" pahole -J FLAGS --btf_base BASE M.ko;
  // RESOLVE_BTFIDS -b BASE M.ko` or 7.x's `SHELL .../scripts/gen-btf.sh --btf_base BASE M.ko`.
  const std::string c = Collapsed(text);
  const size_t then_pos = c.find(" ]; then "), else_pos = c.find("; else "), fi_pos = c.rfind("; fi");
  if (!absl::StartsWith(c, "if [ ! -f ") || then_pos == std::string::npos ||
      else_pos == std::string::npos || fi_pos == std::string::npos || fi_pos < else_pos) {
    return NotUnderstood("BTF", m->ko, text);
  }
  const std::string base = c.substr(10, then_pos - 10);
  std::vector<std::string> stmts =
      absl::StrSplit(c.substr(else_pos + 7, fi_pos - else_pos - 7), ';', absl::SkipWhitespace());
  m->btf_base = base;
  if (stmts.size() == 1) {
    std::vector<std::string> s = Words(stmts[0]);
    if (s.size() != 5 || !absl::EndsWith(s[1], "/gen-btf.sh") || s[2] != "--btf_base" ||
        s[3] != base || s[4] != m->ko) {
      return NotUnderstood("BTF (gen-btf.sh)", m->ko, stmts[0]);
    }
    if (env.pahole.empty() || env.resolve_btfids.empty() || env.objcopy.empty()) {
      return NotUnderstood("BTF (gen-btf.sh without PAHOLE, RESOLVE_BTFIDS or OBJCOPY)", m->ko, stmts[0]);
    }
    m->btf = ModuleRecipe::Btf::kScript;
    m->shell = s[0];
    m->script = s[1];
    m->pahole = env.pahole;
    m->objcopy = env.objcopy;
    m->resolve_btfids = env.resolve_btfids;
    m->pahole_flags_env = env.pahole_flags;
    m->resolve_btfids_flags = env.resolve_btfids_flags;
    return absl::OkStatus();
  }
  if (stmts.size() != 2) return NotUnderstood("BTF", m->ko, text);
  std::vector<std::string> p = Words(stmts[0]), r = Words(stmts[1]);
  if (p.size() < 5 || !absl::StartsWith(p[0], "LLVM_OBJCOPY=") || p[2] != "-J" ||
      p[p.size() - 3] != "--btf_base" || p[p.size() - 2] != base || p.back() != m->ko) {
    return NotUnderstood("BTF (pahole)", m->ko, stmts[0]);
  }
  if (r.size() != 4 || r[1] != "-b" || r[2] != base || r[3] != m->ko) {
    return NotUnderstood("BTF (resolve_btfids)", m->ko, stmts[1]);
  }
  m->btf = ModuleRecipe::Btf::kInline;
  m->objcopy = std::string(absl::StripSuffix(absl::StripPrefix(p[0].substr(13), "\""), "\""));
  m->pahole = p[1];
  m->pahole_flags.assign(p.begin() + 3, p.end() - 3);
  m->resolve_btfids = r[0];
  return absl::OkStatus();
}

std::string ConfigLinesReadBy(const std::string& script, const std::string& auto_conf) {
  std::set<std::string> symbols;
  for (size_t at = script.find("CONFIG_"); at != std::string::npos; at = script.find("CONFIG_", at + 1)) {
    size_t end = at + 7;
    while (end < script.size() &&
           (absl::ascii_isupper(script[end]) || absl::ascii_isdigit(script[end]) || script[end] == '_')) {
      ++end;
    }
    symbols.insert(script.substr(at, end - at));
  }
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(auto_conf, '\n')) {
    if (symbols.count(std::string(line.substr(0, line.find('='))))) out.emplace_back(line);
  }
  std::sort(out.begin(), out.end());
  return out.empty() ? "" : absl::StrJoin(out, "\n") + "\n";
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string SavedCmdLine(const std::string& prefix, const std::string& target, const std::string& cmd) {
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
  return absl::StrCat(prefix, target, " := ", escaped, "\n");
}

}  // namespace kfarm
