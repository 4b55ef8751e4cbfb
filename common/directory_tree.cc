#include "common/directory_tree.h"

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace kfarm {
namespace {

constexpr absl::string_view kDirectoryType = "build.bazel.remote.execution.v2.Directory";

std::string Where(const std::string& prefix) {
  return prefix.empty() ? "the root" : absl::StrCat("\"", prefix.substr(0, prefix.size() - 1), "\"");
}

}  // namespace

absl::Status WalkTree(const Digest& root, FetchLevel fetch,
                      absl::FunctionRef<absl::Status(WalkedDirectory&)> visit,
                      absl::FunctionRef<void(const Digest&, const std::string& prefix)> absent) {
  absl::flat_hash_set<Digest> seen{root};
  std::vector<Digest> level{root};
  std::vector<std::string> prefixes{""};
  while (!level.empty()) {
    ASSIGN_OR_RETURN(std::vector<std::optional<std::string>> blobs, fetch(level));
    if (blobs.size() != level.size()) {
      return absl::InternalError(absl::StrCat("asked for ", level.size(), " directories, got ",
                                              blobs.size()));
    }
    std::vector<Digest> next;
    std::vector<std::string> next_prefixes;
    for (size_t i = 0; i < level.size(); ++i) {
      if (!blobs[i]) {
        absent(level[i], prefixes[i]);
        continue;
      }
      reapi::Directory dir;
      if (!dir.ParseFromString(*blobs[i])) {
        return absl::InvalidArgumentError(absl::StrCat("directory ", level[i].ToString(), " (at ",
                                                       Where(prefixes[i]), " of tree ",
                                                       root.ToString(), ") does not parse as a ",
                                                       kDirectoryType));
      }
      for (const auto& sub : dir.directories()) {
        auto d = Digest::FromProto(sub.digest());
        if (!d.ok()) {
          return absl::InvalidArgumentError(absl::StrCat(
              "directory \"", prefixes[i], sub.name(), "\": ", d.status().message()));
        }
        if (seen.insert(*d).second) {
          next.push_back(*d);
          next_prefixes.push_back(absl::StrCat(prefixes[i], sub.name(), "/"));
        }
      }
      WalkedDirectory walked{level[i], prefixes[i], *blobs[i], dir};
      RETURN_IF_ERROR(visit(walked));
    }
    level = std::move(next);
    prefixes = std::move(next_prefixes);
  }
  return absl::OkStatus();
}

std::function<absl::StatusOr<std::vector<std::optional<std::string>>>(absl::Span<const Digest>)>
FetchFrom(BlobAccess* store) {
  return [store](absl::Span<const Digest> level)
             -> absl::StatusOr<std::vector<std::optional<std::string>>> {
    std::vector<std::optional<std::string>> out;
    out.reserve(level.size());
    for (const Digest& d : level) {
      absl::StatusOr<std::string> bytes = store->Get(d);
      if (bytes.ok()) {
        out.emplace_back(std::move(*bytes));
      } else if (bytes.status().code() == absl::StatusCode::kNotFound) {
        out.emplace_back(std::nullopt);
      } else {
        return bytes.status();
      }
    }
    return out;
  };
}

absl::Status ExpandTree(
    const Digest& root, const DirectoryMap& dirs, const std::string& base,
    absl::FunctionRef<absl::Status(const std::string& path, const Digest& digest,
                                   const reapi::Directory* dir)> visit) {
  std::vector<std::pair<Digest, std::string>> stack{{root, base}};
  while (!stack.empty()) {
    auto [digest, path] = std::move(stack.back());
    stack.pop_back();
    auto it = dirs.find(digest);
    const reapi::Directory* dir = it == dirs.end() ? nullptr : &it->second;
    RETURN_IF_ERROR(visit(path, digest, dir));
    if (dir == nullptr) continue;
    const auto& subs = dir->directories();
    for (auto sub = subs.rbegin(); sub != subs.rend(); ++sub) {  // Popped in Directory order.
      auto d = Digest::FromProto(sub->digest());
      if (!d.ok()) {
        return absl::InvalidArgumentError(absl::StrCat("directory \"", path, "/", sub->name(),
                                                       "\": ", d.status().message()));
      }
      stack.emplace_back(*d, absl::StrCat(path, "/", sub->name()));
    }
  }
  return absl::OkStatus();
}

absl::Status AddDirectory(const std::string& blob, DirectoryMap* out) {
  const Digest d = Digest::Of(blob);
  reapi::Directory parsed;
  if (!parsed.ParseFromString(blob)) {
    return absl::InvalidArgumentError(
        absl::StrCat("directory ", d.ToString(), " does not parse as a ", kDirectoryType));
  }
  out->emplace(d, std::move(parsed));
  return absl::OkStatus();
}

}  // namespace kfarm
