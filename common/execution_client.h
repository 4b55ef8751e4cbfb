// Client side of remote execution: build an Action from a command line, run it with Execute,
// follow the operation to its end (re-attaching with WaitExecution if the stream breaks,
// re-submitting if the scheduler forgot it).
#ifndef KFARM_COMMON_EXECUTION_CLIENT_H_
#define KFARM_COMMON_EXECUTION_CLIENT_H_

#include <functional>
#include <string>
#include <vector>

#include <grpcpp/channel.h>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "common/cas_client.h"

namespace kfarm {

struct ActionSpec {
  std::vector<std::string> arguments;
  std::vector<std::pair<std::string, std::string>> environment;  // Sorted when built.
  std::vector<std::string> output_paths;
  std::string working_directory;
  std::vector<std::pair<std::string, std::string>> platform;      // Sorted when built.
  Digest input_root = Digest::Empty();
  absl::Duration timeout = absl::ZeroDuration();  // Zero: the server's default.
  bool do_not_cache = false;
};

struct BuiltAction {
  Digest digest;
  reapi::Action action;
  reapi::Command command;
  std::vector<BlobSource> blobs;  // The Action and Command, ready to upload.
};

// Canonical, deterministic Action and Command for `spec`.
BuiltAction BuildAction(const ActionSpec& spec);

struct ExecuteOptions {
  bool skip_cache_lookup = false;
  int32_t priority = 0;
  std::string invocation_id;  // Sent as RequestMetadata.tool_invocation_id (fairness between builds).
  std::function<void(reapi::ExecutionStage::Value)> on_stage;
};

class ExecutionClient {
 public:
  ExecutionClient(std::shared_ptr<grpc::Channel> channel, std::string instance);

  // The final ExecuteResponse; errors creating the operation (e.g. FAILED_PRECONDITION for
  // missing blobs) come back as the status.
  absl::StatusOr<reapi::ExecuteResponse> Execute(const Digest& action, const ExecuteOptions& options);

 private:
  std::unique_ptr<reapi::Execution::Stub> stub_;
  std::string instance_;
};

}  // namespace kfarm

#endif  // KFARM_COMMON_EXECUTION_CLIENT_H_
