#include "scheduler/status_source.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "scheduler/cached_operation.h"
#include "scheduler/command_summary.h"

namespace kfarm {
namespace {

// Up to kMaxShownOutput bytes of `raw`, or of the blob `digest` names.
absl::Status ReadOutput(BlobAccess* cas, const std::string& raw, const reapi::Digest& digest,
                        std::string* out, bool* truncated) {
  if (!raw.empty() || digest.hash().empty()) {  // Inline, or no output at all.
    *truncated = raw.size() > kMaxShownOutput;
    *out = raw.substr(0, kMaxShownOutput);
    return absl::OkStatus();
  }
  auto d = Digest::FromProto(digest);
  if (!d.ok()) return d.status();
  auto reader = cas->OpenRead(*d);
  if (!reader.ok()) return reader.status();
  std::string buf(kMaxShownOutput, '\0');
  size_t have = 0;
  while (have < buf.size()) {
    auto n = (*reader)->Read(buf.data() + have, buf.size() - have);
    if (!n.ok()) return n.status();
    if (*n == 0) break;
    have += *n;
  }
  buf.resize(have);
  *out = std::move(buf);
  *truncated = d->size() > static_cast<int64_t>(have);
  return absl::OkStatus();
}

}  // namespace

status::StatusReport StatusSource::Report(int max_recent) {
  if (queue_ != nullptr) return queue_->Status(max_recent);
  status::StatusReport r;
  *r.mutable_now() = google::protobuf::util::TimeUtil::GetCurrentTime();
  return r;
}

absl::StatusOr<status::OperationDetail> StatusSource::Operation(const std::string& name) {
  if (std::optional<CachedOperationRef> ref = ParseCachedOperationName(name)) {
    auto hit = CachedOperation(cache_, name, *ref);
    if (!hit.ok()) return hit.status();
    status::OperationDetail d;
    status::OperationSummary& s = *d.mutable_summary();
    s.set_name(name);
    s.set_action_digest(ref->action.ToString());
    s.set_instance_name(ref->instance);
    s.set_stage("COMPLETED");
    s.set_cached_result(true);
    const reapi::ActionResult& result = hit->response.result();
    s.set_exit_code(result.exit_code());
    s.set_worker(result.execution_metadata().worker());
    *d.mutable_metadata() = result.execution_metadata();
    CompleteFromStorage(ref->action, &result, d);
    s.set_summary(d.arguments_size() > 0 ? CommandSummary([&] {
      reapi::Command c;
      for (const auto& a : d.arguments()) c.add_arguments(a);
      return c;
    }()) : "");
    return d;
  }
  if (queue_ == nullptr) {
    return absl::NotFoundError(absl::StrCat("no operation ", name,
                                            ": this scheduler runs no actions (execution disabled)"));
  }
  auto story = queue_->Describe(name);
  if (!story.ok()) return story.status();
  auto action = Digest::Parse(story->detail.summary().action_digest());
  if (!action.ok()) return action.status();
  const bool ran = story->detail.summary().stage() == "COMPLETED" &&
                   story->detail.summary().status_code() == 0;
  CompleteFromStorage(*action, ran ? &story->result : nullptr, story->detail);
  return std::move(story->detail);
}

void StatusSource::CompleteFromStorage(const Digest& action_digest,
                                       const reapi::ActionResult* result,
                                       status::OperationDetail& d) {
  std::vector<std::string> missing;
  reapi::Action action;
  reapi::Command command;
  auto action_bytes = cas_->Get(action_digest);
  if (!action_bytes.ok() || !action.ParseFromString(*action_bytes)) {
    missing.push_back(absl::StrCat(
        "the action ", action_digest.ToString(), " is no longer in the CAS",
        action_bytes.ok() ? " (its bytes do not parse)" : ""));
  } else {
    auto command_digest = Digest::FromProto(action.command_digest());
    auto command_bytes = command_digest.ok() ? cas_->Get(*command_digest)
                                             : absl::StatusOr<std::string>(command_digest.status());
    if (!command_bytes.ok() || !command.ParseFromString(*command_bytes)) {
      missing.push_back(absl::StrCat("the command ", action.command_digest().hash(), "/",
                                     action.command_digest().size_bytes(),
                                     " is no longer in the CAS"));
    } else {
      for (const auto& a : command.arguments()) d.add_arguments(a);
      *d.mutable_environment() = command.environment_variables();
      d.set_working_directory(command.working_directory());
      for (const auto& p : command.output_paths()) d.add_output_paths(p);
      for (const auto& p : command.output_files()) d.add_output_paths(p);
      for (const auto& p : command.output_directories()) d.add_output_paths(p);
      *d.mutable_platform() = action.has_platform() ? action.platform() : command.platform();
    }
  }
  if (result != nullptr) {
    std::string text;
    bool truncated = false;
    absl::Status s = ReadOutput(cas_, result->stdout_raw(), result->stdout_digest(), &text,
                                &truncated);
    if (s.ok()) {
      d.set_stdout(std::move(text));
      d.set_stdout_truncated(truncated);
    } else {
      missing.push_back(absl::StrCat("stdout ", result->stdout_digest().hash(), ": ", s.message()));
    }
    s = ReadOutput(cas_, result->stderr_raw(), result->stderr_digest(), &text, &truncated);
    if (s.ok()) {
      d.set_stderr(std::move(text));
      d.set_stderr_truncated(truncated);
    } else {
      missing.push_back(absl::StrCat("stderr ", result->stderr_digest().hash(), ": ", s.message()));
    }
  }
  std::string joined;
  for (const auto& m : missing) absl::StrAppend(&joined, joined.empty() ? "" : "; ", m);
  d.set_unavailable(joined);
}

}  // namespace kfarm
