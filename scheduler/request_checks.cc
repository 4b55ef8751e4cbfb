#include "scheduler/request_checks.h"

#include "absl/strings/str_cat.h"
#include "common/resource_name.h"
#include "common/safe_path.h"
#include "common/status.h"

namespace kfarm {

absl::Status CheckInstance(absl::string_view instance) { return ValidateInstanceName(instance); }

absl::Status CheckDigestFunction(reapi::DigestFunction::Value f) {
  if (f == reapi::DigestFunction::UNKNOWN || f == reapi::DigestFunction::SHA256) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("digest_function ", reapi::DigestFunction::Value_Name(f),
                   " is not supported; this server uses SHA256"));
}

absl::StatusOr<Digest> ParseDigestField(const reapi::Digest& d, absl::string_view field) {
  auto parsed = Digest::FromProto(d);
  if (!parsed.ok()) return Annotate(parsed.status(), field);
  return parsed;
}

absl::Status CheckActionResult(const reapi::ActionResult& r, bool allow_absolute_symlinks) {
  auto field = [](absl::string_view list, int i, absl::string_view member) {
    return absl::StrCat(list, "[", i, "].", member);
  };
  for (int i = 0; i < r.output_files_size(); ++i) {
    const auto& f = r.output_files(i);
    RETURN_IF_ERROR(CheckRelativePath(f.path(), field("output_files", i, "path")));
    RETURN_IF_ERROR(ParseDigestField(f.digest(), field("output_files", i, "digest")).status());
  }
  for (int i = 0; i < r.output_directories_size(); ++i) {
    const auto& d = r.output_directories(i);
    RETURN_IF_ERROR(CheckRelativePath(d.path(), field("output_directories", i, "path")));
    RETURN_IF_ERROR(
        ParseDigestField(d.tree_digest(), field("output_directories", i, "tree_digest")).status());
  }
  struct Links {
    const char* name;
    const google::protobuf::RepeatedPtrField<reapi::OutputSymlink>& list;
  };
  for (const Links& links : {Links{"output_symlinks", r.output_symlinks()},
                             Links{"output_file_symlinks", r.output_file_symlinks()},
                             Links{"output_directory_symlinks", r.output_directory_symlinks()}}) {
    for (int i = 0; i < links.list.size(); ++i) {
      const auto& l = links.list[i];
      RETURN_IF_ERROR(CheckRelativePath(l.path(), field(links.name, i, "path")));
      RETURN_IF_ERROR(CheckSymlinkTarget(l.path(), l.target(), allow_absolute_symlinks,
                                         field(links.name, i, "target")));
    }
  }
  for (const auto& [name, digest] : {std::pair<const char*, const reapi::Digest*>{
                                         "stdout_digest", &r.stdout_digest()},
                                     {"stderr_digest", &r.stderr_digest()}}) {
    if (digest->hash().empty() && digest->size_bytes() == 0) continue;  // Unset.
    RETURN_IF_ERROR(ParseDigestField(*digest, name).status());
  }
  return absl::OkStatus();
}

}  // namespace kfarm
