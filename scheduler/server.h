// The scheduler process's parts wired together: storage from the config, the services on top,
// one gRPC server. Tests and benchmarks run it in-process; scheduler_main.cc runs it as a binary.
#ifndef KFARM_SCHEDULER_SERVER_H_
#define KFARM_SCHEDULER_SERVER_H_

#include <atomic>
#include <memory>

#include <grpcpp/server.h>

#include "absl/status/statusor.h"
#include "kfarm/config.pb.h"
#include "common/bounded_executor.h"
#include "common/http_server.h"
#include "prometheus/registry.h"
#include "scheduler/queue_metrics.h"
#include "scheduler/authorizer.h"
#include "scheduler/build_queue.h"
#include "scheduler/status_source.h"
#include "scheduler/storage.h"
#include "scheduler/upload_table.h"

namespace kfarm {

class SchedulerServer {
 public:
  // Opens storage and starts listening; a port of 0 in listen_address picks a free one. Refuses
  // a plaintext, unauthenticated listener on a non-loopback address unless config.insecure().
  static absl::StatusOr<std::unique_ptr<SchedulerServer>> Start(config::SchedulerConfig config);
  // What Start checks before it opens storage or listens (values, auth, exposure), for
  // `kfarm-scheduler --check_config`. TLS files are read only by Start.
  static absl::Status Validate(const config::SchedulerConfig& config);
  ~SchedulerServer();

  int port() const { return port_; }
  int http_port() const { return http_ ? http_->port() : 0; }  // 0: no HTTP listener.
  // The worker listener's port; port() when workers share the client listener.
  int worker_port() const { return worker_port_ ? worker_port_ : port_; }
  Storage& storage() { return storage_; }
  BuildQueue* queue() { return queue_.get(); }
  void Wait() { server_->Wait(); }
  // Stops accepting calls; /readyz answers 503 from here on.
  void Shutdown();

 private:
  SchedulerServer() = default;
  std::map<std::string, HttpServer::Handler> HttpHandlers();

  config::SchedulerConfig config_;
  Storage storage_;
  std::unique_ptr<BuildQueue> queue_;
  // Blocking work the services hand off gRPC's callback threads; stopped after the servers.
  std::unique_ptr<BoundedExecutor> executor_;
  std::vector<std::unique_ptr<grpc::Service>> services_;
  std::unique_ptr<Authorizer> auth_;
  std::unique_ptr<Authorizer> worker_auth_;  // The worker listener's storage services.
  std::unique_ptr<WorkerGate> gate_;
  std::unique_ptr<UploadTable> uploads_;  // Unfinished ByteStream uploads of every listener.
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();
  std::unique_ptr<QueueMetrics> queue_metrics_;
  std::unique_ptr<StatusSource> status_;
  std::atomic<bool> ready_{false};
  std::unique_ptr<HttpServer> http_;  // Stopped first: its handlers read everything else.
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<grpc::Server> worker_server_;
  int port_ = 0;
  int worker_port_ = 0;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_SERVER_H_
