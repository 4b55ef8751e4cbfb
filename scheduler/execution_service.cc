#include "scheduler/execution_service.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "google/protobuf/util/time_util.h"
#include "scheduler/request_checks.h"

namespace kfarm {

using google::longrunning::Operation;

Operation ToOperation(const OperationView& v) {
  Operation op;
  op.set_name(v.name);
  reapi::ExecuteOperationMetadata md;
  md.set_stage(v.stage);
  v.action_digest.ToProto(md.mutable_action_digest());
  md.set_digest_function(reapi::DigestFunction::SHA256);
  op.mutable_metadata()->PackFrom(md);
  op.set_done(v.done);
  if (v.done) op.mutable_response()->PackFrom(v.response);
  return op;
}

grpc::Status ExecutionService::Execute(grpc::ServerContext* ctx, const reapi::ExecuteRequest* req,
                                       grpc::ServerWriter<Operation>* writer) {
  absl::Status s = CheckInstance(req->instance_name());
  if (s.ok()) s = CheckDigestFunction(req->digest_function());
  if (!s.ok()) return ToGrpcStatus(s);
  auto digest = ParseDigestField(req->action_digest(), "action_digest");
  if (!digest.ok()) return ToGrpcStatus(digest.status());

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
      writer->Write(ToOperation(v));
      return grpc::Status::OK;
    }
  }
  ExecuteParams params;
  grpc::Status loaded = loader_.Load(*req, *digest, &params);
  if (!loaded.ok()) return loaded;
  // Builds are told apart by the invocation id Bazel (and kfarm) send in every request.
  auto md = ctx->client_metadata().find("build.bazel.remote.execution.v2.requestmetadata-bin");
  if (md != ctx->client_metadata().end()) {
    reapi::RequestMetadata meta;
    if (meta.ParseFromArray(md->second.data(), static_cast<int>(md->second.size()))) {
      params.invocation_id = meta.tool_invocation_id();
    }
  }
  s = queue_->CheckServable(params.platform);
  if (!s.ok()) return ToGrpcStatus(s);
  return Stream(ctx, queue_->Submit(std::move(params)), writer);
}

grpc::Status ExecutionService::WaitExecution(grpc::ServerContext* ctx,
                                             const reapi::WaitExecutionRequest* req,
                                             grpc::ServerWriter<Operation>* writer) {
  return Stream(ctx, req->name(), writer);
}

grpc::Status ExecutionService::Stream(grpc::ServerContext* ctx, const std::string& name,
                                      grpc::ServerWriter<Operation>* writer) {
  const absl::Duration keepalive = absl::Milliseconds(config_.keepalive_interval_ms());
  uint64_t seen = 0;
  for (;;) {
    // Wakes on a change or after `keepalive`; either way the client hears from us.
    auto v = queue_->Await(name, seen, absl::Now() + keepalive);
    if (!v.ok()) return ToGrpcStatus(v.status());
    if (ctx->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    if (!writer->Write(ToOperation(*v))) {
      return grpc::Status(grpc::StatusCode::CANCELLED, "client went away");
    }
    if (v->done) return grpc::Status::OK;
    seen = v->version;
  }
}

grpc::Status OperationsService::GetOperation(grpc::ServerContext*,
                                             const google::longrunning::GetOperationRequest* req,
                                             Operation* resp) {
  auto v = queue_->Get(req->name());
  if (!v.ok()) return ToGrpcStatus(v.status());
  *resp = ToOperation(*v);
  return grpc::Status::OK;
}

grpc::Status OperationsService::ListOperations(
    grpc::ServerContext*, const google::longrunning::ListOperationsRequest*,
    google::longrunning::ListOperationsResponse* resp) {
  for (const OperationView& v : queue_->List()) *resp->add_operations() = ToOperation(v);
  return grpc::Status::OK;
}

grpc::Status OperationsService::CancelOperation(
    grpc::ServerContext*, const google::longrunning::CancelOperationRequest* req,
    google::protobuf::Empty*) {
  return ToGrpcStatus(queue_->Cancel(req->name()));
}

grpc::Status OperationsService::DeleteOperation(
    grpc::ServerContext*, const google::longrunning::DeleteOperationRequest* req,
    google::protobuf::Empty*) {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                      absl::StrCat("operations expire on their own; \"", req->name(),
                                   "\" was not deleted (use CancelOperation to stop it)"));
}

grpc::Status OperationsService::WaitOperation(grpc::ServerContext*,
                                              const google::longrunning::WaitOperationRequest* req,
                                              Operation* resp) {
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
