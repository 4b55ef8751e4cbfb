#include "scheduler/action_loader.h"


#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_status.h"
#include "common/directory_tree.h"
#include "common/merkle.h"
#include "common/safe_path.h"
#include "common/status.h"
#include "scheduler/command_checks.h"
#include "scheduler/tree_expansion.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace kfarm {
namespace {

using google::protobuf::util::TimeUtil;
using Missing = std::vector<std::pair<Digest, std::string>>;

grpc::Status Invalid(const std::string& msg) {
  return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, msg);
}

// Loads a blob that must parse as `M`; absent blobs are recorded in `missing`. With `raw`, the
// blob's bytes are kept there too.
template <typename M>
grpc::Status LoadMessage(BlobAccess* cas, const Digest& d, const std::string& what, M* out,
                         Missing* missing, bool* found, std::string* raw = nullptr) {
  *found = false;
  auto bytes = cas->Get(d);
  if (!bytes.ok()) {
    if (bytes.status().code() != absl::StatusCode::kNotFound) return ToGrpcStatus(bytes.status());
    missing->emplace_back(d, what);
    return grpc::Status::OK;
  }
  if (!out->ParseFromString(*bytes)) {
    return Invalid(absl::StrCat(what, " ", d.ToString(), " does not parse as ",
                                M::descriptor()->full_name()));
  }
  *found = true;
  if (raw != nullptr) *raw = std::move(*bytes);
  return grpc::Status::OK;
}

// Walks the input tree: every Directory must exist and be canonical, every file must exist.
grpc::Status CheckInputTree(BlobAccess* cas, const Digest& root, bool allow_absolute_symlinks,
                            const TreeLimits& limits, Missing* missing, Digest* largest,
                            std::vector<std::string>* directory_blobs) {
  DirectoryMap directories;  // Parsed, for the checks; the bytes go on to the worker.
  std::vector<Digest> files;
  absl::flat_hash_map<Digest, std::string> file_paths;
  absl::Status walked = WalkTree(
      root, FetchFrom(cas),
      [&](WalkedDirectory& w) -> absl::Status {
        // Errors here name the entry; "input " goes before each below, as before the walker's.
        const std::string what = w.prefix.empty()
                                     ? "root directory"
                                     : absl::StrCat("directory \"", w.prefix, "\"");
        RETURN_IF_ERROR(Annotate(ValidateDirectory(w.dir, w.digest), what));
        for (const auto& l : w.dir.symlinks()) {
          RETURN_IF_ERROR(CheckSymlinkTarget(
              w.prefix + l.name(), l.target(), allow_absolute_symlinks,
              absl::StrCat("symlink \"", w.prefix, l.name(), "\" target")));
        }
        for (const auto& f : w.dir.files()) {
          auto fd = Digest::FromProto(f.digest());
          if (!fd.ok()) {
            return absl::InvalidArgumentError(absl::StrCat("file \"", w.prefix, f.name(),
                                                           "\": ", fd.status().message()));
          }
          if (file_paths.emplace(*fd, w.prefix + f.name()).second) files.push_back(*fd);
        }
        directory_blobs->push_back(std::move(w.bytes));
        directories.emplace(w.digest, std::move(w.dir));
        return absl::OkStatus();
      },
      [&](const Digest& d, const std::string& prefix) {
        missing->emplace_back(d, prefix.empty() ? "input root directory"
                                                : absl::StrCat("input directory \"", prefix, "\""));
      });
  if (!walked.ok()) {
    if (walked.code() == absl::StatusCode::kInvalidArgument) {
      return Invalid(absl::StrCat("input ", walked.message()));
    }
    return ToGrpcStatus(walked);
  }
  // What a worker would stage, shared directories written out at each place: bounded before
  // anything is queued.
  absl::flat_hash_map<Digest, const reapi::Directory*> by_digest;
  for (const auto& [d, dir] : directories) by_digest.emplace(d, &dir);
  if (absl::Status e = CheckTreeExpansion(by_digest, root, limits); !e.ok()) {
    return Invalid(std::string(e.message()));
  }
  for (const Digest& d : files) {
    if (d.size() >= (1 << 20) && (!largest->valid() || d.size() > largest->size())) *largest = d;
  }
  auto absent = cas->FindMissing(files);
  if (!absent.ok()) return ToGrpcStatus(absent.status());
  for (const Digest& d : *absent) missing->emplace_back(d, "input file \"" + file_paths[d] + "\"");
  return grpc::Status::OK;
}

}  // namespace

grpc::Status MissingBlobsStatus(const Missing& missing) {
  google::rpc::PreconditionFailure failure;
  std::vector<std::string> names;
  for (const auto& [d, what] : missing) {
    auto* v = failure.add_violations();
    v->set_type("MISSING");
    v->set_subject(absl::StrCat("blobs/", d.ToString()));
    v->set_description(absl::StrCat(what, " is not in the CAS"));
    if (names.size() < 5) names.push_back(absl::StrCat(what, " ", d.ToString()));
  }
  std::string message = absl::StrCat(missing.size(), " blob(s) missing from the CAS: ",
                                     absl::StrJoin(names, "; "), missing.size() > 5 ? "; ..." : "");
  google::rpc::Status details;
  details.set_code(grpc::StatusCode::FAILED_PRECONDITION);
  details.set_message(message);
  details.add_details()->PackFrom(failure);
  return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, message, details.SerializeAsString());
}

grpc::Status ActionLoader::Load(const reapi::ExecuteRequest& req, const Digest& action_digest,
                                ExecuteParams* out) {
  Missing missing;
  bool found = false;
  grpc::Status s = LoadMessage(cas_, action_digest, "Action", &out->action, &missing, &found);
  if (!s.ok()) return s;
  if (found) {
    auto cmd = Digest::FromProto(out->action.command_digest());
    if (!cmd.ok()) return Invalid(absl::StrCat("Action.command_digest: ", cmd.status().message()));
    s = LoadMessage(cas_, *cmd, "Command", &out->command, &missing, &found);
    if (!s.ok()) return s;
    auto root = Digest::FromProto(out->action.input_root_digest());
    if (!root.ok()) return Invalid(absl::StrCat("Action.input_root_digest: ", root.status().message()));
    const TreeLimits limits{config_.max_input_tree_entries(), config_.max_input_tree_bytes(),
                            config_.max_input_tree_depth()};
    s = CheckInputTree(cas_, *root, allow_absolute_symlinks_, limits, &missing, &out->largest_input,
                       &out->input_directory_blobs);
    if (!s.ok()) return s;
  }
  if (!missing.empty()) return MissingBlobsStatus(missing);
  absl::Status checked = CheckCommand(out->command);
  if (checked.ok()) checked = CheckPlatform(out->action.platform(), "Action.platform");
  if (!checked.ok()) {
    return Invalid(absl::StrCat("action ", action_digest.ToString(), ": ", checked.message()));
  }
  auto timeout = CheckTimeout(out->action.timeout(), absl::Seconds(config_.max_timeout_seconds()),
                              "Action.timeout");
  if (!timeout.ok()) {
    return Invalid(absl::StrCat("action ", action_digest.ToString(), ": ", timeout.status().message()));
  }
  if (*timeout <= absl::ZeroDuration()) *timeout = absl::Seconds(config_.default_timeout_seconds());

  out->instance_name = req.instance_name();
  out->action_digest = action_digest;
  out->platform = out->action.platform().properties_size() > 0 ? out->action.platform()
                                                               : out->command.platform();
  out->priority = req.execution_policy().priority();
  out->timeout = *timeout;
  out->skip_cache_lookup = req.skip_cache_lookup();
  out->shape = absl::StrJoin(out->command.arguments(), std::string(1, '\0'));
  for (const auto& p : out->command.output_paths()) absl::StrAppend(&out->shape, "\n", p);
  for (const auto& p : out->command.output_files()) absl::StrAppend(&out->shape, "\n", p);
  return grpc::Status::OK;
}

}  // namespace kfarm
