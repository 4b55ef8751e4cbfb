// The scheduler process's parts wired together: storage from the config, the services on top,
// one gRPC server. Tests and benchmarks run it in-process; scheduler_main.cc runs it as a binary.
#ifndef KFARM_SCHEDULER_SERVER_H_
#define KFARM_SCHEDULER_SERVER_H_

#include <memory>

#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "kfarm/config.pb.h"
#include "scheduler/build_queue.h"
#include "scheduler/storage.h"

namespace kfarm {

class SchedulerServer {
 public:
  // Opens storage and starts listening; a port of 0 in listen_address picks a free one.
  static absl::StatusOr<std::unique_ptr<SchedulerServer>> Start(config::SchedulerConfig config);
  ~SchedulerServer();

  int port() const { return port_; }
  Storage& storage() { return storage_; }
  BuildQueue* queue() { return queue_.get(); }
  void Wait() { server_->Wait(); }
  void Shutdown();

 private:
  SchedulerServer() = default;

  config::SchedulerConfig config_;
  Storage storage_;
  std::unique_ptr<BuildQueue> queue_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_SERVER_H_
