#include "kbuild/walk_record.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "kbuild/cmd_files.h"

namespace kfarm {
namespace {

namespace fs = std::filesystem;

constexpr char kRecordName[] = ".kfarm-walk";
constexpr char kHeader[] = "kfarm-walk-record 1";

// A configured tool (CC=gcc, PAHOLE=pahole...) as found in PATH now: "path size mtime inode",
// or "absent".
std::string ToolIdentity(const std::string& name, const std::vector<std::string>& env) {
  std::string path_var;
  for (const std::string& e : env) {
    if (absl::StartsWith(e, "PATH=")) path_var = e.substr(5);
  }
  std::vector<std::string> candidates;
  if (name.find('/') != std::string::npos) {
    candidates.push_back(name);
  } else {
    for (absl::string_view dir : absl::StrSplit(path_var, ':', absl::SkipEmpty())) {
      candidates.push_back(absl::StrCat(dir, "/", name));
    }
  }
  for (const std::string& c : candidates) {
    if (::access(c.c_str(), X_OK) != 0) continue;
    std::error_code ec;
    const std::string real = fs::canonical(c, ec).string();
    const FileStat f = StatOf(ec ? c : real);
    return absl::StrCat(ec ? c : real, " ", f.size, " ", f.mtime_ns, " ", f.inode);
  }
  return "absent";
}

// Tools the configuration names, by their value when it is a plain command (no spaces).
std::map<std::string, std::string> ToolIdentities(
    const std::map<std::string, std::string>& configured, const std::vector<std::string>& env) {
  std::map<std::string, std::string> tools;
  for (const auto& [var, value] : configured) {
    if (var == "ARCH" || var == "SRCARCH" || var == "KERNELVERSION" || var == "srctree" ||
        value.empty() || value.find(' ') != std::string::npos) {
      continue;
    }
    tools[var] = ToolIdentity(value, env);
  }
  return tools;
}

// What make reads besides the dependencies: configuration, and the makefiles of every directory
// with objects (and its parents), the top one, scripts' and the architecture's.
std::set<std::string> Makefiles(const std::string& tree, const std::vector<std::string>& cmd_files,
                                const std::map<std::string, std::string>& configured) {
  std::string src = configured.count("srctree") ? configured.at("srctree") : ".";
  const std::string arch = configured.count("SRCARCH") ? configured.at("SRCARCH") : "";
  auto in_src = [&](const std::string& p) { return src == "." ? p : src + "/" + p; };
  // "Makefile" in the tree is, in an O= build, the wrapper kbuild writes there.
  std::set<std::string> out = {".config", "include/config/auto.conf", "include/config/auto.conf.cmd",
                               "Makefile", in_src("Makefile"), in_src("Kbuild")};
  for (const std::string& k : KconfigFiles(tree)) out.insert(in_src(k));
  std::set<std::string> dirs;
  for (const std::string& c : cmd_files) {
    for (fs::path d = fs::path(c).parent_path(); !d.empty(); d = d.parent_path()) {
      if (!dirs.insert(d.string()).second) break;
    }
  }
  for (const std::string& d : dirs) {
    out.insert(in_src(d + "/Makefile"));
    out.insert(in_src(d + "/Kbuild"));
  }
  for (const std::string& dir : {std::string("scripts"), "arch/" + arch}) {
    if (dir == "arch/") continue;  // No architecture configured.
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(Under(tree, in_src(dir)), ec)) {
      const std::string n = e.path().filename().string();
      if (absl::StartsWith(n, "Makefile") || absl::StartsWith(n, "Kbuild") ||
          absl::EndsWith(n, ".include") || absl::EndsWith(n, ".mk")) {
        out.insert(in_src(dir + "/" + n));
      }
    }
  }
  return out;
}

int64_t Nanos(absl::Time t) { return absl::ToUnixNanos(t); }

}  // namespace

absl::Time FileClockNow() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME_COARSE, &ts);
  return absl::TimeFromTimespec(ts);
}

std::vector<std::string> CurrentEnvironment() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string kv = *e;
    const std::string name = kv.substr(0, kv.find('='));
    if (name == "PWD" || name == "OLDPWD" || name == "SHLVL" || name == "_") continue;
    env.push_back(kv);
  }
  std::sort(env.begin(), env.end());
  return env;
}

void ForgetWalkRecord(const std::string& tree) { ::unlink((tree + "/" + kRecordName).c_str()); }

absl::Status SaveWalkRecord(const std::string& tree, const WalkInputs& inputs,
                            absl::Time make_started, absl::Time make_exited) {
  ForgetWalkRecord(tree);
  const int64_t started = Nanos(make_started), exited = Nanos(make_exited);
  absl::flat_hash_set<std::string> files, absent;
  const std::vector<std::string> cmd_files = FindCmdFiles(tree);
  StatCache stats(tree);
  PathResolver resolver(tree, &stats);
  // Make's rule for one dependency of `target`: a dependency written during the build must not
  // be newer than what was made from it.
  auto check = [&](const std::string& dep, const FileStat& d, const std::string& target,
                   const FileStat& t) -> absl::Status {
    if (d.mtime_ns > t.mtime_ns && d.mtime_ns >= started) {
      return absl::FailedPreconditionError(absl::StrCat(
          dep, " is newer than ", target, ", which depends on it: it changed during the build"));
    }
    if (!files.contains(dep)) files.insert(dep);
    return absl::OkStatus();
  };
  for (const std::string& c : cmd_files) {
    if (absl::EndsWith(c, ".ko.cmd")) continue;  // A module: modfinal's own output, after make.
    const CmdFile cmd = ParseCmdFile(ReadFileOrEmpty(Under(tree, c)));
    if (cmd.target.empty() || absl::EndsWith(cmd.target, ".ko")) continue;
    const FileStat target = stats.Get(cmd.target);
    if (!target.exists) continue;  // An intermediate kbuild removes; nothing depends on it.
    files.insert(cmd.target);
    for (const auto& [listed, wildcard] : cmd.deps) {
      if (const FileStat& d = stats.Get(listed); d.exists) {  // The common case: as listed.
        RETURN_IF_ERROR(check(listed, d, cmd.target, target));
        continue;
      }
      if (wildcard) {  // fixdep's, relative to the tree: a config stamp, mostly absent.
        if (!absent.contains(listed)) absent.insert(listed);
        continue;
      }
      const std::vector<std::string> found = resolver.Resolve(c, listed);
      if (found.empty()) {
        return absl::FailedPreconditionError(absl::StrCat(
            listed, " (a dependency of ", cmd.target, " in ", c, ") does not exist"));
      }
      for (const std::string& dep : found) {
        RETURN_IF_ERROR(check(dep, stats.Get(dep), cmd.target, target));
      }
    }
  }
  const std::map<std::string, std::string> configured = ConfiguredWith(tree);
  for (const std::string& m : Makefiles(tree, cmd_files, configured)) {
    (stats.Get(m).exists ? files : absent).insert(m);
  }
  std::vector<std::string> sorted_files(files.begin(), files.end());
  std::vector<std::string> sorted_absent(absent.begin(), absent.end());
  std::sort(sorted_files.begin(), sorted_files.end());
  std::sort(sorted_absent.begin(), sorted_absent.end());
  std::string out = absl::StrCat(kHeader, "\ntime ", exited, "\n");
  // Values are C-escaped: an environment variable may hold newlines (an exported shell function).
  for (const std::string& a : inputs.make_args) absl::StrAppend(&out, "arg ", absl::CEscape(a), "\n");
  for (const std::string& e : inputs.env) absl::StrAppend(&out, "env ", absl::CEscape(e), "\n");
  for (const auto& [var, id] : ToolIdentities(configured, inputs.env)) {
    absl::StrAppend(&out, "tool ", var, " ", absl::CEscape(id), "\n");
  }
  for (const std::string& f : sorted_files) absl::StrAppend(&out, "file ", absl::CEscape(f), "\n");
  for (const std::string& a : sorted_absent) absl::StrAppend(&out, "absent ", absl::CEscape(a), "\n");
  const std::string path = tree + "/" + kRecordName, tmp = path + ".tmp";
  {
    std::ofstream o(tmp, std::ios::binary | std::ios::trunc);
    o << out;
    if (!o.flush()) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path));
  }
  // From here on, a file written gets a later time than make's exit.
  while (FileClockNow() <= make_exited) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return absl::OkStatus();
}

std::string WhyWalk(const std::string& tree, const WalkInputs& inputs, int* files_checked) {
  int checked = 0;
  if (files_checked == nullptr) files_checked = &checked;
  *files_checked = 0;
  const std::string text = ReadFileOrEmpty(tree + "/" + kRecordName);
  if (text.empty()) return "no record of an earlier walk in this tree";
  std::vector<absl::string_view> lines = absl::StrSplit(text, '\n', absl::SkipEmpty());
  if (lines.size() < 2 || lines[0] != kHeader) return absl::StrCat(kRecordName, " is not a record");
  int64_t exited = 0;
  absl::string_view t = lines[1];
  if (!absl::ConsumePrefix(&t, "time ") || !absl::SimpleAtoi(t, &exited)) {
    return absl::StrCat(kRecordName, " has no time");
  }
  std::vector<std::string> args, env;
  std::map<std::string, std::string> tools;
  for (size_t i = 2; i < lines.size(); ++i) {
    const absl::string_view line = lines[i];
    const size_t sp = line.find(' ');
    const absl::string_view kind = line.substr(0, sp);
    std::string value;
    if (!absl::CUnescape(sp == absl::string_view::npos ? "" : line.substr(sp + 1), &value)) {
      return absl::StrCat(kRecordName, ": unreadable line \"", line, "\"");
    }
    if (kind == "arg") {
      args.push_back(value);
    } else if (kind == "env") {
      env.push_back(value);
    } else if (kind == "tool") {
      tools[value.substr(0, value.find(' '))] = value.substr(value.find(' ') + 1);
    } else if (kind == "file" || kind == "absent") {
      ++*files_checked;
      const FileStat f = StatOf(Under(tree, value));
      if (kind == "absent" && f.exists) return absl::StrCat(value, " appeared");
      if (kind == "file" && !f.exists) return absl::StrCat(value, " is gone");
      if (kind == "file" && f.mtime_ns > exited) return absl::StrCat(value, " changed");
    } else {
      return absl::StrCat(kRecordName, ": unknown line \"", line, "\"");
    }
  }
  if (args != inputs.make_args) return "the make arguments differ from the last walk's";
  if (env != inputs.env) {
    std::vector<std::string> changed;
    std::set_symmetric_difference(env.begin(), env.end(), inputs.env.begin(), inputs.env.end(),
                                  std::back_inserter(changed));
    std::set<std::string> names;
    for (const std::string& kv : changed) names.insert(kv.substr(0, kv.find('=')));
    std::string list;
    for (const std::string& n : names) absl::StrAppend(&list, list.empty() ? "" : ", ", n);
    return absl::StrCat("the environment differs from the last walk's (", list, ")");
  }
  const std::map<std::string, std::string> now = ToolIdentities(ConfiguredWith(tree), inputs.env);
  for (const auto& [var, id] : now) {
    auto it = tools.find(var);
    if (it == tools.end() || it->second != id) {
      return absl::StrCat("the tool kbuild was configured with as ", var, " changed (", id, ")");
    }
  }
  if (now.size() != tools.size()) return "the tools kbuild was configured with differ";
  return "";
}

}  // namespace kfarm
