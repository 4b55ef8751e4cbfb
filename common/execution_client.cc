#include "common/execution_client.h"

#include <algorithm>

#include <grpcpp/client_context.h>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status.h"
#include "google/protobuf/util/time_util.h"

namespace kfarm {

BuiltAction BuildAction(const ActionSpec& spec) {
  BuiltAction b;
  for (const auto& a : spec.arguments) b.command.add_arguments(a);
  auto env = spec.environment;
  std::sort(env.begin(), env.end());
  for (const auto& [k, v] : env) {
    auto* e = b.command.add_environment_variables();
    e->set_name(k);
    e->set_value(v);
  }
  auto outputs = spec.output_paths;
  std::sort(outputs.begin(), outputs.end());
  for (const auto& o : outputs) b.command.add_output_paths(o);
  b.command.set_working_directory(spec.working_directory);
  auto platform = spec.platform;
  std::sort(platform.begin(), platform.end());
  for (const auto& [k, v] : platform) {
    auto* p = b.action.mutable_platform()->add_properties();
    p->set_name(k);
    p->set_value(v);
  }
  std::string command_bytes = b.command.SerializeAsString();
  Digest command_digest = Digest::Of(command_bytes);
  command_digest.ToProto(b.action.mutable_command_digest());
  spec.input_root.ToProto(b.action.mutable_input_root_digest());
  if (spec.timeout > absl::ZeroDuration()) {
    *b.action.mutable_timeout() = google::protobuf::util::TimeUtil::NanosecondsToDuration(
        absl::ToInt64Nanoseconds(spec.timeout));
  }
  b.action.set_do_not_cache(spec.do_not_cache);
  std::string action_bytes = b.action.SerializeAsString();
  b.digest = Digest::Of(action_bytes);
  b.blobs.push_back({command_digest, "", std::make_shared<const std::string>(command_bytes)});
  b.blobs.push_back({b.digest, "", std::make_shared<const std::string>(action_bytes)});
  return b;
}

ExecutionClient::ExecutionClient(std::shared_ptr<grpc::Channel> channel, std::string instance)
    : stub_(reapi::Execution::NewStub(channel)), instance_(std::move(instance)) {}

absl::StatusOr<reapi::ExecuteResponse> ExecutionClient::Execute(const Digest& action,
                                                                const ExecuteOptions& options) {
  std::string name;  // Known once the first Operation arrives.
  for (int attempt = 0; attempt < 10; ++attempt) {
    grpc::ClientContext ctx;
    if (!options.invocation_id.empty()) {
      reapi::RequestMetadata md;
      md.mutable_tool_details()->set_tool_name("kfarm");
      md.set_tool_invocation_id(options.invocation_id);
      md.set_action_id(action.hex());
      ctx.AddMetadata("build.bazel.remote.execution.v2.requestmetadata-bin", md.SerializeAsString());
    }
    std::unique_ptr<grpc::ClientReader<google::longrunning::Operation>> reader;
    if (name.empty()) {
      reapi::ExecuteRequest req;
      req.set_instance_name(instance_);
      action.ToProto(req.mutable_action_digest());
      req.set_skip_cache_lookup(options.skip_cache_lookup);
      req.mutable_execution_policy()->set_priority(options.priority);
      reader = stub_->Execute(&ctx, req);
    } else {
      reapi::WaitExecutionRequest req;
      req.set_name(name);
      reader = stub_->WaitExecution(&ctx, req);
    }
    google::longrunning::Operation op;
    while (reader->Read(&op)) {
      name = op.name();
      reapi::ExecuteOperationMetadata md;
      if (options.on_stage && op.metadata().UnpackTo(&md)) options.on_stage(md.stage());
      if (!op.done()) continue;
      reapi::ExecuteResponse resp;
      if (!op.response().UnpackTo(&resp)) {
        return absl::InternalError(absl::StrCat("operation ", name, " finished without an ExecuteResponse"));
      }
      ctx.TryCancel();
      reader->Finish().ok();
      return resp;
    }
    grpc::Status s = reader->Finish();
    if (s.error_code() == grpc::StatusCode::NOT_FOUND && !name.empty()) {
      name.clear();  // The scheduler forgot the operation (restart): submit again.
      continue;
    }
    if (s.ok() || s.error_code() == grpc::StatusCode::UNAVAILABLE ||
        s.error_code() == grpc::StatusCode::CANCELLED) {
      absl::SleepFor(absl::Milliseconds(200 << std::min(attempt, 4)));
      continue;
    }
    return Annotate(FromGrpcStatus(s), absl::StrCat("executing action ", action.ToString()));
  }
  return absl::UnavailableError(absl::StrCat("executing action ", action.ToString(),
                                             ": the scheduler stayed unavailable"));
}

}  // namespace kfarm
