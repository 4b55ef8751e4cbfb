#include "scheduler/status_service.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace kfarm {

grpc::Status StatusService::GetStatus(grpc::ServerContext* ctx, const status::StatusRequest* req,
                                      status::StatusReport* resp) {
  KFARM_AUTHORIZE(auth_->CheckAnyInstance(*ctx, config::STATUS));
  if (req->max_recent() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("StatusRequest.max_recent ", req->max_recent(), " is negative"));
  }
  *resp = source_->Report(req->max_recent() == 0 ? 100 : std::min(req->max_recent(), 5000));
  return grpc::Status::OK;
}

grpc::Status StatusService::GetOperation(grpc::ServerContext* ctx,
                                         const status::OperationRequest* req,
                                         status::OperationDetail* resp) {
  KFARM_AUTHORIZE(auth_->CheckAnyInstance(*ctx, config::STATUS));
  if (req->name().empty()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "OperationRequest.name is empty");
  }
  auto d = source_->Operation(req->name());
  if (!d.ok()) return ToGrpcStatus(d.status());
  *resp = std::move(*d);
  return grpc::Status::OK;
}

}  // namespace kfarm
