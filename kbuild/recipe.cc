#include "kbuild/recipe.h"

#include <unistd.h>

#include <cstdio>
#include <map>

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

absl::StatusOr<TreeRecipe> ReadTreeRecipe(const std::string& tree,
                                          const std::vector<std::string>& make_args) {
  char tmpl[] = "/tmp/kfarm-recipe-XXXXXX";
  int fd = mkstemp(tmpl);
  if (fd < 0) return ErrnoError("mkstemp", tmpl);
  ::close(fd);
  const std::string capture = tmpl;
  // kbuild's command macros are redirected: `cmd` appends the expanded command (with its own
  // $@ and $^) to the capture file and runs `:` instead, and every if_changed* variant goes
  // through it unconditionally. So make walks the tree as for `make modules`, every module's
  // recipe is described even if already linked, and nothing in the tree is run or rewritten.
  // (A -n dry run would not do: make then assumes every FORCE target changed and "relinks"
  // vmlinux, whose recipe runs even under -n.)
  std::vector<std::string> args = {
      "make", "-C", tree, "KBUILD_MODPOST_NOFINAL=", "modules",
      absl::StrCat("cmd=$(file >>", capture, ",KFARM\t$(1)\t$@\t$(cmd_$(1))):"),
      "if_changed=$(cmd)", "if_changed_dep=$(cmd)", "if_changed_rule=$(cmd)",
      "if_changed_except=$(cmd)", "newer-prereqs=forced"};
  args.insert(args.end(), make_args.begin(), make_args.end());
  std::vector<std::string> quoted;
  for (const auto& a : args) quoted.push_back(ShellQuote(a));
  std::string cmd = absl::StrCat(absl::StrJoin(quoted, " "), " >/dev/null 2>", capture, ".err");
  int rc = std::system(cmd.c_str());
  auto text = ReadFile(capture);
  std::string err = ReadFile(capture + ".err").value_or("");
  ::unlink(capture.c_str());
  ::unlink((capture + ".err").c_str());
  if (rc != 0 || !text.ok()) {
    return absl::FailedPreconditionError(absl::StrCat("the dry run of `make modules` in ", tree,
                                                      " failed: ", err.substr(0, 2000)));
  }
  std::map<std::string, ModuleRecipe> by_ko;
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, absl::MaxSplits('\t', 3));
    if (f.size() != 4 || f[0] != "KFARM") continue;
    const std::string &what = f[1], &target = f[2], &command = f[3];
    if (what != "ld_ko_o" && what != "btf_ko") continue;
    ModuleRecipe& m = by_ko[target];
    m.ko = target;
    RETURN_IF_ERROR(what == "ld_ko_o" ? ParseLdCommand(command, &m) : ParseBtfCommand(command, &m));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> order, ReadModulesOrder(tree));
  TreeRecipe out;
  out.raw_capture = *text;
  for (const std::string& ko : order) {
    auto it = by_ko.find(ko);
    if (it == by_ko.end() || it->second.ld_command.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "kbuild's dry run printed no link recipe for ", ko, " (listed in modules.order)"));
    }
    out.modules.push_back(std::move(it->second));
  }
  return out;
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
