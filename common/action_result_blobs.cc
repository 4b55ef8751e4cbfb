#include "common/action_result_blobs.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace kfarm {
namespace {

absl::Status AddDigest(const reapi::Digest& proto, absl::string_view field,
                       std::vector<Digest>* out) {
  auto d = Digest::FromProto(proto);
  if (!d.ok()) return Annotate(d.status(), field);
  out->push_back(*d);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Digest>> DirectBlobs(const reapi::ActionResult& r) {
  std::vector<Digest> out;
  for (const auto& f : r.output_files()) {
    RETURN_IF_ERROR(AddDigest(f.digest(), absl::StrCat("output file \"", f.path(), "\""), &out));
  }
  for (const auto& d : r.output_directories()) {
    RETURN_IF_ERROR(AddDigest(d.tree_digest(),
                              absl::StrCat("output directory \"", d.path(), "\" tree_digest"), &out));
  }
  if (r.has_stdout_digest()) RETURN_IF_ERROR(AddDigest(r.stdout_digest(), "stdout_digest", &out));
  if (r.has_stderr_digest()) RETURN_IF_ERROR(AddDigest(r.stderr_digest(), "stderr_digest", &out));
  return out;
}

absl::StatusOr<std::vector<Digest>> ReferencedBlobs(const reapi::ActionResult& r,
                                                    BlobAccess& cas) {
  ASSIGN_OR_RETURN(std::vector<Digest> out, DirectBlobs(r));
  for (const auto& dir : r.output_directories()) {
    ASSIGN_OR_RETURN(Digest tree_digest, Digest::FromProto(dir.tree_digest()));
    auto bytes = cas.Get(tree_digest);
    if (!bytes.ok()) {
      return absl::NotFoundError(absl::StrCat("output directory \"", dir.path(), "\": ",
                                              bytes.status().message()));
    }
    reapi::Tree tree;
    if (!tree.ParseFromString(*bytes)) {
      return absl::NotFoundError(absl::StrCat("output directory \"", dir.path(), "\": tree ",
                                              tree_digest.ToString(), " is not a Tree message"));
    }
    auto add_files = [&](const reapi::Directory& d) -> absl::Status {
      for (const auto& f : d.files()) {
        RETURN_IF_ERROR(AddDigest(f.digest(), absl::StrCat("file \"", f.name(), "\" in tree ",
                                                           tree_digest.ToString()),
                                  &out));
      }
      return absl::OkStatus();
    };
    RETURN_IF_ERROR(add_files(tree.root()));
    for (const auto& child : tree.children()) RETURN_IF_ERROR(add_files(child));
  }
  return out;
}

}  // namespace kfarm
