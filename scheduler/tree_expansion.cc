#include "scheduler/tree_expansion.h"

#include <algorithm>
#include <string>

#include "absl/strings/str_cat.h"

namespace kfarm {
namespace {

struct Size {
  uint64_t entries = 0;
  uint64_t bytes = 0;
  int depth = 0;  // Of the deepest directory below this one.
};

uint64_t SaturatingAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

class Expansion {
 public:
  Expansion(const absl::flat_hash_map<Digest, const reapi::Directory*>& dirs, const TreeLimits& l)
      : dirs_(dirs), limits_(l) {}

  // The expanded size under `d` at `path` (`depth` below the root); stops at the first limit.
  absl::Status Measure(const Digest& d, const std::string& path, int depth, Size* out) {
    if (depth > limits_.max_depth) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input tree is deeper than max_input_tree_depth ", limits_.max_depth, " at \"", path, "\""));
    }
    if (auto it = memo_.find(d); it != memo_.end()) {
      *out = it->second;
      return Check(*out, depth, path);
    }
    auto dir = dirs_.find(d);
    if (dir == dirs_.end()) return absl::OkStatus();  // Reported as missing elsewhere.
    Size s;
    const reapi::Directory& m = *dir->second;
    s.entries = m.files_size() + m.symlinks_size() + m.directories_size();
    for (const auto& f : m.files()) s.bytes = SaturatingAdd(s.bytes, f.digest().size_bytes());
    for (const auto& sub : m.directories()) {
      auto sd = Digest::FromProto(sub.digest());
      if (!sd.ok()) continue;  // Validated by the caller.
      Size child;
      absl::Status st = Measure(*sd, path + sub.name() + "/", depth + 1, &child);
      if (!st.ok()) return st;
      s.entries = SaturatingAdd(s.entries, child.entries);
      s.bytes = SaturatingAdd(s.bytes, child.bytes);
      s.depth = std::max(s.depth, child.depth + 1);
      if (absl::Status c = Check(s, depth, path); !c.ok()) return c;
    }
    memo_.emplace(d, s);
    *out = s;
    return Check(s, depth, path);
  }

 private:
  absl::Status Check(const Size& s, int depth, const std::string& path) const {
    const std::string where = path.empty() ? "the input root" : "\"" + path + "\"";
    if (s.entries > limits_.max_entries) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input tree expands to more than max_input_tree_entries ", limits_.max_entries,
          " files, symlinks and directories (shared directories count once per place) under ",
          where));
    }
    if (s.bytes > limits_.max_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input tree expands to more than max_input_tree_bytes ", limits_.max_bytes,
          " bytes of files (shared directories count once per place) under ", where));
    }
    if (depth + s.depth > limits_.max_depth) {
      return absl::InvalidArgumentError(absl::StrCat(
          "input tree is deeper than max_input_tree_depth ", limits_.max_depth, " under ", where));
    }
    return absl::OkStatus();
  }

  const absl::flat_hash_map<Digest, const reapi::Directory*>& dirs_;
  const TreeLimits& limits_;
  absl::flat_hash_map<Digest, Size> memo_;
};

}  // namespace

absl::Status CheckTreeExpansion(const absl::flat_hash_map<Digest, const reapi::Directory*>& directories,
                                const Digest& root, const TreeLimits& limits) {
  Size size;
  return Expansion(directories, limits).Measure(root, "", 0, &size);
}

}  // namespace kfarm
