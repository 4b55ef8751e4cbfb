#include "worker/output_collector.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "common/file_util.h"
#include "common/merkle.h"
#include "common/safe_path.h"
#include "common/status.h"

namespace kfarm {
namespace {

absl::StatusOr<std::string> ReadLink(const std::string& path, size_t size) {
  std::string target(size + 1, '\0');
  ssize_t n = ::readlink(path.c_str(), target.data(), target.size());
  if (n < 0) return ErrnoError("readlink", path);
  target.resize(static_cast<size_t>(n));
  return target;
}

// The Tree of an output directory: its root plus every distinct child Directory.
reapi::Tree TreeOf(const MerkleTree& m) {
  reapi::Tree tree;
  for (const auto& [d, bytes] : m.directories) {
    reapi::Directory dir;
    dir.ParseFromString(bytes);
    if (d == m.root) {
      *tree.mutable_root() = std::move(dir);
    } else {
      *tree.add_children() = std::move(dir);
    }
  }
  return tree;
}

absl::StatusOr<std::string> RealPath(const std::string& path) {
  char buf[PATH_MAX];
  if (::realpath(path.c_str(), buf) == nullptr) return ErrnoError("realpath", path);
  return std::string(buf);
}

}  // namespace

absl::Status CollectOutputs(CasUploader& cas, const reapi::Command& command,
                            const std::string& input_root, const std::string& working_dir, const std::string& stdout_path,
                            const std::string& stderr_path, reapi::ActionResult* result) {
  std::vector<std::string> paths(command.output_paths().begin(), command.output_paths().end());
  if (paths.empty()) {
    paths.insert(paths.end(), command.output_files().begin(), command.output_files().end());
    paths.insert(paths.end(), command.output_directories().begin(),
                 command.output_directories().end());
  }
  std::vector<BlobSource> uploads;
  std::string root;  // Resolved only when there are outputs to check against it.
  if (!paths.empty()) {
    ASSIGN_OR_RETURN(root, RealPath(input_root));
  }
  for (const std::string& rel : paths) {
    std::string path = working_dir + "/" + rel;
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) continue;
      return ErrnoError("lstat", path);
    }
    // Every process of the action is gone by now, so what is checked here is what is read.
    const std::string parent = path.substr(0, path.rfind('/'));
    ASSIGN_OR_RETURN(std::string real_parent, RealPath(parent));
    if (real_parent != root && real_parent.compare(0, root.size() + 1, root + "/") != 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "output \"", rel, "\": its directory leads out of the input root (to ", real_parent,
          ") through a symlink the action made; not read"));
    }
    if (S_ISREG(st.st_mode)) {
      ASSIGN_OR_RETURN(Digest d, DigestOfFile(path));
      auto* f = result->add_output_files();
      f->set_path(rel);
      d.ToProto(f->mutable_digest());
      f->set_is_executable((st.st_mode & S_IXUSR) != 0);
      uploads.push_back({d, path, nullptr});
    } else if (S_ISDIR(st.st_mode)) {
      ASSIGN_OR_RETURN(MerkleTree m, BuildMerkleTree(path));
      auto tree = std::make_shared<const std::string>(TreeOf(m).SerializeAsString());
      Digest tree_digest = Digest::Of(*tree);
      auto* od = result->add_output_directories();
      od->set_path(rel);
      tree_digest.ToProto(od->mutable_tree_digest());
      m.root.ToProto(od->mutable_root_directory_digest());
      uploads.push_back({tree_digest, "", tree});
      for (const auto& [d, bytes] : m.directories) {
        uploads.push_back({d, "", std::make_shared<const std::string>(bytes)});
      }
      for (const auto& [d, file] : m.files) uploads.push_back({d, file, nullptr});
    } else if (S_ISLNK(st.st_mode)) {
      ASSIGN_OR_RETURN(std::string target, ReadLink(path, static_cast<size_t>(st.st_size)));
      // REAPI: with absolute symlinks DISALLOWED (what Capabilities advertise), an action that
      // makes one fails with FAILED_PRECONDITION; one that climbs out of the input root too.
      if (absl::Status t = CheckSymlinkTarget(rel, target, false,
                                              absl::StrCat("output symlink \"", rel, "\" target"));
          !t.ok()) {
        return absl::FailedPreconditionError(t.message());
      }
      auto* s = result->add_output_symlinks();
      s->set_path(rel);
      s->set_target(target);
      // Older clients read the typed lists.
      struct stat target_st;
      bool is_dir = ::stat(path.c_str(), &target_st) == 0 && S_ISDIR(target_st.st_mode);
      *(is_dir ? result->add_output_directory_symlinks() : result->add_output_file_symlinks()) = *s;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("output \"", rel, "\" is not a regular file, directory or symlink"));
    }
  }
  static const Digest kEmpty = Digest::Of("");
  for (auto [path, field] : {std::pair{&stdout_path, result->mutable_stdout_digest()},
                             std::pair{&stderr_path, result->mutable_stderr_digest()}}) {
    // Most actions print nothing: one stat instead of open, read and close.
    struct stat st;
    const bool empty = ::stat(path->c_str(), &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0;
    ASSIGN_OR_RETURN(Digest d, empty ? absl::StatusOr<Digest>(kEmpty) : DigestOfFile(*path));
    d.ToProto(field);
    if (d.size() > 0) uploads.push_back({d, *path, nullptr});
  }
  return Annotate(cas.UploadMissing(uploads), "uploading outputs");
}

}  // namespace kfarm
