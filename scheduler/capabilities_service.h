// GetCapabilities: what this server supports, stated honestly (Bazel's first call).
#ifndef KFARM_SCHEDULER_CAPABILITIES_SERVICE_H_
#define KFARM_SCHEDULER_CAPABILITIES_SERVICE_H_

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "kfarm/config.pb.h"

#include "scheduler/authorizer.h"

namespace kfarm {

class CapabilitiesService final : public build::bazel::remote::execution::v2::Capabilities::Service {
 public:
  // Answering takes `read` on the instance: every client starts here, so an unauthorised one
  // hears why at once.
  CapabilitiesService(const config::SchedulerConfig& config, bool exec_enabled,
                      const Authorizer* auth);

  grpc::Status GetCapabilities(grpc::ServerContext* ctx,
                               const build::bazel::remote::execution::v2::GetCapabilitiesRequest* req,
                               build::bazel::remote::execution::v2::ServerCapabilities* resp) override;

 private:
  build::bazel::remote::execution::v2::ServerCapabilities caps_;
  const Authorizer* auth_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_CAPABILITIES_SERVICE_H_
