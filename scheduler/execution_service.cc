#include "scheduler/execution_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "google/protobuf/util/time_util.h"
#include "scheduler/operation_stream.h"
#include "scheduler/request_checks.h"

namespace kfarm {

using google::longrunning::Operation;

OperationWriter* ExecutionService::Execute(grpc::CallbackServerContext* ctx,
                                           const reapi::ExecuteRequest* req) {
  auto fail = [](const grpc::Status& s) { return OperationStream::Finished(std::nullopt, s); };
  if (absl::Status a = auth_->Check(*ctx, config::EXECUTE, req->instance_name()); !a.ok()) {
    return fail(ToGrpcStatus(a));
  }
  absl::Status s = CheckInstance(req->instance_name());
  if (s.ok()) s = CheckDigestFunction(req->digest_function());
  if (!s.ok()) return fail(ToGrpcStatus(s));
  auto digest = ParseDigestField(req->action_digest(), "action_digest");
  if (!digest.ok()) return fail(ToGrpcStatus(digest.status()));

  if (!req->skip_cache_lookup()) {
    auto hit = cache_->Get(req->instance_name(), *digest);
    if (hit.ok()) {
      OperationView v;
      v.name = absl::StrCat("operations/cached-", digest->hex());
      v.action_digest = *digest;
      v.stage = reapi::ExecutionStage::COMPLETED;
      v.done = true;
      *v.response.mutable_result() = std::move(*hit);
      v.response.set_cached_result(true);
      return OperationStream::Finished(ToOperation(v), grpc::Status::OK);
    }
  }
  ExecuteParams params;
  grpc::Status loaded = loader_.Load(*req, *digest, &params);
  if (!loaded.ok()) return fail(loaded);
  // Builds are told apart by the invocation id Bazel (and kfarm) send in every request.
  auto md = ctx->client_metadata().find("build.bazel.remote.execution.v2.requestmetadata-bin");
  if (md != ctx->client_metadata().end()) {
    reapi::RequestMetadata meta;
    if (meta.ParseFromArray(md->second.data(), static_cast<int>(md->second.size()))) {
      params.invocation_id = meta.tool_invocation_id();
    }
  }
  s = queue_->CheckServable(params.platform);
  if (!s.ok()) return fail(ToGrpcStatus(s));
  return OperationStream::Start(queue_, queue_->Submit(std::move(params)));
}

OperationWriter* ExecutionService::WaitExecution(grpc::CallbackServerContext* ctx,
                                                 const reapi::WaitExecutionRequest* req) {
  if (absl::Status a = auth_->CheckAnyInstance(*ctx, config::EXECUTE); !a.ok()) {
    return OperationStream::Finished(std::nullopt, ToGrpcStatus(a));
  }
  return OperationStream::Start(queue_, req->name());
}

grpc::Status OperationsService::GetOperation(grpc::ServerContext* ctx,
                                             const google::longrunning::GetOperationRequest* req,
                                             Operation* resp) {
  KFARM_AUTHORIZE(auth_->CheckAnyInstance(*ctx, config::EXECUTE));
  auto v = queue_->Get(req->name());
  if (!v.ok()) return ToGrpcStatus(v.status());
  *resp = ToOperation(*v);
  return grpc::Status::OK;
}

grpc::Status OperationsService::ListOperations(
    grpc::ServerContext* ctx, const google::longrunning::ListOperationsRequest*,
    google::longrunning::ListOperationsResponse* resp) {
  KFARM_AUTHORIZE(auth_->CheckAnyInstance(*ctx, config::ADMIN));
  for (const OperationView& v : queue_->List()) *resp->add_operations() = ToOperation(v);
  return grpc::Status::OK;
}

grpc::Status OperationsService::CancelOperation(
    grpc::ServerContext* ctx, const google::longrunning::CancelOperationRequest* req,
    google::protobuf::Empty*) {
  KFARM_AUTHORIZE(auth_->CheckAnyInstance(*ctx, config::EXECUTE));
  return ToGrpcStatus(queue_->Cancel(req->name()));
}

grpc::Status OperationsService::DeleteOperation(
    grpc::ServerContext* ctx, const google::longrunning::DeleteOperationRequest* req,
    google::protobuf::Empty*) {
  KFARM_AUTHORIZE(auth_->CheckAnyInstance(*ctx, config::EXECUTE));
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      absl::StrCat("operations expire on their own; \"", req->name(),
                                   "\" was not deleted (use CancelOperation to stop it)"));
}

grpc::Status OperationsService::WaitOperation(grpc::ServerContext* ctx,
                                              const google::longrunning::WaitOperationRequest* req,
                                              Operation* resp) {
  KFARM_AUTHORIZE(auth_->CheckAnyInstance(*ctx, config::EXECUTE));
  absl::Duration timeout = absl::Minutes(1);
  if (req->has_timeout()) {
    timeout = absl::Nanoseconds(
        google::protobuf::util::TimeUtil::DurationToNanoseconds(req->timeout()));
  }
  const absl::Time deadline = absl::Now() + timeout;
  uint64_t seen = 0;
  for (;;) {
    auto v = queue_->Await(req->name(), seen, deadline);
    if (!v.ok()) return ToGrpcStatus(v.status());
    if (v->done || absl::Now() >= deadline) {
      *resp = ToOperation(*v);
      return grpc::Status::OK;
    }
    seen = v->version;
  }
}

}  // namespace kfarm
