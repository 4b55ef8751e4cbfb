// Execution (Execute, WaitExecution) and google.longrunning.Operations over the BuildQueue.
// An operation's name is 128 random bits: knowing it (and holding `execute` somewhere) is what
// lets a caller wait for or cancel it; listing every operation takes `admin`.
#ifndef KFARM_SCHEDULER_EXECUTION_SERVICE_H_
#define KFARM_SCHEDULER_EXECUTION_SERVICE_H_

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "common/action_cache.h"
#include "common/bounded_executor.h"
#include "google/longrunning/operations.grpc.pb.h"
#include "scheduler/action_loader.h"
#include "scheduler/authorizer.h"
#include "scheduler/build_queue.h"
#include "scheduler/operation_stream.h"

namespace kfarm {

// Execute and WaitExecution on gRPC's callback API (see operation_stream.h).
class ExecutionService final : public reapi::Execution::CallbackService {
 public:
  // `executor` runs what reads the disk (the cache lookup, the input tree) off gRPC's threads.
  ExecutionService(BuildQueue* queue, ActionCache* cache, BlobAccess* cas,
                   const config::ExecutionConfig& config, bool allow_absolute_symlinks,
                   const Authorizer* auth, BoundedExecutor* executor)
      : queue_(queue),
        cache_(cache),
        loader_(cas, config, allow_absolute_symlinks),
        auth_(auth),
        executor_(executor) {}

  grpc::ServerWriteReactor<google::longrunning::Operation>* Execute(
      grpc::CallbackServerContext* ctx, const reapi::ExecuteRequest* req) override;
  grpc::ServerWriteReactor<google::longrunning::Operation>* WaitExecution(
      grpc::CallbackServerContext* ctx, const reapi::WaitExecutionRequest* req) override;

 private:
  // Looks the action up in the cache, else loads it and submits it; tells `stream` the outcome.
  void Prepare(const std::shared_ptr<OperationStream>& stream, const reapi::ExecuteRequest& req,
               const Digest& digest, Requester who);

  BuildQueue* queue_;
  ActionCache* cache_;
  ActionLoader loader_;
  const Authorizer* auth_;
  BoundedExecutor* executor_;
};

class OperationsService final : public google::longrunning::Operations::Service {
 public:
  OperationsService(BuildQueue* queue, ActionCache* cache, const Authorizer* auth)
      : queue_(queue), cache_(cache), auth_(auth) {}

  grpc::Status GetOperation(grpc::ServerContext*, const google::longrunning::GetOperationRequest* req,
                            google::longrunning::Operation* resp) override;
  grpc::Status ListOperations(grpc::ServerContext*,
                              const google::longrunning::ListOperationsRequest* req,
                              google::longrunning::ListOperationsResponse* resp) override;
  grpc::Status CancelOperation(grpc::ServerContext*,
                               const google::longrunning::CancelOperationRequest* req,
                               google::protobuf::Empty* resp) override;
  grpc::Status DeleteOperation(grpc::ServerContext*,
                               const google::longrunning::DeleteOperationRequest* req,
                               google::protobuf::Empty* resp) override;
  grpc::Status WaitOperation(grpc::ServerContext*, const google::longrunning::WaitOperationRequest* req,
                             google::longrunning::Operation* resp) override;

 private:
  BuildQueue* queue_;
  ActionCache* cache_;
  const Authorizer* auth_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_EXECUTION_SERVICE_H_
