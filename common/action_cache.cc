#include "common/action_cache.h"

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace kfarm {
namespace {

// Results of different instances must not mix, so the key hashes the instance in.
Digest KeyFor(absl::string_view instance, const Digest& action) {
  return Digest(Digest::Of(absl::StrCat(instance, "\n", action.ToString())).hash(), 0);
}

absl::Status AddDigest(const reapi::Digest& proto, absl::string_view field,
                       std::vector<Digest>* out) {
  auto d = Digest::FromProto(proto);
  if (!d.ok()) return Annotate(d.status(), field);
  out->push_back(*d);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<Digest>> ActionCache::DirectBlobs(const reapi::ActionResult& r) {
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

absl::StatusOr<std::vector<Digest>> ActionCache::ReferencedBlobs(const reapi::ActionResult& r) {
  ASSIGN_OR_RETURN(std::vector<Digest> out, DirectBlobs(r));
  for (const auto& dir : r.output_directories()) {
    ASSIGN_OR_RETURN(Digest tree_digest, Digest::FromProto(dir.tree_digest()));
    ASSIGN_OR_RETURN(std::string bytes, cas_->Get(tree_digest));
    reapi::Tree tree;
    if (!tree.ParseFromString(bytes)) {
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

absl::StatusOr<reapi::ActionResult> ActionCache::Get(absl::string_view instance,
                                                     const Digest& action) {
  auto bytes = results_->Get(KeyFor(instance, action));
  if (!bytes.ok()) {
    if (bytes.status().code() == absl::StatusCode::kNotFound) {
      return absl::NotFoundError(absl::StrCat("no cached result for action ", action.ToString()));
    }
    return bytes.status();
  }
  reapi::ActionResult result;
  if (!result.ParseFromString(*bytes)) {
    return absl::NotFoundError(absl::StrCat("cached result for action ", action.ToString(),
                                            " is unreadable; treating it as a miss"));
  }
  auto blobs = ReferencedBlobs(result);
  if (!blobs.ok()) {
    return absl::NotFoundError(absl::StrCat("cached result for action ", action.ToString(),
                                            " is incomplete: ", blobs.status().message()));
  }
  // FindMissing also extends the lifetime of everything the result references.
  ASSIGN_OR_RETURN(std::vector<Digest> missing, cas_->FindMissing(*blobs));
  if (!missing.empty()) {
    return absl::NotFoundError(absl::StrCat("cached result for action ", action.ToString(),
                                            " references blob ", missing[0].ToString(),
                                            ", which is no longer in the CAS"));
  }
  return result;
}

absl::Status ActionCache::Put(absl::string_view instance, const Digest& action,
                              const reapi::ActionResult& result) {
  RETURN_IF_ERROR(DirectBlobs(result).status());
  std::string bytes;
  result.SerializeToString(&bytes);
  return results_->Put(KeyFor(instance, action), bytes);
}

}  // namespace kfarm
