// The worker side of the scheduler: one bidirectional stream per worker (workers dial in).
// Reads feed the BuildQueue; writes go through a per-worker outbox drained by its own thread,
// so the queue never blocks on a slow worker.
#ifndef KFARM_SCHEDULER_WORKER_SERVICE_H_
#define KFARM_SCHEDULER_WORKER_SERVICE_H_

#include "kfarm/worker.grpc.pb.h"
#include "scheduler/build_queue.h"

namespace kfarm {

class WorkerService final : public worker::WorkerService::Service {
 public:
  explicit WorkerService(BuildQueue* queue) : queue_(queue) {}

  grpc::Status Connect(
      grpc::ServerContext* ctx,
      grpc::ServerReaderWriter<worker::SchedulerMessage, worker::WorkerMessage>* stream) override;
  grpc::Status Drain(grpc::ServerContext* ctx, const worker::DrainRequest* req,
                     worker::DrainResponse* resp) override;

 private:
  BuildQueue* queue_;
};

}  // namespace kfarm

#endif  // KFARM_SCHEDULER_WORKER_SERVICE_H_
