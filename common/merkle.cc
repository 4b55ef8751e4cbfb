#include "common/merkle.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/status.h"

namespace kfarm {
namespace {

template <typename Node>
void SortByName(google::protobuf::RepeatedPtrField<Node>* nodes) {
  std::sort(nodes->begin(), nodes->end(),
            [](const Node& a, const Node& b) { return a.name() < b.name(); });
}

absl::StatusOr<Digest> AddDirectory(const std::string& path, MerkleTree* tree) {
  DIR* dp = ::opendir(path.c_str());
  if (dp == nullptr) return ErrnoError("opendir", path);
  std::vector<std::string> names;
  while (struct dirent* e = ::readdir(dp)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  ::closedir(dp);

  reapi::Directory dir;
  for (const std::string& name : names) {
    std::string child = path + "/" + name;
    struct stat st;
    if (::lstat(child.c_str(), &st) != 0) return ErrnoError("lstat", child);
    if (S_ISREG(st.st_mode)) {
      ASSIGN_OR_RETURN(Digest d, DigestOfFile(child));
      auto* f = dir.add_files();
      f->set_name(name);
      d.ToProto(f->mutable_digest());
      f->set_is_executable((st.st_mode & S_IXUSR) != 0);
      tree->files.emplace(d, child);
    } else if (S_ISDIR(st.st_mode)) {
      ASSIGN_OR_RETURN(Digest d, AddDirectory(child, tree));
      auto* n = dir.add_directories();
      n->set_name(name);
      d.ToProto(n->mutable_digest());
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t len = ::readlink(child.c_str(), target.data(), target.size());
      if (len < 0) return ErrnoError("readlink", child);
      target.resize(static_cast<size_t>(len));
      auto* s = dir.add_symlinks();
      s->set_name(name);
      s->set_target(target);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(child, ": not a regular file, directory or symlink"));
    }
  }
  SortByName(dir.mutable_files());
  SortByName(dir.mutable_directories());
  SortByName(dir.mutable_symlinks());
  std::string bytes;
  dir.SerializeToString(&bytes);  // Fresh message, fields in order: deterministic.
  Digest d = Digest::Of(bytes);
  tree->directories.emplace(d, std::move(bytes));
  return d;
}

bool ValidName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

template <typename Node>
absl::Status CheckNames(const google::protobuf::RepeatedPtrField<Node>& nodes, const char* kind,
                        const Digest& digest) {
  for (int i = 0; i < nodes.size(); ++i) {
    if (!ValidName(nodes[i].name())) {
      return absl::InvalidArgumentError(absl::StrCat("directory ", digest.ToString(), ": ", kind,
                                                     " name \"", nodes[i].name(),
                                                     "\" is not a single path segment"));
    }
    if (i > 0 && !(nodes[i - 1].name() < nodes[i].name())) {
      return absl::InvalidArgumentError(absl::StrCat(
          "directory ", digest.ToString(), ": ", kind, " \"", nodes[i].name(),
          "\" is out of order or repeated (after \"", nodes[i - 1].name(), "\")"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<MerkleTree> BuildMerkleTree(const std::string& dir) {
  MerkleTree tree;
  ASSIGN_OR_RETURN(tree.root, AddDirectory(dir, &tree));
  return tree;
}

absl::Status ValidateDirectory(const reapi::Directory& dir, const Digest& digest) {
  RETURN_IF_ERROR(CheckNames(dir.files(), "file", digest));
  RETURN_IF_ERROR(CheckNames(dir.directories(), "directory", digest));
  RETURN_IF_ERROR(CheckNames(dir.symlinks(), "symlink", digest));
  std::vector<std::string> all;
  for (const auto& f : dir.files()) all.push_back(f.name());
  for (const auto& d : dir.directories()) all.push_back(d.name());
  for (const auto& s : dir.symlinks()) all.push_back(s.name());
  std::sort(all.begin(), all.end());
  auto dup = std::adjacent_find(all.begin(), all.end());
  if (dup != all.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat("directory ", digest.ToString(), ": name \"", *dup, "\" is used twice"));
  }
  return absl::OkStatus();
}

}  // namespace kfarm
