#include "common/input_tree.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace kfarm {

absl::Status InputTree::AddFile(const std::string& path, const Digest& digest, bool executable) {
  std::vector<std::string> segs = absl::StrSplit(path, '/');
  Node* n = &root_;
  for (size_t i = 0; i < segs.size(); ++i) {
    const std::string& s = segs[i];
    if (s.empty() || s == "." || s == "..") {
      return absl::InvalidArgumentError(absl::StrCat("input path \"", path, "\" is not a clean relative path"));
    }
    if (i + 1 == segs.size()) {
      auto [it, fresh] = n->files.emplace(s, std::make_pair(digest, executable));
      if (!fresh && it->second != std::make_pair(digest, executable)) {
        return absl::InvalidArgumentError(absl::StrCat("input \"", path, "\" added twice with different content"));
      }
      if (n->dirs.count(s)) {
        return absl::InvalidArgumentError(absl::StrCat("input \"", path, "\" is both a file and a directory"));
      }
    } else {
      if (n->files.count(s)) {
        return absl::InvalidArgumentError(absl::StrCat("input \"", path, "\" is below a file"));
      }
      n = &n->dirs[s];
    }
  }
  return absl::OkStatus();
}

Digest InputTree::BuildNode(const Node& n, Built* out) {
  reapi::Directory dir;
  for (const auto& [name, f] : n.files) {
    auto* fn = dir.add_files();
    fn->set_name(name);
    f.first.ToProto(fn->mutable_digest());
    fn->set_is_executable(f.second);
  }
  for (const auto& [name, child] : n.dirs) {
    auto* dn = dir.add_directories();
    dn->set_name(name);
    BuildNode(child, out).ToProto(dn->mutable_digest());
  }
  std::string bytes = dir.SerializeAsString();
  Digest d = Digest::Of(bytes);
  out->directories.emplace(d, std::move(bytes));
  return d;
}

InputTree::Built InputTree::Build() const {
  Built out;
  out.root = BuildNode(root_, &out);
  return out;
}

}  // namespace kfarm
