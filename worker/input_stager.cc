#include "worker/input_stager.h"

#include <fcntl.h>

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/directory_tree.h"
#include "common/merkle.h"
#include "common/status.h"

namespace kfarm {
namespace {

struct FileToLink {
  Digest digest;
  bool executable;
  std::string path;
};

bool SafeRelative(absl::string_view p) {
  if (p.empty() || p[0] == '/') return false;
  for (absl::string_view seg : absl::StrSplit(p, '/')) {
    if (seg == "..") return false;
  }
  return true;
}

}  // namespace

absl::Status InputStager::Stage(const Digest& root, const std::string& dir,
                                const google::protobuf::RepeatedPtrField<std::string>& given) {
  if (root.empty_blob()) return absl::OkStatus();  // The empty Directory: nothing to fetch.
  // Keyed by the digest of the bytes as stored, whatever encoding the client used.
  DirectoryMap by_digest;
  if (given.empty()) {
    ASSIGN_OR_RETURN(by_digest, cas_->FetchDirectories(root));
  } else {
    ASSIGN_OR_RETURN(by_digest, ParseDirectories(given));
  }

  std::vector<FileToLink> files;
  RETURN_IF_ERROR(ExpandTree(
      root, by_digest, dir,
      [&](const std::string& path, const Digest& digest, const reapi::Directory* d) -> absl::Status {
        if (d == nullptr) {
          return absl::FailedPreconditionError(absl::StrCat(
              "input directory ", path, " (", digest.ToString(), ") is not in the CAS"));
        }
        RETURN_IF_ERROR(ValidateDirectory(*d, digest));
        if (path != dir && ::mkdir(path.c_str(), 0755) != 0) return ErrnoError("mkdir", path);
        for (const auto& f : d->files()) {
          ASSIGN_OR_RETURN(Digest fd, Digest::FromProto(f.digest()));
          files.push_back({fd, f.is_executable(), path + "/" + f.name()});
        }
        for (const auto& s : d->symlinks()) {
          std::string link = path + "/" + s.name();
          if (::symlink(s.target().c_str(), link.c_str()) != 0) return ErrnoError("symlink", link);
        }
        return absl::OkStatus();
      }));

  // A blob can be evicted between fetching and linking when the cache is under pressure; one
  // more round fetches it again. Empty files are made here: the empty blob is never fetched, so
  // the cache has no file to link.
  std::vector<const FileToLink*> pending;
  for (const auto& f : files) {
    if (f.digest.size() != 0) {
      pending.push_back(&f);
      continue;
    }
    const int fd = ::open(f.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                          f.executable ? 0755 : 0644);
    if (fd < 0) return ErrnoError("create empty input", f.path);
    ::close(fd);
  }
  for (int round = 0; round < 2 && !pending.empty(); ++round) {
    std::vector<FileCache::Want> need;
    for (const auto* f : pending) need.push_back({f->digest, f->executable});
    RETURN_IF_ERROR(cache_->Ensure(need));
    std::vector<const FileToLink*> retry;
    for (const auto* f : pending) {
      std::string src = cache_->Path(f->digest, f->executable);
      if (!link_) {
        std::error_code ec;
        std::filesystem::copy_file(src, f->path, ec);
        if (!ec) {
          ::chmod(f->path.c_str(), f->executable ? 0755 : 0644);
          continue;
        }
        errno = ec.value();
      } else if (::link(src.c_str(), f->path.c_str()) == 0) {
        continue;
      }
      if (errno == ENOENT && round == 0) {
        retry.push_back(f);
        continue;
      }
      return ErrnoError(absl::StrCat("link ", src, " ->"), f->path);
    }
    pending = std::move(retry);
  }
  return absl::OkStatus();
}

absl::Status GiveDirectoriesTo(const std::string& root, int uid, int gid) {
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(root, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_directory(ec) || it->is_symlink(ec)) continue;
    if (::lchown(it->path().c_str(), uid, gid) != 0) {
      return ErrnoError("chown to the action user", it->path().string());
    }
  }
  if (ec) return ErrnoError("walk", root, ec.value());
  return absl::OkStatus();
}

absl::Status CreateOutputParents(const reapi::Command& command, const std::string& working_dir) {
  std::vector<std::string> outputs(command.output_paths().begin(), command.output_paths().end());
  if (command.output_paths_size() == 0) {
    outputs.insert(outputs.end(), command.output_files().begin(), command.output_files().end());
    outputs.insert(outputs.end(), command.output_directories().begin(),
                   command.output_directories().end());
  }
  for (const std::string& out : outputs) {
    if (!SafeRelative(out)) {
      return absl::InvalidArgumentError(
          absl::StrCat("output path \"", out, "\" must be relative and stay inside the input root"));
    }
    std::filesystem::path parent = std::filesystem::path(working_dir + "/" + out).parent_path();
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec) return ErrnoError("mkdir", parent.string(), ec.value());
  }
  // Declared output directories exist too, as Bazel expects.
  for (const std::string& out : command.output_directories()) {
    std::error_code ec;
    std::filesystem::create_directories(working_dir + "/" + out, ec);
  }
  return absl::OkStatus();
}

}  // namespace kfarm
