// GetCapabilities: what this server supports, stated honestly (Bazel's first call).
#ifndef KFARM_SCHEDULER_CAPABILITIES_SERVICE_H_
#define KFARM_SCHEDULER_CAPABILITIES_SERVICE_H_

#include "build/bazel/remote/execution/v2/remote_execution.grpc.pb.h"
#include "kfarm/config.pb.h"

namespace kfarm {

class CapabilitiesService final : public build::bazel::remote::execution::v2::Capabilities::Service {
 public:
  CapabilitiesService(const config::SchedulerConfig& config, bool exec_enabled);

  grpc::Status GetCapabilities(grpc::ServerContext* ctx,
                               const build::bazel::remote::execution::v2::GetCapabilitiesRequest* req,
                               build::bazel::remote::execution::v2::ServerCapabilities* resp) override;

 private:
  build::bazel::remote::execution::v2::ServerCapabilities caps_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_CAPABILITIES_SERVICE_H_
