#include "kbuild/make_env_cache.h"

#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/file_util.h"
#include "common/sha256.h"
#include "common/status.h"

extern "C" char** environ;

namespace kfarm {
namespace {

constexpr absl::string_view kMagic = "kfarm-make-env 1\n";

// The toolchain variables kbuild exports; each one's program answers the probes.
constexpr const char* kToolVariables[] = {"CC",      "LD",      "AR",     "NM",     "OBJCOPY",
                                          "OBJDUMP", "READELF", "STRIP",  "PAHOLE", "HOSTCC",
                                          "HOSTCXX", "HOSTLD",  "RUSTC",  "CPP",    "AS"};

std::string HexOf(const Sha256Bytes& b) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s;
}

// `program` as exec would find it on `path_var`; empty if nowhere.
std::string Resolve(const std::string& tree, const std::string& program,
                    const std::string& path_var) {
  if (program.empty()) return "";
  if (program.find('/') != std::string::npos) {
    return program[0] == '/' ? program : tree + "/" + program;
  }
  for (absl::string_view dir : absl::StrSplit(path_var, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", program);
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

// The files whose change could change what the Makefile exports, as the capture run saw them.
std::vector<std::string> KeyFiles(const std::string& tree, const std::string& makefile_list,
                                  const std::vector<std::string>& env) {
  std::vector<std::string> files;
  for (absl::string_view f : absl::StrSplit(makefile_list, absl::ByAnyChar(" \t\n"),
                                            absl::SkipWhitespace())) {
    std::string p(f);
    files.push_back(p[0] == '/' ? p : tree + "/" + p);
  }
  std::string config = EnvValue(env, "KCONFIG_CONFIG");
  if (config.empty()) config = ".config";
  files.push_back(config[0] == '/' ? config : tree + "/" + config);
  glob_t g;
  if (::glob((tree + "/scripts/*.sh").c_str(), 0, nullptr, &g) == 0) {
    for (size_t i = 0; i < g.gl_pathc; ++i) files.push_back(g.gl_pathv[i]);
  }
  ::globfree(&g);
  const std::string path_var = EnvValue(env, "PATH");
  for (const char* var : kToolVariables) {
    std::vector<std::string> words = absl::StrSplit(EnvValue(env, var), ' ', absl::SkipEmpty());
    // A missing program is keyed as missing: installing it later is a change.
    if (!words.empty()) files.push_back(Resolve(tree, words[0], path_var));
  }
  files.push_back(Resolve(tree, "make", path_var));
  files.erase(std::remove(files.begin(), files.end(), ""), files.end());
  std::sort(files.begin(), files.end());
  files.erase(std::unique(files.begin(), files.end()), files.end());
  return files;
}

std::string WithoutJobserver(std::string makeflags) {
  for (const char* opt : {"--jobserver-auth=", "--jobserver-fds="}) {
    for (size_t at; (at = makeflags.find(opt)) != std::string::npos;) {
      size_t end = makeflags.find(' ', at);
      makeflags.erase(at, end == std::string::npos ? std::string::npos : end - at + 1);
    }
  }
  return makeflags;
}

}  // namespace

std::string EnvValue(const std::vector<std::string>& env, absl::string_view name) {
  for (const std::string& e : env) {
    if (absl::StartsWith(e, name) && e.size() > name.size() && e[name.size()] == '=') {
      return e.substr(name.size() + 1);
    }
  }
  return "";
}

MakeEnvCache::MakeEnvCache(std::string tree, std::vector<std::string> key_args)
    : tree_(std::filesystem::absolute(tree).lexically_normal().string()),
      key_args_(std::move(key_args)),
      path_(tree_ + "/.kfarm-make-env") {
  while (tree_.size() > 1 && tree_.back() == '/') tree_.pop_back();
}

std::string MakeEnvCache::KeyOf(const std::vector<std::string>& files) const {
  Sha256 h;
  auto add = [&](absl::string_view s) {
    h.Update(s);
    h.Update("\0", 1);
  };
  add(kMagic);
  add(tree_);
  for (const std::string& a : key_args_) add(a);
  add("environment");
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  std::sort(env.begin(), env.end());
  for (const std::string& e : env) add(e);
  add("files");
  for (const std::string& f : files) {
    struct stat st;
    add(f);
    if (::stat(f.c_str(), &st) != 0) {
      add("missing");
      continue;
    }
    add(absl::StrCat(st.st_dev, ":", st.st_ino, " ", st.st_size, " ", st.st_mtim.tv_sec, ".",
                     st.st_mtim.tv_nsec, " ", st.st_ctim.tv_sec, ".", st.st_ctim.tv_nsec));
  }
  return HexOf(h.Finish());
}

std::optional<std::vector<std::string>> MakeEnvCache::Load() const {
  auto text = ReadFile(path_);
  if (!text.ok() || !absl::StartsWith(*text, kMagic)) return std::nullopt;
  absl::string_view rest(*text);
  rest.remove_prefix(kMagic.size());
  std::string key;
  std::vector<std::string> files;
  for (;;) {
    size_t nl = rest.find('\n');
    if (nl == absl::string_view::npos) return std::nullopt;
    absl::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl + 1);
    if (line == "env") break;
    if (absl::ConsumePrefix(&line, "key ")) {
      key = std::string(line);
    } else if (absl::ConsumePrefix(&line, "file ")) {
      files.emplace_back(line);
    } else {
      return std::nullopt;
    }
  }
  if (key.empty() || KeyOf(files) != key) return std::nullopt;
  std::vector<std::string> env = absl::StrSplit(rest, '\0', absl::SkipEmpty());
  for (std::string& e : env) {
    if (absl::StartsWith(e, "MAKEFLAGS=")) e = WithoutJobserver(e);
  }
  return env;
}

std::string MakeEnvCache::CaptureCommands() const {
  return absl::StrCat("$(file >", path_, ".files,$(MAKEFILE_LIST))env -0 >", path_, ".env && ");
}

absl::Status MakeEnvCache::Commit() const {
  auto list = ReadFile(path_ + ".files");
  auto env_bytes = ReadFile(path_ + ".env");
  Discard();
  if (!list.ok()) return list.status();
  if (!env_bytes.ok()) return env_bytes.status();
  std::vector<std::string> env = absl::StrSplit(*env_bytes, '\0', absl::SkipEmpty());
  if (EnvValue(env, "srctree").empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ".env: the Makefile exported no srctree; not kept"));
  }
  std::vector<std::string> files = KeyFiles(tree_, *list, env);
  std::string out(kMagic);
  absl::StrAppend(&out, "key ", KeyOf(files), "\n");
  for (const std::string& f : files) absl::StrAppend(&out, "file ", f, "\n");
  absl::StrAppend(&out, "env\n", *env_bytes);
  return WriteFileAtomic(path_, out, false);
}

void MakeEnvCache::Discard() const {
  ::unlink((path_ + ".files").c_str());
  ::unlink((path_ + ".env").c_str());
}

}  // namespace kfarm
