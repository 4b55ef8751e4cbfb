#include "scheduler/action_loader.h"

#include <deque>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_status.h"
#include "common/merkle.h"
#include "common/safe_path.h"
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
  std::vector<reapi::Directory> directories;  // Parsed, for the checks; the bytes go on.
  std::vector<Digest> directory_digests;
  std::deque<std::pair<Digest, std::string>> queue{{root, ""}};
  absl::flat_hash_set<Digest> seen{root};
  std::vector<Digest> files;
  absl::flat_hash_map<Digest, std::string> file_paths;
  while (!queue.empty()) {
    auto [d, path] = queue.front();
    queue.pop_front();
    reapi::Directory dir;
    bool found = false;
    std::string what = path.empty() ? "input root directory" : "input directory \"" + path + "\"";
    std::string raw;
    grpc::Status s = LoadMessage(cas, d, what, &dir, missing, &found, &raw);
    if (!s.ok()) return s;
    if (!found) continue;
    if (absl::Status v = ValidateDirectory(dir, d); !v.ok()) {
      return Invalid(absl::StrCat(what, ": ", v.message()));
    }
    for (const auto& l : dir.symlinks()) {
      absl::Status t = CheckSymlinkTarget(path + l.name(), l.target(), allow_absolute_symlinks,
                                          absl::StrCat("input symlink \"", path, l.name(), "\" target"));
      if (!t.ok()) return Invalid(std::string(t.message()));
    }
    for (const auto& f : dir.files()) {
      auto fd = Digest::FromProto(f.digest());
      if (!fd.ok()) return Invalid(absl::StrCat("input file \"", path, f.name(), "\": ", fd.status().message()));
      if (file_paths.emplace(*fd, path + f.name()).second) files.push_back(*fd);
    }
    for (const auto& sub : dir.directories()) {
      auto sd = Digest::FromProto(sub.digest());
      if (!sd.ok()) return Invalid(absl::StrCat("input directory \"", path, sub.name(), "\": ", sd.status().message()));
      if (seen.insert(*sd).second) queue.emplace_back(*sd, path + sub.name() + "/");
    }
    directories.push_back(std::move(dir));
    directory_blobs->push_back(std::move(raw));
    directory_digests.push_back(d);
  }
  // What a worker would stage, shared directories written out at each place: bounded before
  // anything is queued.
  absl::flat_hash_map<Digest, const reapi::Directory*> by_digest;
  for (size_t i = 0; i < directories.size(); ++i) by_digest.emplace(directory_digests[i], &directories[i]);
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
