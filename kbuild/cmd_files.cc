#include "kbuild/cmd_files.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace kfarm {

namespace fs = std::filesystem;

std::string Under(const std::string& tree, const std::string& path) {
  return path.empty() || path[0] == '/' ? path : tree + "/" + path;
}


FileStat StatOf(const std::string& path) {
  struct stat st;
  FileStat f;
  if (::stat(path.c_str(), &st) != 0) return f;
  f.exists = true;
  f.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
  f.size = st.st_size;
  f.inode = st.st_ino;
  return f;
}


std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  std::string text(static_cast<size_t>(in.tellg()), '\0');
  in.seekg(0);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  return text;
}


CmdFile ParseCmdFile(const std::string& text) {
  CmdFile c;
  bool in_deps = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (in_deps) {
      absl::string_view item = absl::StripAsciiWhitespace(line);
      in_deps = absl::ConsumeSuffix(&item, "\\");
      item = absl::StripAsciiWhitespace(item);
      if (absl::ConsumePrefix(&item, "$(wildcard ") && absl::ConsumeSuffix(&item, ")")) {
        c.deps.emplace_back(std::string(item), true);
      } else if (!item.empty()) {
        c.deps.emplace_back(std::string(item), false);
      }
      continue;
    }
    for (absl::string_view key : {"savedcmd_", "cmd_", "deps_", "source_"}) {
      absl::string_view rest = line;
      if (!absl::ConsumePrefix(&rest, key)) continue;
      const size_t eq = rest.find(" := ");
      if (eq == absl::string_view::npos) continue;
      if (c.target.empty()) c.target = std::string(rest.substr(0, eq));
      absl::string_view value = absl::StripAsciiWhitespace(rest.substr(eq + 4));
      if (key == absl::string_view("deps_")) {
        in_deps = absl::ConsumeSuffix(&value, "\\");
      } else if (key == absl::string_view("source_") && !value.empty()) {
        c.deps.emplace_back(std::string(value), false);
      }
      break;
    }
    // "T: $(wildcard X)": one more prerequisite of the target that may not exist.
    const size_t colon = line.find(": $(wildcard ");
    if (colon != absl::string_view::npos && absl::EndsWith(line, ")") &&
        line.substr(0, colon) == c.target) {
      absl::string_view x = line.substr(colon + 13);
      x.remove_suffix(1);
      c.deps.emplace_back(std::string(x), true);
    }
  }
  return c;
}

std::vector<std::string> FindCmdFiles(const std::string& tree) {
  std::vector<std::string> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(tree, fs::directory_options::skip_permission_denied, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (it->is_directory(ec)) {
      if (name == ".git") it.disable_recursion_pending();
      continue;
    }
    if (name.size() > 5 && name[0] == '.' && absl::EndsWith(name, ".cmd") && it->is_regular_file(ec)) {
      out.push_back(fs::relative(it->path(), tree, ec).string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::map<std::string, std::string> ConfiguredWith(const std::string& tree) {
  std::map<std::string, std::string> vars;
  for (absl::string_view line : absl::StrSplit(ReadFileOrEmpty(tree + "/include/config/auto.conf.cmd"), '\n')) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "ifneq \"$(")) continue;
    const size_t close = rest.find(")\" \"");
    if (close == absl::string_view::npos || !absl::EndsWith(rest, "\"")) continue;
    absl::string_view value = rest.substr(close + 4);
    value.remove_suffix(1);
    vars[std::string(rest.substr(0, close))] = std::string(value);
  }
  return vars;
}

std::vector<std::string> KconfigFiles(const std::string& tree) {
  std::vector<std::string> out;
  bool in = false;
  for (absl::string_view line : absl::StrSplit(ReadFileOrEmpty(tree + "/include/config/auto.conf.cmd"), '\n')) {
    if (!in) {
      in = absl::StartsWith(line, "deps_config := ");
      continue;
    }
    absl::string_view item = absl::StripAsciiWhitespace(line);
    in = absl::ConsumeSuffix(&item, "\\");
    item = absl::StripAsciiWhitespace(item);
    if (!item.empty()) out.emplace_back(item);
  }
  return out;
}

std::vector<std::string> PathResolver::Resolve(const std::string& cmd_file, const std::string& path) {
  if (path.empty() || path[0] == '/' || stats_->Get(path).exists) return {path};
  const fs::path dir = fs::path(cmd_file).parent_path();
  for (fs::path d = dir; !d.empty(); d = d.parent_path()) {  // Make ran in d, or above it.
    const std::string there = (d / path).lexically_normal().string();
    if (!absl::StartsWith(there, "..") && stats_->Get(there).exists) return {there};
  }
  const std::string top = dir.empty() ? "" : dir.begin()->string();
  if (top.empty() || path.find("..") != std::string::npos) return {};
  auto [it, fresh] = by_name_.try_emplace(top);
  if (fresh) {  // Every file under that top directory, by name, once.
    std::error_code ec;
    for (fs::recursive_directory_iterator f(Under(tree_, top), ec), end; !ec && f != end;
         f.increment(ec)) {
      if (f->is_regular_file(ec)) {
        it->second.emplace(f->path().filename().string(),
                           fs::relative(f->path(), tree_, ec).string());
      }
    }
  }
  std::vector<std::string> out;
  const std::string name = fs::path(path).filename().string();
  for (auto [m, end] = it->second.equal_range(name); m != end; ++m) {
    if (absl::EndsWith(m->second, "/" + path)) out.push_back(m->second);
  }
  return out;
}

}  // namespace kfarm
