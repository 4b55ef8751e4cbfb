// Execution (Execute, WaitExecution) and google.longrunning.Operations over the BuildQueue.
#ifndef KFARM_SCHEDULER_EXECUTION_SERVICE_H_
#define KFARM_SCHEDULER_EXECUTION_SERVICE_H_

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "common/action_cache.h"
#include "google/longrunning/operations.grpc.pb.h"
#include "scheduler/action_loader.h"
#include "scheduler/build_queue.h"

namespace kfarm {

google::longrunning::Operation ToOperation(const OperationView& v);

class ExecutionService final : public reapi::Execution::Service {
 public:
  ExecutionService(BuildQueue* queue, ActionCache* cache, BlobAccess* cas,
                   const config::ExecutionConfig& config)
      : queue_(queue), cache_(cache), loader_(cas, config), config_(config) {}

  grpc::Status Execute(grpc::ServerContext* ctx, const reapi::ExecuteRequest* req,
                       grpc::ServerWriter<google::longrunning::Operation>* writer) override;
  grpc::Status WaitExecution(grpc::ServerContext* ctx, const reapi::WaitExecutionRequest* req,
                             grpc::ServerWriter<google::longrunning::Operation>* writer) override;

 private:
  grpc::Status Stream(grpc::ServerContext* ctx, const std::string& name,
                      grpc::ServerWriter<google::longrunning::Operation>* writer);

  BuildQueue* queue_;
  ActionCache* cache_;
  ActionLoader loader_;
  const config::ExecutionConfig& config_;
};

class OperationsService final : public google::longrunning::Operations::Service {
 public:
  explicit OperationsService(BuildQueue* queue) : queue_(queue) {}

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
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_EXECUTION_SERVICE_H_
