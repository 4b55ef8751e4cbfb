#include "scheduler/execution_service.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status.h"
#include "google/protobuf/util/time_util.h"
#include "scheduler/cached_operation.h"
#include "scheduler/operation_stream.h"
#include "scheduler/request_checks.h"

namespace kfarm {
namespace {

using google::longrunning::Operation;

// An operation is its submitter's: another principal (but an admin) may not see or stop it,
// and is told whose it is. Unknown names are left to the caller (NOT_FOUND as usual).
absl::Status MayTouch(const Authorizer& auth, const grpc::ServerContextBase& ctx,
                      BuildQueue* queue, const std::string& name, absl::string_view verb) {
  auto v = queue->Get(name);
  if (!v.ok()) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string who, auth.PrincipalOf(ctx));
  if (who == v->owner || auth.IsAdmin(who)) return absl::OkStatus();
  return absl::PermissionDeniedError(absl::StrCat(
      "principal \"", who, "\" may not ", verb, " operation ", Quoted(name),
      ": it belongs to principal \"", v->owner, "\" (only its owner or an admin may)"));
}

// Whether `name` is a cache hit's operation; if so, its answer is in `resp` and `status`. Its
// caller needs to read that instance's action cache: anyone who could have asked
// GetActionResult instead.
bool AnswerCached(const Authorizer& auth, const grpc::ServerContextBase& ctx, ActionCache* cache,
                  const std::string& name, Operation* resp, grpc::Status* status) {
  auto ref = ParseCachedOperationName(name);
  if (!ref) return false;
  absl::Status s = auth.Check(ctx, config::READ, ref->instance);
  if (s.ok()) {
    auto v = CachedOperation(cache, name, *ref);
    if (v.ok()) *resp = ToOperation(*v);
    s = v.status();
  }
  *status = ToGrpcStatus(s);
  return true;
}

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;

}  // namespace

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

  // Builds are told apart by the invocation id Bazel (and kfarm) send in every request.
  std::string invocation_id, tool;
  auto md = ctx->client_metadata().find("build.bazel.remote.execution.v2.requestmetadata-bin");
  if (md != ctx->client_metadata().end()) {
    reapi::RequestMetadata meta;
    if (meta.ParseFromArray(md->second.data(), static_cast<int>(md->second.size()))) {
      invocation_id = meta.tool_invocation_id();
      tool = meta.tool_details().tool_name();
      if (!meta.tool_details().tool_version().empty()) {
        absl::StrAppend(&tool, " ", meta.tool_details().tool_version());
      }
    }
  }
  // The cache lookup and the input tree read go to disk: not on gRPC's callback threads.
  std::shared_ptr<OperationStream> stream = OperationStream::Pending(queue_);
  bool accepted = executor_->TrySubmit(
      [this, stream, req = *req, digest = *digest, invocation_id = std::move(invocation_id),
       tool = std::move(tool), principal = auth_->PrincipalOf(*ctx).value_or("")]() mutable {
        Prepare(stream, req, digest, {std::move(principal), std::move(invocation_id), std::move(tool)});
      });
  if (!accepted) {
    stream->Conclude(std::nullopt,
                     grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                  absl::StrCat("the scheduler is busy: ", executor_->capacity(),
                                               " Execute requests are already waiting to be "
                                               "loaded; retry shortly")));
  }
  return stream.get();
}

void ExecutionService::Prepare(const std::shared_ptr<OperationStream>& stream,
                               const reapi::ExecuteRequest& req, const Digest& digest,
                               Requester who) {
  if (!req.skip_cache_lookup()) {
    auto hit = cache_->Get(req.instance_name(), digest);
    if (hit.ok()) {
      queue_->CacheHit(who.invocation_id, who.tool);
      OperationView v = CachedOperationView(CachedOperationName(req.instance_name(), digest),
                                            digest, std::move(*hit));
      stream->Conclude(ToOperation(v), grpc::Status::OK);
      return;
    }
  }
  ExecuteParams params;
  grpc::Status loaded = loader_.Load(req, digest, &params);
  if (!loaded.ok()) return stream->Conclude(std::nullopt, loaded);
  params.principal = std::move(who.principal);
  params.invocation_id = std::move(who.invocation_id);
  params.tool = std::move(who.tool);
  absl::Status s = queue_->CheckServable(params.platform);
  if (!s.ok()) return stream->Conclude(std::nullopt, ToGrpcStatus(s));
  auto name = queue_->Submit(std::move(params));
  if (!name.ok()) return stream->Conclude(std::nullopt, ToGrpcStatus(name.status()));
  stream->Attach(*name);
}

OperationWriter* ExecutionService::WaitExecution(grpc::CallbackServerContext* ctx,
                                                 const reapi::WaitExecutionRequest* req) {
  Operation hit;
  grpc::Status cached;
  if (AnswerCached(*auth_, *ctx, cache_, req->name(), &hit, &cached)) {
    return OperationStream::Finished(cached.ok() ? std::optional<Operation>(std::move(hit)) : std::nullopt,
                                     cached);
  }
  absl::Status a = auth_->CheckAnyInstance(*ctx, config::EXECUTE);
  if (a.ok()) a = MayTouch(*auth_, *ctx, queue_, req->name(), "wait for");
  if (!a.ok()) return OperationStream::Finished(std::nullopt, ToGrpcStatus(a));
  return OperationStream::Start(queue_, req->name());
}

grpc::Status OperationsService::GetOperation(grpc::ServerContext* ctx,
                                             const google::longrunning::GetOperationRequest* req,
                                             Operation* resp) {
  grpc::Status cached;
  if (AnswerCached(*auth_, *ctx, cache_, req->name(), resp, &cached)) return cached;
  KFARM_AUTHORIZE(auth_->CheckAnyInstance(*ctx, config::EXECUTE));
  KFARM_AUTHORIZE(MayTouch(*auth_, *ctx, queue_, req->name(), "read"));
  auto v = queue_->Get(req->name());
  if (!v.ok()) return ToGrpcStatus(v.status());
  *resp = ToOperation(*v);
  return grpc::Status::OK;
}

grpc::Status OperationsService::ListOperations(
    grpc::ServerContext* ctx, const google::longrunning::ListOperationsRequest* req,
    google::longrunning::ListOperationsResponse* resp) {
  // Each principal lists its own operations; an admin lists everyone's.
  KFARM_AUTHORIZE(auth_->CheckAnyInstance(*ctx, config::EXECUTE));
  auto who = auth_->PrincipalOf(*ctx);
  if (!who.ok()) return ToGrpcStatus(who.status());
  if (!req->filter().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("ListOperations filter ", Quoted(req->filter()),
                                     ": kfarm supports no filter; leave it empty"));
  }
  if (req->page_size() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("ListOperations page_size ", req->page_size(), " is negative"));
  }
  const int page = req->page_size() == 0 ? kDefaultPageSize : std::min(req->page_size(), kMaxPageSize);
  const bool all = auth_->IsAdmin(*who);
  // Names are random: pages follow their order, and a page token is the last name returned.
  std::vector<OperationView> mine;
  for (OperationView& v : queue_->List()) {
    if ((all || v.owner == *who) && v.name > req->page_token()) mine.push_back(std::move(v));
  }
  std::sort(mine.begin(), mine.end(),
            [](const OperationView& a, const OperationView& b) { return a.name < b.name; });
  for (int i = 0; i < static_cast<int>(mine.size()) && i < page; ++i) {
    *resp->add_operations() = ToOperation(mine[i]);
  }
  if (static_cast<int>(mine.size()) > page) resp->set_next_page_token(mine[page - 1].name);
  return grpc::Status::OK;
}

grpc::Status OperationsService::CancelOperation(
    grpc::ServerContext* ctx, const google::longrunning::CancelOperationRequest* req,
    google::protobuf::Empty*) {
  // A cache hit finished before it began: cancelling it changes nothing, as for any finished
  // operation.
  Operation unused;
  grpc::Status cached;
  if (AnswerCached(*auth_, *ctx, cache_, req->name(), &unused, &cached)) return cached;
  KFARM_AUTHORIZE(auth_->CheckAnyInstance(*ctx, config::EXECUTE));
  KFARM_AUTHORIZE(MayTouch(*auth_, *ctx, queue_, req->name(), "cancel"));
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
  grpc::Status cached;
  if (AnswerCached(*auth_, *ctx, cache_, req->name(), resp, &cached)) return cached;
  KFARM_AUTHORIZE(auth_->CheckAnyInstance(*ctx, config::EXECUTE));
  KFARM_AUTHORIZE(MayTouch(*auth_, *ctx, queue_, req->name(), "wait for"));
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
