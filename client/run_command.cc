#include "client/run_command.h"

#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "common/merkle.h"
#include "common/safe_path.h"
#include "common/status.h"

namespace kfarm {
namespace {

// Whatever the result says, nothing is written or deleted outside `out`: every path is checked
// before it is used, and symlinks must point inside `out` (the server could be forged, or its
// action cache poisoned).
absl::Status WriteOutputs(CasClient& cas, const reapi::ActionResult& r, const std::string& out) {
  for (int i = 0; i < r.output_files_size(); ++i) {
    const auto& f = r.output_files(i);
    ASSIGN_OR_RETURN(std::string path,
                     PathUnder(out, f.path(), absl::StrCat("output_files[", i, "].path")));
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    ASSIGN_OR_RETURN(Digest d, Digest::FromProto(f.digest()));
    RETURN_IF_ERROR(cas.DownloadFile(d, path, f.is_executable()));
  }
  for (int i = 0; i < r.output_directories_size(); ++i) {
    const auto& dir = r.output_directories(i);
    ASSIGN_OR_RETURN(std::string path, PathUnder(out, dir.path(),
                                                 absl::StrCat("output_directories[", i, "].path")));
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    Digest root;
    if (dir.has_root_directory_digest()) {
      ASSIGN_OR_RETURN(root, Digest::FromProto(dir.root_directory_digest()));
    } else {
      ASSIGN_OR_RETURN(Digest tree_digest, Digest::FromProto(dir.tree_digest()));
      ASSIGN_OR_RETURN(std::string bytes, cas.ReadBlob(tree_digest));
      reapi::Tree tree;
      if (!tree.ParseFromString(bytes)) {
        return absl::DataLossError(absl::StrCat("blob ", tree_digest.ToString(), " is not a Tree"));
      }
      root = Digest::Of(tree.root().SerializeAsString());
    }
    RETURN_IF_ERROR(cas.DownloadTree(root, path));
  }
  for (int i = 0; i < r.output_symlinks_size(); ++i) {
    const auto& s = r.output_symlinks(i);
    const std::string field = absl::StrCat("output_symlinks[", i, "]");
    ASSIGN_OR_RETURN(std::string path, PathUnder(out, s.path(), field + ".path"));
    RETURN_IF_ERROR(CheckSymlinkTarget(s.path(), s.target(), false, field + ".target"));
    std::error_code ec;
    std::filesystem::remove(path, ec);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::filesystem::create_symlink(s.target(), path, ec);
    if (ec) return absl::InternalError(absl::StrCat("creating symlink ", path, ": ", ec.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> Fetch(CasClient& cas, const reapi::Digest& d) {
  if (d.hash().empty()) return std::string();
  ASSIGN_OR_RETURN(Digest digest, Digest::FromProto(d));
  return cas.ReadBlob(digest);
}

}  // namespace

int RunRemote(CasClient& cas, ExecutionClient& exec, RunOptions o) {
  auto fail = [](const absl::Status& s) {
    std::cerr << "kfarm run: " << s.message() << "\n";
    return 1;
  };
  if (!o.input_dir.empty()) {
    auto tree = BuildMerkleTree(o.input_dir);
    if (!tree.ok()) return fail(tree.status());
    if (absl::Status s = cas.UploadTree(*tree); !s.ok()) return fail(s);
    o.spec.input_root = tree->root;
  }
  BuiltAction action = BuildAction(o.spec);
  if (absl::Status s = cas.UploadMissing(action.blobs); !s.ok()) return fail(s);
  ExecuteOptions eo;
  eo.skip_cache_lookup = o.skip_cache_lookup;
  eo.priority = o.priority;
  eo.invocation_id = o.invocation_id;
  auto resp = exec.Execute(action.digest, eo);
  if (!resp.ok()) return fail(resp.status());
  const reapi::ActionResult& r = resp->result();
  auto out = Fetch(cas, r.stdout_digest());
  auto err = Fetch(cas, r.stderr_digest());
  std::cout << (r.stdout_raw().empty() && out.ok() ? *out : r.stdout_raw()) << std::flush;
  std::cerr << (r.stderr_raw().empty() && err.ok() ? *err : r.stderr_raw()) << std::flush;
  std::string out_dir = !o.out_dir.empty() ? o.out_dir : !o.input_dir.empty() ? o.input_dir : ".";
  if (absl::Status s = WriteOutputs(cas, r, out_dir); !s.ok()) return fail(s);
  if (resp->status().code() != 0) {
    std::cerr << "kfarm run: " << resp->status().message() << "\n";
    return r.exit_code() != 0 ? r.exit_code() : 1;
  }
  if (resp->cached_result()) std::cerr << "kfarm run: (cached result)\n";
  return r.exit_code();
}

}  // namespace kfarm
