#include "scheduler/action_cache_service.h"

#include <algorithm>

#include "absl/container/flat_hash_set.h"
#include "common/grpc_status.h"
#include "common/status.h"
#include "scheduler/request_checks.h"

namespace kfarm {
namespace {

// Inlined bytes stay well under gRPC's default 4 MiB message limit on the client side.
constexpr int64_t kInlineBudget = 1 << 20;

}  // namespace

absl::Status ActionCacheService::Inline(const reapi::GetActionResultRequest& req,
                                        reapi::ActionResult* result) {
  int64_t budget = kInlineBudget;
  auto inline_blob = [&](const reapi::Digest& proto, std::string* out) -> absl::Status {
    ASSIGN_OR_RETURN(Digest d, Digest::FromProto(proto));
    if (!out->empty() || d.size() > budget) return absl::OkStatus();
    ASSIGN_OR_RETURN(*out, cas_->Get(d));
    budget -= d.size();
    return absl::OkStatus();
  };
  if (req.inline_stdout() && result->has_stdout_digest()) {
    RETURN_IF_ERROR(inline_blob(result->stdout_digest(), result->mutable_stdout_raw()));
  }
  if (req.inline_stderr() && result->has_stderr_digest()) {
    RETURN_IF_ERROR(inline_blob(result->stderr_digest(), result->mutable_stderr_raw()));
  }
  absl::flat_hash_set<std::string> wanted(req.inline_output_files().begin(),
                                          req.inline_output_files().end());
  for (auto& f : *result->mutable_output_files()) {
    if (wanted.contains(f.path())) RETURN_IF_ERROR(inline_blob(f.digest(), f.mutable_contents()));
  }
  return absl::OkStatus();
}

grpc::Status ActionCacheService::GetActionResult(grpc::ServerContext* ctx,
                                                 const reapi::GetActionResultRequest* req,
                                                 reapi::ActionResult* resp) {
  KFARM_AUTHORIZE(auth_->Check(*ctx, config::READ, req->instance_name()));
  absl::Status s = CheckInstance(req->instance_name());
  if (s.ok()) s = CheckDigestFunction(req->digest_function());
  if (!s.ok()) return ToGrpcStatus(s);
  auto action = ParseDigestField(req->action_digest(), "action_digest");
  if (!action.ok()) return ToGrpcStatus(action.status());
  auto result = cache_->Get(req->instance_name(), *action);
  if (!result.ok()) return ToGrpcStatus(result.status());
  s = Inline(*req, &*result);
  if (!s.ok()) return ToGrpcStatus(Annotate(s, "inlining outputs"));
  *resp = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status ActionCacheService::UpdateActionResult(grpc::ServerContext* ctx,
                                                    const reapi::UpdateActionResultRequest* req,
                                                    reapi::ActionResult* resp) {
  KFARM_AUTHORIZE(auth_->Check(*ctx, config::AC_WRITE, req->instance_name()));
  if (!updates_enabled_) {
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                        "this server does not accept action cache updates from clients");
  }
  absl::Status s = CheckInstance(req->instance_name());
  if (s.ok()) s = CheckDigestFunction(req->digest_function());
  if (!s.ok()) return ToGrpcStatus(s);
  auto action = ParseDigestField(req->action_digest(), "action_digest");
  if (!action.ok()) return ToGrpcStatus(action.status());
  s = CheckActionResult(req->action_result(), allow_absolute_symlinks_);
  if (!s.ok()) {
    return ToGrpcStatus(Annotate(s, absl::StrCat("action_result of action ", action->ToString())));
  }
  s = cache_->Put(req->instance_name(), *action, req->action_result());
  if (!s.ok()) {
    return ToGrpcStatus(Annotate(s, absl::StrCat("action ", action->ToString())));
  }
  *resp = req->action_result();
  return grpc::Status::OK;
}

}  // namespace kfarm
