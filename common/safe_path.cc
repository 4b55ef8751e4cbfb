#include "common/safe_path.h"

#include <sys/stat.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace kfarm {
namespace {

}  // namespace

absl::Status CheckRelativePath(absl::string_view path, absl::string_view field) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (path.front() == '/') {
    return absl::InvalidArgumentError(absl::StrCat(field, " ", Quoted(path), " is absolute"));
  }
  for (absl::string_view seg : absl::StrSplit(path, '/')) {
    if (seg.empty() || seg == "." || seg == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat(field, " ", Quoted(path), " has a ",
                       seg.empty() ? "empty" : absl::StrCat("\"", seg, "\""), " segment"));
    }
    if (seg.find('\0') != absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(field, " ", Quoted(path), " holds a NUL byte"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckSymlinkTarget(absl::string_view link_path, absl::string_view target,
                                bool allow_absolute, absl::string_view field) {
  if (target.empty()) return absl::InvalidArgumentError(absl::StrCat(field, " is empty"));
  if (target.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(field, " holds a NUL byte"));
  }
  if (target.front() == '/') {
    if (allow_absolute) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(
        field, " ", Quoted(target), " is absolute, and absolute symlinks are not allowed"));
  }
  // Depth of the directory holding the link, then walk the target from there.
  std::vector<absl::string_view> dir = absl::StrSplit(link_path, '/', absl::SkipEmpty());
  if (!dir.empty()) dir.pop_back();
  int depth = static_cast<int>(dir.size());
  for (absl::string_view seg : absl::StrSplit(target, '/', absl::SkipEmpty())) {
    if (seg == ".") continue;
    depth += seg == ".." ? -1 : 1;
    if (depth < 0) {
      return absl::InvalidArgumentError(absl::StrCat(field, " ", Quoted(target), " of ",
                                                     Quoted(link_path),
                                                     " points outside the directory it is in"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> PathUnder(const std::string& root, absl::string_view rel,
                                      absl::string_view field) {
  if (absl::Status s = CheckRelativePath(rel, field); !s.ok()) return s;
  std::string path = root;
  std::vector<absl::string_view> segs = absl::StrSplit(rel, '/');
  for (size_t i = 0; i + 1 < segs.size(); ++i) {
    absl::StrAppend(&path, "/", segs[i]);
    struct stat st;
    if (::lstat(path.c_str(), &st) != 0) {
      // Nothing there yet: what gets created below is ours.
      absl::StrAppend(&path, "/", absl::StrJoin(segs.begin() + i + 1, segs.end(), "/"));
      return path;
    }
    if (S_ISLNK(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(field, " ", Quoted(rel), " goes through ",
                                                     path, ", a symlink: refusing to follow it"));
    }
  }
  absl::StrAppend(&path, "/", segs.back());
  return path;
}

}  // namespace kfarm
