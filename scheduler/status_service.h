// StatusService: the status page's data over gRPC, for `kfarm status`, with the same endpoint,
// TLS and tokens as every other call. Needs the status permission (or admin).
#ifndef KFARM_SCHEDULER_STATUS_SERVICE_H_
#define KFARM_SCHEDULER_STATUS_SERVICE_H_

#include "kfarm/status.grpc.pb.h"
#include "scheduler/authorizer.h"
#include "scheduler/status_source.h"

namespace kfarm {

class StatusService final : public status::StatusService::Service {
 public:
  StatusService(StatusSource* source, const Authorizer* auth) : source_(source), auth_(auth) {}

  grpc::Status GetStatus(grpc::ServerContext* ctx, const status::StatusRequest* req,
                         status::StatusReport* resp) override;
  grpc::Status GetOperation(grpc::ServerContext* ctx, const status::OperationRequest* req,
                            status::OperationDetail* resp) override;

 private:
  StatusSource* const source_;
  const Authorizer* const auth_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_STATUS_SERVICE_H_
